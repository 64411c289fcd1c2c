"""Users' audio folders full of surprises: each gives a one-line error naming
the file and the fix, or (on_bad_file=skip) a count in the start-up summary."""

import logging
import os

import numpy as np
import pytest
import soundfile

from audiogan_jax.audio import io
from audiogan_jax.audio import spectrogram
from audiogan_jax.data import folder
from audiogan_jax.data import pipeline
from audiogan_jax.data import sources
from audiogan_jax.train import trainer


def _tone(seed, n=16384, rate=16000, channels=1):
  rng = np.random.default_rng(seed)
  t = np.arange(n) / rate
  wave = 0.5 * np.sin(2 * np.pi * rng.uniform(200, 2000) * t)
  if channels > 1:
    wave = np.stack([wave] * channels, axis=1)
  return wave.astype(np.float32)


def _write(path, wave, rate=16000, subtype="PCM_16"):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  soundfile.write(path, wave, rate, subtype=subtype)


def _load(root, on_bad_file="error", **kw):
  return folder.load_folder(str(root), "train", valid_fraction=0.0,
                            test_fraction=0.0, on_bad_file=on_bad_file, **kw)


def _error(fn, *args, **kw):
  with pytest.raises(ValueError) as e:
    fn(*args, **kw)
  msg = str(e.value)
  assert "\n" not in msg, msg
  return msg


@pytest.fixture
def messy(tmp_path):
  """A folder with every kind of file users have: good, odd and broken."""
  root = tmp_path / "messy"
  _write(str(root / "cat_good.wav"), _tone(0))
  _write(str(root / "cat_44k.wav"), _tone(1, n=44100, rate=44100), 44100)
  _write(str(root / "dog_stereo.wav"), _tone(2, channels=2))
  _write(str(root / "dog_short.wav"), _tone(3, n=4000))
  _write(str(root / "dog_long.wav"), _tone(4, n=40000))
  _write(str(root / "cat_silent.wav"), np.zeros(16384, np.float32))
  _write(str(root / "dog_24bit.wav"), _tone(5), subtype="PCM_24")
  _write(str(root / "cat_float.wav"), _tone(6), subtype="FLOAT")
  _write(str(root / "dog_8bit.wav"), _tone(7), subtype="PCM_U8")
  _write(str(root / "cat_32bit.wav"), _tone(8), subtype="PCM_32")
  (root / "notes.txt").write_text("not audio")
  (root / "cover.jpg").write_bytes(b"\xff\xd8\xff" + b"0" * 50)
  # Broken ones: cut off mid-copy, empty, not audio at all.
  whole = (root / "cat_good.wav").read_bytes()
  (root / "dog_truncated.wav").write_bytes(whole[:len(whole) // 2])
  (root / "cat_empty.wav").write_bytes(b"")
  (root / "dog_garbage.wav").write_bytes(b"this is a text file" * 20)
  return root


def test_truncated_wav_is_named_not_read_as_a_short_clip(messy):
  msg = _error(io.load_audio, str(messy / "dog_truncated.wav"))
  assert "dog_truncated.wav" in msg and "is truncated" in msg
  assert "copy it again or remove it" in msg
  assert io.wav_truncation(str(messy / "cat_good.wav")) is None


def test_strict_mode_stops_at_the_first_bad_file_and_names_the_fix(messy):
  msg = _error(_load, messy)
  assert "cat_empty.wav" in msg and "is empty (0 bytes)" in msg
  assert "(2 more unreadable files)" in msg
  assert "--config.data.folder.on_bad_file=skip" in msg


def test_skip_mode_loads_the_rest_and_counts_everything(messy, caplog):
  with caplog.at_level(logging.WARNING):
    s = _load(messy, on_bad_file="skip")
  assert len(s) == 10
  assert not any(f.endswith(("truncated.wav", "empty.wav", "garbage.wav"))
                 for f in s.files)
  assert np.all(np.isfinite(s.waveforms)) and np.abs(s.waveforms).max() <= 1
  summary = " ".join(r.getMessage() for r in caplog.records)
  for part in ("3 unreadable files skipped",
               "resampled to 16000 Hz: 1 at 44100 Hz",
               "1 multi-channel files downmixed to mono",
               "2 shorter than 16384 samples, zero-padded",  # + the 44.1 kHz 1 s
               "1 longer, trimmed to the first 16384 samples",
               "1 all-silent clips kept",
               "2 non-audio files ignored (1 .jpg, 1 .txt)"):
    assert part in summary, (part, summary)
  # Every sample format decodes to the same tone scale.
  for name in ("dog_24bit.wav", "cat_float.wav", "dog_8bit.wav",
               "cat_32bit.wav"):
    peak = np.abs(s.waveforms[s.files.index(name)]).max()
    assert 0.45 < peak < 0.55, (name, peak)


def test_silent_clip_gives_a_finite_spectrogram(messy):
  s = _load(messy, on_bad_file="skip")
  silent = s.waveforms[s.files.index("cat_silent.wav")]
  assert not silent.any()
  spec = np.asarray(spectrogram.log_spectrogram(silent[None]))
  assert np.all(np.isfinite(spec))


def test_bad_on_bad_file_value(messy):
  msg = _error(_load, messy, on_bad_file="ignore")
  assert "--config.data.folder.on_bad_file='ignore'" in msg
  assert "'error'" in msg and "'skip'" in msg


def test_folder_of_only_broken_files_in_skip_mode(tmp_path):
  (tmp_path / "cat_a.wav").write_bytes(b"junk" * 30)
  msg = _error(_load, tmp_path, on_bad_file="skip")
  assert "every 'train' file" in msg and "is unreadable" in msg
  assert "cat_a.wav" in msg


def test_folder_with_no_audio_lists_what_it_found(tmp_path):
  (tmp_path / "readme.md").write_text("x")
  (tmp_path / "data.csv").write_text("x")
  msg = _error(_load, tmp_path)
  assert "no audio files" in msg and "only 2 files of other types" in msg
  assert ".csv" in msg and ".md" in msg


def test_names_matching_no_class_are_unlabelled_and_counted(tmp_path, caplog):
  _write(str(tmp_path / "cat_1.wav"), _tone(0))
  _write(str(tmp_path / "recording.wav"), _tone(1))
  with caplog.at_level(logging.INFO):
    s = _load(tmp_path)
  assert s.class_names == ("cat",)
  assert s.labels[s.files.index("recording.wav")] == -1
  assert any("1 without a class in their name or folder" in r.getMessage()
             for r in caplog.records)


def test_class_names_matching_no_file(tmp_path):
  _write(str(tmp_path / "cat_1.wav"), _tone(0))
  msg = _error(_load, tmp_path, class_names=("zebra",))
  assert "--config.data.folder.class_names='zebra'" in msg
  assert "found classes: cat" in msg


def test_class_missing_from_the_labelled_subset():
  c = sources.default_data_config()
  c.synthetic.update(num_train=40, num_valid=4, num_test=4)
  c.labelled_fraction = 0.1   # 4 labels for 10 classes
  msg = _error(pipeline.load_split, c, "train", spectrograms=False)
  assert "--config.data.labelled_fraction=0.1 labels 4 of 40" in msg
  assert "raise it to at least 0.25" in msg


@pytest.mark.parametrize("bad", [0.0, -0.5, 1.5])
def test_labelled_fraction_outside_0_1(bad):
  c = sources.default_data_config()
  c.synthetic.update(num_train=20, num_valid=4, num_test=4)
  c.labelled_fraction = bad
  msg = _error(pipeline.load_split, c, "train", spectrograms=False)
  assert f"--config.data.labelled_fraction={bad} must be in (0, 1]" in msg


def test_label_count_that_differs_from_the_model(tiny):
  tiny.model.num_classes = 7
  dataset = pipeline.load_dataset(tiny, spectrograms=False)
  msg = _error(trainer.resolve_config, tiny, dataset)
  assert "--config.model.num_classes=7 but the dataset has 10 classes" in msg
  assert "set it to -1" in msg
