"""Tests for the dataset record, the source dispatcher, folders and tfds."""

import logging
import os
import tarfile
import time

import ml_collections
import numpy as np
import pytest
import soundfile

from audiogan_jax.audio import io
from audiogan_jax.data import folder
from audiogan_jax.data import notes
from audiogan_jax.data import sources
from audiogan_jax.data import tfds_source


def _tone(seed, seconds=0.5, rate=16000):
  rng = np.random.default_rng(seed)
  t = np.arange(int(rate * seconds)) / rate
  return (0.5 * np.sin(2 * np.pi * rng.uniform(200, 2000) * t)).astype(
      np.float32)


# AudioSet and the config -------------------------------------------------

def _small_set(n=6):
  return sources.AudioSet(
      waveforms=np.arange(n * 4, dtype=np.float32).reshape(n, 4),
      labels=np.arange(n, dtype=np.int32) % 3, class_names=("a", "b", "c"),
      extra_labels={"gender": np.arange(n, dtype=np.int32) % 2},
      extra_class_names={"gender": ("low", "high")},
      files=tuple(f"f{i}.wav" for i in range(n)))


def test_audioset_subset_len_and_classes():
  s = _small_set()
  assert len(s) == 6 and s.num_classes == 3
  sub = s.subset([4, 1])
  np.testing.assert_array_equal(sub.waveforms[:, 0], [16, 4])
  np.testing.assert_array_equal(sub.labels, [1, 1])
  np.testing.assert_array_equal(sub.extra_labels["gender"], [0, 1])
  assert sub.files == ("f4.wav", "f1.wav")
  assert sub.class_names == s.class_names
  mask = s.subset(s.labels == 0)
  assert len(mask) == 2 and mask.files == ("f0.wav", "f3.wav")
  assert len(s.subset([])) == 0
  with pytest.raises(ValueError, match="5 labels for 6 waveforms"):
    sources.AudioSet(waveforms=s.waveforms, labels=s.labels[:5],
                     class_names=("a",), extra_labels={},
                     extra_class_names={})


def test_default_data_config():
  c = sources.default_data_config()
  assert isinstance(c, ml_collections.ConfigDict)
  assert (c.source, c.path, c.seed, c.labelled_fraction, c.spectrogram_clip,
          c.cache_dir) == ("synthetic", "", 0, 1.0, 10.0, "")
  assert (c.synthetic.num_train, c.synthetic.num_valid, c.synthetic.num_test,
          c.synthetic.num_classes) == (2000, 200, 500, 10)
  assert (c.folder.valid_fraction, c.folder.test_fraction,
          c.folder.class_names) == (0.1, 0.1, "")
  assert (c.tfds.name, c.tfds.download) == ("sc09", False)


def test_load_source_errors():
  c = sources.default_data_config()
  c.source = "mp3s"
  with pytest.raises(ValueError) as e:
    sources.load_source(c, "train")
  msg = str(e.value)
  assert "--config.data.source='mp3s'" in msg
  assert "synthetic, folder, tfds" in msg and "\n" not in msg
  with pytest.raises(ValueError, match="unknown split 'validation'"):
    sources.load_source(sources.default_data_config(), "validation")


# Folders -----------------------------------------------------------------

@pytest.fixture(scope="module")
def sc09_dir(tmp_path_factory):
  """Flat SC09 names in train/valid/test folders."""
  root = tmp_path_factory.mktemp("sc09")
  seed = 0
  for split, speakers in (("train", 4), ("valid", 2), ("test", 2)):
    for word in ("Zero", "One", "Two", "nine"):
      for spk in range(speakers):
        seed += 1
        name = f"{word}_{split}{spk:04x}_nohash_0.wav"
        io.write_wav(str(root / split / name), _tone(seed))
  return str(root)


def test_flat_names_with_split_folders(sc09_dir):
  train = folder.load_folder(sc09_dir, "train")
  assert train.class_names == ("nine", "one", "two", "zero")   # sorted, lower
  assert len(train) == 16
  np.testing.assert_array_equal(np.bincount(train.labels), 4)
  for f, label in zip(train.files, train.labels):
    assert f.startswith("train" + os.sep)
    assert os.path.basename(f).split("_")[0].lower() == \
        train.class_names[label]
  assert train.waveforms.shape == (16, 16384)
  assert train.waveforms.dtype == np.float32
  valid = folder.load_folder(sc09_dir, "valid")
  assert len(valid) == 8 and valid.class_names == train.class_names
  assert all(f.startswith("valid" + os.sep) for f in valid.files)


def test_class_names_option_fixes_order_and_skips_others(sc09_dir, caplog):
  digits = "zero,one,two,three,four,five,six,seven,eight,nine"
  with caplog.at_level(logging.WARNING):
    s = folder.load_folder(sc09_dir, "test",
                           class_names=folder.parse_class_names(digits))
  assert s.class_names[0] == "zero" and s.class_names[9] == "nine"
  assert sorted(set(s.labels.tolist())) == [0, 1, 2, 9]
  assert "three" in caplog.text           # listed classes without files
  s = folder.load_folder(sc09_dir, "test",
                         class_names=folder.parse_class_names("Two, zero"))
  assert s.class_names == ("two", "zero") and len(s) == 4
  assert "skipped 4 of 8 test files" in caplog.text
  with pytest.raises(ValueError, match="more than once"):
    folder.parse_class_names("zero,one,zero")
  with pytest.raises(ValueError, match="found classes: nine, one, two, zero"):
    folder.load_folder(sc09_dir, "test", class_names=("cat",))


def test_missing_split_folder(tmp_path):
  for split in ("train", "test"):
    io.write_wav(str(tmp_path / split / "dog_a_nohash_0.wav"), _tone(1))
  assert len(folder.load_folder(str(tmp_path), "test")) == 1
  with pytest.raises(ValueError) as e:
    folder.load_folder(str(tmp_path), "valid")
  msg = str(e.value)
  assert "no audio files for the 'valid' split" in msg
  assert "'valid/' folder" in msg and "\n" not in msg


@pytest.fixture(scope="module")
def class_dir(tmp_path_factory):
  """Speech Commands layout: <class>/<speaker>_nohash_<n>.wav, no splits."""
  root = tmp_path_factory.mktemp("commands")
  rng = np.random.default_rng(0)
  speakers = [f"{rng.integers(2**32):08x}" for _ in range(40)]
  for word in ("yes", "no"):
    for spk in speakers:
      for n in range(2):
        io.write_wav(str(root / word / f"{spk}_nohash_{n}.wav"),
                     _tone(hash((word, spk, n)) % 1000, seconds=0.2))
  os.makedirs(root / "_background_noise_")
  io.write_wav(str(root / "_background_noise_" / "noise.wav"), _tone(0))
  with open(root / "README.txt", "w") as f:
    f.write("not audio")
  return str(root)


def test_class_folders_hash_split(class_dir):
  splits = {s: folder.load_folder(class_dir, s)
            for s in ("train", "valid", "test")}
  assert sum(len(s) for s in splits.values()) == 160   # noise folder skipped
  for s in splits.values():
    assert s.class_names == ("no", "yes")
    for f, label in zip(s.files, s.labels):
      assert f.split(os.sep)[0] == s.class_names[label]
  assert len(splits["train"]) > len(splits["valid"])
  # One speaker never spans two splits (not even across classes).
  speaker_split = {}
  for name, s in splits.items():
    for f in s.files:
      spk = os.path.basename(f).split("_")[0]
      assert speaker_split.setdefault(spk, name) == name
  # Deterministic: the same files in the same order again.
  again = folder.load_folder(class_dir, "valid")
  assert again.files == splits["valid"].files
  np.testing.assert_array_equal(again.waveforms, splits["valid"].waveforms)


def test_hash_split_rule():
  # Speech Commands' rule: the hash ignores the class and the _nohash_ part.
  a = folder.hash_split("yes/0a2b400e_nohash_0.wav", 0.1, 0.1)
  assert a == folder.hash_split("no/0a2b400e_nohash_3.wav", 0.1, 0.1)
  assert a == folder.hash_split("Zero_0a2b400e_nohash_1.wav", 0.1, 0.1)
  assert folder.speaker_key("Zero_0a2b400e_nohash_1.wav") == "0a2b400e"
  assert folder.speaker_key("zero/0a2b400e_nohash_1.wav") == "0a2b400e"
  names = [f"{i:08x}_nohash_0.wav" for i in range(3000)]
  counts = {s: 0 for s in ("train", "valid", "test")}
  for n in names:
    counts[folder.hash_split(n, 0.1, 0.2)] += 1
  assert abs(counts["valid"] / 3000 - 0.1) < 0.03
  assert abs(counts["test"] / 3000 - 0.2) < 0.03
  assert all(folder.hash_split(n, 0.0, 0.0) == "train" for n in names[:50])


def test_labels_from_names():
  assert folder.class_of("Zero_abc_nohash_0.wav") == "zero"
  assert folder.class_of(os.path.join("Dog", "sub", "x.wav")) == "dog"
  assert folder.class_of("recording.wav") is None
  assert folder.class_of("_x.wav") is None
  assert folder.class_of("0a2b400e_nohash_0.wav") is None


def test_mixed_formats_are_converted(tmp_path):
  t = np.arange(44100) / 44100
  stereo = np.stack([np.sin(2 * np.pi * 440 * t), 0 * t], 1) * 0.8
  soundfile.write(str(tmp_path / "a_stereo44k.wav"), stereo, 44100,
                  subtype="PCM_24")
  soundfile.write(str(tmp_path / "a_float.wav"),
                  np.sin(2 * np.pi * 440 * np.arange(11025) / 22050) * 0.3,
                  22050,
                  subtype="FLOAT")
  soundfile.write(str(tmp_path / "b_8bit.wav"),
                  np.sin(2 * np.pi * 440 * t[:8000]) * 0.5, 8000,
                  subtype="PCM_U8")
  soundfile.write(str(tmp_path / "b_long.flac"),
                  np.sin(2 * np.pi * 440 * np.arange(40000) / 16000) * 0.5,
                  16000)
  s = folder.load_folder(str(tmp_path), "train", valid_fraction=0.0,
                         test_fraction=0.0)
  assert len(s) == 4 and s.class_names == ("a", "b")
  assert s.waveforms.shape == (4, 16384) and s.waveforms.dtype == np.float32
  assert np.abs(s.waveforms).max() <= 1.0
  peaks = dict(zip(s.files, np.abs(s.waveforms).max(1)))
  assert abs(peaks["a_stereo44k.wav"] - 0.4) < 0.02    # mean of L and R
  assert abs(peaks["a_float.wav"] - 0.3) < 0.02
  assert abs(peaks["b_8bit.wav"] - 0.5) < 0.06   # 8-bit steps, resampled
  # Shorter files are zero-padded: 0.5 s at 22.05 kHz -> 8000 samples.
  row = s.waveforms[s.files.index("a_float.wav")]
  assert np.abs(row[8100:]).max() == 0 and np.abs(row[7000:7900]).max() > 0.2


def test_folder_errors(tmp_path):
  def message(path, split="train", **kw):
    with pytest.raises(ValueError) as e:
      folder.load_folder(path, split, **kw)
    assert "\n" not in str(e.value)
    return str(e.value)

  assert "--config.data.path is empty" in message("")
  missing = str(tmp_path / "nope")
  assert f"--config.data.path={missing!r} does not exist" in message(missing)
  a_file = tmp_path / "file.wav"
  io.write_wav(str(a_file), _tone(0))
  assert "is not a directory" in message(str(a_file))
  empty = tmp_path / "empty"
  (empty / "sub").mkdir(parents=True)
  (empty / "notes.txt").write_text("x")
  msg = message(str(empty))
  assert "no audio files" in msg and repr(str(empty)) in msg
  one = tmp_path / "one"
  io.write_wav(str(one / "cat_1.wav"), _tone(0))
  split = folder.hash_split("cat_1.wav", 0.1, 0.1)
  other = "valid" if split != "valid" else "test"
  msg = message(str(one), other)
  assert f"no audio files fall in the {other!r} split" in msg
  assert f"--config.data.folder.{other}_fraction" in msg
  assert "sum to less than 1" in message(str(one), valid_fraction=0.6,
                                         test_fraction=0.5)
  lonely = tmp_path / "lonely"
  name = next(f"cat_{i}.wav" for i in range(1000)
              if folder.hash_split(f"cat_{i}.wav", 0.45, 0.45) != "train")
  io.write_wav(str(lonely / name), _tone(0))
  msg = message(str(lonely), "train", valid_fraction=0.45, test_fraction=0.45)
  assert "lower --config.data.folder.valid_fraction and test_fraction" in msg


def test_corrupt_file_in_folder_names_the_file(tmp_path):
  io.write_wav(str(tmp_path / "cat_1.wav"), _tone(0))
  (tmp_path / "cat_2.wav").write_bytes(b"garbage" * 20)
  with pytest.raises(io.AudioFileError) as e:
    folder.load_folder(str(tmp_path), "train", valid_fraction=0.0,
                       test_fraction=0.0)
  assert "cat_2.wav" in str(e.value) and "convert it to WAV/FLAC" in str(
      e.value)


def test_load_source_folder(sc09_dir):
  c = sources.default_data_config()
  c.source, c.path = "folder", sc09_dir
  c.folder.class_names = "zero,one,two,nine"
  c.folder.num_threads = 2
  s = sources.load_source(c, "valid")
  assert s.class_names == ("zero", "one", "two", "nine") and len(s) == 8
  assert s.extra_labels == {} and len(s.files) == 8


# tfds --------------------------------------------------------------------

def _fake_speech_commands(path, tmp_path):
  """A tiny .tar.gz laid out like speech_commands_v0.02.tar.gz."""
  src = tmp_path / "src"
  members = ["zero/aaaa0001_nohash_0.wav", "zero/aaaa0002_nohash_0.wav",
             "nine/aaaa0001_nohash_0.wav", "one/bbbb0003_nohash_1.wav",
             "left/aaaa0001_nohash_0.wav", "_background_noise_/tap.wav"]
  for i, m in enumerate(members):
    io.write_wav(str(src / m), _tone(i, seconds=0.3))
  (src / "validation_list.txt").write_text("zero/aaaa0002_nohash_0.wav\n")
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with tarfile.open(path, "w:gz") as tar:
    for name in members + ["validation_list.txt"]:
      tar.add(str(src / name), arcname="./" + name)


def test_sc09_offline_error_is_immediate(tmp_path):
  c = sources.default_data_config()
  c.source, c.path = "tfds", str(tmp_path)
  start = time.time()
  with pytest.raises(ValueError) as e:
    sources.load_source(c, "train")
  assert time.time() - start < 2
  msg = str(e.value)
  assert "not prepared in" in msg and str(tmp_path) in msg
  assert "--config.data.tfds.download=True" in msg
  assert "--config.data.source=folder --config.data.path=DIR" in msg
  assert "\n" not in msg


def test_sc09_extracts_digits_from_a_local_archive(tmp_path):
  data_dir = tmp_path / "tfds"
  archive = data_dir / "downloads" / "speech_commands_v0.02.tar.gz"
  _fake_speech_commands(str(archive), tmp_path)
  c = sources.default_data_config()
  c.source, c.path = "tfds", str(data_dir)
  # download stays False: the archive is already local, nothing is fetched.
  parts = {}
  for split in ("train", "valid", "test"):
    try:
      parts[split] = sources.load_source(c, split)
    except ValueError as e:
      assert "no audio files fall in" in str(e)
  assert tfds_source.sc09_is_prepared(str(data_dir))
  root = tfds_source.sc09_dir(str(data_dir))
  assert sorted(os.listdir(root)) == [".complete", "nine", "one", "zero"]
  total = sum(len(p) for p in parts.values())
  assert total == 4
  for p in parts.values():
    assert p.class_names == tfds_source.SC09_CLASSES
    for f, label in zip(p.files, p.labels):
      assert f.split(os.sep)[0] == tfds_source.SC09_CLASSES[label]


def test_extract_rejects_a_wrong_archive(tmp_path):
  bogus = tmp_path / "x.tar.gz"
  io.write_wav(str(tmp_path / "left" / "a.wav"), _tone(0))
  with tarfile.open(bogus, "w:gz") as tar:
    tar.add(str(tmp_path / "left" / "a.wav"), arcname="left/a.wav")
  with pytest.raises(ValueError, match="not the Speech Commands archive"):
    tfds_source.extract_sc09(str(bogus), str(tmp_path / "out"))
  assert not os.path.exists(tmp_path / "out")


def test_unknown_tfds_name():
  c = sources.default_data_config()
  c.source, c.tfds.name = "tfds", "librispeech"
  with pytest.raises(ValueError, match="data.tfds.name='librispeech'"):
    sources.load_source(c, "train")


def test_nsynth_offline_error_is_fast(tmp_path):
  c = sources.default_data_config()
  c.source, c.path, c.tfds.name = "tfds", str(tmp_path), "nsynth"
  start = time.time()
  with pytest.raises(ValueError) as e:
    sources.load_source(c, "test")
  assert time.time() - start < 60   # a TensorFlow import, no network retries
  msg = str(e.value)
  assert "nsynth/full dataset is not prepared in" in msg
  assert str(tmp_path) in msg and "download=True" in msg


def test_nsynth_filter_and_convert_on_fake_examples():
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  families = ["bass", "brass", "flute", "guitar", "keyboard", "mallet",
              "organ", "reed", "string", "synth_lead", "vocal"]
  srcs = ["acoustic", "electronic", "synthetic"]
  fam = ["guitar", "string", "guitar", "bass", "mallet", "string", "mallet"]
  src = ["acoustic", "acoustic", "electronic", "acoustic", "acoustic",
         "synthetic", "acoustic"]
  n = len(fam)
  audio = np.tile(np.linspace(-1, 1, 64000, dtype=np.float32), (n, 1))
  audio *= np.arange(1, n + 1, dtype=np.float32)[:, None] / n
  ds = tf.data.Dataset.from_tensor_slices({
      "audio": audio,
      "pitch": np.arange(60, 60 + n, dtype=np.int64),
      "instrument": {
          "family": np.array([families.index(f) for f in fam], np.int64),
          "source": np.array([srcs.index(s) for s in src], np.int64),
      }})
  ds = ds.filter(tfds_source.nsynth_filter_fn(families, srcs))
  ds = ds.map(tfds_source.nsynth_convert_fn(families))
  wave, label, pitch = tfds_source.collect(ds.batch(2).as_numpy_iterator())
  # Kept: acoustic guitar (0), string (1), mallet (4), mallet (6).
  np.testing.assert_array_equal(pitch, [60, 61, 64, 66])
  np.testing.assert_array_equal(label, [0, 1, 2, 2])
  assert tfds_source.NSYNTH_FAMILIES == ("guitar", "string", "mallet")
  assert wave.shape == (4, 16384) and wave.dtype == np.float32
  np.testing.assert_allclose(wave[0], audio[0, :16384], atol=1e-7)
  # Shorter notes are zero-padded.
  short = tf.data.Dataset.from_tensors({
      "audio": np.ones(1000, np.float32), "pitch": np.int64(40),
      "instrument": {"family": np.int64(3), "source": np.int64(0)}})
  w, _, _ = tfds_source.collect(
      short.map(tfds_source.nsynth_convert_fn(families)).batch(1)
      .as_numpy_iterator())
  assert w.shape == (1, 16384) and w[0, :1000].min() == 1 and \
      w[0, 1000:].max() == 0


_NSYNTH_SOURCES = ("acoustic", "electronic", "synthetic")


def _fake_nsynth(fam, src, pitch):
  """A tf.data dataset of fake NSynth examples (TFDS family order)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  n = len(fam)
  audio = np.tile(np.linspace(-1, 1, 64000, dtype=np.float32), (n, 1))
  return tf.data.Dataset.from_tensor_slices({
      "audio": audio, "pitch": np.array(pitch, np.int64),
      "instrument": {
          "family": np.array([tfds_source.NSYNTH_ALL_FAMILIES.index(f)
                              for f in fam], np.int64),
          "source": np.array([_NSYNTH_SOURCES.index(s) for s in src],
                             np.int64)}})


def test_nsynth_families_and_pitches_filter_on_fake_examples():
  fam = ["guitar", "organ", "reed", "guitar", "bass", "string", "reed"]
  src = ["acoustic", "acoustic", "acoustic", "acoustic", "electronic",
         "acoustic", "acoustic"]
  pitch = [60, 24, 84, 23, 60, 85, 40]
  names = tfds_source.NSYNTH_ALL_FAMILIES

  def run(families, pitches, num_samples=16384):
    ds = _fake_nsynth(fam, src, pitch)
    ds = ds.filter(tfds_source.nsynth_filter_fn(
        names, _NSYNTH_SOURCES, families, pitches=pitches))
    ds = ds.map(tfds_source.nsynth_convert_fn(names, families, num_samples,
                                              pitches))
    return tfds_source.collect(ds.batch(3).as_numpy_iterator(), num_samples)

  # "all" families, GANSynth's pitches: acoustic notes at MIDI 24..84 only.
  families = tfds_source.parse_nsynth_families("all")
  pitches = notes.parse_pitches("24-84")
  wave, label, p = run(families, pitches, 64000)
  assert wave.shape == (4, 64000)   # the whole 4 s note
  np.testing.assert_array_equal(label, [names.index(f) for f in
                                        ("guitar", "organ", "reed", "reed")])
  np.testing.assert_array_equal(p, [36, 0, 60, 16])   # index into 24..84
  pitch_names = tfds_source.nsynth_pitch_names(pitches)
  assert len(pitch_names) == 61
  assert [pitch_names[i] for i in p] == ["60", "24", "84", "40"]
  # A family subset in the user's order, every pitch: the MIDI number.
  families = tfds_source.parse_nsynth_families("reed, guitar")
  _, label, p = run(families, ())
  np.testing.assert_array_equal(label, [1, 0, 1, 0])
  np.testing.assert_array_equal(p, [60, 84, 23, 40])
  assert tfds_source.nsynth_pitch_names(())[84] == "84"
  # The default is today's selection.
  assert tfds_source.parse_nsynth_families(
      sources.default_data_config().tfds.nsynth_families) == (
          tfds_source.NSYNTH_FAMILIES)


@pytest.mark.parametrize("key,value,says", [
    ("nsynth_families", "guitar,kazoo", "'kazoo' is not an NSynth family"),
    ("nsynth_families", "", "lists no family"),
    ("nsynth_families", "reed,reed", "['reed'] more than once"),
    ("nsynth_pitches", "24-200", "pitch 200 is too high")])
def test_nsynth_selection_errors_name_the_flag(tmp_path, key, value, says):
  c = sources.default_data_config()
  c.source, c.path, c.tfds.name = "tfds", str(tmp_path), "nsynth"
  c.tfds[key] = value
  with pytest.raises(ValueError) as e:
    sources.load_source(c, "train")
  msg = str(e.value)
  assert f"--config.data.tfds.{key}={value!r}" in msg and says in msg
  assert "\n" not in msg
