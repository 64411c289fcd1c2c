"""Public datasets for machines with network access: SC09 and NSynth.

* ``sc09``: the ten digits zero..nine (in that order) of Speech Commands
  v0.02. TFDS's ``speech_commands`` builder folds every word outside its ten
  keywords (the digits included) into ``_unknown_``, so the digits cannot be
  recovered from it; instead the same archive TFDS downloads is fetched once,
  its digit folders are extracted to ``<data_dir>/sc09/speech_commands_v0.02``
  and read with the folder source, split by Speech Commands' own hash rule
  (10 % valid, 10 % test, speakers never shared between splits).
* ``nsynth``: TFDS ``nsynth/full``, acoustic guitar, string and mallet notes
  (label = family in that order, extra label ``pitch`` = MIDI note), the
  first 16384 samples (~1 s) of each 4 s, 16 kHz note.

``data.path`` is the data_dir (default ``$TFDS_DATA_DIR`` or
``~/tensorflow_datasets``). Nothing is downloaded unless
``data.tfds.download`` is True; without prepared data the loader fails at once
instead of letting TFDS spend minutes retrying an unreachable network.
"""

from __future__ import annotations

import os
import shutil
import tarfile
import time
from typing import Any, Callable, Iterable, Sequence
import urllib.request

from absl import logging
import ml_collections
import numpy as np

from audiogan_jax.audio.io import NUM_SAMPLES
from audiogan_jax.data import folder
from audiogan_jax.data.sources import AudioSet

NAMES = ("sc09", "nsynth")
SC09_CLASSES = ("zero", "one", "two", "three", "four", "five", "six", "seven",
                "eight", "nine")
SPEECH_COMMANDS_URL = (
    "https://download.tensorflow.org/data/speech_commands_v0.02.tar.gz")
_SC09_SUBDIR = os.path.join("sc09", "speech_commands_v0.02")
_COMPLETE = ".complete"   # written last, so a killed extraction is redone

NSYNTH_BUILDER = "nsynth/full"
NSYNTH_FAMILIES = ("guitar", "string", "mallet")
NSYNTH_SOURCE = "acoustic"
_NSYNTH_SPLITS = {"train": "train", "valid": "valid", "test": "test"}
_PITCH_NAMES = tuple(str(m) for m in range(128))  # MIDI note numbers


def default_data_dir() -> str:
  """TFDS's default data_dir: $TFDS_DATA_DIR or ~/tensorflow_datasets."""
  return os.path.expanduser(os.environ.get("TFDS_DATA_DIR",
                                           "~/tensorflow_datasets"))


def _not_prepared(name: str, where: str) -> ValueError:
  return ValueError(
      f"the {name} dataset is not prepared in {where}; either set "
      "--config.data.tfds.download=True on a machine with network access, or "
      "export the audio to a folder and use --config.data.source=folder "
      "--config.data.path=DIR")


def sc09_dir(data_dir: str) -> str:
  """Where the SC09 digit folders are (or will be) extracted."""
  return os.path.join(data_dir, _SC09_SUBDIR)


def sc09_is_prepared(data_dir: str) -> bool:
  """Whether the SC09 digits have been fully extracted under ``data_dir``."""
  return os.path.exists(os.path.join(sc09_dir(data_dir), _COMPLETE))


def extract_sc09(archive: str, target: str) -> int:
  """Extracts the digit folders of a Speech Commands .tar.gz; returns #files."""
  tmp = f"{target}.partial"
  shutil.rmtree(tmp, ignore_errors=True)
  os.makedirs(tmp)
  count = 0
  with tarfile.open(archive, "r:*") as tar:
    for member in tar:
      parts = os.path.normpath(member.name).split(os.sep)
      parts = [p for p in parts if p not in ("", ".")]
      # Only regular files <digit>/<name>.wav: this also keeps out absolute
      # paths and '..' components.
      if (not member.isfile() or len(parts) != 2 or
          parts[0] not in SC09_CLASSES or not parts[1].endswith(".wav")):
        continue
      os.makedirs(os.path.join(tmp, parts[0]), exist_ok=True)
      with tar.extractfile(member) as src, open(
          os.path.join(tmp, *parts), "wb") as dst:
        shutil.copyfileobj(src, dst)
      count += 1
  if count == 0:
    shutil.rmtree(tmp, ignore_errors=True)
    raise ValueError(f"{archive!r} holds no zero..nine/*.wav files; it is not "
                     "the Speech Commands archive, delete it and download "
                     "again")
  with open(os.path.join(tmp, _COMPLETE), "w") as f:
    f.write(f"{count}\n")
  shutil.rmtree(target, ignore_errors=True)
  os.makedirs(os.path.dirname(target) or ".", exist_ok=True)
  os.replace(tmp, target)
  return count


def _download(url: str, path: str) -> None:
  """Downloads ``url`` to ``path`` atomically (no half files on failure)."""
  os.makedirs(os.path.dirname(path), exist_ok=True)
  tmp = f"{path}.partial"
  logging.info("downloading %s to %s", url, path)
  start = time.time()
  urllib.request.urlretrieve(url, tmp)
  os.replace(tmp, path)
  logging.info("downloaded %s in %.0fs", path, time.time() - start)


def prepare_sc09(data_dir: str, download: bool) -> str:
  """Returns the SC09 folder, downloading and extracting it if allowed."""
  target = sc09_dir(data_dir)
  if sc09_is_prepared(data_dir):
    return target
  # An archive already in <data_dir>/downloads (fetched earlier, or copied
  # there by hand) is extracted without any network access.
  archive = os.path.join(data_dir, "downloads",
                         os.path.basename(SPEECH_COMMANDS_URL))
  if not os.path.exists(archive):
    if not download:
      raise _not_prepared("sc09", target)
    _download(SPEECH_COMMANDS_URL, archive)
  count = extract_sc09(archive, target)
  logging.info("extracted %d SC09 files to %s", count, target)
  return target


def load_sc09(data_dir: str, split: str, download: bool,
              num_threads: int = 0,
              num_samples: int = NUM_SAMPLES) -> AudioSet:
  """``split`` of SC09 (digits of Speech Commands v0.02) under ``data_dir``."""
  root = prepare_sc09(data_dir, download)
  return folder.load_folder(root, split, valid_fraction=0.1,
                            test_fraction=0.1, class_names=SC09_CLASSES,
                            num_threads=num_threads,
                            num_samples=num_samples)


def nsynth_filter_fn(family_names: Sequence[str], source_names: Sequence[str],
                     families: Sequence[str] = NSYNTH_FAMILIES,
                     source: str = NSYNTH_SOURCE) -> Callable[[Any], Any]:
  """tf.data predicate: the note's family is in ``families`` from ``source``."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  family_ids = tf.constant([list(family_names).index(f) for f in families],
                           tf.int64)
  source_id = tf.constant(list(source_names).index(source), tf.int64)

  def keep(example):
    inst = example["instrument"]
    family = tf.cast(inst["family"], tf.int64)
    return tf.logical_and(tf.reduce_any(tf.equal(family, family_ids)),
                          tf.equal(tf.cast(inst["source"], tf.int64),
                                   source_id))
  return keep


def nsynth_convert_fn(family_names: Sequence[str],
                      families: Sequence[str] = NSYNTH_FAMILIES,
                      num_samples: int = NUM_SAMPLES
                      ) -> Callable[[Any], Any]:
  """tf.data map: NSynth example -> {audio [num_samples], label, pitch}."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  family_ids = tf.constant([list(family_names).index(f) for f in families],
                           tf.int64)

  def convert(example):
    audio = tf.cast(example["audio"], tf.float32)[:num_samples]
    audio = tf.pad(audio, [[0, num_samples - tf.shape(audio)[0]]])
    audio.set_shape([num_samples])
    family = tf.cast(example["instrument"]["family"], tf.int64)
    label = tf.argmax(tf.cast(tf.equal(family_ids, family), tf.int32),
                      output_type=tf.int32)
    return {"audio": tf.clip_by_value(audio, -1.0, 1.0), "label": label,
            "pitch": tf.cast(example["pitch"], tf.int32)}
  return convert


def collect(batches: Iterable[dict]) -> tuple[np.ndarray, np.ndarray,
                                              np.ndarray]:
  """Concatenates numpy batches of {audio, label, pitch} into arrays."""
  audio, label, pitch = [], [], []
  for b in batches:
    audio.append(np.asarray(b["audio"], np.float32))
    label.append(np.asarray(b["label"], np.int32))
    pitch.append(np.asarray(b["pitch"], np.int32))
  if not audio:
    return (np.zeros((0, NUM_SAMPLES), np.float32), np.zeros(0, np.int32),
            np.zeros(0, np.int32))
  return np.concatenate(audio), np.concatenate(label), np.concatenate(pitch)


def load_nsynth(data_dir: str, split: str, download: bool,
                num_samples: int = NUM_SAMPLES) -> AudioSet:
  """``split`` of NSynth's acoustic guitar / string / mallet first seconds."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  builder = tfds.builder(NSYNTH_BUILDER, data_dir=data_dir)
  if not builder.is_prepared():
    if not download:
      raise _not_prepared(NSYNTH_BUILDER, builder.data_dir)
    try:
      builder.download_and_prepare()
    except ModuleNotFoundError as e:
      # NSynth is an Apache Beam dataset: building it locally needs beam.
      raise ValueError(f"preparing tfds {NSYNTH_BUILDER} needs the missing "
                       f"module {e.name!r}; pip install apache-beam and "
                       "retry") from e
  features = builder.info.features["instrument"]
  family_names = features["family"].names
  source_names = features["source"].names
  ds = builder.as_dataset(split=_NSYNTH_SPLITS[split], shuffle_files=False)
  ds = ds.filter(nsynth_filter_fn(family_names, source_names))
  ds = ds.map(nsynth_convert_fn(family_names, num_samples=num_samples),
              num_parallel_calls=tf.data.AUTOTUNE)
  start = time.time()
  audio, label, pitch = collect(tfds.as_numpy(ds.batch(256)))
  logging.info("read %d nsynth %s notes in %.0fs", len(audio), split,
               time.time() - start)
  return AudioSet(waveforms=audio, labels=label, class_names=NSYNTH_FAMILIES,
                  extra_labels={"pitch": pitch},
                  extra_class_names={"pitch": _PITCH_NAMES})


def load(data_config: ml_collections.ConfigDict, split: str) -> AudioSet:
  """``split`` of the dataset named by ``data_config.tfds.name``."""
  cfg = data_config.get("tfds", None) or ml_collections.ConfigDict()
  name = str(cfg.get("name", "sc09"))
  download = bool(cfg.get("download", False))
  data_dir = str(data_config.get("path", "")) or default_data_dir()
  if split not in _NSYNTH_SPLITS:
    raise ValueError(f"unknown split {split!r}; use one of "
                     f"{', '.join(_NSYNTH_SPLITS)}")
  if name == "sc09":
    num_threads = int((data_config.get("folder", None) or {}).get(
        "num_threads", 0))
    return load_sc09(data_dir, split, download, num_threads,
                     int(data_config.get("num_samples", NUM_SAMPLES)))
  if name == "nsynth":
    return load_nsynth(data_dir, split, download,
                       int(data_config.get("num_samples", NUM_SAMPLES)))
  raise ValueError(f"unknown --config.data.tfds.name={name!r}; use one of "
                   f"{', '.join(NAMES)}")
