"""Tests for audio file reading and writing."""

import os

import numpy as np
import pytest
import soundfile

from audiogan_jax.audio import io


def _sine(freq, rate, seconds, amp=0.5, channels=1):
  t = np.arange(int(rate * seconds)) / rate
  x = amp * np.sin(2 * np.pi * freq * t)
  if channels > 1:
    x = np.stack([x] * channels, axis=1)
  return x


def _peak_hz(wave, rate=16000):
  spec = np.abs(np.fft.rfft(wave * np.hanning(len(wave))))
  return np.argmax(spec) * rate / len(wave)


def test_constants_and_extensions():
  assert (io.SAMPLE_RATE, io.NUM_SAMPLES) == (16000, 16384)
  for ext in (".wav", ".flac", ".ogg", ".aiff"):
    assert ext in io.AUDIO_EXTENSIONS
  assert io.is_audio_file("a/B.WAV") and io.is_audio_file("x.flac")
  assert not io.is_audio_file("notes.txt")


def test_write_then_load_roundtrip(tmp_path):
  x = _sine(440, 16000, 0.5).astype(np.float32)
  path = tmp_path / "deep" / "dir" / "a.wav"      # parents are created
  io.write_wav(str(path), x)
  info = soundfile.info(str(path))
  assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
  y = io.load_audio(str(path))
  assert y.dtype == np.float32 and y.shape == (16384,)
  np.testing.assert_allclose(y[:8000], x, atol=1 / 32768 + 1e-6)
  assert np.all(y[8000:] == 0)                     # zero-padded


def test_write_clips_to_full_scale(tmp_path):
  path = str(tmp_path / "loud.wav")
  io.write_wav(path, np.array([2.0, -3.0, 0.25], np.float32))
  y = io.load_audio(path, num_samples=None)
  np.testing.assert_allclose(y, [32767 / 32768, -1.0, 0.25], atol=1e-4)


@pytest.mark.parametrize("subtype", ["PCM_U8", "PCM_16", "PCM_24", "PCM_32",
                                     "FLOAT", "DOUBLE"])
def test_every_wav_sample_format_reads_in_unit_range(tmp_path, subtype):
  path = str(tmp_path / f"{subtype}.wav")
  soundfile.write(path, _sine(1000, 16000, 1.0, amp=0.5), 16000,
                  subtype=subtype)
  y = io.load_audio(path)
  tol = 0.01 if subtype == "PCM_U8" else 1e-3
  assert abs(np.abs(y).max() - 0.5) < tol
  assert np.abs(y).max() <= 1.0


def test_float_wav_beyond_full_scale_is_clipped(tmp_path):
  path = str(tmp_path / "hot.wav")
  soundfile.write(path, np.array([1.5, -2.0, 0.5]), 16000, subtype="FLOAT")
  np.testing.assert_allclose(io.load_audio(path, num_samples=None),
                             [1.0, -1.0, 0.5])


def test_stereo_44k_24bit_is_downmixed_and_resampled(tmp_path):
  rate = 44100
  left = _sine(1000, rate, 1.0, amp=0.6)
  right = _sine(1000, rate, 1.0, amp=0.2)
  path = str(tmp_path / "stereo.wav")
  soundfile.write(path, np.stack([left, right], 1), rate, subtype="PCM_24")
  full = io.load_audio(path, num_samples=None)
  assert abs(len(full) - 16000) <= 1
  y = io.load_audio(path)
  assert y.shape == (16384,)
  assert abs(_peak_hz(y[:16000]) - 1000) < 5
  # Mean of the channels: amplitude (0.6 + 0.2) / 2.
  assert abs(np.abs(y[1000:15000]).max() - 0.4) < 0.01


def test_long_file_is_trimmed(tmp_path):
  path = str(tmp_path / "long.wav")
  x = _sine(300, 16000, 2.0)
  soundfile.write(path, x, 16000, subtype="FLOAT")
  y = io.load_audio(path)
  np.testing.assert_allclose(y, x[:16384], atol=1e-6)
  assert io.load_audio(path, num_samples=100).shape == (100,)


@pytest.mark.parametrize("fmt,ext", [("FLAC", "flac"), ("OGG", "ogg"),
                                     ("AIFF", "aiff")])
def test_other_containers(tmp_path, fmt, ext):
  path = str(tmp_path / f"a.{ext}")
  soundfile.write(path, _sine(500, 22050, 1.0), 22050, format=fmt)
  y = io.load_audio(path)
  assert y.shape == (16384,) and y.dtype == np.float32
  assert abs(_peak_hz(y[:16000]) - 500) < 5


def test_fix_length():
  x = np.ones((2, 5), np.float32)
  assert io.fix_length(x, 3).shape == (2, 3)
  np.testing.assert_array_equal(io.fix_length(x, 7)[:, 5:], 0)
  assert io.fix_length(x, None) is x


def _one_line_error(path):
  with pytest.raises(io.AudioFileError) as e:
    io.load_audio(path)
  msg = str(e.value)
  assert "\n" not in msg and repr(path) in msg
  return msg


def test_unreadable_file_error(tmp_path):
  path = str(tmp_path / "bad.wav")
  with open(path, "wb") as f:
    f.write(b"this is not audio at all" * 10)
  msg = _one_line_error(path)
  assert "cannot read audio file" in msg
  assert "remove it or convert it to WAV/FLAC" in msg
  assert isinstance(io.AudioFileError("x"), ValueError)


def test_empty_missing_and_sampleless_files(tmp_path):
  empty = str(tmp_path / "empty.wav")
  open(empty, "wb").close()
  assert "is empty (0 bytes)" in _one_line_error(empty)
  assert "does not exist" in _one_line_error(str(tmp_path / "nope.wav"))
  header_only = str(tmp_path / "header.wav")
  soundfile.write(header_only, np.zeros((0, 1)), 16000)
  assert os.path.getsize(header_only) > 0
  assert "holds no samples" in _one_line_error(header_only)
