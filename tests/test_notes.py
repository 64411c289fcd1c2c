"""Tests for pitched data: synthetic notes, data.label, folders of notes."""

import logging
import os

import ml_collections
import numpy as np
import pytest
import soundfile

from audiogan_jax.data import folder
from audiogan_jax.data import notes
from audiogan_jax.data import pipeline
from audiogan_jax.data import sources
from audiogan_jax.data import synthetic


def _one_line_error(fn, *args, **kw):
  with pytest.raises(ValueError) as e:
    fn(*args, **kw)
  msg = str(e.value)
  assert "\n" not in msg, msg
  return msg


def _notes_config(pitches="24-84", n=8):
  c = sources.default_data_config()
  c.synthetic.update(kind="notes", pitches=pitches, num_train=n, num_valid=n,
                     num_test=n)
  return c


# Synthetic notes ---------------------------------------------------------

def test_shapes_dtypes_and_peak():
  short = notes.generate(12, seed=0)
  assert short.waveforms.shape == (12, 16384)
  assert short.waveforms.dtype == np.float32 and short.labels.dtype == np.int32
  long = notes.generate(4, seed=0, num_samples=65536)
  assert long.waveforms.shape == (4, 65536)
  for s in (short, long):
    peak = np.abs(s.waveforms).max(axis=1)
    assert np.isfinite(s.waveforms).all()
    assert (peak < 1).all() and (peak > 0.1).all()
  # The note starts within the first 50 ms (the noise floor aside).
  head = np.abs(short.waveforms[:, :1600]).max(axis=1)
  assert (head > 0.05 * np.abs(short.waveforms).max(axis=1)).all()


def test_deterministic_and_prefix_stable():
  a = notes.generate(20, seed=3)
  b = notes.generate(20, seed=3)
  np.testing.assert_array_equal(a.waveforms, b.waveforms)
  # Example i depends only on (seed, stream, i).
  c = notes.generate(7, seed=3)
  np.testing.assert_array_equal(c.waveforms, a.waveforms[:7])
  np.testing.assert_array_equal(c.labels, a.labels[:7])
  d = notes.generate(7, seed=4)
  assert not np.allclose(c.waveforms, d.waveforms)
  e = notes.generate(7, seed=3, stream=2)
  assert not np.allclose(c.waveforms, e.waveforms)


def test_every_prefix_is_balanced():
  pitches = notes.parse_pitches("48,55,60,67")
  s = notes.generate(40, seed=0, pitches=pitches)
  for n in (4, 16, 40):
    np.testing.assert_array_equal(np.bincount(s.labels[:n], minlength=4),
                                  n // 4)
  inst = s.extra_labels["instrument"]
  # Each pitch cycles through the four instruments.
  joint = np.bincount(s.labels[:32] * 4 + inst[:32], minlength=16)
  np.testing.assert_array_equal(joint, 2)
  assert s.extra_class_names["instrument"] == notes.INSTRUMENTS


@pytest.mark.parametrize("instrument", ["bowed", "reed"])
def test_dominant_frequency_of_a_sustained_note_is_f0(instrument):
  pitches = (28, 40, 52, 60, 69, 81, 93)
  s = notes.generate(4 * len(pitches), seed=1, pitches=pitches)
  rows = np.flatnonzero(s.extra_labels["instrument"] ==
                        notes.INSTRUMENTS.index(instrument))
  assert len(rows) == len(pitches)
  waves = s.waveforms[rows]
  spec = np.abs(np.fft.rfft(waves * np.hanning(waves.shape[1]), axis=1))
  freqs = np.fft.rfftfreq(waves.shape[1], 1 / 16000)
  peak = freqs[np.argmax(spec, axis=1)]
  f0 = notes.midi_to_hz(np.array(pitches)[s.labels[rows]])
  np.testing.assert_allclose(peak, f0, rtol=0.03)
  assert notes.midi_to_hz(69) == 440.0


def test_no_partials_above_the_limit():
  s = notes.generate(16, seed=2, pitches=notes.parse_pitches("90-117"))
  power = np.abs(np.fft.rfft(s.waveforms, axis=1)) ** 2
  freqs = np.fft.rfftfreq(s.waveforms.shape[1], 1 / 16000)
  above = power[:, freqs > 7600].sum(axis=1) / power.sum(axis=1)
  assert above.max() < 1e-3   # the noise floor only


def test_labels_and_class_names_of_a_list_and_a_range():
  c = _notes_config("67,48,60,55")
  c.synthetic.num_classes = 3   # ignored: one class per pitch
  s = synthetic.load(c, "train")
  assert s.class_names == ("48", "55", "60", "67")
  np.testing.assert_array_equal(s.labels, np.arange(8) % 4)
  np.testing.assert_array_equal(s.extra_labels["pitch"], s.labels)
  assert s.extra_class_names["pitch"] == s.class_names
  c = _notes_config("24-84", n=61)
  s = sources.load_source(c, "valid")
  assert s.num_classes == 61
  assert s.class_names == tuple(str(p) for p in range(24, 85))
  np.testing.assert_array_equal(s.labels, np.arange(61))
  assert s.class_names[s.labels[36]] == "60"
  assert notes.parse_pitches("24-26,30") == (24, 25, 26, 30)
  assert notes.format_pitches((24, 25, 26, 30, 32, 33)) == "24-26,30,32-33"


def test_default_config_keys():
  c = sources.default_data_config()
  assert (c.synthetic.kind, c.synthetic.pitches) == ("syllables", "24-84")
  assert c.label == ""
  assert (c.folder.label_from, c.folder.pitches) == ("class", "")
  assert (c.tfds.nsynth_families, c.tfds.nsynth_pitches) == (
      "guitar,string,mallet", "")


@pytest.mark.parametrize("bad,says", [
    ("", "lists no pitch"), ("a-b", "'a-b' is not a MIDI pitch"),
    ("84-24", "range 84-24 is empty"), ("24-130", "pitch 130 is too high"),
    ("60,118", "pitch 118 is too high"), ("60,48-60", "[60] more than once"),
    ("60,,62", "'' is not a MIDI pitch"), ("-5", "'-5' is not a MIDI pitch")])
def test_bad_pitches_are_one_line_errors(bad, says):
  msg = _one_line_error(synthetic.load, _notes_config(bad), "train")
  assert f"--config.data.synthetic.pitches={bad!r}" in msg and says in msg


def test_bad_kind():
  c = _notes_config()
  c.synthetic.kind = "chords"
  msg = _one_line_error(synthetic.load, c, "train")
  assert "--config.data.synthetic.kind='chords'" in msg
  assert "syllables, notes" in msg


def test_syllables_stay_the_default():
  c = sources.default_data_config()
  c.synthetic.num_train = 4
  np.testing.assert_array_equal(sources.load_source(c, "train").waveforms,
                                synthetic.generate(4, 0).waveforms)


# data.label ---------------------------------------------------------------

def test_label_pitch_on_synthetic_notes_through_the_pipeline():
  c = _notes_config("48,55,60,67", n=16)
  c.synthetic.num_train = 16
  c.label = "instrument"
  c.labelled_fraction = 0.5
  split = pipeline.load_split(c, "train", spectrograms=False)
  assert split.audio.class_names == notes.INSTRUMENTS
  np.testing.assert_array_equal(split.true_labels,
                                (np.arange(16) // 4) % 4)
  assert (split.labels >= 0).sum() == 8   # the fraction applies to it
  c.label = "pitch"
  s = sources.load_source(c, "train")
  assert s.class_names == ("48", "55", "60", "67")
  np.testing.assert_array_equal(s.labels, np.arange(16) % 4)


def test_label_gender_on_syllables_and_unknown_labels():
  c = sources.default_data_config()
  c.synthetic.num_train = 6
  c.label = "gender"
  s = sources.load_source(c, "train")
  assert s.class_names == synthetic.GENDER_NAMES
  np.testing.assert_array_equal(s.labels, [0] * 6)   # 10 classes, 6 clips
  c.synthetic.update(num_train=20, num_classes=2)
  s = sources.load_source(c, "train")
  np.testing.assert_array_equal(s.labels, (np.arange(20) // 2) % 2)
  c.label = "speaker"
  msg = _one_line_error(sources.load_source, c, "train")
  assert "--config.data.label='speaker'" in msg
  assert "'gender'" in msg and "'' (the class label)" in msg
  # An extra label with -1 (unknown) entries leaves those clips unlabelled.
  base = sources.AudioSet(
      waveforms=np.zeros((3, 4), np.float32), labels=np.zeros(3, np.int32),
      class_names=("a",), extra_labels={"x": np.array([1, -1, 0], np.int32)})
  relabelled = sources.select_label(base, "x")
  np.testing.assert_array_equal(relabelled.labels, [1, -1, 0])
  assert relabelled.class_names == ("0", "1")


def test_label_stays_out_of_the_cache_key():
  # pylint: disable=protected-access
  c = sources.default_data_config()
  key = pipeline._cache_key(c, "train", 8)
  c.label = "gender"
  assert pipeline._cache_key(c, "train", 8) == key
  # New keys at their defaults keep the caches written before them.
  old = ml_collections.ConfigDict(c.to_dict())
  for block, keys in pipeline._KEYS_WITH_OLD_DEFAULTS.items():
    for k in keys:
      del old[block][k]
  assert pipeline._cache_key(old, "train", 8) == key
  c.synthetic.kind = "notes"
  assert pipeline._cache_key(c, "train", 8) != key


# Folders of notes --------------------------------------------------------

def _write(path, seconds=0.1):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  t = np.arange(int(16000 * seconds)) / 16000
  soundfile.write(path, (0.3 * np.sin(2 * np.pi * 440 * t)).astype(
      np.float32), 16000, subtype="PCM_16")


@pytest.mark.parametrize("name,pitch", [
    ("guitar_acoustic_001-060-100.wav", 60),
    ("keyboard_electronic_098-021-127.wav", 21),
    ("violin_p67.wav", 67), ("Piano_P5.flac", 5),
    ("flute-72.wav", 72), ("sub/dir/organ-9.wav", 9),
    ("take-200.wav", None), ("x-200-100.wav", None), ("recording.wav", None),
    ("p60.wav", None), ("cat_1.wav", None), ("a-1000.wav", None)])
def test_pitch_of_file_names(name, pitch):
  assert folder.pitch_of(name) == pitch


@pytest.fixture
def note_folder(tmp_path):
  root = tmp_path / "notes"
  for name in ("guitar_acoustic_001-060-100.wav", "bass_002-048-050.wav",
               "violin_p67.wav", "strings/cello-36.wav", "recording.wav"):
    _write(str(root / "train" / name))
  _write(str(root / "test" / "mallet_000-060-075.wav"))
  return root


def _folder_config(root, **kw):
  c = sources.default_data_config()
  c.source, c.path = "folder", str(root)
  c.folder.label_from = "pitch"
  c.folder.update(kw)
  return c


def test_folder_labels_from_pitch(note_folder, caplog):
  with caplog.at_level(logging.INFO):
    s = sources.load_source(_folder_config(note_folder), "train")
  assert s.class_names == ("36", "48", "60", "67")   # sorted by pitch
  got = {os.path.basename(f): lab for f, lab in zip(s.files, s.labels)}
  assert got == {"guitar_acoustic_001-060-100.wav": 2,
                 "bass_002-048-050.wav": 1, "violin_p67.wav": 3,
                 "cello-36.wav": 0, "recording.wav": -1}
  np.testing.assert_array_equal(s.extra_labels["pitch"], s.labels)
  assert any("1 without a pitch in their name: unlabelled" in r.getMessage()
             for r in caplog.records)
  # data.label=pitch selects the same label; the class layout is unchanged.
  c = _folder_config(note_folder)
  c.label = "pitch"
  np.testing.assert_array_equal(sources.load_source(c, "train").labels,
                                s.labels)
  assert "pitch" not in sources.load_source(
      _folder_config(note_folder, label_from="class"), "train").extra_labels


def test_folder_pitch_range(note_folder, caplog):
  c = _folder_config(note_folder, pitches="48-67")
  with caplog.at_level(logging.WARNING):
    s = sources.load_source(c, "train")
  assert s.class_names == tuple(str(p) for p in range(48, 68))
  assert sorted(int(s.class_names[i]) for i in s.labels if i >= 0) == [
      48, 60, 67]
  assert len(s) == 3   # cello-36 and the file without a pitch are left out
  logs = [r.getMessage() for r in caplog.records]
  assert any("whose pitch is not in --config.data.folder.pitches" in m
             for m in logs)
  assert any("pitches 49-59,61-66 of --config.data.folder.pitches have no "
             "files" in m for m in logs)
  t = sources.load_source(c, "test")
  assert t.class_names == s.class_names and list(t.labels) == [12]


def test_folder_pitch_errors(note_folder):
  msg = _one_line_error(sources.load_source,
                        _folder_config(note_folder, pitches="90-99"), "train")
  assert "--config.data.folder.pitches='90-99'" in msg
  assert "found pitches: 36, 48, 60, 67" in msg
  msg = _one_line_error(sources.load_source,
                        _folder_config(note_folder, pitches="60-"), "train")
  assert "--config.data.folder.pitches='60-'" in msg
  msg = _one_line_error(sources.load_source,
                        _folder_config(note_folder, label_from="midi"),
                        "train")
  assert "--config.data.folder.label_from='midi'" in msg
  msg = _one_line_error(sources.load_source,
                        _folder_config(note_folder, class_names="a,b"),
                        "train")
  assert "--config.data.folder.pitches" in msg
