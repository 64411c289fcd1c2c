"""Dataset sources: the in-memory record type and the per-source dispatcher."""

from __future__ import annotations

import dataclasses
from typing import Optional, Sequence, Union

import ml_collections
import numpy as np

SOURCES = ("synthetic", "folder", "tfds")
SPLITS = ("train", "valid", "test")


@dataclasses.dataclass(frozen=True)
class AudioSet:
  """Fixed-length mono clips with class labels (and optional extra labels)."""

  waveforms: np.ndarray            # [N, 16384] float32 in [-1, 1]
  labels: np.ndarray               # [N] int32 class index, -1 where unknown
  class_names: tuple[str, ...]
  extra_labels: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
  extra_class_names: dict[str, tuple[str, ...]] = dataclasses.field(
      default_factory=dict)
  files: Optional[tuple[str, ...]] = None

  def __post_init__(self):
    n = len(self.waveforms)
    if len(self.labels) != n:
      raise ValueError(f"{len(self.labels)} labels for {n} waveforms")
    for name, values in self.extra_labels.items():
      if len(values) != n:
        raise ValueError(f"{len(values)} {name!r} labels for {n} waveforms")
    if self.files is not None and len(self.files) != n:
      raise ValueError(f"{len(self.files)} file names for {n} waveforms")

  def __len__(self) -> int:
    return len(self.waveforms)

  @property
  def num_classes(self) -> int:
    """Number of classes of the main label."""
    return len(self.class_names)

  def subset(self, indices: Union[Sequence[int], np.ndarray]) -> AudioSet:
    """The examples at ``indices`` (integer positions or a boolean mask)."""
    idx = np.asarray(indices)
    if idx.dtype == bool:
      idx = np.flatnonzero(idx)
    idx = idx.astype(np.int64)
    files = None
    if self.files is not None:
      files = tuple(self.files[i] for i in idx)
    return dataclasses.replace(
        self, waveforms=self.waveforms[idx], labels=self.labels[idx],
        extra_labels={k: v[idx] for k, v in self.extra_labels.items()},
        files=files)


def concatenate(sets: Sequence[AudioSet]) -> AudioSet:
  """The examples of ``sets`` one after another, as one AudioSet.

  All sets must share their class names. An extra label that only some sets
  have is -1 (unknown) on the others' examples; one whose class names differ
  between sets is dropped. File names are kept when every set has them.

  Args:
    sets: One or more AudioSets with the same ``class_names``.

  Returns:
    The concatenated AudioSet.
  """
  if not sets:
    raise ValueError("nothing to concatenate")
  names = tuple(sets[0].class_names)
  for s in sets[1:]:
    if tuple(s.class_names) != names:
      raise ValueError(f"cannot concatenate sets with classes {names} and "
                       f"{tuple(s.class_names)}")
  extra, extra_names = {}, {}
  for name in dict.fromkeys(k for s in sets for k in s.extra_labels):
    known = {tuple(s.extra_class_names.get(name, ())) for s in sets
             if name in s.extra_labels}
    if len(known) > 1:
      continue
    extra[name] = np.concatenate([
        np.asarray(s.extra_labels[name], np.int32) if name in s.extra_labels
        else np.full(len(s), -1, np.int32) for s in sets])
    class_names = known.pop()
    if class_names:
      extra_names[name] = class_names
  files = None
  if all(s.files is not None for s in sets):
    files = tuple(f for s in sets for f in s.files)
  return AudioSet(
      waveforms=np.concatenate([s.waveforms for s in sets]),
      labels=np.concatenate([np.asarray(s.labels, np.int32) for s in sets]),
      class_names=names, extra_labels=extra, extra_class_names=extra_names,
      files=files)


def default_data_config() -> ml_collections.ConfigDict:
  """The ``config.data`` defaults: the embedded synthetic dataset."""
  c = ml_collections.ConfigDict()
  c.source = "synthetic"    # synthetic | folder | tfds
  c.path = ""               # folder: the audio directory; tfds: the data_dir
  c.seed = 0
  c.labelled_fraction = 1.0
  # The label trained on: "" = the source's class label; or the name of one
  # of its extra labels, e.g. "pitch" (synthetic notes, NSynth, a folder of
  # notes) or "gender" (synthetic syllables). See select_label.
  c.label = ""
  c.spectrogram_clip = 10.0  # r: log-magnitude floor below the clip maximum
  c.num_samples = 16384     # clip length; 65536 for long-clip WaveGAN
  c.cache_dir = ""

  c.synthetic = ml_collections.ConfigDict()
  c.synthetic.num_train = 2000
  c.synthetic.num_valid = 200
  c.synthetic.num_test = 500
  c.synthetic.num_classes = 10     # syllables only; notes: one per pitch
  c.synthetic.kind = "syllables"   # syllables (speech-like) | notes (musical)
  # notes: MIDI pitches, a range "24-84" (inclusive) and/or a list
  # "48,55,60,67"; class i is the i-th lowest pitch, named by its MIDI number.
  c.synthetic.pitches = "24-84"

  c.folder = ml_collections.ConfigDict()
  c.folder.valid_fraction = 0.1   # used only without train/valid/test folders
  c.folder.test_fraction = 0.1
  c.folder.class_names = ""       # comma-separated; "" infers from the files
  c.folder.num_threads = 0        # file-reading threads; 0 picks from the CPUs
  c.folder.on_bad_file = "error"  # error: stop at an unreadable file; skip
  # class: the label is the subfolder or name prefix; pitch: the MIDI pitch
  # in the file name (NSynth's <instrument>-<ppp>-<vvv>.wav, or a name ending
  # in _p<NN> or -<NN>; see folder.pitch_of).
  c.folder.label_from = "class"
  c.folder.pitches = ""           # label_from=pitch: "" = the pitches found

  c.tfds = ml_collections.ConfigDict()
  c.tfds.name = "sc09"            # sc09 | nsynth
  c.tfds.download = False
  # nsynth: the acoustic families kept (their order is the class order), or
  # "all"; and the pitches kept ("24-84": GANSynth's; "" = every pitch).
  c.tfds.nsynth_families = "guitar,string,mallet"
  c.tfds.nsynth_pitches = ""

  c.guidance = default_guidance_config(c)
  return c


def default_guidance_config(
    data_config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """The ``config.data.guidance`` defaults: off (``source=""``).

  With a source set, the labelled stream comes from this second dataset
  (e.g. LibriSpeech speakers with a gender label) while the main dataset's
  clips join the unlabelled pool without labels; see
  ``pipeline.load_dataset``. The keys mirror those of ``data_config`` that
  select and load a source; the spectrogram clip, the sample rate and any
  other setting come from the main data config.

  Args:
    data_config: The main data config, whose ``synthetic``, ``folder`` and
      ``tfds`` blocks give the defaults of the guidance source's blocks.

  Returns:
    The guidance block.
  """
  g = ml_collections.ConfigDict()
  g.source = ""             # "" (off) | synthetic | folder | tfds
  g.path = ""               # folder: the audio directory; tfds: the data_dir
  g.seed = 0                # the source's seed and the labelled subset's
  g.labelled_fraction = 1.0  # of the guidance clips, exact and stratified
  g.label = ""              # "": the source's class label; or an extra label
  for block in ("synthetic", "folder", "tfds"):
    g[block] = ml_collections.ConfigDict(data_config[block].to_dict())
  return g


def select_label(audio: AudioSet, label: str,
                 source: str = "") -> AudioSet:
  """``audio`` with its extra label ``label`` as the class label.

  "" keeps the class label. Otherwise the labels and class names become the
  extra label's (examples where it is -1 stay unlabelled); the extra labels
  themselves are kept.

  Args:
    audio: The loaded source.
    label: "" or the name of one of ``audio.extra_labels``.
    source: The source's name, for the error message.

  Returns:
    The relabelled AudioSet.
  """
  if not label:
    return audio
  if label not in audio.extra_labels:
    available = ", ".join(["'' (the class label)"] +
                          [repr(k) for k in audio.extra_labels])
    where = f" of the {source} source" if source else ""
    raise ValueError(f"--config.data.label={label!r} is not a label{where}; "
                     f"available: {available}")
  values = np.asarray(audio.extra_labels[label], np.int32)
  names = audio.extra_class_names.get(label)
  if names is None:
    names = tuple(str(i) for i in range(int(values.max(initial=-1)) + 1))
  return dataclasses.replace(audio, labels=values, class_names=tuple(names))


def load_source(data_config: ml_collections.ConfigDict, split: str) -> AudioSet:
  """Loads ``split`` (train, valid or test) of the source in ``data_config``.

  The class label is ``data_config.label``'s (see ``select_label``), so every
  source, and everything downstream of this function (the labelled subset,
  the guidance source), trains on it alike.
  """
  if split not in SPLITS:
    raise ValueError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
  source = data_config.get("source", "synthetic")
  # Sources are imported on use: tfds pulls in TensorFlow, which is slow.
  # pylint: disable=g-import-not-at-top
  if source == "synthetic":
    from audiogan_jax.data import synthetic
    audio = synthetic.load(data_config, split)
  elif source == "folder":
    from audiogan_jax.data import folder
    audio = folder.load(data_config, split)
  elif source == "tfds":
    from audiogan_jax.data import tfds_source
    audio = tfds_source.load(data_config, split)
  else:
    raise ValueError(f"unknown --config.data.source={source!r}; use one of "
                     f"{', '.join(SOURCES)}")
  return select_label(audio, str(data_config.get("label", "") or ""), source)
