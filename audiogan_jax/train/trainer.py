"""The training loop shared by every GAN family: ``train_and_evaluate``."""

from __future__ import annotations

import collections
import contextlib
import functools
import itertools
import json
import os
import shutil
import signal
import threading
import time
from typing import Any, Iterator, Optional

from absl import logging
from flax import traverse_util
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from audiogan_jax import export as export_lib
from audiogan_jax import gans
from audiogan_jax import media
from audiogan_jax.gans import common as gan_common
from audiogan_jax import viz
from audiogan_jax.audio import io as audio_io
from audiogan_jax.data import pipeline
from audiogan_jax.eval import curves as curves_lib
from audiogan_jax.eval import evaluate as evaluate_lib
from audiogan_jax.eval import workdir as eval_workdir
from audiogan_jax.train import checkpoint as ckpt_lib
from audiogan_jax.train import sharding
from audiogan_jax.train import writer as writer_lib

Config = ml_collections.ConfigDict

BEST_GENERATOR_FILE = "generator_best.msgpack"


def resolve_config(config: Config, dataset: pipeline.Dataset,
                   family=None) -> Config:
  """Fills values that come from the data (classes, the family's own)."""
  config = ml_collections.ConfigDict(config.to_dict())
  if family is not None and hasattr(family, "resolve"):
    config = family.resolve(config, dataset)
  n = int(config.model.get("num_classes", -1))
  if n <= 0:
    config.model.num_classes = dataset.num_classes
  elif config.model.get("conditional", False) and n != dataset.num_classes:
    raise ValueError(
        f"--config.model.num_classes={n} but the dataset has "
        f"{dataset.num_classes} classes ({', '.join(dataset.class_names)}); "
        "set it to -1 to take the dataset's count")
  return config


def resolve_batch_size(config: Config, mesh) -> Config:
  """Sets the global batch from ``train.per_device_batch_size`` if given.

  ``train.batch_size`` is the global batch, split over every device of the
  mesh; ``train.per_device_batch_size`` > 0 instead fixes each device's
  share, and the global batch follows the number of devices.
  """
  per = int(config.train.get("per_device_batch_size", 0) or 0)
  n = int(mesh.devices.size)
  if per < 0:
    raise ValueError(f"--config.train.per_device_batch_size={per}: use a "
                     "positive number, or 0 to take train.batch_size")
  if per:
    config = ml_collections.ConfigDict(config.to_dict())
    config.train.batch_size = per * n
  sharding.check_batch_size(int(config.train.batch_size), mesh)
  return config


def prefetch_to_mesh(iterator, mesh, size: int = 2):
  """Yields global device batches, the next ``size`` already transferred.

  The copy to the devices is asynchronous, so while one iteration runs the
  following batches are on their way (``size`` = 0: no prefetch).
  """
  queue = collections.deque()

  def fill(n):
    for host_batch in itertools.islice(iterator, n):
      queue.append(sharding.to_global(host_batch, mesh))

  fill(max(size, 1))
  while queue:
    yield queue.popleft()
    fill(1)


_STEP_CACHE: dict = {}

# The train step's metric that says every loss and parameter is finite; a
# NaN or Inf gradient reaches the parameters through Adam, so this catches
# those too. Not logged.
FINITE = "all_finite"


def all_finite(*trees) -> jax.Array:
  """Whether every floating-point value in ``trees`` is finite (a bool)."""
  leaves = [jnp.all(jnp.isfinite(x)) for t in trees
            for x in jax.tree.leaves(t)
            if jnp.issubdtype(jnp.asarray(x).dtype, jnp.floating)]
  return jnp.all(jnp.stack(leaves)) if leaves else jnp.bool_(True)


def step_variant(family, config: Config, step: int):
  """The static variant of the train step at iteration ``step``: the
  family's ``step_variant`` (GANSynth: its growth stage), or None."""
  fn = getattr(family, "step_variant", None)
  return None if fn is None else fn(config, step)


def make_train_step(family, config: Config, mesh):
  """The jitted iteration ``(state, batch, base_key) -> (state, metrics)``.

  Cached per (family, config, devices) so a second run in the same process
  (tests, notebooks) reuses the compiled step.
  """
  # Only what the step computes with: run length, logging and data paths
  # do not change the compiled program.
  step_keys = ("d_steps", "ema_decay", "ema_start", "compute_dtype",
               "batch_size", "unroll_d_steps")
  cache_key = (family.__name__, config.model.to_json(), config.optim.to_json(),
               json.dumps(config.get("loss", {}) and config.loss.to_dict(),
                          sort_keys=True),
               tuple(str(config.train.get(k)) for k in step_keys),
               str(config.data.get("num_samples", 16384)),
               tuple(d.id for d in mesh.devices.flat))
  if cache_key in _STEP_CACHE:
    return _STEP_CACHE[cache_key]
  rep, bsh = sharding.replicated(mesh), sharding.batch_sharding(mesh)

  def step(state, batch, base_key, variant=None):
    key = jax.random.fold_in(base_key, state.step)
    extra = {} if variant is None else {"variant": variant}
    state, metrics = family.train_iteration(state, batch, key, config=config,
                                            **extra)
    return state, {**metrics, FINITE: all_finite(metrics, state.params)}

  # ``variant`` (static; see step_variant) selects one of the family's
  # compiled forms, e.g. GANSynth's growth stage; None is the whole model.
  fn = jax.jit(step, in_shardings=(rep, bsh, rep), out_shardings=(rep, rep),
               static_argnums=(3,), donate_argnums=(0,))
  _STEP_CACHE[cache_key] = fn
  return fn


def init_state(family, config: Config, mesh):
  """Initialises the state directly in its replicated sharding."""
  key = jax.random.key(int(config.train.seed))
  init = jax.jit(functools.partial(family.init_state, config),
                 out_shardings=sharding.replicated(mesh))
  return init(key)


def sample_inputs(family, config: Config, num: int, seed: int,
                  label: Optional[int] = None):
  """Fixed latents (and labels cycling over the classes) for sample sheets."""
  z, _ = family.sample_latents(config, jax.random.key(seed), num)
  n = family.num_classes(config)
  if not n:
    return z, None
  y = (jnp.full((num,), label, jnp.int32) if label is not None
       else jnp.arange(num, dtype=jnp.int32) % n)
  return z, y


def make_predict(family, config: Config):
  """Jitted ``(params, stats, x) -> class index`` of a guided model's C."""
  return jax.jit(lambda p, s, x: jnp.argmax(
      family.encode(config, p, s, x)["logits"], -1))


def held_out_accuracy(predict, params, stats, split: pipeline.Split,
                      batch_size: int) -> float:
  """Accuracy of ``predict`` (see :func:`make_predict`) on a labelled split."""
  keep = np.flatnonzero(split.true_labels >= 0)
  if not len(keep):
    raise ValueError("the held-out split has no labels to score C on")
  correct = 0
  for i in range(0, len(keep), batch_size):
    idx = keep[i:i + batch_size]
    x = np.asarray(split.spectrograms[idx], np.float32)
    n = len(x)
    if n < batch_size:  # one compiled shape
      x = np.concatenate([x, np.zeros((batch_size - n, *x.shape[1:]),
                                      np.float32)])
    pred = np.asarray(predict(params, stats, x))[:n]
    correct += int((pred == split.true_labels[idx]).sum())
  return correct / len(keep)


EVAL_FILE = "eval.json"


def _read_eval_log(workdir: str) -> list[dict[str, Any]]:
  """The evaluations an earlier run of this workdir recorded."""
  path = os.path.join(workdir, EVAL_FILE)
  if not os.path.exists(path):
    return []
  try:
    with open(path) as f:
      return list(json.load(f).get("held_out_accuracy", []))
  except (OSError, ValueError, AttributeError):
    return []


def write_curves(workdir: str, family, config: Config,
                 dataset: pipeline.Dataset, eval_log: list[dict]) -> None:
  """curves.json/png: the classifier's and the generator's evaluations, and
  (guided models, ``eval.baseline_curve``) the labelled-only Simple
  Classifier trained at the same batch size for as many iterations."""
  tc = config.train
  curves = {
      "classifier": [{"step": r["step"], "accuracy": r["accuracy"]}
                     for r in eval_log if "accuracy" in r],
      "conditional": [{"step": r["step"],
                       "accuracy": r["conditional_accuracy"]}
                      for r in eval_log if "conditional_accuracy" in r]}
  settings = eval_workdir.eval_settings(config)
  if (family.ENCODER and curves["classifier"] and dataset.test is not None
      and bool(settings.get("baseline_curve", True))):
    steps = curves["classifier"][-1]["step"]
    every = max(1, int(tc.get("eval_every", 0)) or steps)
    logging.info("training the labelled-only Simple Classifier for %d "
                 "steps of %d (the learning curves' baseline)", steps,
                 int(tc.batch_size))
    curves["baseline"] = curves_lib.baseline_curve(
        dataset, int(tc.batch_size), steps, every, int(tc.seed),
        tuple(settings.get("baseline_widths", ())))
  path = curves_lib.write(workdir, curves, dataset.num_classes)
  if path:
    logging.info("wrote the learning curves %s", path)


def write_samples(directory: str, specs: np.ndarray, waves: np.ndarray,
                  labels: Optional[np.ndarray], class_names, sample_rate: int,
                  cols: int = 0) -> None:
  """Writes PNG grids of spectrograms and waveforms, one WAV per sample."""
  os.makedirs(directory, exist_ok=True)
  viz.write_png(os.path.join(directory, "spectrograms.png"),
                viz.grid(specs, cols=cols))
  viz.write_png(os.path.join(directory, "waveforms.png"),
                viz.waveform_grid(waves, cols=cols))
  for i, w in enumerate(waves):
    tag = media.class_tag(labels, i, class_names)
    audio_io.write_wav(os.path.join(directory, f"sample_{i:03d}{tag}.wav"), w,
                       sample_rate)


class TrainingInterrupted(Exception):
  """SIGTERM or SIGINT stopped training after a checkpoint was saved."""

  def __init__(self, signum: int, step: int, directory: str):
    self.signum, self.step = signum, step
    name = signal.Signals(signum).name
    super().__init__(f"stopped by {name} at step {step}; the checkpoint is "
                     f"saved in {directory}: rerun the same command to resume")


class NonFiniteError(FloatingPointError):
  """A loss or parameter became NaN or Inf."""


class _StopSignals:
  """SIGTERM / SIGINT ask the loop to checkpoint and stop (preemption).

  A second SIGINT stops at once (KeyboardInterrupt). Handlers are only
  installed from the main thread, and the previous ones come back on exit.
  """

  SIGNALS = (signal.SIGTERM, signal.SIGINT)

  def __init__(self):
    self.signum: Optional[int] = None
    self._previous: dict = {}

  def __enter__(self):
    if threading.current_thread() is threading.main_thread():
      for s in self.SIGNALS:
        self._previous[s] = signal.signal(s, self._handle)
    return self

  def _handle(self, signum, frame):  # pylint: disable=unused-argument
    if self.signum is not None and signum == signal.SIGINT:
      raise KeyboardInterrupt
    self.signum = signum
    logging.warning("received %s: saving a checkpoint after this iteration, "
                    "then stopping (SIGINT again stops at once)",
                    signal.Signals(signum).name)

  def __exit__(self, *exc):
    for s, h in self._previous.items():
      signal.signal(s, h)
    self._previous.clear()
    return False

  def agreed(self) -> Optional[int]:
    """The signal, if any process got one (every process must call this)."""
    if jax.process_count() == 1:
      return self.signum
    from jax.experimental import multihost_utils  # pylint: disable=g-import-not-at-top
    got = multihost_utils.process_allgather(np.int32(self.signum or 0))
    return int(np.max(got)) or None


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


def check_workdir(workdir: str, config: Config, overwrite: bool) -> None:
  """Refuses a workdir whose checkpoints come from another model or data.

  With ``overwrite`` the previous run's files are moved to
  ``workdir/previous/<time>/`` (nothing is deleted) and training starts
  afresh. The data cache stays: it is keyed by the data config.
  """
  path = os.path.join(workdir, "config.json")
  ckpt_dir = os.path.join(workdir, "checkpoints")
  has_ckpt = os.path.isdir(ckpt_dir) and any(
      n.isdigit() for n in os.listdir(ckpt_dir))
  if not has_ckpt:
    return
  diffs = []
  try:
    with open(path) as f:
      old = json.load(f)
  except (OSError, ValueError):
    old = None
  new = json.loads(config.to_json())
  if old is None:
    diffs = ["config.json is missing or unreadable"]
  else:
    diffs = config_differences(old, new)
  if not diffs:
    return
  if not overwrite:
    more = f" and {len(diffs) - 3} more" if len(diffs) > 3 else ""
    raise ValueError(
        f"--workdir={workdir} holds checkpoints of a different run "
        f"({'; '.join(diffs[:3])}{more}); use another --workdir, or pass "
        "--overwrite to move its files to "
        f"{os.path.join(workdir, 'previous')}/ and start afresh")
  if jax.process_index() != 0:
    return
  dest = os.path.join(workdir, "previous", time.strftime("%Y%m%d-%H%M%S"))
  os.makedirs(dest, exist_ok=True)
  for name in os.listdir(workdir):
    if name in ("previous", "cache"):
      continue
    shutil.move(os.path.join(workdir, name), os.path.join(dest, name))
  logging.warning("--overwrite: moved the previous run in %s to %s (%s)",
                  workdir, dest, "; ".join(diffs[:3]))


@contextlib.contextmanager
def _closed_on_error(ckpt: ckpt_lib.Checkpointer) -> Iterator[None]:
  """On an error, lets pending saves finish (they were of good states)."""
  try:
    yield
  except BaseException:
    try:
      ckpt.close()
    except Exception as e:  # pylint: disable=broad-except
      logging.error("while stopping: %s", e)
    raise


def rng_streams(config: Config, rollbacks: int) -> tuple[int, Any]:
  """(data seed, base key) for ``train.rng_offset`` + automatic rollbacks.

  Offset 0 gives the run's own numbers; any other offset different batch
  order and different noise, the same initial state.
  """
  seed = int(config.train.seed)
  offset = int(config.train.get("rng_offset", 0)) + int(rollbacks)
  key = jax.random.key(seed + 1)
  if offset == 0:
    return seed, key
  return seed + 1_000_003 * offset, jax.random.fold_in(key, offset)


def train_and_evaluate(config: Config, workdir: str,
                       overwrite: bool = False) -> Any:
  """Trains the model the config names in ``workdir``; resumes if possible.

  Resumes from the newest readable checkpoint. A workdir holding another
  run's checkpoints is refused unless ``overwrite``. Raises
  :class:`TrainingInterrupted` after SIGTERM/SIGINT (a checkpoint saved),
  :class:`NonFiniteError` when a loss or parameter stops being finite and
  ``train.nonfinite_rollbacks`` are used up (the last good checkpoint kept).
  """
  workdir = os.path.abspath(workdir)
  os.makedirs(workdir, exist_ok=True)
  family = gans.get_family(str(config.model.family))
  tc = config.train
  mesh = sharding.make_mesh(int(tc.get("num_devices", 0)))
  config = resolve_batch_size(config, mesh)
  tc = config.train
  logging.info("devices: %d x %s, processes: %d", mesh.devices.size,
               jax.devices()[0].device_kind, jax.process_count())

  cache_dir = config.data.get("cache_dir", "") or os.path.join(workdir, "cache")
  eval_settings = eval_workdir.eval_settings(config)
  # The conditional-accuracy curve needs the evaluation classifier: drawn
  # when the run trains or names one anyway.
  wants_curve = bool(int(eval_settings.get("curve_samples", 0)) and (
      str(eval_settings.classifier_file) or int(eval_settings.score_every)
      or bool(eval_settings.report_at_end)))
  eval_every = int(tc.get("eval_every", 0)) if (
      family.ENCODER or wants_curve) else 0
  fields = media.input_fields(family, config)
  if ("spectrogram" in fields
      and int(config.data.get("num_samples", 16384)) != 16384):
    raise ValueError(f"--config.data.num_samples={config.data.num_samples}: "
                     f"{config.model.family} models 256x128 spectrograms of "
                     "16384-sample clips; use 16384")
  dataset = pipeline.load_dataset(config, cache_dir=cache_dir,
                                  with_test=eval_every > 0 and bool(
                                      family.ENCODER),
                                  spectrograms="spectrogram" in fields)
  logging.info("data: %s", dataset.summary())
  config = resolve_config(config, dataset, family)
  check_workdir(workdir, config, overwrite)
  if jax.process_index() == 0:
    with open(os.path.join(workdir, "config.json"), "w") as f:
      f.write(config.to_json(indent=2))
    with open(os.path.join(workdir, "run.json"), "w") as f:
      json.dump({"class_names": list(dataset.class_names),
                 "num_train": len(dataset.train),
                 "num_labelled": int((dataset.train.labels >= 0).sum())}, f,
                indent=2)

  state = init_state(family, config, mesh)
  abstract_state = ckpt_lib.abstract_like(state)
  ckpt = ckpt_lib.Checkpointer(os.path.join(workdir, "checkpoints"),
                               int(tc.keep_checkpoints))
  rollbacks = 0
  if ckpt.latest_step() is not None:
    state, meta, _ = ckpt.restore_newest_readable(abstract_state)
    rollbacks = int(meta.get("rollbacks", 0))
    logging.info("resumed from checkpoint at step %d", int(state.step))
  start = int(jax.device_get(state.step))
  num_steps = int(tc.num_steps)
  k = family.steps_per_iteration(config)

  train_step = make_train_step(family, config, mesh)
  gen_fn = jax.jit(functools.partial(family.generate, config))
  z_fixed, y_fixed = sample_inputs(family, config, int(tc.num_samples),
                                   int(tc.seed) + 2)
  sr = int(config.data.get("sample_rate", 16000))

  def samples(step: int) -> None:
    specs = np.asarray(gen_fn(*gan_common.generator_variables(family, state),
                              z_fixed, y_fixed))
    if jax.process_index() != 0:
      return
    specs, waves = media.to_media(family, config, specs)
    labels = None if y_fixed is None else np.asarray(y_fixed)
    write_samples(os.path.join(workdir, "samples", f"step_{step:07d}"), specs,
                  waves, labels, dataset.class_names, sr,
                  cols=family.num_classes(config) or 0)
    writer.image(step, "samples/spectrograms", viz.grid(specs))
    writer.audio(step, "samples/audio", waves[:4], sr)

  eval_log = [r for r in _read_eval_log(workdir) if r["step"] <= start]
  predict = (make_predict(family, config) if eval_every and family.ENCODER
             else None)
  curve_samples = int(eval_settings.get("curve_samples", 0)) if (
      wants_curve and family.num_classes(config)) else 0
  probe: dict[str, Any] = {}
  loaded: dict[str, Any] = {}

  def eval_classifier():
    """The evaluation classifier, trained or read once for the curves and
    the scores."""
    if not loaded:
      loaded["classifier"] = evaluate_lib.load_eval_classifier(
          eval_workdir.ensure_classifier(config, workdir))
    return loaded["classifier"]

  def conditional_accuracy() -> Optional[float]:
    if not curve_samples or jax.process_index() != 0:
      return None
    if not probe:
      classifier = eval_classifier()
      mapping = evaluate_lib.class_map(dataset.class_names,
                                       classifier.class_names,
                                       family.num_classes(config))
      probe.update(classifier=classifier, mapping=mapping,
                   inputs=sample_inputs(family, config, curve_samples,
                                        int(tc.seed) + 3))
    if probe["mapping"] is None:
      return None
    z, y = probe["inputs"]
    out = np.asarray(gen_fn(*gan_common.generator_variables(family, state),
                            z, y))
    x = evaluate_lib.classifier_inputs(family, config, out,
                                       probe["classifier"].clip, False)
    logits, _ = evaluate_lib.classify(probe["classifier"], x)
    return float(np.mean(np.argmax(logits, -1)
                         == probe["mapping"][np.asarray(y)]))

  def evaluate(step: int) -> None:
    enc = family.ENCODER
    row = {"step": step}
    if enc:
      row["accuracy"] = held_out_accuracy(
          predict, {n: state.params[n] for n in enc},
          {n: state.stats[n] for n in enc}, dataset.test,
          int(tc.get("eval_batch_size", 64)))
    cond = conditional_accuracy()
    if cond is not None:
      row["conditional_accuracy"] = cond
    eval_log.append(row)
    writer.scalars(step, {f"eval/{k}": v for k, v in row.items()
                          if k != "step"})
    logging.info("step %d: held-out accuracy of the classifier %s, "
                 "conditional accuracy of generated clips %s", step,
                 f"{row['accuracy']:.4f}" if "accuracy" in row else "-",
                 f"{cond:.4f}" if cond is not None else "-")
    if jax.process_index() == 0:
      with open(os.path.join(workdir, EVAL_FILE), "w") as f:
        json.dump({"held_out_accuracy": eval_log}, f, indent=2)

  # IS/FID every eval.score_every iterations; the best FID's generator kept.
  score_every = int(eval_settings.score_every)
  scorer: dict[str, Any] = {}
  best_path = os.path.join(workdir, eval_workdir.EVAL_DIR, "best.json")

  def score(step: int) -> None:
    if jax.process_index() != 0:
      return
    if not scorer:
      scorer["classifier"] = eval_classifier()
      scorer["real"] = evaluate_lib.real_statistics(
          scorer["classifier"], config.data, cache_dir)
      scorer["best"] = float("inf")
      if os.path.exists(best_path):
        with open(best_path) as f:
          scorer["best"] = float(json.load(f)["fid_train"])
    model = export_lib.model_from_state("generator", family, config, state,
                                        dataset.class_names, step)
    result = evaluate_lib.score_generator(
        model, scorer["classifier"], int(eval_settings.num_samples),
        int(eval_settings.batch_size), int(eval_settings.seed),
        bool(eval_settings.through_audio), cache_dir, scorer["real"])
    values = {"eval/is": result["model"]["is_mean"],
              "eval/fid_train": result["model"]["fid_train"],
              "eval/fid_test": result["model"]["fid_test"]}
    if result["conditional"]:
      values["eval/conditional_accuracy"] = result["conditional"]["accuracy"]
    writer.scalars(step, values)
    logging.info("step %d: IS %.3f ± %.3f, FID %.2f (train) %.2f (test), "
                 "%.1f samples/s", step, result["model"]["is_mean"],
                 result["model"]["is_std"], values["eval/fid_train"],
                 values["eval/fid_test"], result["samples_per_sec"])
    ev_dir = os.path.join(workdir, eval_workdir.EVAL_DIR)
    with open(os.path.join(ev_dir, "scores.jsonl"), "a") as f:
      f.write(json.dumps({"step": step, **values}) + "\n")
    # The newest full result: the report at the end reuses it.
    with open(os.path.join(ev_dir, eval_workdir.SCORE_FILE), "w") as f:
      json.dump(result, f, indent=2)
    if values["eval/fid_train"] < scorer["best"]:
      scorer["best"] = values["eval/fid_train"]
      export_lib.save_model(os.path.join(workdir, BEST_GENERATOR_FILE),
                            "generator", model)
      with open(best_path, "w") as f:
        json.dump({"step": step, "fid_train": values["eval/fid_train"],
                   "is": values["eval/is"],
                   "generator": BEST_GENERATOR_FILE}, f, indent=2)
      logging.info("step %d: best FID so far; wrote %s", step,
                   BEST_GENERATOR_FILE)

  def save(step: int, force: bool = False) -> None:
    ckpt.save(step, state, {"step": step, "data_position": step,
                            "model": str(config.model.family),
                            "rollbacks": rollbacks,
                            "rng_offset": int(tc.get("rng_offset", 0))},
              force=force)

  writer = writer_lib.MetricWriter(workdir)
  streams = family.streams(config)
  examples_per_iter = int(tc.batch_size) * k * len(streams)
  check_every = max(1, int(tc.get("check_finite_every", 10)))
  max_rollbacks = int(tc.get("nonfinite_rollbacks", 0))
  multi = jax.process_count() > 1

  def batches(first: int):
    data_seed, key = rng_streams(config, rollbacks)
    it = prefetch_to_mesh(
        pipeline.make_iterator(dataset, streams,
                               global_batch=int(tc.batch_size),
                               steps_per_iteration=k, seed=data_seed,
                               start_iteration=first,
                               stop_iteration=num_steps, fields=fields),
        mesh, int(tc.get("prefetch_to_device", 2)))
    return it, jax.device_put(key, sharding.replicated(mesh))

  # Iterations whose finiteness flag has not been read yet: reading forces
  # the host to wait for the device, so it happens every check_every
  # iterations and before anything uses the state (checkpoint, samples,
  # evaluation, logging).
  pending: list = []

  def first_non_finite() -> Optional[int]:
    flags = jax.device_get([f for _, f in pending])
    steps = [d for d, _ in pending]
    pending.clear()
    bad = [d for d, ok in zip(steps, flags) if not bool(ok)]
    return bad[0] if bad else None

  if start >= num_steps:
    logging.info("already trained for %d steps (train.num_steps=%d)", start,
                 num_steps)
  else:
    with _StopSignals() as stop, _closed_on_error(ckpt):
      it, base_key = batches(start)
      progress = writer_lib.Progress(num_steps, start)
      t_compile = time.perf_counter()
      step, first = start, start
      last_variant = step_variant(family, config, start)
      while step < num_steps:
        batch = next(it)
        variant = step_variant(family, config, step)
        if variant != last_variant and step != first:
          logging.info("iteration %d: the step's variant is now %s (compiled "
                       "once)", step, variant)
        last_variant = variant
        state, metrics = train_step(state, batch, base_key, variant)
        metrics = dict(metrics)
        pending.append((step + 1, metrics.pop(FINITE)))
        done = step + 1
        if step == first:
          jax.block_until_ready(metrics)
          logging.info("first iteration (with compilation) took %.1fs",
                       time.perf_counter() - t_compile)
          progress = writer_lib.Progress(num_steps, done)
        do_log = done % int(tc.log_every) == 0 or done == num_steps
        do_samples = bool(int(tc.sample_every)) and (
            done % int(tc.sample_every) == 0)
        do_eval = bool(eval_every) and (done % eval_every == 0
                                        or done == num_steps)
        do_score = bool(score_every) and (done % score_every == 0
                                          or done == num_steps)
        do_save = done % int(tc.checkpoint_every) == 0 or done == num_steps
        check = done % check_every == 0
        signum = (stop.agreed() if check else None) if multi else stop.signum
        if (check or do_log or do_samples or do_eval or do_score or do_save
            or signum):
          bad = first_non_finite()
          if bad is not None:
            ckpt.wait()
            good = ckpt.latest_step()
            what = (f"checkpoint step {good} in {ckpt.directory}" if good
                    is not None else "initial state (no checkpoint yet)")
            if rollbacks >= max_rollbacks:
              hint = (f"rerun with --config.train.rng_offset="
                      f"{int(tc.get('rng_offset', 0)) + rollbacks + 1} to "
                      "continue from it with other random numbers (or "
                      "--config.train.nonfinite_rollbacks=N to do so "
                      "automatically), or lower the learning rates")
              raise NonFiniteError(
                  f"a loss or parameter became NaN/Inf at step {bad}; the "
                  f"last good {what} is kept: {hint}")
            rollbacks += 1
            if good is None:
              state, step = init_state(family, config, mesh), 0
            else:
              state, _, step = ckpt.restore_newest_readable(abstract_state)
            logging.warning(
                "a loss or parameter became NaN/Inf at step %d: rolled back "
                "to step %d with other random numbers (rollback %d of %d)",
                bad, step, rollbacks, max_rollbacks)
            it, base_key = batches(step)
            first = step
            continue
        if do_log:
          values = {f"train/{n}": float(v)
                    for n, v in jax.device_get(metrics).items()}
          rates = progress.update(done, examples_per_iter, values)
          writer.scalars(done, {**values, **rates})
        if do_samples:
          samples(done)
        if do_eval:
          evaluate(done)
        if do_score:
          score(done)
        if do_save:
          save(done)
        step = done
        if signum:
          save(done, force=True)
          ckpt.wait()
          writer.close()
          raise TrainingInterrupted(signum, done, ckpt.directory)
      progress.close()
  final = int(jax.device_get(state.step))
  if int(tc.sample_every) and not os.path.isdir(
      os.path.join(workdir, "samples", f"step_{final:07d}")):
    samples(final)
  save(final)
  ckpt.close()
  writer.close()
  if tc.get("export_at_end", True) and jax.process_index() == 0:
    path = os.path.join(workdir, "generator.msgpack")
    export_lib.save_generator(path, config,
                              *gan_common.generator_variables(family, state),
                              dataset.class_names, final)
    logging.info("exported the EMA generator to %s", path)
    if family.ENCODER:
      path = os.path.join(workdir, "encoder.msgpack")
      export_lib.save_encoder(path, config,
                              {n: state.params[n] for n in family.ENCODER},
                              {n: state.stats[n] for n in family.ENCODER},
                              dataset.class_names, final)
      logging.info("exported the encoder and classifier to %s", path)
  if eval_log and jax.process_index() == 0:
    write_curves(workdir, family, config, dataset, eval_log)
  if eval_settings.report_at_end and jax.process_index() == 0:
    if not tc.get("export_at_end", True):
      raise ValueError("--config.eval.report_at_end needs "
                       "--config.train.export_at_end=True")
    path = eval_workdir.build_report(workdir)
    logging.info("wrote the listening report %s", path)
  return state
