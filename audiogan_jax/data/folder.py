"""A directory of audio files as a dataset (SC09 / Speech Commands layouts).

Labels come from the layout, per file:

* a file in a subfolder gets the subfolder's name as its class
  (``DIR/<class>/x.wav``, Speech Commands style; nested folders below the
  class folder are fine),
* a file directly in the folder gets the part of its name before the first
  ``_`` (SC09 style ``Zero_0a2b400e_nohash_0.wav`` -> ``zero``); a name
  without ``_``, or of the form ``<speaker>_nohash_<n>``, has no label (-1).

Class names are lower-cased and sorted, and one index mapping is built from
all splits together.

With ``data.folder.label_from="pitch"`` (a folder of musical notes) the label
is instead the MIDI pitch (0-127) in the file's name (see ``pitch_of``; the
folders do not matter), and the class names are the pitches as strings,
sorted by pitch: those found in all splits, or ``data.folder.pitches`` (e.g.
"24-84"; files of other pitches are left out). A file whose name holds no
pitch is unlabelled. The extra label "pitch" is the same label, so
``data.label=pitch`` selects it here as on the other sources.

When ``DIR`` has ``train/``, ``valid/`` and ``test/`` subfolders (also
``training``/``validation``/``val``/``testing``), each is a split, laid out
as above. Otherwise files are assigned to splits by the Speech Commands rule:
a SHA-1 hash of the file name without its ``_nohash_...`` suffix (and, for
SC09 names, without the class prefix), so all clips of one speaker land in
the same split, on every machine (notes are split the same way, by name).
"""

from __future__ import annotations

import collections
import concurrent.futures
import hashlib
import os
import re
import time
from typing import Optional, Sequence

from absl import logging
import ml_collections
import numpy as np

from audiogan_jax.audio import io as audio_io
from audiogan_jax.data import notes
from audiogan_jax.data.sources import AudioSet

SPLIT_DIRS = {"train": ("train", "training"),
              "valid": ("valid", "validation", "val"),
              "test": ("test", "testing")}
# Speech Commands' which_set() constant; keeping it reproduces its splits.
_MAX_NUM_WAVS_PER_CLASS = 2**27 - 1
_NOHASH = re.compile(r"_nohash_.*$")
LABEL_FROM = ("class", "pitch")
# File-name stems that carry a MIDI pitch, tried in this order: NSynth's
# <instrument>-<ppp>-<vvv> (3-digit pitch and velocity), then a stem ending
# in _p<N> or -<N> (1-3 digits).
_PITCH_PATTERNS = (re.compile(r"^.+-(\d{3})-\d{3}$"),
                   re.compile(r"^.*_p(\d{1,3})$", re.IGNORECASE),
                   re.compile(r"^.+-(\d{1,3})$"))


def _skip_dir(name: str) -> bool:
  # Hidden folders and Speech Commands' _background_noise_ (long noise
  # recordings, not examples) are not data.
  return name.startswith((".", "_"))


def find_audio_files(root: str, ignored: Optional[collections.Counter] = None
                     ) -> list[str]:
  """Sorted paths (relative to ``root``) of the audio files below ``root``.

  Files with other extensions are not data; when ``ignored`` is given, it
  counts them by extension (for the start-up summary).
  """
  found = []
  for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
    dirnames[:] = sorted(d for d in dirnames if not _skip_dir(d))
    for name in filenames:
      if name.startswith("."):
        continue
      if audio_io.is_audio_file(name):
        found.append(os.path.relpath(os.path.join(dirpath, name), root))
      elif ignored is not None:
        ignored[os.path.splitext(name)[1].lower() or "(no extension)"] += 1
  return sorted(found)


def class_of(relpath: str) -> Optional[str]:
  """Class name of a file from its path relative to its split folder."""
  parts = relpath.replace(os.sep, "/").split("/")
  if len(parts) > 1:
    return parts[0].lower()
  tokens = os.path.splitext(parts[0])[0].split("_")
  # '<speaker>_nohash_0' (a Speech Commands name without its class folder)
  # starts with a speaker, not a class.
  if len(tokens) < 2 or not tokens[0] or tokens[1] == "nohash":
    return None
  return tokens[0].lower()


def pitch_of(relpath: str) -> Optional[int]:
  """MIDI pitch (0-127) in a file's name, None when it holds none.

  The name without its folders and extension (the stem) must match, in this
  order:

  * ``<instrument>-<ppp>-<vvv>``: NSynth's naming, exactly three digits of
    pitch then three of velocity (``guitar_acoustic_001-060-100.wav`` -> 60);
  * ``<anything>_p<N>``: ``_p`` (or ``_P``) then 1-3 digits at the end
    (``violin_p67.wav`` -> 67, ``p60`` alone has no pitch);
  * ``<something>-<N>``: a hyphen then 1-3 digits at the end
    (``flute-72.wav`` -> 72).

  A number above 127 is no pitch (e.g. ``take-200.wav``).
  """
  stem = os.path.splitext(os.path.basename(relpath.replace(os.sep, "/")))[0]
  for pattern in _PITCH_PATTERNS:
    m = pattern.match(stem)
    if m:
      pitch = int(m.group(1))
      return pitch if pitch <= 127 else None
  return None


def _pitch_label(relpath: str) -> Optional[str]:
  pitch = pitch_of(relpath)
  return None if pitch is None else str(pitch)


def speaker_key(relpath: str) -> str:
  """The speaker part of a file name: what the split hash is computed from."""
  name = os.path.basename(relpath)
  if os.path.dirname(relpath) == "" and class_of(relpath) is not None:
    # SC09 flat names carry the class first: Zero_<speaker>_nohash_0.wav.
    name = name.split("_", 1)[1]
  return _NOHASH.sub("", name)


def hash_split(relpath: str, valid_fraction: float,
               test_fraction: float) -> str:
  """train / valid / test for a file, by Speech Commands' which_set() rule."""
  digest = hashlib.sha1(speaker_key(relpath).encode("utf-8")).hexdigest()
  percentage = ((int(digest, 16) % (_MAX_NUM_WAVS_PER_CLASS + 1)) *
                (100.0 / _MAX_NUM_WAVS_PER_CLASS))
  if percentage < valid_fraction * 100:
    return "valid"
  if percentage < (valid_fraction + test_fraction) * 100:
    return "test"
  return "train"


def _split_folders(root: str) -> dict[str, str]:
  """split -> its subfolder of ``root``, for the split folders present."""
  subdirs = {d.lower(): d for d in os.listdir(root)
             if os.path.isdir(os.path.join(root, d))}
  found = {}
  for split, aliases in SPLIT_DIRS.items():
    for alias in aliases:
      if alias in subdirs:
        found[split] = subdirs[alias]
        break
  return found


def parse_class_names(value: str) -> tuple[str, ...]:
  """Parses --config.data.folder.class_names ('zero,one,...'; '' = infer)."""
  names = tuple(n.strip().lower() for n in value.split(",") if n.strip())
  if len(set(names)) != len(names):
    dup = sorted({n for n in names if names.count(n) > 1})
    raise ValueError(f"--config.data.folder.class_names lists {dup} more than "
                     "once; give every class exactly once")
  return names


def _check_fractions(valid_fraction: float, test_fraction: float) -> None:
  if (valid_fraction < 0 or test_fraction < 0 or
      valid_fraction + test_fraction >= 1):
    raise ValueError(
        f"--config.data.folder.valid_fraction={valid_fraction} and "
        f"test_fraction={test_fraction} must be >= 0 and sum to less than 1")


ON_BAD_FILE = ("error", "skip")


class LoadReport:
  """What loading a folder found: skipped files and what reading changed."""

  def __init__(self, num_samples: int, sample_rate: int):
    self.num_samples, self.sample_rate = num_samples, sample_rate
    self.loaded = 0
    self.skipped: list[str] = []            # one-line reasons
    self.ignored: collections.Counter = collections.Counter()
    self.rates: collections.Counter = collections.Counter()
    self.multichannel = self.padded = self.trimmed = self.silent = 0

  def add(self, info: audio_io.ClipInfo) -> None:
    self.loaded += 1
    if info.sample_rate != self.sample_rate:
      self.rates[info.sample_rate] += 1
    self.multichannel += info.channels > 1
    self.padded += info.num_samples < self.num_samples
    self.trimmed += info.num_samples > self.num_samples
    self.silent += info.silent

  def summary(self) -> str:
    """One line: the counts, or '' when every file was read as it is."""
    parts = []
    if self.skipped:
      parts.append(f"{len(self.skipped)} unreadable files skipped (first: "
                   f"{self.skipped[0]})")
    if self.rates:
      rates = ", ".join(f"{n} at {r} Hz" for r, n in sorted(
          self.rates.items()))
      parts.append(f"resampled to {self.sample_rate} Hz: {rates}")
    if self.multichannel:
      parts.append(f"{self.multichannel} multi-channel files downmixed to "
                   "mono")
    if self.padded:
      parts.append(f"{self.padded} shorter than {self.num_samples} samples, "
                   "zero-padded at the end")
    if self.trimmed:
      parts.append(f"{self.trimmed} longer, trimmed to the first "
                   f"{self.num_samples} samples")
    if self.silent:
      parts.append(f"{self.silent} all-silent clips kept")
    if self.ignored:
      kinds = ", ".join(f"{n} {ext}" for ext, n in sorted(
          self.ignored.items()))
      parts.append(f"{sum(self.ignored.values())} non-audio files ignored "
                   f"({kinds})")
    return "; ".join(parts)


def _load_waveforms(paths: Sequence[str], num_threads: int,
                    num_samples: int = audio_io.NUM_SAMPLES,
                    on_bad_file: str = "error",
                    report: Optional[LoadReport] = None
                    ) -> tuple[np.ndarray, np.ndarray]:
  """Decodes files in parallel (libsndfile and soxr release the GIL).

  Returns the waveforms and the indices (into ``paths``) they come from:
  with ``on_bad_file="skip"`` unreadable files are left out and listed in
  ``report``; with "error" the first one raises its AudioFileError.
  """
  out = np.empty((len(paths), num_samples), np.float32)
  infos: list = [None] * len(paths)
  errors: list = [None] * len(paths)
  if num_threads <= 0:
    num_threads = min(32, 4 * (os.cpu_count() or 1))

  def work(i: int) -> None:
    try:
      out[i], infos[i] = audio_io.read_audio(paths[i],
                                             num_samples=num_samples)
    except audio_io.AudioFileError as e:
      errors[i] = e

  with concurrent.futures.ThreadPoolExecutor(num_threads) as pool:
    list(pool.map(work, range(len(paths))))
  bad = [i for i, e in enumerate(errors) if e is not None]
  if bad and on_bad_file != "skip":
    e = errors[bad[0]]
    more = f" ({len(bad) - 1} more unreadable files)" if len(bad) > 1 else ""
    raise audio_io.AudioFileError(
        f"{e}{more}; or set --config.data.folder.on_bad_file=skip to leave "
        "unreadable files out")
  keep = np.array([i for i in range(len(paths)) if errors[i] is None],
                  np.int64)
  if report is not None:
    for i in keep:
      report.add(infos[i])
    report.skipped.extend(str(errors[i]).split(";")[0] for i in bad)
  return (out if not bad else out[keep]), keep


def load_folder(root: str, split: str, *, valid_fraction: float = 0.1,
                test_fraction: float = 0.1,
                class_names: Sequence[str] = (),
                num_threads: int = 0,
                num_samples: int = audio_io.NUM_SAMPLES,
                on_bad_file: str = "error",
                label_from: str = "class") -> AudioSet:
  """Loads ``split`` of the audio folder ``root`` (see the module doc).

  ``on_bad_file``: "error" stops at the first unreadable file (corrupt,
  truncated, empty, not audio) with a message naming it; "skip" leaves such
  files out and counts them in the start-up summary.

  ``label_from``: "class" labels a file by its folder or name prefix;
  "pitch" by the MIDI pitch in its name (``pitch_of``), and then
  ``class_names`` are pitches as strings (e.g. "24", ..., "84") and
  name ``--config.data.folder.pitches`` in errors.
  """
  if on_bad_file not in ON_BAD_FILE:
    raise ValueError(f"--config.data.folder.on_bad_file={on_bad_file!r}: use "
                     "'error' (stop at the first unreadable file) or 'skip'")
  if label_from not in LABEL_FROM:
    raise ValueError(f"--config.data.folder.label_from={label_from!r}: use "
                     "'class' (folder or name prefix) or 'pitch' (the MIDI "
                     "pitch in the file name)")
  by_pitch = label_from == "pitch"
  label_of = _pitch_label if by_pitch else class_of
  # What the classes are called in messages, and the flag that lists them.
  kind, kinds, flag = (
      ("pitch", "pitches", "--config.data.folder.pitches") if by_pitch else
      ("class", "classes", "--config.data.folder.class_names"))
  fix_names = "fix the pitches" if by_pitch else "fix the class names"
  if not root:
    raise ValueError("--config.data.path is empty; set it to a directory of "
                     "audio files, e.g. --config.data.path=/data/sc09")
  if not os.path.exists(root):
    raise ValueError(f"--config.data.path={root!r} does not exist; point it "
                     "at a directory of audio files")
  if not os.path.isdir(root):
    raise ValueError(f"--config.data.path={root!r} is not a directory; point "
                     "it at the folder that holds the audio files")
  if split not in SPLIT_DIRS:
    raise ValueError(f"unknown split {split!r}; use one of "
                     f"{', '.join(SPLIT_DIRS)}")

  ignored = collections.Counter()
  split_dirs = _split_folders(root)
  # Every split's files, relative to root, with their class names.
  entries: dict[str, list[tuple[str, Optional[str]]]] = {}
  if split_dirs:
    for name, sub in split_dirs.items():
      rels = find_audio_files(os.path.join(root, sub), ignored)
      entries[name] = [(os.path.join(sub, r), label_of(r)) for r in rels]
    total = sum(len(v) for v in entries.values())
  else:
    _check_fractions(valid_fraction, test_fraction)
    rels = find_audio_files(root, ignored)
    total = len(rels)
    entries = {s: [] for s in SPLIT_DIRS}
    for r in rels:
      entries[hash_split(r, valid_fraction, test_fraction)].append(
          (r, label_of(r)))
  if total == 0:
    others = (f" (only {sum(ignored.values())} files of other types: "
              f"{', '.join(sorted(ignored))})" if ignored else "")
    raise ValueError(
        f"no audio files ({', '.join(audio_io.AUDIO_EXTENSIONS)}) found under "
        f"--config.data.path={root!r}{others}; add audio files or fix the "
        "path")

  found = sorted({c for v in entries.values() for _, c in v if c is not None},
                 key=int if by_pitch else None)
  if class_names:
    names = tuple(class_names)
    # The pitches as the flag gives them ("24-84"), not one by one.
    shown = (notes.format_pitches(map(int, names)) if by_pitch else
             ",".join(names))
    missing = [c for c in names if c not in found]
    if len(missing) == len(names):
      raise ValueError(
          f"none of the {total} audio files under {root!r} belongs to "
          f"{flag}={shown!r} (found {kinds}: "
          f"{', '.join(found) or 'none'}); {fix_names}")
    if missing:
      logging.warning("%s %s of %s have no files under %s", kinds,
                      notes.format_pitches(map(int, missing)) if by_pitch
                      else ", ".join(missing), flag, root)
  else:
    names = tuple(found)
  index = {c: i for i, c in enumerate(names)}

  chosen = entries.get(split, [])
  if not chosen:
    if split_dirs:
      raise ValueError(
          f"no audio files for the {split!r} split: {root!r} has split "
          f"folders ({', '.join(sorted(split_dirs.values()))}) but no audio in "
          f"a '{SPLIT_DIRS[split][0]}/' folder; add one, or remove the split "
          "folders to split by file-name hash")
    fix = (f"raise --config.data.folder.{split}_fraction" if split != "train"
           else "lower --config.data.folder.valid_fraction and test_fraction")
    raise ValueError(
        f"no audio files fall in the {split!r} split of {root!r} ({total} "
        f"files, valid_fraction={valid_fraction}, test_fraction="
        f"{test_fraction}); add files or {fix}")
  if class_names:
    kept = [(r, c) for r, c in chosen if c in index]
    if len(kept) < len(chosen):
      logging.warning("skipped %d of %d %s files whose %s is not in %s",
                      len(chosen) - len(kept), len(chosen), split, kind, flag)
    if not kept:
      raise ValueError(
          f"no {split!r} files of {flag}={shown!r} under {root!r}; "
          f"{fix_names}")
    chosen = kept

  rels = [r for r, _ in chosen]
  labels = np.array([index.get(c, -1) if c is not None else -1
                     for _, c in chosen], np.int32)
  start = time.time()
  report = LoadReport(num_samples, audio_io.SAMPLE_RATE)
  report.ignored = ignored
  waves, keep = _load_waveforms([os.path.join(root, r) for r in rels],
                                num_threads, num_samples, on_bad_file, report)
  if len(keep) < len(rels):
    rels = [rels[i] for i in keep]
    labels = labels[keep]
  if not rels:
    raise ValueError(
        f"every {split!r} file under {root!r} is unreadable (first: "
        f"{report.skipped[0]}); fix or replace the files")
  unlabelled = int((labels < 0).sum())
  lacking = ("a pitch in their name" if by_pitch else
             "a class in their name or folder")
  logging.info("loaded %d %s files from %s in %.1fs%s", len(rels), split, root,
               time.time() - start,
               f" ({unlabelled} without {lacking}: unlabelled)"
               if unlabelled else "")
  if report.summary():
    logging.warning("data %s (%s): %s", split, root, report.summary())
  extra, extra_names = {}, {}
  if by_pitch:
    extra, extra_names = {"pitch": labels.copy()}, {"pitch": names}
  return AudioSet(waveforms=waves, labels=labels, class_names=names,
                  extra_labels=extra, extra_class_names=extra_names,
                  files=tuple(rels))


def load(data_config: ml_collections.ConfigDict, split: str) -> AudioSet:
  """``split`` of the folder ``data_config.path`` (data.folder options)."""
  cfg = data_config.get("folder", None) or ml_collections.ConfigDict()
  label_from = str(cfg.get("label_from", "class"))
  class_names = parse_class_names(str(cfg.get("class_names", "")))
  if label_from == "pitch":
    if class_names:
      raise ValueError(
          "--config.data.folder.class_names is for label_from=class; with "
          "--config.data.folder.label_from=pitch select pitches with "
          "--config.data.folder.pitches (e.g. '24-84')")
    class_names = notes.pitch_names(notes.parse_pitches(
        str(cfg.get("pitches", "")), "--config.data.folder.pitches"))
  return load_folder(
      str(data_config.get("path", "")), split,
      valid_fraction=float(cfg.get("valid_fraction", 0.1)),
      test_fraction=float(cfg.get("test_fraction", 0.1)),
      class_names=class_names,
      num_threads=int(cfg.get("num_threads", 0)),
      num_samples=int(data_config.get("num_samples", audio_io.NUM_SAMPLES)),
      on_bad_file=str(cfg.get("on_bad_file", "error")),
      label_from=label_from)
