"""Encoding audio with a guided model's encoder side (GAAE's E + C, GGAN's
D + F + Cx): the library behind ``audiogan-encode``, the report's
representation maps and ``audiogan-eval represent``."""

from __future__ import annotations

import os
from typing import Any, Optional, Union

import jax
import numpy as np

from audiogan_jax import export as export_lib
from audiogan_jax import gans
from audiogan_jax import workdir as workdir_lib
from audiogan_jax.audio import io as audio_io
from audiogan_jax.audio import spectrogram as spec_lib

# (family, config JSON) -> jitted encode(params, stats, waves); the params are
# arguments, so one compiled program serves every call of that batch shape.
_ENCODE_FNS: dict[tuple[str, str], Any] = {}


def list_inputs(path: str) -> list[str]:
  """The audio files named by --input.

  Args:
    path: An audio file, a folder (searched recursively for files with an
      audio extension, sorted) or a ``.txt`` file listing one path per line
      (blank lines skipped; relative paths are relative to the list's folder).

  Returns:
    The file paths, in order.

  Raises:
    FileNotFoundError: ``path`` does not exist, or names no audio file.
  """
  if os.path.isdir(path):
    found = sorted(
        os.path.join(root, f) for root, _, files in os.walk(path)
        for f in files if audio_io.is_audio_file(f))
    if not found:
      raise FileNotFoundError(
          f"--input={path}: no audio files (.wav, .flac, .ogg, .mp3, .aiff, "
          ".au, ...) in the folder or its subfolders")
    return found
  if not os.path.exists(path):
    raise FileNotFoundError(f"--input={path} does not exist")
  if path.lower().endswith(".txt"):
    base = os.path.dirname(os.path.abspath(path))
    with open(path, encoding="utf-8") as f:
      names = [ln.strip() for ln in f if ln.strip()]
    if not names:
      raise FileNotFoundError(f"--input={path} lists no files")
    files = [os.path.normpath(os.path.join(base, n)) for n in names]
    missing = [n for n in files if not os.path.isfile(n)]
    if missing:
      raise FileNotFoundError(f"--input={path} lists {len(missing)} missing "
                              f"file(s), e.g. {missing[0]}")
    return files
  return [path]


def load_model(workdir: Optional[str] = None,
               model: Optional[str] = None) -> tuple[dict[str, Any], str]:
  """The encoder named by --workdir or --model, and where it came from.

  Args:
    workdir: A training workdir: its ``encoder.msgpack`` if present, else the
      encoder side of its newest checkpoint (read in memory).
    model: An exported encoder file.

  Returns:
    The model as :func:`audiogan_jax.export.load_encoder` returns it, and a
    description of its source for messages.

  Raises:
    ValueError: both or neither given, or a workdir of a model without an
      encoder.
    ExportFormatError: ``model`` is not an encoder file.
  """
  if bool(workdir) == bool(model):
    raise ValueError("give exactly one of --workdir=DIR (a training workdir) "
                     "or --model=FILE (an exported encoder)")
  if model:
    return export_lib.load_encoder(model), model
  path = os.path.join(workdir, workdir_lib.ENCODER_FILE)
  if os.path.exists(path):
    return export_lib.load_encoder(path), path
  family, config, _ = workdir_lib.read(workdir)
  if not family.ENCODER:
    raise ValueError(f"{workdir} holds a {config.model.family} model, which "
                     "has no encoder; encoding needs a guided model (gaae or "
                     "ggan)")
  run = workdir_lib.restore(workdir)
  return (export_lib.model_from_state("encoder", run.family, run.config,
                                      run.state, run.class_names, run.step),
          f"the newest checkpoint in {workdir}")


def encode_files(model: Union[str, dict[str, Any]], files: list[str],
                 batch_size: int = 64) -> dict[str, Any]:
  """Encodes audio files with a guided model's encoder side.

  Args:
    model: An exported encoder file, or a dict as
      :func:`audiogan_jax.export.load_encoder` returns.
    files: Audio file paths.
    batch_size: Clips per jitted batch; every batch has this shape (the last
      one is zero-padded), or ``len(files)`` when that is smaller.

  Returns:
    Numpy arrays by name, one row per file: ``files``, every output of
    ``family.encode`` (the representations and ``logits``), ``predicted``,
    ``predicted_name``; and ``class_names``.

  Raises:
    ValueError: ``batch_size`` below 1, no files, or an unreadable audio file
      (``AudioFileError``, naming it).
  """

  if batch_size < 1:
    raise ValueError(f"--batch_size={batch_size} must be at least 1")
  if not files:
    raise ValueError("no audio files to encode")
  if isinstance(model, str):
    model = export_lib.load_encoder(model)
  config = model["config"]
  family = gans.get_family(str(config.model.family))
  clip = float(config.data.spectrogram_clip)
  batch = min(batch_size, len(files))

  key = (family.name, config.to_json())
  if key not in _ENCODE_FNS:
    def encode_waves(params, stats, wave):
      x = spec_lib.log_spectrogram(wave, r=clip)[..., None]
      return family.encode(config, params, stats, x)
    _ENCODE_FNS[key] = jax.jit(encode_waves)
  run = _ENCODE_FNS[key]
  params = jax.device_put(model["params"])
  stats = jax.device_put(model["batch_stats"])

  def load(names: list[str]) -> np.ndarray:
    waves = np.stack([audio_io.load_audio(n) for n in names])
    if len(waves) < batch:  # one compiled shape for every batch
      pad = np.zeros((batch - len(waves), waves.shape[1]), waves.dtype)
      waves = np.concatenate([waves, pad])
    return waves

  outs: dict[str, list] = {}

  def collect(pending, n: int) -> None:
    for k, v in pending.items():
      outs.setdefault(k, []).append(np.asarray(v)[:n])

  pending, pending_n = None, 0
  for i in range(0, len(files), batch):
    names = files[i:i + batch]
    waves = load(names)  # reads the next clips while the last batch runs
    if pending is not None:
      collect(pending, pending_n)
    pending, pending_n = run(params, stats, waves), len(names)
  collect(pending, pending_n)
  result = {k: np.concatenate(v) for k, v in outs.items()}
  n_classes = result["logits"].shape[-1]
  names = tuple(model["class_names"])
  if len(names) != n_classes:
    names = tuple(str(c) for c in range(n_classes))
  pred = np.argmax(result["logits"], -1)
  result.update(files=np.array(files, dtype=str), predicted=pred,
                predicted_name=np.array([names[p] for p in pred], dtype=str),
                class_names=np.array(names, dtype=str))
  return result
