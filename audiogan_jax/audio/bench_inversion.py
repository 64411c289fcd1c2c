"""Throughput of batch spectrogram inversion (clips/s) per method on synthetic clips.

Usage: ``python -m audiogan_jax.audio.bench_inversion --num 256 --methods pghi griffinlim random``
"""

from __future__ import annotations

import argparse
import time
from typing import Optional, Sequence

import jax
import numpy as np

from audiogan_jax.audio import invert
from audiogan_jax.audio.spectrogram import (NUM_SAMPLES, SAMPLE_RATE,
                                            log_spectrogram,
                                            spectrogram_to_magnitude)


def synthetic_clips(num: int, seed: int = 0) -> np.ndarray:
  """Deterministic test clips [num, 16384]: harmonic tones with vibrato and glides, plus a little noise."""
  rng = np.random.default_rng(seed)
  t = np.arange(NUM_SAMPLES) / SAMPLE_RATE
  clips = np.empty((num, NUM_SAMPLES), np.float32)
  for i in range(num):
    f0 = rng.uniform(100.0, 400.0) * (1.0 + rng.uniform(-0.3, 0.3) * t)
    f0 = f0 + rng.uniform(0.0, 20.0) * np.sin(2 * np.pi * rng.uniform(3, 7) * t)
    cycles = np.cumsum(f0) / SAMPLE_RATE
    harmonics = rng.integers(1, 8)
    x = sum(np.sin(2 * np.pi * h * cycles + rng.uniform(0, 2 * np.pi)) / h
            for h in range(1, harmonics + 1))
    x = x * np.hanning(NUM_SAMPLES) ** 0.25
    x = x + 0.003 * rng.standard_normal(NUM_SAMPLES)
    clips[i] = 0.5 * x / np.abs(x).max()
  return clips


def _invert_all(spec: np.ndarray, method: str, batch: int, r: float,
                n_iter: int) -> np.ndarray:
  return np.concatenate([
      invert.spectrogram_to_audio(spec[i:i + batch], r=r, method=method,
                                  n_iter=n_iter)
      for i in range(0, len(spec), batch)])


def main(argv: Optional[Sequence[str]] = None) -> None:
  """Measure and print clips/s of batch inversion for each requested method."""
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--num", type=int, default=256, help="number of clips")
  parser.add_argument("--methods", nargs="+", default=["pghi", "griffinlim", "random"],
                      choices=invert.METHODS)
  parser.add_argument("--batch", type=int, default=64,
                      help="clips per inversion call")
  parser.add_argument("--n-iter", type=int, default=32,
                      help="Griffin-Lim iterations (griffinlim, pghi+gl)")
  parser.add_argument("--r", type=float, default=10.0,
                      help="dynamic range of the representation (nepers)")
  args = parser.parse_args(argv)
  if args.num < 1 or args.batch < 1:
    raise ValueError("--num and --batch must be positive")

  clips = synthetic_clips(args.num)
  spec = np.asarray(log_spectrogram(clips, args.r))
  mag = np.asarray(spectrogram_to_magnitude(spec, args.r))
  print(f"{args.num} clips of {NUM_SAMPLES} samples, batch {args.batch}, "
        f"r={args.r}, backend={jax.default_backend()}, "
        f"devices={jax.device_count()}")
  print(f"{'method':<14} {'seconds':>8} {'clips/s':>9} {'SC dB (mean)':>13}")
  for method in args.methods:
    # Warm-up compiles numba/XLA for every batch shape used below.
    shapes = {args.batch, args.num % args.batch or args.batch}
    for size in shapes:
      _invert_all(spec[:min(size, args.num)], method, args.batch, args.r, args.n_iter)
    start = time.perf_counter()
    waves = _invert_all(spec, method, args.batch, args.r, args.n_iter)
    seconds = time.perf_counter() - start
    sc = float(np.mean(invert.spectral_convergence(mag, waves)))
    label = method + (f"({args.n_iter})" if method in ("griffinlim", "pghi+gl") else "")
    print(f"{label:<14} {seconds:8.2f} {args.num / seconds:9.1f} {sc:13.2f}")


if __name__ == "__main__":
  main()
