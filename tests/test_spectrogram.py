"""Tests for the circular STFT and the 256x128 log-magnitude representation."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from audiogan_jax.audio import spectrogram as sp


def _clips(shape, seed=0):
  """Deterministic test clips: sums of a few sinusoids plus a little noise."""
  rng = np.random.default_rng(seed)
  t = np.arange(sp.NUM_SAMPLES) / sp.SAMPLE_RATE
  n = int(np.prod(shape))
  freqs = rng.uniform(80, 6000, size=(n, 3, 1))
  amps = rng.uniform(0.1, 0.3, size=(n, 3, 1))
  x = (amps * np.sin(2 * np.pi * freqs * t)).sum(1)
  x += 0.01 * rng.standard_normal(x.shape)
  return x.reshape(tuple(shape) + (sp.NUM_SAMPLES,)).astype(np.float32)


def test_constants():
  assert (sp.NUM_SAMPLES, sp.SAMPLE_RATE, sp.WINDOW, sp.HOP) == (16384, 16000, 512, 128)
  assert (sp.NUM_FREQ, sp.NUM_FRAMES) == (256, 128)
  assert sp.NUM_SAMPLES // sp.HOP == sp.NUM_FRAMES


def test_stft_matches_direct_definition():
  x = _clips((1,))[0].astype(np.float64)
  X = np.asarray(sp.stft(x))
  assert X.shape == (257, 128) and X.dtype == np.complex64
  n = np.arange(-256, 256)
  g = 0.5 + 0.5 * np.cos(2 * np.pi * n / 512)
  k = np.arange(257)[:, None]
  # Frames 0 and 127 wrap around the clip ends.
  for m in (0, 1, 64, 127):
    frame = x[(m * 128 + n) % 16384] * g
    ref = (frame * np.exp(-2j * np.pi * k * n / 512)).sum(1)
    np.testing.assert_allclose(X[:, m], ref, atol=2e-4 * np.abs(ref).max())


@pytest.mark.parametrize("shape", [(3,), (2, 2)])
def test_round_trip_exact(shape):
  x = _clips(shape)
  X = sp.stft(x)
  assert X.shape == tuple(shape) + (257, 128)
  y = np.asarray(sp.istft(X))
  assert y.shape == x.shape and y.dtype == np.float32
  assert np.max(np.abs(y - x)) < 1e-4
  # The same inside a user's jit.
  y2 = np.asarray(jax.jit(lambda w: sp.istft(sp.stft(w)))(x))
  assert np.max(np.abs(y2 - x)) < 1e-4


def test_round_trip_unbatched():
  x = _clips((1,))[0]
  assert np.max(np.abs(np.asarray(sp.istft(sp.stft(x))) - x)) < 1e-4


@pytest.mark.parametrize("r", [10.0, 15.0])
def test_log_spectrogram_range_and_shape(r):
  x = _clips((2, 3))
  spec = np.asarray(sp.log_spectrogram(x, r))
  assert spec.shape == (2, 3, 256, 128) and spec.dtype == np.float32
  assert spec.min() >= -1.0 and spec.max() <= 1.0
  np.testing.assert_allclose(spec.max(axis=(-2, -1)), 1.0, atol=1e-6)
  if r == 10.0:
    # The noise floor of these clips lies below -10 nepers: clipping is active.
    assert np.all(spec.min(axis=(-2, -1)) == -1.0)
  # Batched and per-clip results agree.
  single = np.asarray(sp.log_spectrogram(x[1, 2], r))
  np.testing.assert_allclose(spec[1, 2], single, atol=1e-5)


def test_log_spectrogram_formula():
  x = _clips((1,))[0]
  r = 10.0
  L = np.log(np.abs(np.asarray(sp.stft(x)))[:256].astype(np.float64) + 1e-30)
  L = np.clip(L - L.max(), -r, 0)
  np.testing.assert_allclose(np.asarray(sp.log_spectrogram(x, r)), L / (r / 2) + 1,
                             atol=2e-5)


def test_log_spectrogram_is_level_invariant():
  x = _clips((1,))[0]
  np.testing.assert_allclose(sp.log_spectrogram(x), sp.log_spectrogram(0.1 * x),
                             atol=1e-4)


def test_silent_clip_maps_to_floor():
  spec = np.asarray(sp.log_spectrogram(np.zeros((2, 16384), np.float32)))
  assert np.all(spec == -1.0)


@pytest.mark.parametrize("r", [10.0, 15.0])
def test_spectrogram_to_magnitude(r):
  x = _clips((2,))
  mag = np.asarray(sp.spectrogram_to_magnitude(sp.log_spectrogram(x, r), r))
  assert mag.shape == (2, 257, 128)
  np.testing.assert_allclose(mag.max(axis=(-2, -1)), 1.0, rtol=1e-6)
  np.testing.assert_allclose(mag[:, 256], np.exp(-r), rtol=1e-5)
  np.testing.assert_allclose(mag.min(), np.exp(-r), rtol=1e-4)
  true = np.abs(np.asarray(sp.stft(x)))[:, :256]
  rel = true / true.max(axis=(-2, -1), keepdims=True)
  kept = rel > np.exp(-r)
  np.testing.assert_allclose(mag[:, :256][kept], rel[kept], rtol=1e-3)


@pytest.mark.parametrize("r", [10.0, 15.0])
def test_magnitude_with_true_phase_reproduces_clip_up_to_scale(r):
  x = _clips((2,))
  X = np.asarray(sp.stft(x))
  mag = np.asarray(sp.spectrogram_to_magnitude(sp.log_spectrogram(x, r), r))
  y = np.asarray(sp.istft(mag * np.exp(1j * np.angle(X))))
  # The representation keeps magnitudes relative to the loudest coefficient.
  scale = np.abs(X[:, :256]).max(axis=(-2, -1))
  for xi, yi, si in zip(x, y, scale):
    # Only the (unrepresented) Nyquist bin and coefficients below the floor
    # differ from the clip.
    err = np.linalg.norm(yi * si - xi) / np.linalg.norm(xi)
    assert err < 5e-3, err
  if r == 15.0:
    # Nothing is clipped at r=15 for these clips, so apart from the Nyquist
    # row the reconstruction is exact.
    X_ref = X.copy()
    X_ref[:, 256] = np.exp(-r) * scale[:, None] * np.exp(1j * np.angle(X[:, 256]))
    ref = np.asarray(sp.istft(X_ref))
    assert np.max(np.abs(y * scale[:, None] - ref)) < 1e-4


def test_bad_shapes_raise():
  with pytest.raises(ValueError, match=r"\[\.\.\., 16384\]"):
    sp.stft(np.zeros((2, 16000), np.float32))
  with pytest.raises(ValueError, match=r"\[\.\.\., 16384\]"):
    sp.log_spectrogram(np.zeros((16383,), np.float32))
  with pytest.raises(ValueError, match=r"\[\.\.\., 257, 128\]"):
    sp.istft(jnp.zeros((2, 256, 128), jnp.complex64))
  with pytest.raises(ValueError, match=r"\[\.\.\., 256, 128\]"):
    sp.spectrogram_to_magnitude(np.zeros((2, 257, 128), np.float32), 10.0)
