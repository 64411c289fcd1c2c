"""The Simple Classifier baseline, trained on the labelled clips alone.

GAAE compares its few-label classifier C with this baseline: the Simple
Classifier of GAAE Table XXIV (``audiogan_jax.models.biggan.SimpleClassifier``:
256x128x1 -> four [3x3 conv -> ReLU -> 2x2 max pool] blocks of 32, 64, 128 and
256 channels -> dense to the classes), trained with softmax cross-entropy and
Adam (lr 1e-4) on the labelled examples only. The same trained network is the
classifier of the IS/FID evaluation, so this module also predicts logits and
penultimate features in batches and writes/reads the weights as one msgpack
file.

Augmentation. For the 1-5 % label baseline the paper augments the
spectrograms by "adding random noise, rotation of the spectrogram,
multiplication with random zero patches". Our reading, applied per example on
the device inside the jitted train step:

* rotation: a random circular roll along time by up to ``max_time_shift``
  frames. A 90-degree (or any large-angle) rotation would swap time and
  frequency, which no clip of the data ever shows; the roll is exact for this
  representation because the STFT is circular (``audio/spectrogram.py``), so
  rolling the spectrogram by s frames is the spectrogram of the waveform
  circularly shifted by s * 128 samples. Optionally a small shift along
  frequency by up to ``max_freq_shift`` bins (not circular: the bins moved in
  are at the floor), a coarse pitch change;
* noise: additive Gaussian noise of standard deviation ``noise_std``, with the
  result clipped to the representation's range [-1, 1];
* zero patches: ``num_zero_patches`` rectangles of random size up to
  ``patch_freq`` bins x ``patch_time`` frames at random positions are set to
  ``patch_value``. Multiplying the *magnitude* by zero gives the
  representation's floor, -1 (the log-magnitude is clipped at -r and mapped to
  [-1, 1]), so that is the default; a literal 0 would paint mid-level energy.

Batches. Every step draws ``batch_size`` examples from the endless sequence of
per-epoch permutations of the labelled examples, each permutation drawn from
(seed, epoch) (``pipeline.IndexSampler``). With fewer examples than the batch
(e.g. 10 labelled clips at batch 64) a batch spans several consecutive
permutations, so every example appears ``batch_size // N`` or one more times
per batch: sampling without replacement within each epoch, the batch shape
(one compiled step) unchanged. Augmentation keys are
``fold_in(augment_key, step)``, so a run is a pure function of its data, its
config and ``config.seed``.
"""

from __future__ import annotations

import functools
import json
import time
from typing import Any, Callable, Mapping, NamedTuple, Optional

from absl import logging
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from audiogan_jax.data import pipeline
from audiogan_jax.models import biggan

Config = ml_collections.ConfigDict
PyTree = Any

FORMAT = "audiogan_jax.classifier"
VERSION = 2  # 2: with a checksum (see export.write_msgpack)

# The stream id of the classifier's batches in pipeline.IndexSampler.
_STREAM_ID = 21


class ClassifierFormatError(ValueError):
  """A file that is not a readable classifier file."""


class LoadedClassifier(NamedTuple):
  """What :func:`load_classifier` returns."""

  params: PyTree          # SimpleClassifier params (numpy arrays)
  num_classes: int
  meta: dict[str, Any]    # whatever the writer stored (class names, steps...)


def default_classifier_config() -> Config:
  """The baseline's training config (GAAE: Adam, lr 1e-4).

  Returns:
    A ConfigDict with the optimizer (``lr``, ``b1``, ``b2``, ``eps``,
    ``weight_decay``; AdamW when the decay is positive), the run (``batch_size``,
    ``num_steps``, ``seed``, ``eval_batch_size``), the network ``widths`` and
    the augmentation (``augment`` and its parameters; see the module
    docstring).
  """
  c = ml_collections.ConfigDict()
  c.lr = 1e-4
  c.b1 = 0.9
  c.b2 = 0.999
  c.eps = 1e-8
  c.weight_decay = 0.0
  c.batch_size = 64
  c.num_steps = 1000
  c.seed = 0
  c.eval_batch_size = 256
  c.widths = (32, 64, 128, 256)   # GAAE Table XXIV
  c.hidden = 0                    # >0: a dense ReLU layer before the logits
  c.augment = True
  c.noise_std = 0.05              # on the [-1, 1] spectrogram scale
  c.max_time_shift = 8            # frames of 8 ms (circular roll)
  c.max_freq_shift = 0            # bins of 31.25 Hz, floor-filled
  c.num_zero_patches = 2
  c.patch_freq = 32               # largest patch height, bins
  c.patch_time = 16               # largest patch width, frames
  c.patch_value = -1.0            # the floor: zero magnitude
  return c


def _draw(u: jax.Array, low: Any, high: Any) -> jax.Array:
  """Integers uniform in [low, high] (inclusive) from uniforms ``u`` in [0, 1)."""
  n = (high - low + 1).astype(jnp.float32) if hasattr(high, "astype") else (
      float(high - low + 1))
  return jnp.minimum(low + jnp.floor(u * n).astype(jnp.int32), high)


def _augment_one(key: jax.Array, x: jax.Array, config: Config) -> jax.Array:
  """Augments one spectrogram [F, T, C] (see the module docstring).

  All integer draws come from one vector of uniforms and the noise from one
  normal draw: every PRNG call is a separate hash in the compiled program,
  and on CPU each adds about a second of compilation.
  """
  num_freq, num_frames = x.shape[0], x.shape[1]
  n = int(config.num_zero_patches)
  k_u, k_noise = jax.random.split(key)
  u = jax.random.uniform(k_u, (2 + 4 * max(n, 0),))
  m = min(int(config.max_time_shift), num_frames - 1)
  if m > 0:
    x = jnp.roll(x, _draw(u[0], -m, m), axis=1)
  m = min(int(config.max_freq_shift), num_freq - 1)
  if m > 0:
    shift = _draw(u[1], -m, m)
    padded = jnp.pad(x, ((m, m), (0, 0), (0, 0)), constant_values=-1.0)
    # out[f] = x[f - shift]: positive shifts move energy up in frequency.
    x = jax.lax.dynamic_slice_in_dim(padded, m - shift, num_freq, axis=0)
  if float(config.noise_std) > 0:
    x = x + float(config.noise_std) * jax.random.normal(k_noise, x.shape,
                                                        x.dtype)
    x = jnp.clip(x, -1.0, 1.0)
  if n > 0:
    ph = max(1, min(int(config.patch_freq), num_freq))
    pw = max(1, min(int(config.patch_time), num_frames))
    uh, uw, uf, ut = u[2:].reshape(4, n)
    h = _draw(uh, 1, ph)
    w = _draw(uw, 1, pw)
    f0 = _draw(uf, 0, num_freq - h)
    t0 = _draw(ut, 0, num_frames - w)
    rows = jnp.arange(num_freq)[None, :]
    cols = jnp.arange(num_frames)[None, :]
    in_rows = (rows >= f0[:, None]) & (rows < (f0 + h)[:, None])   # [n, F]
    in_cols = (cols >= t0[:, None]) & (cols < (t0 + w)[:, None])   # [n, T]
    mask = jnp.any(in_rows[:, :, None] & in_cols[:, None, :], axis=0)
    x = jnp.where(mask[:, :, None], jnp.asarray(float(config.patch_value),
                                                x.dtype), x)
  return x


def augment_batch(key: jax.Array, x: jax.Array, config: Config) -> jax.Array:
  """Augments a batch [B, F, T, C] of spectrograms, one key per example.

  A pure function of ``key`` and ``x``: the same key gives the same batch.
  The config's values are read at trace time (close over ``config`` or pass
  it through ``functools.partial`` when jitting).

  Args:
    key: A PRNG key.
    x: Spectrograms [B, F, T, C] in [-1, 1].
    config: A config with the fields of :func:`default_classifier_config`.

  Returns:
    The augmented batch, same shape and dtype.
  """
  keys = jax.random.split(key, x.shape[0])
  return jax.vmap(lambda k, e: _augment_one(k, e, config))(keys, x)


def _optimizer(config: Config) -> optax.GradientTransformation:
  """Adam (AdamW when ``weight_decay`` > 0) with the config's settings."""
  kw = dict(learning_rate=float(config.lr), b1=float(config.b1),
            b2=float(config.b2), eps=float(config.eps))
  if float(config.weight_decay) > 0:
    return optax.adamw(weight_decay=float(config.weight_decay), **kw)
  return optax.adam(**kw)


_STEP_KEYS = ("lr", "b1", "b2", "eps", "weight_decay", "augment", "noise_std",
              "max_time_shift", "max_freq_shift", "num_zero_patches",
              "patch_freq", "patch_time", "patch_value")
_STEP_CACHE: dict = {}


def _train_step_fn(num_classes: int, config: Config):
  """The jitted ``(params, opt_state, step, x, y, key) -> (..., metrics)``.

  Cached per (classes, widths, optimizer and augmentation settings) so
  several trainings in one process (tests, sweeps) compile it once per shape.
  """
  widths = tuple(int(w) for w in config.widths)
  hidden = int(config.get("hidden", 0))
  cache_key = (num_classes, widths, hidden,
               tuple(str(config.get(k)) for k in _STEP_KEYS))
  if cache_key in _STEP_CACHE:
    return _STEP_CACHE[cache_key]
  model = biggan.SimpleClassifier(num_classes=num_classes, widths=widths,
                                  hidden=hidden)
  tx = _optimizer(config)
  augment = bool(config.augment)
  aug_config = ml_collections.ConfigDict(config.to_dict())

  def step(params, opt_state, step_index, x, y, base_key):
    x = x.astype(jnp.float32)
    if augment:
      x = augment_batch(jax.random.fold_in(base_key, step_index), x,
                        aug_config)

    def loss_fn(p):
      logits = model.apply({"params": p}, x)
      loss = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
      return loss, logits

    (loss, logits), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
    updates, opt_state = tx.update(grads, opt_state, params)
    params = optax.apply_updates(params, updates)
    acc = jnp.mean((jnp.argmax(logits, -1) == y).astype(jnp.float32))
    return params, opt_state, step_index + 1, {"loss": loss, "accuracy": acc}

  fn = jax.jit(step, donate_argnums=(0, 1))
  _STEP_CACHE[cache_key] = fn
  return fn


def _gather(x: np.ndarray, idx: np.ndarray) -> np.ndarray:
  """``x[idx]`` as float32, read in sorted order (memory-mapped arrays)."""
  order = np.argsort(idx, kind="stable")
  out = np.empty((len(idx), *x.shape[1:]), np.float32)
  out[order] = np.asarray(x[idx[order]], np.float32)
  return out


def _check_inputs(x: Any, what: str) -> None:
  if getattr(x, "ndim", 0) != 4 or x.shape[-1] != 1:
    raise ValueError(f"{what} must be spectrograms [N, freq, time, 1], got "
                     f"shape {getattr(x, 'shape', None)}")


def train_classifier(spectrograms: np.ndarray, labels: np.ndarray,
                     num_classes: int, config: Optional[Config] = None, *,
                     eval_x: Optional[np.ndarray] = None,
                     eval_y: Optional[np.ndarray] = None,
                     log_every: int = 0,
                     until: Optional[Callable[[PyTree, int], bool]] = None
                     ) -> tuple[PyTree, dict[str, Any]]:
  """Trains the Simple Classifier on labelled spectrograms.

  Args:
    spectrograms: [N, 256, 128, 1] float array (numpy or memory-mapped; other
      float dtypes are converted per batch). Any [N, F, T, 1] with F and T
      divisible by 16 works.
    labels: [N] int labels in [0, num_classes); examples labelled -1
      (unlabelled, the pipeline's convention) are skipped.
    num_classes: The number of classes.
    config: See :func:`default_classifier_config` (its defaults when None).
    eval_x: Optional held-out spectrograms, scored every ``log_every`` steps
      and at the end.
    eval_y: Their labels.
    log_every: Record (and log) the mean training loss/accuracy every this
      many steps; 0 records once, at the end.
    until: A stopping rule, ``until(params, steps_done) -> bool``, asked at
      every record; training stops early when it says True (``num_steps``
      is then the most it may take).

  Returns:
    ``(params, history)``: the SimpleClassifier params (on the device) and a
    dict with ``step``, ``loss``, ``train_accuracy`` (means over each logging
    window, on augmented batches), ``eval_step``/``eval_accuracy`` (when
    ``eval_x`` is given), ``num_examples``, ``steps`` (those taken),
    ``seconds`` (the whole run, compilation included) and
    ``compile_seconds`` (the first step).

  Raises:
    ValueError: bad shapes, labels out of range or no labelled example.
  """
  config = default_classifier_config() if config is None else config
  _check_inputs(spectrograms, "spectrograms")
  labels = np.asarray(labels)
  if labels.shape != (spectrograms.shape[0],):
    raise ValueError(f"labels must have shape [{spectrograms.shape[0]}] to "
                     f"match the spectrograms, got {labels.shape}")
  if num_classes < 1:
    raise ValueError(f"num_classes must be positive, got {num_classes}")
  if labels.size and int(labels.max()) >= num_classes:
    raise ValueError(f"label {int(labels.max())} out of range for "
                     f"{num_classes} classes")
  pool = np.flatnonzero(labels >= 0)
  if not len(pool):
    raise ValueError("no labelled example to train the classifier on")
  if (eval_x is None) != (eval_y is None):
    raise ValueError("pass both eval_x and eval_y, or neither")
  if eval_x is not None:
    _check_inputs(eval_x, "eval_x")
  batch_size, num_steps = int(config.batch_size), int(config.num_steps)
  if batch_size < 1 or num_steps < 0:
    raise ValueError(f"batch_size={batch_size} must be positive and "
                     f"num_steps={num_steps} non-negative")

  t_start = time.perf_counter()
  seed = int(config.seed)
  init_key, aug_key = jax.random.split(jax.random.key(seed))
  widths = tuple(int(w) for w in config.widths)
  model = biggan.SimpleClassifier(num_classes=num_classes, widths=widths,
                                  hidden=int(config.get("hidden", 0)))
  params = model.init(init_key, jnp.zeros((1, *spectrograms.shape[1:]),
                                          jnp.float32))["params"]
  opt_state = _optimizer(config).init(params)
  step_fn = _train_step_fn(num_classes, config)
  sampler = pipeline.IndexSampler(pool, batch_size, seed, _STREAM_ID)
  labels32 = labels.astype(np.int32)
  step_index = jnp.zeros((), jnp.int32)

  history: dict[str, Any] = {"step": [], "loss": [], "train_accuracy": [],
                             "eval_step": [], "eval_accuracy": [],
                             "num_examples": int(len(pool))}
  window: list[dict[str, jax.Array]] = []

  def record(done: int) -> None:
    line = f"classifier step {done}:"
    if window:
      values = jax.device_get(window)
      loss = float(np.mean([v["loss"] for v in values]))
      acc = float(np.mean([v["accuracy"] for v in values]))
      window.clear()
      if not np.isfinite(loss):
        raise FloatingPointError(f"non-finite classifier loss at step {done};"
                                 " lower config.lr")
      history["step"].append(done)
      history["loss"].append(loss)
      history["train_accuracy"].append(acc)
      line += f" loss {loss:.4f} train acc {acc:.3f}"
    if eval_x is not None:
      ev = accuracy(params, eval_x, eval_y, num_classes,
                    int(config.eval_batch_size))
      history["eval_step"].append(done)
      history["eval_accuracy"].append(ev)
      line += f" held-out acc {ev:.4f}"
    logging.info("%s", line)

  compile_seconds = 0.0
  for step in range(num_steps):
    idx = sampler.batch(step)
    x = _gather(spectrograms, idx)
    y = labels32[idx]
    params, opt_state, step_index, metrics = step_fn(
        params, opt_state, step_index, x, y, aug_key)
    window.append(metrics)
    done = step + 1
    if step == 0:
      jax.block_until_ready(metrics)
      compile_seconds = time.perf_counter() - t_start
    if (log_every and done % log_every == 0) or done == num_steps:
      record(done)
      if until is not None and done < num_steps and until(params, done):
        logging.info("classifier: stopping rule met at step %d", done)
        break
  if num_steps == 0:
    record(0)
  history["steps"] = done if num_steps else 0
  history["seconds"] = time.perf_counter() - t_start
  history["compile_seconds"] = compile_seconds
  return params, history


def hidden_of(params: Mapping[str, Any]) -> int:
  """The hidden dense layer's width of SimpleClassifier params (0: none)."""
  if "hidden" not in params:
    return 0
  return int(np.shape(params["hidden"]["kernel"])[-1])


def feature_size(params: Mapping[str, Any], input_shape=(256, 128)) -> int:
  """The size of the penultimate features for inputs [F, T] (FID's D)."""
  hidden = hidden_of(params)
  if hidden:
    return hidden
  widths = widths_of(params)
  return ((input_shape[0] >> len(widths)) * (input_shape[1] >> len(widths))
          * widths[-1])


def widths_of(params: Mapping[str, Any]) -> tuple[int, ...]:
  """The conv widths of SimpleClassifier params, e.g. (32, 64, 128, 256)."""
  widths, i = [], 0
  while f"conv{i}" in params:
    widths.append(int(np.shape(params[f"conv{i}"]["kernel"])[-1]))
    i += 1
  if not widths or "logits" not in params:
    raise ValueError("params are not SimpleClassifier params (expected "
                     "conv0, conv1, ... and logits)")
  return tuple(widths)


def module_for(params: Mapping[str, Any],
               num_classes: int) -> biggan.SimpleClassifier:
  """The SimpleClassifier module whose params these are."""
  return biggan.SimpleClassifier(num_classes=int(num_classes),
                                 widths=widths_of(params),
                                 hidden=hidden_of(params))


@functools.lru_cache(maxsize=None)
def _apply_fn(num_classes: int, widths: tuple[int, ...], hidden: int,
              features: bool):
  """Jitted inference ``(params, x) -> logits`` or ``(logits, feats)``."""
  model = biggan.SimpleClassifier(num_classes=num_classes, widths=widths,
                                  hidden=hidden)
  return jax.jit(lambda p, x: model.apply({"params": p}, x, train=False,
                                          return_features=features))


def predict(params: PyTree, x: np.ndarray, num_classes: int,
            batch_size: int = 256, return_features: bool = False):
  """Logits (and penultimate features) of the classifier on ``x``.

  Runs in batches of ``batch_size``; the last batch is padded with zeros so
  every call with the same batch size reuses one compiled program.

  Args:
    params: SimpleClassifier params (from training or :func:`load_classifier`).
    x: Spectrograms [N, F, T, 1] (numpy, memory-mapped or any float dtype).
    num_classes: The number of classes the params were trained for.
    batch_size: Examples per compiled call.
    return_features: Also return the flattened penultimate activations (the
      FID features).

  Returns:
    Logits [N, num_classes] float32 as numpy, or ``(logits, features)`` with
    features [N, D].

  Raises:
    ValueError: bad input shape, or params of another number of classes.
  """
  _check_inputs(x, "x")
  widths = widths_of(params)
  found = int(np.shape(params["logits"]["kernel"])[-1])
  if found != num_classes:
    raise ValueError(f"the classifier params have {found} classes, not "
                     f"{num_classes}")
  fn = _apply_fn(int(num_classes), widths, hidden_of(params),
                 bool(return_features))
  logits, feats = [], []
  for part, n in pipeline.padded_batches(x, batch_size):
    out = fn(params, part)
    if return_features:
      logits.append(np.asarray(out[0])[:n])
      feats.append(np.asarray(out[1])[:n])
    else:
      logits.append(np.asarray(out)[:n])
  if not logits:
    logits_np = np.zeros((0, num_classes), np.float32)
    if return_features:
      size = feature_size(params, x.shape[1:3])
      return logits_np, np.zeros((0, size), np.float32)
    return logits_np
  if return_features:
    return np.concatenate(logits), np.concatenate(feats)
  return np.concatenate(logits)


def accuracy(params: PyTree, x: np.ndarray, y: np.ndarray, num_classes: int,
             batch_size: int = 256) -> float:
  """Fraction of the examples with ``y >= 0`` whose argmax logit is ``y``."""
  y = np.asarray(y)
  keep = np.flatnonzero(y >= 0)
  if not len(keep):
    raise ValueError("no labelled example to score the classifier on")
  if len(keep) < len(y):
    x = _gather(x, keep)
  pred = np.argmax(predict(params, x, num_classes, batch_size), -1)
  return float(np.mean(pred == y[keep]))


def save_classifier(path: str, params: PyTree, num_classes: int,
                    meta: Optional[Mapping[str, Any]] = None) -> None:
  """Writes the classifier's params to one msgpack file (atomically).

  Args:
    path: The file to write (its folder is created).
    params: SimpleClassifier params.
    num_classes: The number of classes.
    meta: JSON-able facts to keep with the weights (class names, the data,
      the training config, the held-out accuracy); numpy scalars and arrays
      become numbers and lists, anything else its ``str``.
  """
  found = int(np.shape(params["logits"]["kernel"])[-1])
  if found != num_classes:
    raise ValueError(f"the classifier params have {found} classes, not "
                     f"{num_classes}")
  widths_of(params)
  from audiogan_jax import export  # pylint: disable=g-import-not-at-top
  payload = {
      "format": FORMAT, "version": VERSION, "num_classes": int(num_classes),
      "meta": json.dumps(dict(meta or {}), sort_keys=True,
                         default=export.json_default),
      "params": jax.tree.map(np.asarray, jax.device_get(params)),
  }
  export.write_msgpack(path, payload)


def load_classifier(path: str) -> LoadedClassifier:
  """Reads a file written by :func:`save_classifier`.

  Never executes code from the file (msgpack of plain types and arrays).

  Args:
    path: The classifier file.

  Returns:
    ``LoadedClassifier(params, num_classes, meta)`` with numpy params.

  Raises:
    ClassifierFormatError (a ValueError): unreadable, not a classifier file,
      or written by a newer audiogan_jax.
  """
  from audiogan_jax import export  # pylint: disable=g-import-not-at-top
  payload = export.read_msgpack(path, "classifier", ClassifierFormatError)
  found = payload.get("format") if isinstance(payload, dict) else None
  if found != FORMAT:
    what = f": it is a {found!r} file" if isinstance(found, str) else ""
    raise ClassifierFormatError(
        f"{path!r} is not an audiogan_jax classifier file{what}")
  version = payload.get("version", -1)
  if not isinstance(version, int) or version > VERSION:
    raise ClassifierFormatError(
        f"{path!r} has classifier format version {version}, newer than this "
        f"audiogan_jax reads ({VERSION}); upgrade audiogan_jax")
  try:
    params = jax.tree.map(np.asarray, payload["params"])
    num_classes = int(payload["num_classes"])
    meta = json.loads(payload.get("meta", "{}"))
    widths_of(params)
  except (KeyError, TypeError, ValueError):
    raise ClassifierFormatError(
        f"{path!r} is a damaged audiogan_jax classifier file (missing or bad "
        "params)") from None
  return LoadedClassifier(params=params, num_classes=num_classes, meta=meta)
