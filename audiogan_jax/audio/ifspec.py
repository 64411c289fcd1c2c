"""GANSynth's spectral representations: log magnitude and instantaneous frequency.

Engel et al. (GANSynth, 2019; SPEC section 6): an STFT with a 1024-sample
window and a 256-sample hop; per time-frequency point the log magnitude and
the instantaneous frequency (IF), the finite difference along time of the
phase unwrapped along time, divided by pi; both scaled to [-1, 1] and, for
IF-Mel, warped onto a mel frequency axis. Images are [time, frequency, 2]
(channel 0 the magnitude, 1 the IF), 256 x 512 x 2 for 65536-sample clips
(NSynth's 4-second notes, 64000 samples, zero-padded).

Two representations share the code (``Representation.mel``):

* ``"if"`` (mel=False): exact. The STFT is circular like ``spectrogram.py``
  (frame m centred at sample ``m * hop``, so ``num_samples / hop`` frames)
  with a periodic Hann window; the inverse STFT uses the dual window
  ``g / sum_m g(n - m hop)^2``; the IF is inverted by a cumulative sum along
  time (the first frame's IF is its phase itself). Dropping the DC bin
  (513 bins -> 512, as GANSynth does) is the only loss: what the clip holds in
  bin 0 is gone, so ``audio -> IF -> audio`` is exact for clips without
  energy below ~16 Hz and ``IF -> audio -> IF`` is exact for images whose
  magnitude is consistent (that came from audio).
* ``"ifmel"`` (mel=True): GANSynth's IF-Mel. The power |X|^2 and the phase
  unwrapped along time are warped by a square mel matrix (as many mel rows
  as linear bins, each a linear interpolation between two bins, so the IF
  stays in [-1, 1]); the mel phase is differenced along time again. The
  inverse un-warps with the matrix's pseudo-inverse. The mel matrix is not
  invertible (above ~1 kHz the mel rows are sparser than the bins, and a
  warped phase keeps the time slope but not the offsets between
  neighbouring bins), so IF-Mel -> audio -> IF-Mel is close to identity,
  not exact; ``tests/test_ifspec.py`` measures how close. (GANSynth warps
  with triangular filters and un-warps with their normalised transpose;
  measured on harmonic notes here, that scheme's round trip has 2.5 times
  the magnitude error of interpolation with the pseudo-inverse and 30-55 dB
  less SNR on notes below 300 Hz, so the latter is used.)

Magnitude scaling: ``log(|X| + 1e-6)`` mapped linearly from
[log 1e-6, log(n_fft / 2)] to [-1, 1] and clipped (a full-scale sinusoid
peaks at log(n_fft / 4); silence is -1). Fixed bounds rather than the data's
range keep a checkpoint's images comparable across datasets and the inverse
independent of the training set. The IF needs no scaling: it lies in
[-1, 1] by construction.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

EPS = 1e-6
REPRESENTATIONS = ("if", "ifmel")


def hz_to_mel(f):
  """The mel scale GANSynth uses (HTK form): 1127 ln(1 + f / 700)."""
  return 1127.0 * np.log1p(np.asarray(f, np.float64) / 700.0)


def mel_to_hz(m):
  """Inverse of :func:`hz_to_mel`."""
  return 700.0 * np.expm1(np.asarray(m, np.float64) / 1127.0)


@dataclasses.dataclass(frozen=True)
class Representation:
  """One spectral representation: its STFT and whether it is mel-warped."""

  num_samples: int = 65536
  n_fft: int = 1024
  hop: int = 256
  mel: bool = True
  sample_rate: int = 16000

  def __post_init__(self):
    if self.n_fft < 8 or self.n_fft & (self.n_fft - 1):
      raise ValueError(f"--config.model.n_fft={self.n_fft} must be a power of "
                       "two >= 8")
    if self.hop < 1 or self.n_fft % self.hop or self.n_fft // self.hop < 2:
      raise ValueError(f"--config.model.hop={self.hop} must divide "
                       f"n_fft={self.n_fft} at least twice (e.g. n_fft / 4)")
    if self.num_samples % self.hop:
      raise ValueError(f"--config.data.num_samples={self.num_samples} must "
                       f"be a multiple of the hop {self.hop}")

  @property
  def name(self) -> str:
    return "ifmel" if self.mel else "if"

  @property
  def num_frames(self) -> int:
    return self.num_samples // self.hop

  @property
  def num_bins(self) -> int:
    """Frequency bins kept: 1 .. n_fft / 2 (the DC bin is dropped)."""
    return self.n_fft // 2

  @property
  def shape(self) -> tuple[int, int, int]:
    """The image shape [time, frequency, 2]."""
    return (self.num_frames, self.num_bins, 2)

  @property
  def log_range(self) -> tuple[float, float]:
    """The log magnitudes mapped to -1 and 1."""
    return float(np.log(EPS)), float(np.log(self.n_fft / 2))


@functools.lru_cache(maxsize=None)
def _window(n_fft: int, hop: int) -> tuple[np.ndarray, np.ndarray]:
  """The periodic Hann window and its dual for this hop."""
  g = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n_fft) / n_fft)
  energy = np.zeros(hop)
  for k in range(n_fft // hop):
    energy += g[k * hop:(k + 1) * hop] ** 2
  dual = g / np.tile(energy, n_fft // hop)
  return g.astype(np.float32), dual.astype(np.float32)


@functools.lru_cache(maxsize=None)
def _frame_index(num_samples: int, n_fft: int, hop: int) -> np.ndarray:
  """Sample n of frame m is x[(m hop - n_fft / 2 + n) mod L]."""
  frames = num_samples // hop
  return ((np.arange(frames)[:, None] * hop - n_fft // 2
           + np.arange(n_fft)[None, :]) % num_samples).astype(np.int32)


@functools.lru_cache(maxsize=None)
def mel_matrix(n_fft: int, sample_rate: int) -> np.ndarray:
  """The square warp [mel, linear]: linear interpolation at mel-spaced points.

  Bin k (1 .. n_fft / 2) is at k sr / n_fft Hz. Row i samples the linear
  spectrum at the i-th of n_fft / 2 frequencies spaced evenly on the mel
  scale from the first to the last kept bin, interpolating between the two
  bins around it (weights summing to one, so the IF stays in [-1, 1]).
  Below ~1 kHz the mel points are denser than the bins, above sparser: the
  matrix has rank < n_fft / 2 (365 of 512 at 1024 / 16 kHz).
  """
  n = n_fft // 2
  bin_hz = sample_rate / n_fft
  f_lin = np.arange(1, n + 1) * bin_hz
  centres = mel_to_hz(np.linspace(hz_to_mel(f_lin[0]), hz_to_mel(f_lin[-1]),
                                  n))
  pos = np.clip(centres / bin_hz - 1.0, 0.0, n - 1.0)
  low = np.minimum(np.floor(pos).astype(np.int64), n - 2)
  frac = pos - low
  w = np.zeros((n, n))
  w[np.arange(n), low] = 1.0 - frac
  w[np.arange(n), low + 1] = frac
  return w.astype(np.float32)


@functools.lru_cache(maxsize=None)
def unmel_matrix(n_fft: int, sample_rate: int) -> np.ndarray:
  """[linear, mel]: the Moore-Penrose pseudo-inverse of :func:`mel_matrix`.

  Exact on the low bins the mel rows oversample; on the upper bins it gives
  the least-norm spectrum that warps to the image.
  """
  m = mel_matrix(n_fft, sample_rate).astype(np.float64)
  return np.linalg.pinv(m).astype(np.float32)


def stft(rep: Representation, wave: jax.Array) -> jax.Array:
  """[..., num_samples] -> complex64 [..., frames, n_fft / 2] (DC dropped)."""
  wave = jnp.asarray(wave, jnp.float32)
  if wave.shape[-1] != rep.num_samples:
    raise ValueError(f"this representation takes {rep.num_samples}-sample "
                     f"clips, got shape {tuple(wave.shape)}")
  g, _ = _window(rep.n_fft, rep.hop)
  frames = wave[..., _frame_index(rep.num_samples, rep.n_fft, rep.hop)] * g
  return jnp.fft.rfft(frames, axis=-1)[..., 1:].astype(jnp.complex64)


def istft(rep: Representation, coefficients: jax.Array) -> jax.Array:
  """[..., frames, n_fft / 2] -> [..., num_samples]; inverts :func:`stft`."""
  pad = [(0, 0)] * (coefficients.ndim - 1) + [(1, 0)]
  full = jnp.pad(coefficients, pad)
  _, dual = _window(rep.n_fft, rep.hop)
  frames = jnp.fft.irfft(full, n=rep.n_fft, axis=-1) * dual
  lead = frames.shape[:-2]
  idx = _frame_index(rep.num_samples, rep.n_fft, rep.hop).reshape(-1)
  out = jnp.zeros((*lead, rep.num_samples), jnp.float32)
  return out.at[..., idx].add(frames.reshape(*lead, -1).astype(jnp.float32))


def _wrap(phase: jax.Array) -> jax.Array:
  """Angles to [-pi, pi)."""
  return jnp.mod(phase + jnp.pi, 2.0 * jnp.pi) - jnp.pi


def instantaneous_frequency(phase: jax.Array) -> jax.Array:
  """Phase [..., T, F] -> wrapped finite difference along T, over pi.

  The first frame keeps its phase (the difference from zero), so a
  cumulative sum inverts it. The wrapped difference of the raw phase equals
  the difference of the phase unwrapped along time.
  """
  diff = jnp.concatenate([phase[..., :1, :],
                          phase[..., 1:, :] - phase[..., :-1, :]], axis=-2)
  return _wrap(diff) / jnp.pi


def _scale_log(rep: Representation, logmag: jax.Array) -> jax.Array:
  lo, hi = rep.log_range
  return jnp.clip(2.0 * (logmag - lo) / (hi - lo) - 1.0, -1.0, 1.0)


def _unscale_log(rep: Representation, scaled: jax.Array) -> jax.Array:
  lo, hi = rep.log_range
  return (scaled.astype(jnp.float32) + 1.0) * 0.5 * (hi - lo) + lo


def encode(rep: Representation, wave: jax.Array) -> jax.Array:
  """Clips [..., num_samples] -> images [..., frames, bins, 2] in [-1, 1]."""
  x = stft(rep, wave)
  mag, phase = jnp.abs(x), jnp.angle(x)
  if not rep.mel:
    logmag = jnp.log(mag + EPS)
    freq = instantaneous_frequency(phase)
  else:
    m = jnp.asarray(mel_matrix(rep.n_fft, rep.sample_rate))
    hp = jax.lax.Precision.HIGHEST
    power = jnp.matmul(jnp.square(mag), m.T, precision=hp)
    logmag = jnp.log(jnp.sqrt(power) + EPS)
    unwrapped = jnp.cumsum(instantaneous_frequency(phase) * jnp.pi, axis=-2)
    mel_phase = jnp.matmul(unwrapped, m.T, precision=hp)
    freq = instantaneous_frequency(mel_phase)
  return jnp.stack([_scale_log(rep, logmag), freq], axis=-1).astype(
      jnp.float32)


def to_stft(rep: Representation, image: jax.Array) -> jax.Array:
  """Images [..., frames, bins, 2] -> complex STFT coefficients."""
  image = jnp.asarray(image, jnp.float32)
  if image.shape[-3:] != rep.shape:
    raise ValueError(f"the {rep.name} representation has images of shape "
                     f"{rep.shape}, got {tuple(image.shape)}")
  mag = jnp.maximum(jnp.exp(_unscale_log(rep, image[..., 0])) - EPS, 0.0)
  freq = jnp.clip(image[..., 1], -1.0, 1.0)
  phase = jnp.cumsum(freq * jnp.pi, axis=-2)
  if rep.mel:
    u = jnp.asarray(unmel_matrix(rep.n_fft, rep.sample_rate))
    hp = jax.lax.Precision.HIGHEST
    mag = jnp.sqrt(jnp.maximum(jnp.matmul(jnp.square(mag), u.T,
                                          precision=hp), 0.0))
    phase = jnp.matmul(phase, u.T, precision=hp)
  return (mag * jnp.exp(1j * phase)).astype(jnp.complex64)


def decode(rep: Representation, image: jax.Array) -> jax.Array:
  """Images [..., frames, bins, 2] -> clips [..., num_samples] (no Griffin-Lim).

  Values outside [-1, 1] are clipped first (a generator's tanh stays inside).
  """
  return istft(rep, to_stft(rep, jnp.clip(image, -1.0, 1.0)))


def from_config(config) -> Representation:
  """The representation a GANSynth config names (``model.representation``)."""
  name = str(config.model.get("representation", "ifmel"))
  if name not in REPRESENTATIONS:
    raise ValueError(f"--config.model.representation={name!r}; use one of "
                     f"{', '.join(REPRESENTATIONS)}")
  return Representation(
      num_samples=int(config.data.get("num_samples", 65536)),
      n_fft=int(config.model.get("n_fft", 1024)),
      hop=int(config.model.get("hop", 256)), mel=name == "ifmel")


def phase_error(reference: np.ndarray, other: np.ndarray) -> np.ndarray:
  """|IF difference| wrapped to [0, 1] (IF units: pi radians per hop).

  IF values 1 and -1 are the same phase advance; a plain difference would
  count that as 2.
  """
  d = np.mod(np.asarray(other, np.float64) - np.asarray(reference, np.float64)
             + 1.0, 2.0) - 1.0
  return np.abs(d)
