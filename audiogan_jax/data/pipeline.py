"""The tf.data input pipeline: cached spectrograms, guidance labels, streams.

Every batch is a pure function of (seed, stream, global batch index), so a
resumed run continues exactly where it stopped: the data position is the
training step. Each process reads only its slice of every global batch.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import time
from typing import Iterator, Mapping, Optional

from absl import logging
import jax
import ml_collections
import numpy as np

from audiogan_jax.audio import spectrogram as spec_lib
from audiogan_jax.data import sources

Config = ml_collections.ConfigDict

_STREAM_IDS = {"all": 11, "labelled": 12, "unlabelled": 13}


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


@dataclasses.dataclass
class Split:
  """One split in memory: waveforms, spectrograms and (guidance) labels."""

  waveforms: np.ndarray       # [N, 16384] float32
  spectrograms: np.ndarray    # [N, 256, 128, 1] float32 (or float16)
  labels: np.ndarray          # [N] int32, -1 where unlabelled
  true_labels: np.ndarray     # [N] int32 before the labelled fraction
  audio: sources.AudioSet

  def __len__(self) -> int:
    return len(self.labels)


def _cache_key(data_config: Config, split: str, n: int) -> str:
  keys = {k: v for k, v in data_config.to_dict().items()
          if k not in ("labelled_fraction", "cache_dir", "cache_dtype")}
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


def load_split(data_config: Config, split: str,
               cache_dir: Optional[str] = None) -> Split:
  """Loads a split, its spectrograms (from the cache when present) and labels."""
  audio = sources.load_source(data_config, split)
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
  true = np.asarray(audio.labels, np.int32)
  labels = true
  if split == "train":
    mask = select_labelled(true, float(data_config.labelled_fraction),
                           int(data_config.seed))
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
  """The training data of one run: splits and class metadata."""

  train: Split
  test: Optional[Split]
  num_classes: int
  class_names: tuple[str, ...]

  def summary(self) -> str:
    """One line describing the data for the start-up log."""
    n_lab = int((self.train.labels >= 0).sum())
    n_test = len(self.test) if self.test is not None else 0
    return (f"{len(self.train)} train examples ({n_lab} labelled), "
            f"{n_test} test examples, {self.num_classes} classes: "
            f"{', '.join(self.class_names)}")


def load_dataset(config: Config, cache_dir: Optional[str] = None,
                 with_test: bool = True) -> Dataset:
  """Loads the train (and test) split named by ``config.data``."""
  train = load_split(config.data, "train", cache_dir)
  test = load_split(config.data, "test", cache_dir) if with_test else None
  return Dataset(train=train, test=test, num_classes=train.audio.num_classes,
                 class_names=tuple(train.audio.class_names))


def make_iterator(dataset: Dataset, streams: Mapping[str, str], *,
                  global_batch: int, steps_per_iteration: int, seed: int,
                  start_iteration: int = 0,
                  fields: tuple[str, ...] = ("spectrogram", "label"),
                  prefetch: int = 2) -> Iterator[dict[str, np.ndarray]]:
  """tf.data iterator of process-local batches, one element per iteration.

  Each element holds, for every stream name s, ``s_spectrogram``
  [k, B_local, 256, 128, 1], ``s_label`` [k, B_local] and (when asked for)
  ``s_waveform`` [k, B_local, 16384]: k = ``steps_per_iteration`` fresh
  global batches, of which this process gets its rows.
  """
  import tensorflow as tf  # pylint: disable=g-import-not-at-top

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

  names, dtypes, shapes = [], [], []
  for name in sorted(samplers):
    for f in fields:
      names.append(f"{name}_{f}")
      dtypes.append(tf.as_dtype(arrays[f].dtype))
      shapes.append((k, local, *arrays[f].shape[1:]))

  def tf_gather(it):
    outs = tf.numpy_function(gather, [it], dtypes, stateful=False)
    return {n: tf.ensure_shape(o, s) for n, o, s in zip(names, outs, shapes)}

  ds = tf.data.Dataset.range(start_iteration, 2**62)
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
