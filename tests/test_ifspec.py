"""GANSynth's IF and IF-Mel representations: values, inverses, round trips."""

import ml_collections
import numpy as np
import pytest

from audiogan_jax.audio import ifspec

SR = 16000
L = 16384


def _note(f0: float, decay: float = 2.0) -> np.ndarray:
  """A harmonic note (partials below 7.5 kHz) with a 10 ms attack."""
  t = np.arange(L) / SR
  x = sum(np.sin(2 * np.pi * k * f0 * t + k) / k for k in range(1, 12)
          if k * f0 < 7500)
  x = x * np.exp(-decay * t) * np.minimum(1.0, t / 0.01)
  return (0.8 * x / np.abs(x).max()).astype(np.float32)


NOTES = np.stack([_note(f) for f in (65.4, 110.0, 261.6, 440.0, 1000.0)])


def _snr(ref, out):
  return 10 * np.log10((ref ** 2).sum(-1) / ((ref - out) ** 2).sum(-1))


def _round_trip(rep, waves):
  img = np.asarray(ifspec.encode(rep, waves))
  audio = np.asarray(ifspec.decode(rep, img))
  return img, audio, np.asarray(ifspec.encode(rep, audio))


def _errors(img, img2, loud=-0.3):
  """Mean |magnitude error| and mean wrapped IF error where it is loud."""
  mag = np.abs(img2[..., 0] - img[..., 0]).mean(axis=(1, 2))
  w = img[..., 0] > loud
  phase = np.array([ifspec.phase_error(img[i, ..., 1], img2[i, ..., 1])[w[i]]
                    .mean() for i in range(len(img))])
  return mag, phase


def test_paper_shape_and_range():
  rep = ifspec.Representation()
  assert rep.shape == (256, 512, 2) and rep.num_samples == 65536
  wave = np.zeros((2, 65536), np.float32)
  wave[0] = 0.5 * np.sin(2 * np.pi * 440 * np.arange(65536) / SR)
  img = np.asarray(ifspec.encode(rep, wave))
  assert img.shape == (2, 256, 512, 2)
  assert np.all(np.abs(img) <= 1.0)
  # Silence is the floor.
  np.testing.assert_array_equal(img[1, ..., 0], -1.0)
  # Linear IF: 440 Hz is bin 28.2 (column 27, the DC bin dropped), near the
  # top of the scale (a full-scale sinusoid peaks at log(n_fft / 4)).
  lin = ifspec.Representation(mel=False)
  img = np.asarray(ifspec.encode(lin, wave[:1]))[0]
  assert np.argmax(img[128, :, 0]) == 27
  assert img[:, 27, 0].mean() > 0.8


def test_instantaneous_frequency_of_a_sinusoid():
  """A steady partial advances its phase by 2 pi f hop / sr per frame."""
  rep = ifspec.Representation(num_samples=L, mel=False)
  k = 40                                  # bin 40: 625 Hz, a bin centre
  f = k * SR / rep.n_fft
  wave = np.cos(2 * np.pi * f * np.arange(L) / SR).astype(np.float32)
  img = np.asarray(ifspec.encode(rep, wave[None]))[0]
  advance = np.mod(2 * np.pi * f * rep.hop / SR + np.pi, 2 * np.pi) - np.pi
  np.testing.assert_allclose(img[1:, k - 1, 1], advance / np.pi, atol=1e-4)


def test_if_representation_is_exact_above_the_dc_bin():
  rep = ifspec.Representation(num_samples=L, mel=False)
  waves = NOTES[2:]                       # no energy near the dropped DC bin
  img, audio, img2 = _round_trip(rep, waves)
  # Measured 59-92 dB: float32 rounding and what leaks into the DC bin.
  assert np.all(_snr(waves, audio) > 50.0), _snr(waves, audio)
  # Where the clip is loud (above -0.3 of the scale, ~55 dB under the
  # top) both channels come back: the small differences elsewhere are the
  # log scale magnifying the rounding of near-silent points.
  loud = img[..., 0] > -0.3
  mag = np.abs(img2[..., 0] - img[..., 0])[loud]
  phase = ifspec.phase_error(img[..., 1], img2[..., 1])[loud]
  # Measured: 1.1e-4 and 3.2e-3.
  assert mag.mean() < 1e-3 and phase.mean() < 1e-2, (mag.mean(), phase.mean())


def test_ifmel_round_trip_is_close_to_identity():
  """IF-Mel -> audio -> IF-Mel on harmonic notes from 65 Hz to 1 kHz.

  Measured: magnitude error 0.023-0.034 (of the [-1, 1] range), IF error
  where loud 0.012-0.040 (of the [-1, 1] range, wrapped); a warp that
  scrambled frequencies or an inverse that was not one fails both.
  """
  rep = ifspec.Representation(num_samples=L, mel=True)
  img, audio, img2 = _round_trip(rep, NOTES)
  mag, phase = _errors(img, img2)
  assert np.all(mag < 0.05), mag
  assert np.all(phase < 0.06), phase
  # Low notes live where the mel rows oversample the bins: near exact.
  assert np.all(_snr(NOTES[:2], audio[:2]) > 35.0), _snr(NOTES, audio)
  # The IF-Mel image of the decoded audio is far closer to the original's
  # than the image of another note is.
  other = np.abs(img[1, ..., 0] - img[3, ..., 0]).mean()
  assert other > 5 * mag.max()


def test_mel_matrix_and_its_inverse():
  m = ifspec.mel_matrix(1024, SR)
  assert m.shape == (512, 512)
  np.testing.assert_allclose(m.sum(axis=1), 1.0, atol=1e-6)
  assert np.all(m >= 0)
  assert np.linalg.matrix_rank(m.astype(np.float64)) == 365
  # The first and last rows sample the first and last bins.
  assert m[0, 0] == pytest.approx(1.0) and m[-1, -1] == pytest.approx(1.0)
  u = ifspec.unmel_matrix(1024, SR)
  # Low frequencies, where mel rows oversample: un-warping is exact.
  spectrum = np.zeros(512, np.float32)
  spectrum[:40] = np.linspace(1.0, 2.0, 40)
  np.testing.assert_allclose((u @ (m @ spectrum))[:30], spectrum[:30],
                             atol=1e-4)


def test_bad_inputs_are_one_line_errors():
  rep = ifspec.Representation(num_samples=L)
  with pytest.raises(ValueError, match="16384-sample clips"):
    ifspec.encode(rep, np.zeros((1, 1000), np.float32))
  with pytest.raises(ValueError, match="images of shape"):
    ifspec.decode(rep, np.zeros((1, 8, 8, 2), np.float32))
  with pytest.raises(ValueError, match="n_fft"):
    ifspec.Representation(n_fft=1000)
  with pytest.raises(ValueError, match="num_samples"):
    ifspec.Representation(num_samples=1000)
  c = ml_collections.ConfigDict({"model": {"representation": "mel"},
                                 "data": {"num_samples": L}})
  with pytest.raises(ValueError, match="model.representation"):
    ifspec.from_config(c)
