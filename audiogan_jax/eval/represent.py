"""Representation quality of the guided models (GAAE Tables VI-VIII).

For a GAAE or GGAN encoder: the held-out accuracy of its own classifier
(GAAE's C on the guided latent, GGAN's Cx on F(D(x))), linear probes on each
representation (GAAE's guided z and style z'; GGAN's F(D(x))) against the
class label and every extra label the dataset carries (e.g. the synthetic
dataset's gender-like ``gender``), and t-SNE maps of the test clips coloured
by each label.

The linear probe is multinomial logistic regression (scikit-learn's lbfgs,
L2 strength ``C = 1``) on features standardised with the training split's
mean and standard deviation, trained on the training split and scored on
the test split: a representation that carries a label linearly scores high.
A guided z should carry the class and not much else; the paper's point is
that z' carries the attributes the guidance did not name.

t-SNE is scikit-learn's (Barnes-Hut, PCA initialisation, perplexity 30 or
less for small sets, a fixed seed) on at most ``tsne_points`` test
clips; the maps are PNGs with one colour per label value, drawn here without
a plotting library (the report shows the legend).
"""

from __future__ import annotations

import json
import os
from typing import Any, Optional

import jax
import ml_collections
import numpy as np

from audiogan_jax import gans
from audiogan_jax import viz
from audiogan_jax.data import pipeline

Config = ml_collections.ConfigDict

# Ten well-separated colours (the classic "tab10" set), then a few more.
PALETTE = np.array([
    (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40),
    (148, 103, 189), (140, 86, 75), (227, 119, 194), (127, 127, 127),
    (188, 189, 34), (23, 190, 207), (0, 0, 128), (128, 128, 0),
    (0, 128, 128), (128, 0, 0), (0, 0, 0), (255, 215, 0)], np.uint8)

_ENCODE_FNS: dict[str, Any] = {}


def encode_spectrograms(model: dict[str, Any], x: np.ndarray,
                        batch_size: int = 64) -> dict[str, np.ndarray]:
  """Every output of ``family.encode`` for spectrograms [N, 256, 128, 1]."""
  config = model["config"]
  family = gans.get_family(str(config.model.family))
  key = config.to_json()
  if key not in _ENCODE_FNS:
    _ENCODE_FNS[key] = jax.jit(
        lambda p, s, xx: family.encode(config, p, s, xx))
  fn = _ENCODE_FNS[key]
  params = jax.device_put(model["params"])
  stats = jax.device_put(model["batch_stats"])
  batch = max(1, min(batch_size, len(x)))
  outs: dict[str, list] = {}
  for part, n in pipeline.padded_batches(x, batch):
    for k, v in fn(params, stats, part).items():
      outs.setdefault(k, []).append(np.asarray(v, np.float32)[:n])
  return {k: np.concatenate(v) for k, v in outs.items()}


def linear_probe(train_x: np.ndarray, train_y: np.ndarray,
                 test_x: np.ndarray, test_y: np.ndarray,
                 seed: int = 0) -> dict[str, float]:
  """Logistic-regression probe accuracy (see the module docstring).

  Examples labelled -1 are left out. Returns ``train_accuracy``,
  ``test_accuracy`` and ``chance`` (the test split's majority-class rate).
  """
  from sklearn.linear_model import LogisticRegression  # pylint: disable=g-import-not-at-top
  keep_tr, keep_te = train_y >= 0, test_y >= 0
  xtr, ytr = np.asarray(train_x[keep_tr], np.float64), train_y[keep_tr]
  xte, yte = np.asarray(test_x[keep_te], np.float64), test_y[keep_te]
  if len(np.unique(ytr)) < 2 or not len(yte):
    raise ValueError("a linear probe needs at least two classes in the "
                     "training split and a labelled test split")
  mean, std = xtr.mean(0), xtr.std(0) + 1e-8
  probe = LogisticRegression(C=1.0, max_iter=2000, random_state=seed)
  probe.fit((xtr - mean) / std, ytr)
  counts = np.bincount(yte)
  return {"train_accuracy": float(probe.score((xtr - mean) / std, ytr)),
          "test_accuracy": float(probe.score((xte - mean) / std, yte)),
          "chance": float(counts.max() / counts.sum())}


def softmax_regression(x: np.ndarray, y: np.ndarray, num_classes: int,
                       steps: int, lr: float = 0.1):
  """Softmax regression on standardised features by gradient descent (a
  light L2 penalty); returns ``predict(features) -> class indices``."""
  mu, sd = x.mean(0), x.std(0) + 1e-6
  xs = (x - mu) / sd
  w, b = np.zeros((x.shape[1], num_classes)), np.zeros(num_classes)
  onehot = np.eye(num_classes)[y]
  for _ in range(steps):
    logits = xs @ w + b
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    w -= lr * (xs.T @ (p - onehot) / len(xs) + 1e-3 * w)
    b -= lr * (p - onehot).mean(0)
  return lambda f: np.argmax(((f - mu) / sd) @ w + b, axis=1)


def tsne(x: np.ndarray, seed: int = 0, perplexity: float = 30.0) -> np.ndarray:
  """2-D t-SNE map [N, 2] of features [N, D]."""
  from sklearn.manifold import TSNE  # pylint: disable=g-import-not-at-top
  x = np.asarray(x, np.float64)
  perplexity = float(min(perplexity, max(2.0, (len(x) - 1) / 3.0)))
  return TSNE(n_components=2, perplexity=perplexity, init="pca",
              random_state=seed).fit_transform(x)


def scatter_image(points: np.ndarray, labels: np.ndarray, size: int = 480,
                  radius: int = 3) -> np.ndarray:
  """An [size, size, 3] uint8 scatter plot: one colour per label value."""
  p = np.asarray(points, np.float64)
  lo, hi = p.min(0), p.max(0)
  margin = radius + 4
  span = np.maximum(hi - lo, 1e-12)
  xy = margin + (p - lo) / span * (size - 1 - 2 * margin)
  img = np.full((size, size, 3), 255, np.uint8)
  img[[0, -1], :] = 200
  img[:, [0, -1]] = 200
  yy, xx = np.mgrid[-radius:radius + 1, -radius:radius + 1]
  disc = (yy ** 2 + xx ** 2) <= radius ** 2
  for (x, y), lab in zip(xy, labels):
    cx, cy = int(round(x)), int(round(size - 1 - y))
    colour = PALETTE[int(lab) % len(PALETTE)] if lab >= 0 else (190, 190, 190)
    ys, xs = cy + yy[disc], cx + xx[disc]
    ok = (ys >= 0) & (ys < size) & (xs >= 0) & (xs < size)
    img[ys[ok], xs[ok]] = colour
  return img


def legend(names) -> list[tuple[str, tuple[int, int, int]]]:
  """(name, RGB) pairs of the scatter colours of label values 0, 1, ..."""
  return [(str(n), tuple(int(c) for c in PALETTE[i % len(PALETTE)]))
          for i, n in enumerate(names)]


def _labels_of(split: pipeline.Split) -> dict[str, tuple[np.ndarray, tuple]]:
  """{label name: (values, names)}: the class and every extra label."""
  out = {"class": (split.true_labels, tuple(split.audio.class_names))}
  for name, values in split.audio.extra_labels.items():
    out[name] = (np.asarray(values, np.int64),
                 tuple(split.audio.extra_class_names.get(name, ())))
  return out


def evaluate_representations(model: dict[str, Any],
                             output_dir: Optional[str] = None,
                             cache_dir: Optional[str] = None,
                             max_train: int = 5000, tsne_points: int = 1000,
                             batch_size: int = 64,
                             seed: int = 0) -> dict[str, Any]:
  """Classifier accuracy, linear probes and t-SNE maps of a guided encoder.

  Args:
    model: An encoder dict (``export.load_encoder`` / ``encode.load_model``).
    output_dir: Where to write ``tsne_<representation>_<label>.png`` and
      ``representation.json`` (None: nothing is written).
    cache_dir: The spectrogram cache.
    max_train: At most this many training clips (a fixed random subset)
      train the probes.
    tsne_points: At most this many test clips in each t-SNE map.
    batch_size: Encoder batch size.
    seed: Subset, probe and t-SNE seed.

  Returns:
    ``classifier_accuracy`` (None when the run's classes are another
    dataset's), ``probes`` {representation: {label: probe result}},
    ``tsne`` {representation: {label: png path}}, ``legends``
    {label: [(name, rgb)]}, ``num_train``, ``num_test``.
  """
  config = model["config"]
  data = ml_collections.ConfigDict(config.data.to_dict())
  data.labelled_fraction = 1.0
  guide_label = ""
  if "guidance" in data and str(data.guidance.get("source", "")):
    guide_label = str(data.guidance.get("label", ""))
    data.guidance.source = ""
  train = pipeline.load_split(data, "train", cache_dir)
  test = pipeline.load_split(data, "test", cache_dir)
  rng = np.random.default_rng(seed)
  idx = np.arange(len(train))
  if len(idx) > max_train:
    idx = np.sort(rng.choice(idx, max_train, replace=False))
  tr = encode_spectrograms(model, np.asarray(train.spectrograms[idx]),
                           batch_size)
  te = encode_spectrograms(model, test.spectrograms, batch_size)
  labels_tr = {k: (v[0][idx], v[1]) for k, v in _labels_of(train).items()}
  labels_te = _labels_of(test)

  pred = np.argmax(te["logits"], -1)
  acc_label = guide_label or "class"
  accuracy = None
  if acc_label in labels_te:
    y = labels_te[acc_label][0]
    keep = y >= 0
    n_label = len(labels_te[acc_label][1]) or int(y.max()) + 1
    if keep.any() and te["logits"].shape[-1] == n_label:
      accuracy = float(np.mean(pred[keep] == y[keep]))

  reps = [k for k in tr if k != "logits"]
  result: dict[str, Any] = {
      "family": str(config.model.family), "step": int(model.get("step", -1)),
      "classifier_accuracy": accuracy, "classifier_label": acc_label,
      "num_train": int(len(idx)), "num_test": int(len(test)),
      "probes": {}, "tsne": {}, "legends": {}}
  sel = np.arange(len(test))
  if len(sel) > tsne_points:
    sel = np.sort(rng.choice(sel, tsne_points, replace=False))
  for rep in reps:
    result["probes"][rep] = {}
    for name, (ytr, names) in labels_tr.items():
      yte = labels_te[name][0]
      try:
        result["probes"][rep][name] = linear_probe(tr[rep], ytr, te[rep], yte,
                                                   seed)
      except ValueError as e:
        result["probes"][rep][name] = {"error": str(e)}
    if output_dir:
      emb = tsne(te[rep][sel], seed)
      result["tsne"][rep] = {}
      for name, (yte, names) in labels_te.items():
        path = os.path.join(output_dir, f"tsne_{rep}_{name}.png")
        viz.write_png(path, scatter_image(emb, yte[sel]))
        result["tsne"][rep][name] = path
        result["legends"][name] = legend(names or range(int(yte.max()) + 1))
  if output_dir:
    os.makedirs(output_dir, exist_ok=True)
    with open(os.path.join(output_dir, "representation.json"), "w") as f:
      json.dump(result, f, indent=2)
  return result
