"""SpecGAN's 128x128 representation (Donahue et al.; SPEC section 1).

STFT with a 256-sample periodic Hann window (16 ms) and a 128-sample hop
(8 ms), circular like ``spectrogram.py``: 16384 samples give 128 frames
(frame m centred at sample 128 m) and 129 bins, of which the top (Nyquist)
one is dropped -> 128 x 128. ``log(|X| + 1e-6)`` is normalised per frequency
bin by the training set's mean and standard deviation, divided by 3 and
clipped to [-1, 1]. The inverse undoes the scaling and runs Griffin-Lim.

The inverse STFT uses the canonical dual window ``g / sum_m g^2(n - 128 m)``
(for this window and hop the denominator is periodic, not constant), so
``istft(stft(x)) == x`` up to float rounding.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from audiogan_jax.audio import griffinlim

NUM_SAMPLES = 16384
WINDOW = 256
HOP = 128
NUM_FREQ = 128
NUM_FRAMES = NUM_SAMPLES // HOP
NUM_BINS = WINDOW // 2 + 1
EPS = 1e-6
NUM_STD = 3.0

_HANN = (0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(WINDOW) / WINDOW)).astype(
    np.float32)
_ENERGY = _HANN[:HOP] ** 2 + _HANN[HOP:] ** 2          # period HOP
_DUAL = (_HANN / np.tile(_ENERGY, WINDOW // HOP)).astype(np.float32)
# Sample n of frame m is x[(m * HOP - WINDOW // 2 + n) mod L].
_INDEX = ((np.arange(NUM_FRAMES)[:, None] * HOP - WINDOW // 2
           + np.arange(WINDOW)[None, :]) % NUM_SAMPLES).astype(np.int32)


def _check(wave: jax.Array) -> None:
  if wave.shape[-1] != NUM_SAMPLES:
    raise ValueError(f"SpecGAN takes {NUM_SAMPLES}-sample clips, got shape "
                     f"{tuple(wave.shape)}")


def stft(wave: jax.Array) -> jax.Array:
  """[..., 16384] -> complex64 [..., 129, 128] (frequency, time)."""
  wave = jnp.asarray(wave, jnp.float32)
  _check(wave)
  frames = wave[..., _INDEX] * _HANN
  return jnp.swapaxes(jnp.fft.rfft(frames, axis=-1), -1, -2).astype(
      jnp.complex64)


def istft(coefficients: jax.Array) -> jax.Array:
  """[..., 129, 128] -> [..., 16384]; the inverse of :func:`stft`."""
  frames = jnp.fft.irfft(jnp.swapaxes(coefficients, -1, -2), n=WINDOW,
                         axis=-1) * _DUAL
  lead = frames.shape[:-2]
  flat = frames.reshape(-1, NUM_FRAMES * WINDOW)
  out = jnp.zeros((flat.shape[0], NUM_SAMPLES), jnp.float32)
  out = out.at[:, _INDEX.reshape(-1)].add(flat)
  return out.reshape(*lead, NUM_SAMPLES)


def log_magnitude(wave: jax.Array) -> jax.Array:
  """log(|STFT| + 1e-6) without the Nyquist bin: [..., 128, 128]."""
  return jnp.log(jnp.abs(stft(wave)[..., :NUM_FREQ, :]) + EPS)


def normalise(log_mag: jax.Array, mean: jax.Array, std: jax.Array
              ) -> jax.Array:
  """Per-bin standardisation / 3, clipped to [-1, 1]: [..., 128, 128, 1]."""
  mean = jnp.asarray(mean, jnp.float32)[:, None]
  std = jnp.asarray(std, jnp.float32)[:, None]
  x = (log_mag - mean) / (std * NUM_STD)
  return jnp.clip(x, -1.0, 1.0)[..., None]


def waveform_to_spec(wave: jax.Array, mean, std) -> jax.Array:
  """Waveform [..., 16384] -> SpecGAN input [..., 128, 128, 1] in [-1, 1]."""
  return normalise(log_magnitude(wave), mean, std)


def spec_to_magnitude(spec: jax.Array, mean, std) -> jax.Array:
  """SpecGAN output [..., 128, 128, 1] -> STFT magnitude [..., 129, 128]."""
  mean = jnp.asarray(mean, jnp.float32)[:, None]
  std = jnp.asarray(std, jnp.float32)[:, None]
  log_mag = spec[..., 0].astype(jnp.float32) * std * NUM_STD + mean
  mag = jnp.maximum(jnp.exp(log_mag) - EPS, 0.0)
  nyquist = jnp.zeros(mag.shape[:-2] + (1, NUM_FRAMES), mag.dtype)
  return jnp.concatenate([mag, nyquist], axis=-2)


@jax.jit
def griffin_lim(magnitude: jax.Array, key: jax.Array,
                n_iter: int = 64, momentum: float = 0.99) -> jax.Array:
  """Fast Griffin-Lim on this STFT: [..., 129, 128] -> [..., 16384]."""
  phase = jax.random.uniform(key, magnitude.shape, jnp.float32, 0, 2 * jnp.pi)
  return griffinlim.iterate(magnitude, phase, n_iter, momentum, stft, istft)


def spec_to_waveform(spec, mean, std, n_iter: int = 64,
                     seed: int = 0) -> np.ndarray:
  """SpecGAN outputs [N, 128, 128, 1] -> float32 waveforms [N, 16384]."""
  mag = spec_to_magnitude(jnp.asarray(spec), mean, std)
  return np.asarray(griffin_lim(mag, jax.random.key(seed), n_iter))


def dataset_statistics(waveforms: np.ndarray, chunk: int = 256
                       ) -> tuple[np.ndarray, np.ndarray]:
  """Per-bin mean and std of the log magnitude over a set of clips.

  Streams over ``chunk`` clips at a time (sums in float64), so a dataset of
  any size fits in memory.
  """
  if len(waveforms) == 0:
    raise ValueError("no training clips to compute SpecGAN's normalisation "
                     "statistics from")
  fn = jax.jit(log_magnitude)
  s1 = np.zeros(NUM_FREQ)
  s2 = np.zeros(NUM_FREQ)
  count = 0
  for i in range(0, len(waveforms), chunk):
    part = np.asarray(waveforms[i:i + chunk], np.float32)
    n = len(part)
    if n < chunk:  # one compiled shape
      part = np.concatenate([part, np.zeros((chunk - n, NUM_SAMPLES),
                                            np.float32)])
    lm = np.asarray(fn(part), np.float64)[:n]
    s1 += lm.sum(axis=(0, 2))
    s2 += np.square(lm).sum(axis=(0, 2))
    count += n * NUM_FRAMES
  mean = s1 / count
  std = np.sqrt(np.maximum(s2 / count - np.square(mean), 0.0))
  return mean.astype(np.float32), np.maximum(std, 1e-3).astype(np.float32)
