"""A training run's folder: its layout, its records, and reading it back.

Every path of a workdir is named here::

    WORKDIR/
      config.json            the resolved config (CONFIG_FILE)
      run.json               class names and counts of the data (RUN_FILE)
      checkpoints/<step>/    Orbax checkpoints (CHECKPOINTS)
      metrics.jsonl, tb/     the metric writer's scalars and TensorBoard
      eval.json              held-out and conditional accuracy (EVAL_FILE)
      curves.json, curves.png   the learning curves (eval/curves.py)
      samples/step_NNNNNNN/  sample sheets (samples_dir)
      generator.msgpack, encoder.msgpack   exports at the end
      generator_best.msgpack the best-FID generator (BEST_GENERATOR_FILE)
      eval/                  the evaluation classifier, scores, report data
      report.html            the listening report
      cache/                 the data's spectrogram cache (cache_dir)
      previous/<time>/       a run moved aside by --overwrite

It also checks that a workdir's checkpoints belong to the run a config
describes (:func:`check`), and restores a workdir for the commands that
read one (:func:`read`, :func:`restore`).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from typing import Any, NamedTuple, Optional

from absl import logging
from flax import traverse_util
import jax
import ml_collections

from audiogan_jax import checkpoint as ckpt_lib
from audiogan_jax import export as export_lib
from audiogan_jax import gans

Config = ml_collections.ConfigDict

CONFIG_FILE = "config.json"
RUN_FILE = "run.json"
CHECKPOINTS = "checkpoints"
CACHE = "cache"
PREVIOUS = "previous"
SAMPLES = "samples"
EVAL_FILE = "eval.json"
EVAL_DIR = "eval"
GENERATOR_FILE = export_lib.GENERATOR_FILE
ENCODER_FILE = export_lib.ENCODER_FILE
BEST_GENERATOR_FILE = "generator_best.msgpack"
REPORT_FILE = "report.html"


def samples_dir(workdir: str, step: int) -> str:
  """The folder of the sample sheet written after iteration ``step``."""
  return os.path.join(workdir, SAMPLES, f"step_{step:07d}")


def cache_dir(config: Config, workdir: str) -> str:
  """The spectrogram cache a run uses (``data.cache_dir`` or WORKDIR/cache)."""
  return config.data.get("cache_dir", "") or os.path.join(workdir, CACHE)


def checkpointer(workdir: str, max_to_keep: int = 3) -> ckpt_lib.Checkpointer:
  """The Orbax checkpoints of ``workdir``."""
  return ckpt_lib.Checkpointer(os.path.join(workdir, CHECKPOINTS), max_to_keep)


def write_records(workdir: str, config: Config, dataset) -> None:
  """``config.json`` (the resolved config) and ``run.json`` (the data's
  class names and counts); process 0 only."""
  if jax.process_index() != 0:
    return
  with open(os.path.join(workdir, CONFIG_FILE), "w") as f:
    f.write(config.to_json(indent=2))
  with open(os.path.join(workdir, RUN_FILE), "w") as f:
    json.dump({"class_names": list(dataset.class_names),
               "num_train": len(dataset.train),
               "num_labelled": int((dataset.train.labels >= 0).sum())}, f,
              indent=2)


# What defines a run: a workdir's checkpoints only make sense with the same
# model, losses and data. train.*, optim.* and eval.* may change on resume
# (a longer run, other learning rates, a new seed after a NaN).
_IDENTITY_SECTIONS = ("model", "loss", "data")
_IDENTITY_IGNORED = ("data.cache_dir", "data.folder.num_threads",
                     "data.folder.on_bad_file", "data.tfds.download",
                     "data.guidance.folder.num_threads",
                     "data.guidance.folder.on_bad_file",
                     "data.guidance.tfds.download",
                     "model.norm_mean", "model.norm_std")


def _identity_keys(config: dict) -> dict[str, Any]:
  """The config's identity values by dotted key (see above)."""
  flat = traverse_util.flatten_dict(config, sep=".")
  return {k: v for k, v in flat.items()
          if k.split(".")[0] in _IDENTITY_SECTIONS
          and k not in _IDENTITY_IGNORED}


def config_differences(old: dict, new: dict) -> list[str]:
  """'key: old -> new' for the identity keys that differ (see above).

  Only keys both configs have are compared, so a workdir written by an
  older audiogan_jax (without keys added since) still resumes.
  """
  a, b = _identity_keys(old), _identity_keys(new)
  return [f"{k}: {a[k]!r} -> {b[k]!r}" for k in sorted(set(a) & set(b))
          if a[k] != b[k]]


def check(workdir: str, config: Config, overwrite: bool) -> None:
  """Refuses a workdir whose checkpoints come from another model or data.

  With ``overwrite`` the previous run's files are moved to
  ``workdir/previous/<time>/`` (nothing is deleted) and training starts
  afresh. The data cache stays: it is keyed by the data config.
  """
  path = os.path.join(workdir, CONFIG_FILE)
  ckpt_dir = os.path.join(workdir, CHECKPOINTS)
  has_ckpt = os.path.isdir(ckpt_dir) and any(
      n.isdigit() for n in os.listdir(ckpt_dir))
  if not has_ckpt:
    return
  try:
    with open(path) as f:
      old = json.load(f)
  except (OSError, ValueError):
    old = None
  new = json.loads(config.to_json())
  diffs = (["config.json is missing or unreadable"] if old is None
           else config_differences(old, new))
  if not diffs:
    return
  if not overwrite:
    more = f" and {len(diffs) - 3} more" if len(diffs) > 3 else ""
    raise ValueError(
        f"--workdir={workdir} holds checkpoints of a different run "
        f"({'; '.join(diffs[:3])}{more}); use another --workdir, or pass "
        "--overwrite to move its files to "
        f"{os.path.join(workdir, PREVIOUS)}/ and start afresh")
  if jax.process_index() != 0:
    return
  dest = os.path.join(workdir, PREVIOUS, time.strftime("%Y%m%d-%H%M%S"))
  os.makedirs(dest, exist_ok=True)
  for name in os.listdir(workdir):
    if name in (PREVIOUS, CACHE):
      continue
    shutil.move(os.path.join(workdir, name), os.path.join(dest, name))
  logging.warning("--overwrite: moved the previous run in %s to %s (%s)",
                  workdir, dest, "; ".join(diffs[:3]))


class Restored(NamedTuple):
  """A training workdir's checkpoint, as :func:`restore` reads it."""
  family: Any
  config: ml_collections.ConfigDict
  state: Any
  class_names: tuple[str, ...]
  step: int


def read(workdir: str) -> tuple[Any, ml_collections.ConfigDict,
                                tuple[str, ...]]:
  """The family, resolved config and class names of a training workdir."""
  cfg_path = os.path.join(workdir, CONFIG_FILE)
  if not os.path.isdir(workdir):
    raise FileNotFoundError(f"--workdir={workdir} is not a directory")
  if not os.path.exists(cfg_path):
    raise FileNotFoundError(f"{cfg_path} not found: --workdir must be a "
                            "directory written by audiogan-train")
  with open(cfg_path) as f:
    config = ml_collections.ConfigDict(json.load(f))
  class_names = ()
  run_path = os.path.join(workdir, RUN_FILE)
  if os.path.exists(run_path):
    with open(run_path) as f:
      class_names = tuple(json.load(f).get("class_names", ()))
  return gans.get_family(str(config.model.family)), config, class_names


def restore(workdir: str, step: Optional[int] = None) -> Restored:
  """Restores a training workdir's checkpoint on the first local device.

  Args:
    workdir: A directory written by ``audiogan-train``.
    step: The checkpoint step (default: the newest).

  Raises:
    FileNotFoundError: not a workdir, or no checkpoint in it.
    ValueError: ``step`` has no checkpoint.
  """
  family, config, class_names = read(workdir)
  ckpt_dir = os.path.join(workdir, CHECKPOINTS)
  if not os.path.isdir(ckpt_dir):  # Checkpointer would create it
    raise FileNotFoundError(f"no checkpoint in {ckpt_dir}: train first "
                            "(audiogan-train)")
  ckpt = ckpt_lib.Checkpointer(ckpt_dir)
  try:
    steps = ckpt.manager.all_steps()
    if not steps:
      raise FileNotFoundError(f"no checkpoint in {ckpt_dir}: train first "
                              "(audiogan-train)")
    if step is not None and step not in steps:
      raise ValueError(f"--step={step} has no checkpoint; available: "
                       f"{', '.join(map(str, sorted(steps)))}")
    dev = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
    abstract = jax.tree.map(
        lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=dev),
        export_lib.abstract_state(family, config))
    state, _ = ckpt.restore(abstract, step)
  finally:
    ckpt.close()
  return Restored(family, config, state, class_names,
                  int(jax.device_get(state.step)))


def load_model(workdir: str, what: str = "generator") -> dict[str, Any]:
  """The workdir's exported generator (or encoder) file if present, else the
  same model from its newest checkpoint, read in memory (no file written)."""
  name = GENERATOR_FILE if what == "generator" else ENCODER_FILE
  path = os.path.join(workdir, name)
  if os.path.exists(path):
    return (export_lib.load_generator(path) if what == "generator"
            else export_lib.load_encoder(path))
  run = restore(workdir)
  return export_lib.model_from_state(what, run.family, run.config, run.state,
                                     run.class_names, run.step)
