"""Metric writers: TensorBoard event files, a JSON-lines log, the console."""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Mapping, Optional

import jax
import numpy as np


class MetricWriter:
  """Writes scalars, images and audio; only process 0 writes anything."""

  def __init__(self, workdir: str):
    self.active = jax.process_index() == 0
    self._tb = None
    self._jsonl = None
    if self.active:
      import tensorflow as tf  # pylint: disable=g-import-not-at-top
      self._tf = tf
      self._tb = tf.summary.create_file_writer(os.path.join(workdir, "tb"))
      self._jsonl = open(os.path.join(workdir, "metrics.jsonl"), "a")

  def scalars(self, step: int, values: Mapping[str, float]) -> None:
    """One row of scalars (TensorBoard and metrics.jsonl)."""
    if not self.active:
      return
    with self._tb.as_default(step=step):
      for k, v in values.items():
        self._tf.summary.scalar(k, float(v))
    row = {"step": int(step), **{k: float(v) for k, v in values.items()}}
    self._jsonl.write(json.dumps(row) + "\n")
    self._jsonl.flush()

  def image(self, step: int, name: str, rgb: np.ndarray) -> None:
    """An [H, W, 3] uint8 image."""
    if self.active:
      with self._tb.as_default(step=step):
        self._tf.summary.image(name, rgb[None], max_outputs=1)

  def audio(self, step: int, name: str, waves: np.ndarray,
            sample_rate: int) -> None:
    """A few [N, T] waveforms in [-1, 1]."""
    if self.active:
      with self._tb.as_default(step=step):
        self._tf.summary.audio(name, np.asarray(waves, np.float32)[..., None],
                               sample_rate, max_outputs=len(waves))

  def flush(self) -> None:
    """Pushes buffered events to disk."""
    if self.active:
      self._tb.flush()
      self._jsonl.flush()

  def close(self) -> None:
    """Flushes and closes."""
    if self.active:
      self._tb.close()
      self._jsonl.close()


class Progress:
  """A one-line progress bar on a terminal; plain log lines otherwise."""

  def __init__(self, total: int, start: int, stream=None):
    self.total, self.start = total, start
    self.stream = stream or sys.stdout
    self.tty = self.stream.isatty()
    self.t0 = time.perf_counter()
    self.active = jax.process_index() == 0

  def update(self, step: int, examples_per_iter: int,
             values: Mapping[str, float], extra: Optional[str] = None) -> dict:
    """Prints the bar; returns the rates it computed."""
    done = step - self.start
    dt = max(time.perf_counter() - self.t0, 1e-9)
    it_s = done / dt
    rates = {"perf/iterations_per_sec": it_s,
             "perf/examples_per_sec": it_s * examples_per_iter}
    if not self.active:
      return rates
    eta = (self.total - step) / it_s if it_s > 0 else float("inf")
    frac = step / max(self.total, 1)
    bar = "#" * int(20 * frac) + "-" * (20 - int(20 * frac))
    vals = " ".join(f"{k.split('/')[-1]}={v:.4g}" for k, v in values.items())
    line = (f"[{bar}] {step}/{self.total} {it_s:.2f} it/s "
            f"{rates['perf/examples_per_sec']:.1f} ex/s ETA {_fmt(eta)} | {vals}")
    if extra:
      line += f" | {extra}"
    if self.tty:
      self.stream.write("\r" + line[:200].ljust(200))
    else:
      self.stream.write(line + "\n")
    self.stream.flush()
    return rates

  def close(self) -> None:
    """Ends the bar's line."""
    if self.active and self.tty:
      self.stream.write("\n")
      self.stream.flush()


def _fmt(seconds: float) -> str:
  if not np.isfinite(seconds):
    return "?"
  m, s = divmod(int(seconds), 60)
  h, m = divmod(m, 60)
  return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s"
