"""Circular STFT and the 256x128 log-magnitude representation (TiFGAN/GGAN).

Conventions (all shapes are batched over any leading dims):

* waveform: 16 kHz mono, exactly ``NUM_SAMPLES = 16384`` samples in [-1, 1];
* STFT: circular (like ltfat's ``dgtreal``), window = periodic Hann of length
  ``WINDOW = 512``, hop ``HOP = 128``, so 16384 / 128 = 128 frames with frame
  ``m`` centred at sample ``m * 128`` and wrap-around at both ends;
* the phase of every frame is referenced to the window centre, i.e.
  ``X[k, m] = sum_{n'=-256}^{255} x[(m*a + n') mod L] g[n'] exp(-2 pi i k n' / M)``
  with ``g[n'] = 0.5 + 0.5 cos(2 pi n' / 512)``; layout ``[..., freq, time]``;
* the inverse uses the canonical dual window ``g / sum_m g^2(n - m a)``; for a
  periodic Hann of length 512 at hop 128 the denominator is the constant 1.5,
  so ``istft(stft(x)) == x`` up to float rounding, with no edge effects;
* representation: drop the Nyquist bin (257 -> 256 rows), ``L = log|X|``,
  subtract the per-clip maximum, clip at ``-r`` and map ``[-r, 0]`` linearly to
  ``[-1, 1]``.  The absolute level is discarded by the max subtraction, so
  ``spectrogram_to_magnitude`` returns magnitudes relative to the loudest
  coefficient (maximum 1, floor ``exp(-r)``).

Everything here is ``jax.numpy``, float32/complex64 and jit-compiled.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

NUM_SAMPLES = 16384
SAMPLE_RATE = 16000
WINDOW = 512
HOP = 128
NUM_FREQ = 256
NUM_FRAMES = 128
NUM_BINS = WINDOW // 2 + 1  # 257, including the Nyquist bin

# sum_m g^2(n - m*HOP) for the periodic Hann: 4 * (1/4 + 1/8) = 1.5 everywhere.
_WINDOW_ENERGY = 1.5
_OVERLAP = WINDOW // HOP  # each sample is covered by 4 frames

_HANN = (0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(WINDOW) / WINDOW)).astype(
    np.float32)
_DUAL = (_HANN / _WINDOW_ENERGY).astype(np.float32)
# The FFT of a frame starting 256 samples before the window centre differs
# from the centre-referenced transform by exp(2 pi i k 256 / 512) = (-1)^k.
_CENTRE_SIGN = np.where(np.arange(NUM_BINS) % 2 == 0, 1.0, -1.0).astype(
    np.float32)


def _check_wave(wave: jax.Array) -> None:
  if wave.ndim < 1 or wave.shape[-1] != NUM_SAMPLES:
    raise ValueError(
        f"expected a waveform of shape [..., {NUM_SAMPLES}], got {wave.shape}")


def _check_coefficients(x: jax.Array, rows: int, what: str) -> None:
  if x.ndim < 2 or x.shape[-2:] != (rows, NUM_FRAMES):
    raise ValueError(
        f"expected {what} of shape [..., {rows}, {NUM_FRAMES}], got {x.shape}")


def _frames(wave: jax.Array) -> jax.Array:
  """[..., 16384] -> [..., 128, 512]; frame m covers samples m*128-256 .. +511."""
  # Rolling by half a window makes block b start at sample b*128 - 256; frame
  # m is then blocks m..m+3 (circularly), which is four rolls of one reshape
  # instead of a gather.
  shifted = jnp.roll(wave, WINDOW // 2, axis=-1)
  blocks = shifted.reshape(wave.shape[:-1] + (NUM_FRAMES, HOP))
  parts = [jnp.roll(blocks, -i, axis=-2) for i in range(_OVERLAP)]
  return jnp.concatenate(parts, axis=-1)


def _overlap_add(frames: jax.Array) -> jax.Array:
  """[..., 128, 512] -> [..., 16384]; the adjoint of ``_frames``."""
  split = frames.reshape(frames.shape[:-1] + (_OVERLAP, HOP))
  blocks = sum(jnp.roll(split[..., i, :], i, axis=-2) for i in range(_OVERLAP))
  shifted = blocks.reshape(frames.shape[:-2] + (NUM_SAMPLES,))
  return jnp.roll(shifted, -(WINDOW // 2), axis=-1)


@jax.jit
def stft(wave: jax.Array) -> jax.Array:
  """Circular, centre-referenced STFT: [..., 16384] -> complex64 [..., 257, 128]."""
  wave = jnp.asarray(wave, jnp.float32)
  _check_wave(wave)
  spec = jnp.fft.rfft(_frames(wave) * _HANN, axis=-1) * _CENTRE_SIGN
  return jnp.swapaxes(spec, -1, -2).astype(jnp.complex64)


@jax.jit
def istft(coefficients: jax.Array) -> jax.Array:
  """Inverse circular STFT with the canonical dual window: [..., 257, 128] -> [..., 16384]."""
  coefficients = jnp.asarray(coefficients, jnp.complex64)
  _check_coefficients(coefficients, NUM_BINS, "STFT coefficients")
  spec = jnp.swapaxes(coefficients, -1, -2) * _CENTRE_SIGN
  frames = jnp.fft.irfft(spec, n=WINDOW, axis=-1) * _DUAL
  return _overlap_add(frames).astype(jnp.float32)


def log_magnitude_to_spectrogram(log_mag: jax.Array, r: float = 10.0) -> jax.Array:
  """Normalise natural-log magnitudes [..., 256, 128]: subtract the clip max, clip at -r, map to [-1, 1]."""
  peak = jnp.max(log_mag, axis=(-2, -1), keepdims=True)
  clipped = jnp.clip(log_mag - peak, -r, 0.0)
  return clipped / (r / 2.0) + 1.0


@jax.jit
def log_spectrogram(wave: jax.Array, r: float = 10.0) -> jax.Array:
  """Waveform [..., 16384] -> normalised log-magnitude spectrogram [..., 256, 128] in [-1, 1]."""
  wave = jnp.asarray(wave, jnp.float32)
  _check_wave(wave)
  mag = jnp.abs(stft(wave)[..., :NUM_FREQ, :])
  log_mag = jnp.log(mag + jnp.finfo(jnp.float32).tiny)
  spec = log_magnitude_to_spectrogram(log_mag, r)
  # A digitally silent clip has no loudest coefficient; map it to the floor
  # rather than to a flat full-scale spectrogram.
  silent = jnp.max(mag, axis=(-2, -1), keepdims=True) <= 0.0
  return jnp.where(silent, -1.0, spec).astype(jnp.float32)


@jax.jit
def spectrogram_to_magnitude(spec: jax.Array, r: float = 10.0) -> jax.Array:
  """Normalised spectrogram [..., 256, 128] -> relative STFT magnitude [..., 257, 128] (max 1, Nyquist row at the floor exp(-r))."""
  spec = jnp.asarray(spec, jnp.float32)
  _check_coefficients(spec, NUM_FREQ, "a spectrogram")
  mag = jnp.exp((spec - 1.0) * (r / 2.0))
  nyquist = jnp.full(spec.shape[:-2] + (1, NUM_FRAMES), jnp.exp(-r), mag.dtype)
  return jnp.concatenate([mag, nyquist], axis=-2)
