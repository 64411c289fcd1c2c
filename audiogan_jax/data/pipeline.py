"""The tf.data input pipeline: cached spectrograms, guidance labels, streams.

Every batch is a pure function of (seed, stream, global batch index), so a
resumed run continues exactly where it stopped: the data position is the
training step. Each process reads only its slice of every global batch.

Guidance from another dataset (``config.data.guidance.source``): the labelled
clips come from a second source (e.g. ten male and ten female LibriSpeech
speakers with a gender label) while every clip of the main source (e.g. SC09)
joins the training set unlabelled; see ``load_dataset``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import json
import os
import time
from typing import Iterator, Mapping, Optional, Sequence

from absl import logging
import jax
import ml_collections
import numpy as np

from audiogan_jax.audio import spectrogram as spec_lib
from audiogan_jax.data import sources

Config = ml_collections.ConfigDict

_STREAM_IDS = {"all": 11, "labelled": 12, "unlabelled": 13}

# Split.origin values: which dataset a training example comes from.
ORIGIN_MAIN = 0
ORIGIN_GUIDANCE = 1

_GUIDANCE_FLAG = "--config.data.guidance."


def select_labelled(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
  """Boolean mask of the examples whose labels are kept.

  Exactly ``round(fraction * N)`` examples are kept, spread over the classes in
  proportion to their sizes (largest remainders; at least one per class when
  the budget allows), chosen at random from ``seed`` alone so the subset is the
  same on every run and after every resume.
  """
  if not 0.0 < fraction <= 1.0:
    raise ValueError(f"--config.data.labelled_fraction={fraction} must be in "
                     "(0, 1]; use 1.0 to keep every label")
  n = len(labels)
  known = np.flatnonzero(labels >= 0)
  mask = np.zeros(n, bool)
  if fraction >= 1.0:
    mask[known] = True
    return mask
  budget = min(int(round(fraction * n)), len(known))
  classes, counts = np.unique(labels[known], return_counts=True)
  if len(classes) == 0 or budget == 0:
    return mask
  share = counts / counts.sum() * budget
  quota = np.floor(share).astype(int)
  if budget >= len(classes):
    quota = np.maximum(quota, 1)
  # Hand out the rest by largest remainder (or take back any excess).
  order = np.argsort(-(share - np.floor(share)), kind="stable")
  i = 0
  while quota.sum() < budget:
    c = order[i % len(order)]
    if quota[c] < counts[c]:
      quota[c] += 1
    i += 1
  while quota.sum() > budget:
    quota[int(np.argmax(quota))] -= 1
  rng = np.random.default_rng([int(seed), 7919])
  for c, q in zip(classes, quota):
    members = known[labels[known] == c]
    mask[rng.choice(members, size=int(q), replace=False)] = True
  return mask


def check_every_class_labelled(true: np.ndarray, mask: np.ndarray,
                               class_names: Sequence[str], fraction: float,
                               flag: str = "--config.data.") -> None:
  """A class with training clips but no labelled one is a one-line error.

  C (and a conditional G) would never see that class labelled, so its
  accuracy on it is zero by construction; the fix is a larger fraction.
  """
  present = np.unique(true[true >= 0])
  labelled = np.unique(true[mask & (true >= 0)])
  missing = [int(c) for c in present if c not in labelled]
  if not missing:
    return
  names = ", ".join(repr(class_names[c]) if c < len(class_names) else str(c)
                    for c in missing[:5])
  more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
  need = int(np.ceil(len(present) / max(len(true), 1) * 1000)) / 1000
  raise ValueError(
      f"{flag}labelled_fraction={fraction:g} labels {int(mask.sum())} of "
      f"{len(true)} training clips and leaves class{'es' if len(missing) > 1 else ''} "
      f"{names}{more} with none; raise it to at least {need:g} (one labelled "
      "clip per class)")


@dataclasses.dataclass
class Split:
  """One split in memory: waveforms, spectrograms and (guidance) labels."""

  waveforms: np.ndarray       # [N, data.num_samples] float32
  spectrograms: Optional[np.ndarray]  # [N, 256, 128, 1]; None: not loaded
  labels: np.ndarray          # [N] int32, -1 where unlabelled
  true_labels: np.ndarray     # [N] int32 before the labelled fraction
  audio: sources.AudioSet
  # [N] int8 ORIGIN_MAIN / ORIGIN_GUIDANCE in a training split merged with a
  # guidance dataset; None for a split of one dataset.
  origin: Optional[np.ndarray] = None

  def __len__(self) -> int:
    return len(self.labels)


# Keys added after caches were first written, with the values that give the
# clips of before: at those values they stay out of the key, so the caches
# written before they existed stay valid.
_KEYS_WITH_OLD_DEFAULTS = {
    "synthetic": {"kind": "syllables", "pitches": "24-84"},
    "folder": {"label_from": "class", "pitches": ""},
    "tfds": {"nsynth_families": "guitar,string,mallet", "nsynth_pitches": ""},
}


def _cache_key(data_config: Config, split: str, n: int) -> str:
  # Neither the labelled subset, the label trained on nor the guidance
  # dataset changes the clips of this source, so they stay out of the key and
  # keep existing caches valid.
  keys = {k: v for k, v in data_config.to_dict().items()
          if k not in ("labelled_fraction", "label", "cache_dir",
                       "cache_dtype", "guidance")}
  for block, defaults in _KEYS_WITH_OLD_DEFAULTS.items():
    if isinstance(keys.get(block), dict):
      keys[block] = {k: v for k, v in keys[block].items()
                     if k not in defaults or v != defaults[k]}
  blob = json.dumps({"data": keys, "split": split, "n": n, "format": 1},
                    sort_keys=True, default=str)
  return hashlib.sha1(blob.encode()).hexdigest()[:16]


def compute_spectrograms(waveforms: np.ndarray, clip: float,
                         chunk: int = 256) -> np.ndarray:
  """Log-magnitude spectrograms [N,256,128,1] of waveforms, in jitted chunks."""
  fn = jax.jit(functools.partial(spec_lib.log_spectrogram, r=clip))
  out = np.empty((len(waveforms), spec_lib.NUM_FREQ, spec_lib.NUM_FRAMES, 1),
                 np.float32)
  for i in range(0, len(waveforms), chunk):
    part = np.asarray(waveforms[i:i + chunk], np.float32)
    n = len(part)
    if n < chunk:  # one compiled shape for every chunk
      part = np.concatenate([part, np.zeros((chunk - n, part.shape[1]),
                                            np.float32)])
    out[i:i + n, ..., 0] = np.asarray(fn(part))[:n]
  return out


def padded_batches(x: np.ndarray,
                   batch: int) -> Iterator[tuple[np.ndarray, int]]:
  """``(x[i:i + batch] as float32, n)``, the last batch zero-padded to ``batch``.

  Every batch has one shape, so a jitted function compiles once; keep the
  first ``n`` rows of its output.
  """
  for i in range(0, len(x), batch):
    part = np.asarray(x[i:i + batch], np.float32)
    n = len(part)
    if n < batch:
      part = np.concatenate([part, np.zeros((batch - n, *part.shape[1:]),
                                            np.float32)])
    yield part, n


def _spectrograms(data_config: Config, split: str, audio: sources.AudioSet,
                  cache_dir: Optional[str]) -> np.ndarray:
  """The spectrograms of ``audio``, from the cache when present."""
  clip = float(data_config.spectrogram_clip)
  specs, path = None, None
  if cache_dir:
    name = f"spec_{split}_{_cache_key(data_config, split, len(audio))}.npy"
    path = os.path.join(cache_dir, name)
    if os.path.exists(path):
      try:
        specs = np.load(path, mmap_mode="r")
        if specs.shape != (len(audio), spec_lib.NUM_FREQ,
                           spec_lib.NUM_FRAMES, 1):
          specs = None
      except (OSError, ValueError):
        logging.warning("spectrogram cache %s is unreadable; recomputing", path)
        specs = None
  if specs is None:
    t0 = time.time()
    specs = compute_spectrograms(audio.waveforms, clip)
    logging.info("computed %d %s spectrograms in %.1fs", len(specs), split,
                 time.time() - t0)
    if path:
      os.makedirs(cache_dir, exist_ok=True)
      tmp = f"{path}.tmp{os.getpid()}"
      with open(tmp, "wb") as f:
        np.save(f, specs)
      os.replace(tmp, path)  # atomic: a killed run never leaves half a cache
  dtype = np.dtype(data_config.get("cache_dtype", "float32"))
  if specs.dtype != dtype:
    specs = specs.astype(dtype)
  return specs


def load_split(data_config: Config, split: str,
               cache_dir: Optional[str] = None,
               spectrograms: bool = True) -> Split:
  """Loads a split, its spectrograms (from the cache when present) and labels."""
  audio = sources.load_source(data_config, split)
  specs = (_spectrograms(data_config, split, audio, cache_dir)
           if spectrograms else None)
  true = np.asarray(audio.labels, np.int32)
  labels = true
  if split == "train":
    fraction = float(data_config.labelled_fraction)
    mask = select_labelled(true, fraction, int(data_config.seed))
    check_every_class_labelled(true, mask, audio.class_names, fraction)
    labels = np.where(mask, true, -1).astype(np.int32)
  return Split(waveforms=audio.waveforms, spectrograms=specs, labels=labels,
               true_labels=true, audio=audio)


def stream_pool(split: Split, pool: str) -> np.ndarray:
  """Indices of the examples a stream draws from."""
  if pool == "all":
    return np.arange(len(split))
  if pool == "labelled":
    idx = np.flatnonzero(split.labels >= 0)
    if len(idx) == 0:
      raise ValueError("no labelled examples: raise --config.data."
                       "labelled_fraction or use a dataset with labels")
    return idx
  if pool == "unlabelled":
    return np.flatnonzero(split.labels < 0)
  raise ValueError(f"unknown stream pool {pool!r}")


class IndexSampler:
  """Draws global batches of a stream deterministically.

  Global batch b holds positions [b*B, (b+1)*B) of the endless sequence of
  per-epoch permutations of the pool, each drawn from (seed, stream, epoch).
  """

  def __init__(self, pool: np.ndarray, batch_size: int, seed: int,
               stream_id: int):
    self.pool, self.batch_size = pool, batch_size
    self.seed, self.stream_id = seed, stream_id
    self._perms: dict[int, np.ndarray] = {}

  def _perm(self, epoch: int) -> np.ndarray:
    if epoch not in self._perms:
      if len(self._perms) > 4:
        self._perms.pop(min(self._perms))
      rng = np.random.default_rng([self.seed, self.stream_id, epoch])
      self._perms[epoch] = self.pool[rng.permutation(len(self.pool))]
    return self._perms[epoch]

  def batch(self, b: int) -> np.ndarray:
    """Pool indices of global batch ``b``."""
    n, out = len(self.pool), []
    pos, end = b * self.batch_size, (b + 1) * self.batch_size
    while pos < end:
      epoch, off = divmod(pos, n)
      take = min(end - pos, n - off)
      out.append(self._perm(epoch)[off:off + take])
      pos += take
    return np.concatenate(out)


@dataclasses.dataclass
class Dataset:
  """The training data of one run: splits and class metadata.

  With guidance from another dataset, ``train`` holds the main clips (label
  -1) followed by the guidance clips, ``test`` is the guidance source's test
  split, and the classes are the guidance label's. ``main_test`` is always
  the main source's test split with the main source's own labels and class
  names (in ``main_test.audio``): the same object as ``test`` without
  guidance, None when the test splits were not loaded.
  """

  train: Split
  test: Optional[Split]
  num_classes: int
  class_names: tuple[str, ...]
  main_test: Optional[Split] = None
  guidance: str = ""   # e.g. "synthetic[gender]"; "" without guidance

  def summary(self) -> str:
    """One line describing the data for the start-up log."""
    n_lab = int((self.train.labels >= 0).sum())
    n_test = len(self.test) if self.test is not None else 0
    line = (f"{len(self.train)} train examples ({n_lab} labelled), "
            f"{n_test} test examples, {self.num_classes} classes: "
            f"{', '.join(self.class_names)}")
    if self.guidance:
      n_guide = len(self.train)
      if self.train.origin is not None:
        n_guide = int((self.train.origin == ORIGIN_GUIDANCE).sum())
      line += (f" (guidance: {n_lab} labelled clips from {self.guidance}; "
               f"train = {len(self.train) - n_guide} main + {n_guide} "
               "guidance clips)")
    return line


def guidance_data_config(data_config: Config) -> Config:
  """The data config of the guidance source in ``data_config.guidance``.

  The main data config with the guidance block's source, path, seed,
  labelled fraction, label and per-source blocks: the spectrogram clip, the
  sample rate and the cache dtype stay the main config's. Its spectrogram
  cache key is that of a main config naming the same source, so the two
  share a cache.
  """
  guide = data_config.guidance
  out = {k: v for k, v in data_config.to_dict().items() if k != "guidance"}
  for key in ("source", "path", "seed", "labelled_fraction"):
    out[key] = guide[key]
  # The guidance label replaces the main one: sources.load_source applies it.
  out["label"] = str(guide.get("label", ""))
  for block in ("synthetic", "folder", "tfds"):
    merged = dict(out.get(block, {}))
    merged.update(guide[block].to_dict() if block in guide else {})
    out[block] = merged
  return Config(out)


def _describe_guidance(data_config: Config) -> str:
  """A short name of the guidance source and label, e.g. synthetic[gender]."""
  guide = data_config.guidance
  source = str(guide.source)
  if source == "folder":
    source = f"folder:{guide.path}"
  elif source == "tfds":
    source = f"tfds:{guide.tfds.name}"
  return f"{source}[{guide.get('label', '') or 'class'}]"


@contextlib.contextmanager
def _guidance_errors() -> Iterator[None]:
  """Makes the sources' errors name the guidance flags, not the main ones."""
  try:
    yield
  except (ValueError, FileNotFoundError, NotADirectoryError,
          PermissionError) as e:
    msg = str(e)
    if "--config.data." not in msg or _GUIDANCE_FLAG in msg:
      raise
    raise type(e)(msg.replace("--config.data.", _GUIDANCE_FLAG)) from e


def _load_guidance_audio(guide_config: Config, split: str
                         ) -> sources.AudioSet:
  """``split`` of the guidance source, with the guidance label as its class
  label (``guidance_data_config`` sets it as the source's ``label``)."""
  with _guidance_errors():
    return sources.load_source(guide_config, split)


def _check_guidance_config(data_config: Config) -> None:
  """Fails early, naming the guidance flag, on a bad source or fraction."""
  guide = data_config.guidance
  if str(guide.source) not in sources.SOURCES:
    raise ValueError(f"unknown {_GUIDANCE_FLAG}source={str(guide.source)!r}; "
                     f"use one of {', '.join(sources.SOURCES)} or '' (off)")
  fraction = float(guide.labelled_fraction)
  if not 0.0 < fraction <= 1.0:
    raise ValueError(f"{_GUIDANCE_FLAG}labelled_fraction={fraction} must be "
                     "in (0, 1]; use 1.0 to keep every label")


def _load_guided_dataset(data_config: Config, cache_dir: Optional[str],
                         with_test: bool) -> Dataset:
  """The dataset of ``load_dataset`` with guidance from another source."""
  _check_guidance_config(data_config)
  guide = data_config.guidance
  guide_config = guidance_data_config(data_config)
  description = _describe_guidance(data_config)

  g_audio = _load_guidance_audio(guide_config, "train")
  g_true = np.asarray(g_audio.labels, np.int32)
  mask = select_labelled(g_true, float(guide.labelled_fraction),
                         int(guide.seed))
  if not mask.any():
    raise ValueError(
        f"the guidance source {description} yields no labelled example "
        f"({len(g_audio)} clips): check {_GUIDANCE_FLAG}label and raise "
        f"{_GUIDANCE_FLAG}labelled_fraction")
  check_every_class_labelled(g_true, mask, g_audio.class_names,
                             float(guide.labelled_fraction), _GUIDANCE_FLAG)
  if float(data_config.labelled_fraction) < 1.0:
    logging.info("guidance from %s: --config.data.labelled_fraction=%g does "
                 "not apply; every main clip is unlabelled", description,
                 float(data_config.labelled_fraction))
  g_specs = _spectrograms(guide_config, "train", g_audio, cache_dir)

  m_audio = sources.load_source(data_config, "train")
  m_specs = _spectrograms(data_config, "train", m_audio, cache_dir)
  n_main = len(m_audio)
  hidden = np.full(n_main, -1, np.int32)
  m_hidden = dataclasses.replace(m_audio, labels=hidden,
                                 class_names=g_audio.class_names)
  merged = sources.concatenate([m_hidden, g_audio])
  # One allocation per array: the memory-mapped caches are read once.
  specs = np.concatenate([m_specs, g_specs])
  train = Split(
      waveforms=merged.waveforms, spectrograms=specs,
      labels=np.concatenate([hidden, np.where(mask, g_true, -1)]).astype(
          np.int32),
      true_labels=np.concatenate([hidden, g_true]), audio=merged,
      origin=np.concatenate([np.full(n_main, ORIGIN_MAIN, np.int8),
                             np.full(len(g_audio), ORIGIN_GUIDANCE, np.int8)]))

  test = main_test = None
  if with_test:
    t_audio = _load_guidance_audio(guide_config, "test")
    t_specs = _spectrograms(guide_config, "test", t_audio, cache_dir)
    t_true = np.asarray(t_audio.labels, np.int32)
    test = Split(waveforms=t_audio.waveforms, spectrograms=t_specs,
                 labels=t_true, true_labels=t_true, audio=t_audio)
    main_test = load_split(data_config, "test", cache_dir)
  return Dataset(train=train, test=test, num_classes=g_audio.num_classes,
                 class_names=tuple(g_audio.class_names), main_test=main_test,
                 guidance=description)


def load_dataset(config: Config, cache_dir: Optional[str] = None,
                 with_test: bool = True,
                 spectrograms: bool = True) -> Dataset:
  """Loads the train (and test) split named by ``config.data``.

  With ``config.data.guidance.source`` set, the labels come from that second
  source: train holds every main clip with label -1, then every guidance clip
  with its ``guidance.label`` (-1 outside the ``guidance.labelled_fraction``
  subset, chosen from ``guidance.seed``). The 'all' and 'unlabelled' pools
  thus hold both datasets and the 'labelled' pool only guidance clips. The
  test split is the guidance source's (what the classifier is scored on);
  ``Dataset.main_test`` is the main source's.

  Args:
    config: The run config; only ``config.data`` is read.
    cache_dir: Where spectrograms are cached; None computes them every time.
    with_test: Whether to load the test split(s).
    spectrograms: Whether to compute (or read from the cache) the 256x128
      spectrograms; models that read only waveforms skip them
      (``Split.spectrograms`` is then None).

  Returns:
    The Dataset.
  """
  guide = config.data.get("guidance", None)
  if guide is not None and str(guide.get("source", "")):
    return _load_guided_dataset(config.data, cache_dir, with_test)
  train = load_split(config.data, "train", cache_dir, spectrograms)
  test = (load_split(config.data, "test", cache_dir, spectrograms)
          if with_test else None)
  return Dataset(train=train, test=test, num_classes=train.audio.num_classes,
                 class_names=tuple(train.audio.class_names), main_test=test)


def make_iterator(dataset: Dataset, streams: Mapping[str, str], *,
                  global_batch: int, steps_per_iteration: int, seed: int,
                  start_iteration: int = 0,
                  stop_iteration: Optional[int] = None,
                  fields: tuple[str, ...] = ("spectrogram", "label"),
                  prefetch: int = 2,
                  use_tf: bool = True) -> Iterator[dict[str, np.ndarray]]:
  """Iterator of process-local batches, one element per iteration.

  Iterations ``start_iteration`` to ``stop_iteration`` (None: without end).
  With ``use_tf`` (the trainer's) the gathers run in parallel in tf.data,
  ``prefetch`` iterations ahead. An iterator that has reached its end is
  freed at once; one dropped while its parallel gathers are in flight waits
  for them (tens of seconds at process exit), so a training run passes its
  last iteration. Without ``use_tf`` the same batches are gathered in numpy
  when asked for (no TensorFlow needed).

  Each element holds, for every stream name s, ``s_spectrogram``
  [k, B_local, 256, 128, 1], ``s_label`` [k, B_local] and (when asked for)
  ``s_waveform`` [k, B_local, 16384]: k = ``steps_per_iteration`` fresh
  global batches, of which this process gets its rows.
  """
  nproc, pid = jax.process_count(), jax.process_index()
  if global_batch % nproc:
    raise ValueError(f"--config.train.batch_size={global_batch} must be "
                     f"divisible by the number of processes ({nproc})")
  local = global_batch // nproc
  split = dataset.train
  samplers = {name: IndexSampler(stream_pool(split, pool), global_batch, seed,
                                 _STREAM_IDS[pool] * 1000 + i)
              for i, (name, pool) in enumerate(sorted(streams.items()))}
  k = steps_per_iteration
  arrays = {"spectrogram": split.spectrograms, "waveform": split.waveforms,
            "label": split.labels}

  def gather(it):
    it, out = int(it), []
    for name in sorted(samplers):
      idx = np.stack([samplers[name].batch(it * k + j) for j in range(k)])
      flat = idx[:, pid * local:(pid + 1) * local].reshape(-1)
      # Sorted reads are faster on a memory-mapped cache.
      order = np.argsort(flat, kind="stable")
      inv = np.empty_like(order)
      inv[order] = np.arange(len(order))
      for f in fields:
        a = np.asarray(arrays[f][flat[order]])[inv]
        out.append(a.reshape(k, local, *a.shape[1:]))
    return out

  names = [f"{name}_{f}" for name in sorted(samplers) for f in fields]
  stop = 2**62 if stop_iteration is None else max(int(stop_iteration),
                                                  start_iteration)
  if not use_tf:
    return (dict(zip(names, gather(it)))
            for it in range(start_iteration, stop))

  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  dtypes = [tf.as_dtype(arrays[f].dtype) for _ in sorted(samplers)
            for f in fields]
  shapes = [(k, local, *arrays[f].shape[1:]) for _ in sorted(samplers)
            for f in fields]

  def tf_gather(it):
    outs = tf.numpy_function(gather, [it], dtypes, stateful=False)
    return {n: tf.ensure_shape(o, s) for n, o, s in zip(names, outs, shapes)}

  ds = tf.data.Dataset.range(start_iteration, stop)
  ds = ds.map(tf_gather, num_parallel_calls=tf.data.AUTOTUNE,
              deterministic=True)
  ds = ds.prefetch(prefetch)
  return ds.as_numpy_iterator()


def measure_throughput(iterator: Iterator, num_batches: int = 20) -> float:
  """Examples per second the iterator delivers (after one warm-up element)."""
  first = next(iterator)
  per = sum(v.shape[0] * v.shape[1] for k, v in first.items()
            if k.endswith("_label"))
  t0 = time.perf_counter()
  for _ in range(num_batches):
    next(iterator)
  return per * num_batches / (time.perf_counter() - t0)
