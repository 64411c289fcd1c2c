"""Public datasets for machines with network access: SC09 and NSynth.

* ``sc09``: the ten digits zero..nine (in that order) of Speech Commands
  v0.02. TFDS's ``speech_commands`` builder folds every word outside its ten
  keywords (the digits included) into ``_unknown_``, so the digits cannot be
  recovered from it; instead the same archive TFDS downloads is fetched once,
  its digit folders are extracted to ``<data_dir>/sc09/speech_commands_v0.02``
  and read with the folder source, split by Speech Commands' own hash rule
  (10 % valid, 10 % test, speakers never shared between splits).
* ``nsynth``: TFDS ``nsynth/full``, the acoustic notes of the families in
  ``data.tfds.nsynth_families`` (default guitar, string and mallet; "all":
  every family; label = family in that order) and of the pitches in
  ``data.tfds.nsynth_pitches`` (default every pitch; "24-84": GANSynth's 61),
  the first ``data.num_samples`` samples (16384, ~1 s; 64000 is the whole
  note, longer clips are zero-padded) of each 4 s, 16 kHz note. The extra
  label ``pitch`` names the MIDI note: its class names are the MIDI numbers
  of the kept pitches and its value the index into them, so without a pitch
  filter (names "0".."127") the value is the MIDI number itself, and with
  "24-84" it is 0..60 for MIDI 24..84 (train on it with
  ``data.label=pitch``).

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
from audiogan_jax.data import notes
from audiogan_jax.data.sources import AudioSet

NAMES = ("sc09", "nsynth")
SC09_CLASSES = ("zero", "one", "two", "three", "four", "five", "six", "seven",
                "eight", "nine")
SPEECH_COMMANDS_URL = (
    "https://download.tensorflow.org/data/speech_commands_v0.02.tar.gz")
_SC09_SUBDIR = os.path.join("sc09", "speech_commands_v0.02")
_COMPLETE = ".complete"   # written last, so a killed extraction is redone

NSYNTH_BUILDER = "nsynth/full"
NSYNTH_FAMILIES = ("guitar", "string", "mallet")   # the default selection
# Every instrument family of NSynth, in the dataset's own (label) order.
NSYNTH_ALL_FAMILIES = ("bass", "brass", "flute", "guitar", "keyboard",
                       "mallet", "organ", "reed", "string", "synth_lead",
                       "vocal")
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


def parse_nsynth_families(value: str) -> tuple[str, ...]:
  """Parses --config.data.tfds.nsynth_families ("guitar,string", or "all")."""
  text = str(value).strip().lower()
  if text == "all":
    return NSYNTH_ALL_FAMILIES
  names = tuple(n.strip() for n in text.split(",") if n.strip())
  flag = f"--config.data.tfds.nsynth_families={value!r}"
  if not names:
    raise ValueError(f"{flag} lists no family; list some of "
                     f"{', '.join(NSYNTH_ALL_FAMILIES)}, or 'all'")
  unknown = [n for n in names if n not in NSYNTH_ALL_FAMILIES]
  if unknown:
    raise ValueError(f"{flag}: {', '.join(map(repr, unknown))} is not an "
                     f"NSynth family; use some of "
                     f"{', '.join(NSYNTH_ALL_FAMILIES)}, or 'all'")
  if len(set(names)) != len(names):
    dup = sorted({n for n in names if names.count(n) > 1})
    raise ValueError(f"{flag} lists {dup} more than once; give every family "
                     "exactly once")
  return names


def nsynth_pitch_names(pitches: Sequence[int] = ()) -> tuple[str, ...]:
  """Class names of the ``pitch`` label: the kept pitches (() = all 128)."""
  return notes.pitch_names(pitches) if pitches else _PITCH_NAMES


def nsynth_filter_fn(family_names: Sequence[str], source_names: Sequence[str],
                     families: Sequence[str] = NSYNTH_FAMILIES,
                     source: str = NSYNTH_SOURCE,
                     pitches: Sequence[int] = ()) -> Callable[[Any], Any]:
  """tf.data predicate: the note's family is in ``families`` from ``source``
  and (when ``pitches`` is not empty) its MIDI pitch is in ``pitches``."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  family_ids = tf.constant([list(family_names).index(f) for f in families],
                           tf.int64)
  source_id = tf.constant(list(source_names).index(source), tf.int64)
  pitch_ids = tf.constant(list(pitches), tf.int64)

  def keep(example):
    inst = example["instrument"]
    family = tf.cast(inst["family"], tf.int64)
    ok = tf.logical_and(tf.reduce_any(tf.equal(family, family_ids)),
                        tf.equal(tf.cast(inst["source"], tf.int64),
                                 source_id))
    if pitches:
      pitch = tf.cast(example["pitch"], tf.int64)
      ok = tf.logical_and(ok, tf.reduce_any(tf.equal(pitch, pitch_ids)))
    return ok
  return keep


def nsynth_convert_fn(family_names: Sequence[str],
                      families: Sequence[str] = NSYNTH_FAMILIES,
                      num_samples: int = NUM_SAMPLES,
                      pitches: Sequence[int] = ()
                      ) -> Callable[[Any], Any]:
  """tf.data map: NSynth example -> {audio [num_samples], label, pitch}.

  ``pitch`` is the index of the note's MIDI pitch in ``pitches`` (-1 when it
  is not there; apply ``nsynth_filter_fn`` first), or with ``pitches`` empty
  the MIDI pitch itself: either way ``nsynth_pitch_names(pitches)[pitch]``
  is the MIDI number.
  """
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  family_ids = tf.constant([list(family_names).index(f) for f in families],
                           tf.int64)
  # MIDI pitch -> pitch label, a 128-entry lookup.
  lookup = np.arange(128, dtype=np.int32)
  if pitches:
    lookup = np.full(128, -1, np.int32)
    lookup[np.asarray(pitches, np.int64)] = np.arange(len(pitches))
  pitch_table = tf.constant(lookup)

  def convert(example):
    audio = tf.cast(example["audio"], tf.float32)[:num_samples]
    audio = tf.pad(audio, [[0, num_samples - tf.shape(audio)[0]]])
    audio.set_shape([num_samples])
    family = tf.cast(example["instrument"]["family"], tf.int64)
    label = tf.argmax(tf.cast(tf.equal(family_ids, family), tf.int32),
                      output_type=tf.int32)
    midi = tf.clip_by_value(tf.cast(example["pitch"], tf.int32), 0, 127)
    return {"audio": tf.clip_by_value(audio, -1.0, 1.0), "label": label,
            "pitch": tf.gather(pitch_table, midi)}
  return convert


def collect(batches: Iterable[dict], num_samples: int = NUM_SAMPLES
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """Concatenates numpy batches of {audio, label, pitch} into arrays."""
  audio, label, pitch = [], [], []
  for b in batches:
    audio.append(np.asarray(b["audio"], np.float32))
    label.append(np.asarray(b["label"], np.int32))
    pitch.append(np.asarray(b["pitch"], np.int32))
  if not audio:
    return (np.zeros((0, num_samples), np.float32), np.zeros(0, np.int32),
            np.zeros(0, np.int32))
  return np.concatenate(audio), np.concatenate(label), np.concatenate(pitch)


def load_nsynth(data_dir: str, split: str, download: bool,
                num_samples: int = NUM_SAMPLES,
                families: Sequence[str] = NSYNTH_FAMILIES,
                pitches: Sequence[int] = ()) -> AudioSet:
  """``split`` of NSynth's acoustic notes of ``families`` (and ``pitches``,
  () = all), their first ``num_samples`` samples."""
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
  ds = ds.filter(nsynth_filter_fn(family_names, source_names, families,
                                  pitches=pitches))
  ds = ds.map(nsynth_convert_fn(family_names, families, num_samples, pitches),
              num_parallel_calls=tf.data.AUTOTUNE)
  start = time.time()
  audio, label, pitch = collect(tfds.as_numpy(ds.batch(256)), num_samples)
  logging.info("read %d nsynth %s notes in %.0fs", len(audio), split,
               time.time() - start)
  if not len(audio):
    raise ValueError(
        f"no acoustic {','.join(families)} notes"
        f"{' at pitches ' + ','.join(map(str, pitches)) if pitches else ''} "
        f"in the nsynth {split!r} split; widen --config.data.tfds."
        "nsynth_families or nsynth_pitches")
  return AudioSet(waveforms=audio, labels=label, class_names=tuple(families),
                  extra_labels={"pitch": pitch},
                  extra_class_names={"pitch": nsynth_pitch_names(pitches)})


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
    # Both selections are checked before TensorFlow is imported.
    families = parse_nsynth_families(
        cfg.get("nsynth_families", ",".join(NSYNTH_FAMILIES)))
    pitches = notes.parse_pitches(str(cfg.get("nsynth_pitches", "")),
                                  "--config.data.tfds.nsynth_pitches")
    return load_nsynth(data_dir, split, download,
                       int(data_config.get("num_samples", NUM_SAMPLES)),
                       families, pitches)
  raise ValueError(f"unknown --config.data.tfds.name={name!r}; use one of "
                   f"{', '.join(NAMES)}")
