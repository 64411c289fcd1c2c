"""Spectrogram -> waveform inversion (PGHI, Griffin-Lim, random phase) and its quality metric.

The normalised spectrogram only fixes magnitudes relative to the loudest
coefficient (see ``spectrogram.py``), so the waveforms returned here have the
level implied by a peak STFT magnitude of 1 -- for a steady sinusoid that is
an amplitude of about 1/128 (the Hann window sums to 256), i.e. roughly
-42 dBFS.  They are *not* rescaled unless ``peak`` is given (e.g. ``peak=0.9``
before writing audio files); leaving the level alone keeps
``spectral_convergence`` against ``spectrogram_to_magnitude(spec)`` meaningful.
"""

from __future__ import annotations

from typing import Optional, Union

import jax
import jax.numpy as jnp
import numpy as np

from audiogan_jax.audio.griffinlim import griffin_lim, random_phase
from audiogan_jax.audio.pghi import pghi
from audiogan_jax.audio.spectrogram import (
    NUM_BINS, NUM_FRAMES, NUM_FREQ, istft, spectrogram_to_magnitude, stft)

METHODS = ("pghi", "pghi+gl", "griffinlim", "random")


@jax.jit
def _synthesise(magnitude: jax.Array, phase: jax.Array) -> jax.Array:
  return istft(magnitude * jnp.exp(1j * phase))


def magnitude_to_audio(magnitude: np.ndarray, method: str = "pghi", n_iter: int = 32,
                       momentum: float = 0.99, tol: float = 10.0,
                       seed: int = 0) -> np.ndarray:
  """STFT magnitude [..., 257, 128] -> float32 waveform [..., 16384] by the chosen phase-retrieval method."""
  if method not in METHODS:
    raise ValueError(f"unknown inversion method {method!r}; expected one of {METHODS}")
  magnitude = np.asarray(magnitude, np.float32)
  if magnitude.ndim < 2 or magnitude.shape[-2:] != (NUM_BINS, NUM_FRAMES):
    raise ValueError(
        f"expected a magnitude of shape [..., {NUM_BINS}, {NUM_FRAMES}], "
        f"got {magnitude.shape}")
  if method == "random":
    wave = _synthesise(magnitude, random_phase(magnitude.shape, seed))
  elif method == "griffinlim":
    wave = griffin_lim(magnitude, n_iter=n_iter, momentum=momentum, seed=seed)
  else:
    phase = pghi(magnitude, tol=tol, seed=seed)
    if method == "pghi":
      wave = _synthesise(magnitude, phase)
    else:
      wave = griffin_lim(magnitude, n_iter=n_iter, momentum=momentum,
                         init_phase=phase)
  return np.asarray(wave, np.float32)


def spectrogram_to_audio(spec: np.ndarray, r: float = 10.0, method: str = "pghi",
                         n_iter: int = 32, momentum: float = 0.99,
                         tol: float = 10.0, seed: int = 0,
                         peak: Optional[float] = None) -> np.ndarray:
  """Normalised spectrogram [..., 256, 128] or [..., 256, 128, 1] -> float32 waveform [..., 16384]."""
  spec = np.asarray(spec, np.float32)
  if spec.ndim >= 3 and spec.shape[-3:] == (NUM_FREQ, NUM_FRAMES, 1):
    spec = spec[..., 0]
  if spec.ndim < 2 or spec.shape[-2:] != (NUM_FREQ, NUM_FRAMES):
    raise ValueError(
        f"expected a spectrogram of shape [..., {NUM_FREQ}, {NUM_FRAMES}] or "
        f"[..., {NUM_FREQ}, {NUM_FRAMES}, 1], got {spec.shape}")
  magnitude = np.asarray(spectrogram_to_magnitude(spec, r))
  wave = magnitude_to_audio(magnitude, method=method, n_iter=n_iter,
                            momentum=momentum, tol=tol, seed=seed)
  if peak is not None:
    # Only the relative level survives the representation; optionally pin
    # each clip's peak amplitude instead.
    level = np.max(np.abs(wave), axis=-1, keepdims=True)
    wave = wave * (peak / np.maximum(level, 1e-12))
  return wave.astype(np.float32)


@jax.jit
def _spectral_convergence(target: jax.Array, wave: jax.Array) -> jax.Array:
  rebuilt = jnp.abs(stft(wave))[..., :NUM_FREQ, :]
  target = target[..., :NUM_FREQ, :]
  err = jnp.sqrt(jnp.sum((rebuilt - target) ** 2, axis=(-2, -1)))
  ref = jnp.sqrt(jnp.sum(target ** 2, axis=(-2, -1)))
  return 20.0 * jnp.log10(err / ref)


def spectral_convergence(target_magnitude: np.ndarray,
                         wave: np.ndarray) -> Union[float, np.ndarray]:
  """Per-clip spectral convergence 20 log10(||  |STFT(wave)| - S ||_F / ||S||_F) in dB over the 256 represented bins (lower is better)."""
  target = jnp.asarray(target_magnitude, jnp.float32)
  wave = jnp.asarray(wave, jnp.float32)
  if target.ndim < 2 or target.shape[-1] != NUM_FRAMES or target.shape[-2] not in (
      NUM_FREQ, NUM_BINS):
    raise ValueError(
        f"expected a target magnitude of shape [..., {NUM_BINS} or {NUM_FREQ}, "
        f"{NUM_FRAMES}], got {target.shape}")
  if wave.shape[:-1] != target.shape[:-2]:
    raise ValueError(
        f"batch shapes differ: magnitude {target.shape} vs waveform {wave.shape}")
  result = np.asarray(_spectral_convergence(target, wave), np.float64)
  return float(result) if result.ndim == 0 else result
