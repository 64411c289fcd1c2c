"""IS/FID of generators and the real-data rows, with a trained classifier.

The papers score generated audio with a classifier trained on the audio
dataset in place of Inception (SPEC section 7): IS = exp(E_x KL(p(y|x) ||
p(y))) over 10 splits, FID between Gaussians fitted to the classifier's
penultimate features of real and generated clips, on 50,000 samples, each
turned into audio (PGHI) and back into the classifier's input.

The evaluation classifier (:func:`train_eval_classifier`) is the Simple
Classifier of GAAE Table XXIV with one hidden dense layer of
``eval.classifier.hidden`` (256) ReLU units before the class layer: those
units are the FID features. It is trained on every labelled clip of the
run's main dataset (the labelled fraction does not apply: the papers'
classifier saw the whole labelled dataset) and saved as one msgpack file
whose metadata names the data it was trained on and the spectrogram clip r
its inputs use, so scoring needs no other file.

Scoring streams: generated batches are made on the device, converted
(optionally through audio), classified in jitted batches, and only their
logits [N, C] and the running mean and scatter of their features
(:class:`metrics.FeatureStats`) are kept, so 50,000 samples take a few MB.
The real-data statistics (IS of the train and test split, their features'
mean and covariance) are computed once per classifier file and dataset and
cached as .npz files beside the spectrogram cache.

What reaches the classifier, per generator kind (``media.output_kind``):

* ``spectrogram`` (BigGAN, GGAN, GAAE): the generated spectrogram itself, or
  with ``through_audio`` PGHI -> waveform -> spectrogram, as the papers did;
* ``specgan``: always audio: undo the normalisation, Griffin-Lim, then the
  256x128 spectrogram;
* ``waveform`` (WaveGAN): the waveform's 256x128 spectrogram (of the first
  16384 samples for 65536-sample models);
* ``ifspec`` (GANSynth): the exact inverse STFT of the IF-Mel image, then the
  256x128 spectrogram of the clip's first 16384 samples (its first second:
  the attack and the pitch; train the classifier with ``data.label=pitch``
  for the pitch IS GANSynth reports).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from typing import Any, Iterator, NamedTuple, Optional, Union

from absl import logging
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from audiogan_jax import export as export_lib
from audiogan_jax import gans
from audiogan_jax import generation
from audiogan_jax import media
from audiogan_jax.audio import spectrogram as spec_lib
from audiogan_jax.data import pipeline
from audiogan_jax.eval import metrics
from audiogan_jax.eval import classifier as clf

Config = ml_collections.ConfigDict

CLASSIFIER_FILE = "classifier.msgpack"

# SPEC section 7: the papers' S09 figures (5 % labels), for the tables.
PUBLISHED_S09 = (
    # (model, IS, IS std, FID)
    ("GAAE (5 % labels)", 7.28, 0.01, 22.60),
    ("supervised BigGAN", 7.33, 0.01, 24.40),
    ("GGAN (5 % labels)", 7.24, None, 25.75),
    ("unsupervised BigGAN", 6.17, None, 24.72),
    ("SpecGAN", 6.03, None, None),
    ("WaveGAN", 4.67, None, None),
    ("real train data", 9.18, None, None),
    ("real test data", 8.01, None, None),
)

# Report 004 (sections 2.2.2 and 5.2): pitch IS on NSynth's acoustic notes,
# pitches 24-84 (GANSynth's classifier, not ours).
PUBLISHED_NSYNTH = (
    # (model, pitch IS)
    ("GANSynth IF-Mel (Engel et al.)", 38.1),
    ("WaveGAN on NSynth (Engel et al.)", 13.7),
    ("GANSynth re-implemented (report 004)", 24.62),
)


def eval_classifier_config() -> Config:
  """The evaluation classifier's training config (``config.eval.classifier``).

  The Simple Classifier (widths 32-256, Adam 1e-4, the baseline's
  augmentation) with a 256-unit hidden layer whose activations are the FID
  features, batch 64, trained until it is confident on real held-out clips:
  every ``check_every`` steps from ``min_steps`` on, it stops once the
  Inception Score of the real test clips reaches ``target_is`` times the
  number of classes (a classifier that is right but unsure gives real data
  a low IS and cannot rank generators), or at ``num_steps`` at the most.
  """
  c = clf.default_classifier_config()
  c.hidden = 256
  c.num_steps = 20000      # the most it may take
  c.min_steps = 1000
  c.check_every = 500
  c.target_is = 0.9        # x the number of classes; 0: always num_steps
  return c


# Below this fraction of the class count, the real test clips' IS says the
# evaluation classifier is too unsure for IS/FID to rank generators.
LOW_REAL_IS = 0.7


def confidence_warning(real_is: Optional[float],
                       num_classes: int) -> Optional[str]:
  """A plain-words warning when the real-data IS is far below the class count.
  """
  if real_is is None or num_classes < 2:
    return None
  if real_is >= LOW_REAL_IS * num_classes:
    return None
  return (f"the evaluation classifier is unsure of real clips: their IS is "
          f"{real_is:.2f} of at most {num_classes} (one per class), so IS and"
          f" FID here cannot be trusted to rank generators; retrain it longer"
          f" (--config.eval.classifier.num_steps, .target_is)")


def eval_config() -> Config:
  """The ``eval`` block of every run config.

  * ``classifier_file``: an evaluation classifier (``audiogan-eval
    train-classifier``); "" trains one into ``WORKDIR/eval/`` when the run
    needs it (``score_every`` or ``report_at_end``);
  * ``classifier``: how that classifier is trained
    (:func:`eval_classifier_config`);
  * ``score_every``: IS/FID of ``num_samples`` generated clips every this
    many iterations (0: never), logged to TensorBoard; the best FID's
    generator is kept as ``WORKDIR/generator_best.msgpack``;
  * ``through_audio``: pass spectrogram models' samples through PGHI and
    back before scoring, as the papers did;
  * ``report_at_end``: write ``WORKDIR/report.html`` when training ends;
  * ``report_per_class``: generated sounds per class in the report;
  * ``curve_samples``: clips generated for the conditional-accuracy curve
    every ``train.eval_every`` iterations (when the run has an evaluation
    classifier; 0: off);
  * ``baseline_curve``, ``baseline_widths``: a guided run's labelled-only
    Simple Classifier curve at the end (eval/curves.py) and its conv widths
    (GAAE Table XXIV's by default).
  """
  return ml_collections.ConfigDict(dict(
      classifier_file="", classifier=eval_classifier_config(),
      score_every=0, num_samples=2000, through_audio=True, batch_size=64,
      seed=0, report_at_end=False, report_per_class=4,
      curve_samples=200, baseline_curve=True,
      baseline_widths=(32, 64, 128, 256)))


def classifier_data_config(data_config: Config) -> Config:
  """The data the evaluation classifier learns: every label of the main set."""
  d = ml_collections.ConfigDict(data_config.to_dict())
  d.labelled_fraction = 1.0
  # Longer clips (long WaveGAN, GANSynth's 4-second notes): the classifier
  # sees their first 16384 samples, as it does of generated ones.
  d.num_samples = spec_lib.NUM_SAMPLES
  if "guidance" in d:
    d.guidance.source = ""
  return d


def _file_digest(path: str) -> str:
  h = hashlib.sha1()
  with open(path, "rb") as f:
    for block in iter(lambda: f.read(1 << 20), b""):
      h.update(block)
  return h.hexdigest()


class EvalClassifier(NamedTuple):
  """A loaded evaluation classifier and the data it was trained on."""

  params: Any
  num_classes: int
  class_names: tuple[str, ...]
  clip: float                  # spectrogram_clip r of its inputs
  data_config: Optional[Config]
  path: str
  digest: str                  # sha1 of the file (reference-stats cache key)
  meta: dict[str, Any]


def train_eval_classifier(config: Config, output: str,
                          cache_dir: Optional[str] = None,
                          log_every: int = 500) -> dict[str, Any]:
  """Trains the evaluation classifier on the run config's data and saves it.

  Args:
    config: A run config (its ``data`` and ``eval.classifier`` are read).
    output: The classifier file to write.
    cache_dir: The spectrogram cache (None: computed in memory).
    log_every: Training log (and held-out accuracy) interval in steps.

  Returns:
    What was measured: ``test_accuracy``, ``train_accuracy`` (last logging
    window, augmented), ``num_train``, ``num_test``, ``steps``,
    ``seconds``, ``classes``, ``output``.
  """
  data = classifier_data_config(config.data)
  cc = config.get("eval", eval_config()).get("classifier",
                                               eval_classifier_config())
  run = ml_collections.ConfigDict({"data": data.to_dict()})
  ds = pipeline.load_dataset(run, cache_dir=cache_dir, with_test=True)
  if ds.test is None or not len(ds.test):
    raise ValueError("the dataset has no test split to score the evaluation "
                     "classifier on")
  logging.info("evaluation classifier: %s", ds.summary())
  n = ds.num_classes
  target = float(cc.get("target_is", 0.0)) * n
  min_steps = int(cc.get("min_steps", 0))
  real_is: list[float] = []

  def test_is(params) -> float:
    logits = clf.predict(params, ds.test.spectrograms, n,
                         int(cc.eval_batch_size))
    return metrics.inception_score(logits, 1)[0]

  def until(params, done: int) -> bool:
    if not target or done < min_steps:
      return False
    real_is.append(test_is(params))
    logging.info("evaluation classifier step %d: real test IS %.3f (stops "
                 "at %.2f)", done, real_is[-1], target)
    return real_is[-1] >= target

  check = int(cc.get("check_every", 0)) if target else 0
  params, hist = clf.train_classifier(
      ds.train.spectrograms, ds.train.true_labels, n, cc,
      eval_x=ds.test.spectrograms, eval_y=ds.test.true_labels,
      log_every=check or int(log_every), until=until if target else None)
  final_is = test_is(params)
  result = {
      "test_accuracy": float(hist["eval_accuracy"][-1]),
      "train_accuracy": (float(hist["train_accuracy"][-1])
                         if hist["train_accuracy"] else None),
      "real_test_is": final_is, "target_is": target,
      "num_train": int(len(ds.train)), "num_test": int(len(ds.test)),
      "steps": int(hist["steps"]), "max_steps": int(cc.num_steps),
      "seconds": float(hist["seconds"]),
      "classes": list(ds.class_names), "output": output,
  }
  warning = confidence_warning(final_is, n)
  if warning:
    logging.warning("%s", warning)
  clf.save_classifier(output, params, ds.num_classes, {
      "kind": "evaluation", "class_names": list(ds.class_names),
      "data": data.to_dict(), "spectrogram_clip": float(data.spectrogram_clip),
      "training": cc.to_dict(), "test_accuracy": result["test_accuracy"],
      "real_test_is": final_is, "steps": result["steps"],
      "num_train": result["num_train"], "num_test": result["num_test"]})
  return result


def load_eval_classifier(path: str) -> EvalClassifier:
  """Reads a classifier file (evaluation or baseline) for scoring.

  Raises:
    ClassifierFormatError: not a readable classifier file.
  """
  loaded = clf.load_classifier(path)
  meta = loaded.meta
  names = tuple(str(c) for c in meta.get("class_names", ()))
  if len(names) != loaded.num_classes:
    names = tuple(str(i) for i in range(loaded.num_classes))
  data = meta.get("data")
  data_config = ml_collections.ConfigDict(data) if data else None
  clip = float(meta.get("spectrogram_clip",
                        data.get("spectrogram_clip", 10.0) if data else 10.0))
  return EvalClassifier(params=jax.device_put(loaded.params),
                        num_classes=loaded.num_classes, class_names=names,
                        clip=clip, data_config=data_config, path=path,
                        digest=_file_digest(path), meta=meta)


def classify(classifier: EvalClassifier, x: np.ndarray,
             batch_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
  """Logits [N, C] and FID features [N, D] of spectrograms [N,256,128,1]."""
  return clf.predict(classifier.params, x, classifier.num_classes,
                     batch_size, return_features=True)


def _split_scores(logits: np.ndarray, labels: Optional[np.ndarray],
                  splits: int) -> dict[str, Any]:
  is_mean, is_std = metrics.inception_score(logits, min(splits, len(logits)))
  out = {"num": int(len(logits)), "is_mean": is_mean, "is_std": is_std}
  if labels is not None and (labels >= 0).any():
    keep = labels >= 0
    out["accuracy"] = float(np.mean(np.argmax(logits[keep], -1)
                                    == labels[keep]))
  return out


def real_statistics(classifier: EvalClassifier,
                    data_config: Optional[Config] = None,
                    cache_dir: Optional[str] = None, batch_size: int = 256,
                    splits: int = 10) -> dict[str, Any]:
  """IS, accuracy and feature statistics of the real train and test splits.

  Cached per classifier file and dataset in ``cache_dir`` (as
  ``refstats_<hash>_<split>.npz``); a second call reads them.

  Args:
    classifier: The evaluation classifier.
    data_config: The data to describe (default: the classifier's own).
    cache_dir: The spectrogram and statistics cache (None: no cache).
    batch_size: Classifier batch size.
    splits: IS splits.

  Returns:
    ``{"train": {...}, "test": {...}, "fid_train_test": float}``, each split
    with ``num``, ``is_mean``, ``is_std``, ``accuracy`` and ``stats`` (a
    FeatureStats).
  """
  data = data_config if data_config is not None else classifier.data_config
  if data is None:
    raise ValueError(f"{classifier.path} does not record the data it was "
                     "trained on; pass --config=<run config> for the real "
                     "data")
  data = classifier_data_config(data)
  blob = json.dumps({"data": data.to_dict(), "clf": classifier.digest,
                     "splits": splits, "format": 1}, sort_keys=True,
                    default=str)
  key = hashlib.sha1(blob.encode()).hexdigest()[:16]
  out: dict[str, Any] = {}
  for split in ("train", "test"):
    path = (os.path.join(cache_dir, f"refstats_{key}_{split}.npz")
            if cache_dir else None)
    if path and os.path.exists(path):
      try:
        stats = metrics.FeatureStats.load(path)
        out[split] = dict(stats.meta, stats=stats)
        continue
      except ValueError as e:
        logging.warning("%s; recomputing", e)
    part = pipeline.load_split(data, split, cache_dir)
    logits, feats = classify(classifier, part.spectrograms, batch_size)
    stats = metrics.FeatureStats(feats.shape[1])
    stats.update(feats)
    row = _split_scores(logits, part.true_labels, splits)
    if path:
      stats.save(path, meta=row)
    out[split] = dict(row, stats=stats)
  out["fid_train_test"] = metrics.fid(out["train"]["stats"],
                                      out["test"]["stats"])
  return out


def _input_path(kind: str, through_audio: bool) -> str:
  if kind == media.WAVEFORM:
    return "waveform -> spectrogram"
  if kind == media.SPECGAN:
    return "Griffin-Lim -> waveform -> spectrogram"
  if kind == media.IFSPEC:
    return "inverse STFT -> waveform -> spectrogram"
  return ("PGHI -> waveform -> spectrogram" if through_audio
          else "generated spectrogram")


def classifier_inputs(family, config: Config, outputs: np.ndarray,
                      clip: float, through_audio: bool,
                      seed: int = 0) -> np.ndarray:
  """Generator outputs -> the classifier's spectrograms [N, 256, 128, 1].

  Args:
    family: The GAN family module.
    config: The generator's config.
    outputs: What ``family.generate`` returned (numpy).
    clip: The classifier's spectrogram clip r.
    through_audio: Spectrogram models: invert with PGHI and recompute the
      spectrogram (otherwise the generated spectrogram is used as is).
    seed: Griffin-Lim's initial phase (SpecGAN).

  Raises:
    ValueError: a spectrogram generator of another r without
      ``through_audio``.
  """
  kind = media.output_kind(family, config)
  outputs = np.asarray(outputs, np.float32)
  if kind == media.SPECTROGRAM and not through_audio:
    r = float(config.data.spectrogram_clip)
    if abs(r - clip) > 1e-6:
      raise ValueError(
          f"the generator's spectrograms are clipped at r = {r:g} but the "
          f"classifier's at r = {clip:g}; pass --through_audio so that "
          "samples go through audio")
    return outputs
  if kind == media.WAVEFORM:
    waves = outputs if outputs.ndim == 2 else outputs[..., 0]
    waves = waves[:, :spec_lib.NUM_SAMPLES]
  else:
    _, waves = media.to_media(family, config, outputs, "pghi", seed)
    waves = waves[:, :spec_lib.NUM_SAMPLES]
  return pipeline.compute_spectrograms(waves, clip, chunk=len(waves))


def generated_batches(model: dict[str, Any], num: int, batch_size: int,
                      seed: int, clip: float, through_audio: bool,
                      labels: Optional[np.ndarray] = None
                      ) -> Iterator[tuple[np.ndarray, Optional[np.ndarray]]]:
  """Classifier inputs of ``num`` generated samples, batch by batch.

  Latents and labels of batch i are :func:`audiogan_jax.generation.
  random_inputs` (labels uniform over the classes, as the papers' y_r),
  unless ``labels`` [num] fixes them.

  Yields:
    ``(spectrograms [B, 256, 128, 1], labels [B] or None)``; the last batch
    may be shorter.
  """
  config = model["config"]
  family = gans.get_family(str(config.model.family))
  params = jax.device_put(model["params"])
  stats = jax.device_put(model["batch_stats"])
  n_classes = family.num_classes(config)
  for b, i in enumerate(range(0, num, batch_size)):
    n = min(batch_size, num - i)
    z, y = generation.random_inputs(family, config, seed, b, batch_size)
    if labels is not None and n_classes:
      fixed = np.zeros((batch_size,), np.int32)
      fixed[:n] = labels[i:i + n]
      y = jnp.asarray(fixed)
    out = generation.generate(family, config, params, stats, z, y)[:n]
    x = classifier_inputs(family, config, out, clip, through_audio, seed + b)
    yield x, (None if y is None else np.asarray(y)[:n])


def class_map(gen_names: tuple[str, ...], clf_names: tuple[str, ...],
               n_gen: int) -> Optional[np.ndarray]:
  """Generator class index -> classifier class index (None: incomparable)."""
  if len(gen_names) == n_gen and set(gen_names) <= set(clf_names):
    return np.array([clf_names.index(c) for c in gen_names])
  if n_gen == len(clf_names):
    return np.arange(n_gen)
  return None


def score_generator(model: Union[str, dict[str, Any]],
                    classifier: Union[str, EvalClassifier],
                    num_samples: int = 50000, batch_size: int = 64,
                    seed: int = 0, through_audio: bool = False,
                    cache_dir: Optional[str] = None,
                    real: Optional[dict[str, Any]] = None,
                    splits: int = 10) -> dict[str, Any]:
  """IS, FID (against real train and test) and conditional accuracy.

  Args:
    model: An exported generator file or its loaded dict.
    classifier: The evaluation classifier (file or loaded).
    num_samples: Generated samples (the papers: 50,000).
    batch_size: Generator batch size.
    seed: Seed of the latents and labels.
    through_audio: See :func:`classifier_inputs`.
    cache_dir: Spectrogram and reference-statistics cache.
    real: :func:`real_statistics` output (computed when None).
    splits: IS splits (10 in the papers).

  Returns:
    A JSON-able dict: ``model`` (``is_mean``, ``is_std``, ``fid_train``,
    ``fid_test``), ``real`` (IS of train/test, classifier accuracy on them,
    ``fid_train_test``), ``conditional`` (per-class and overall accuracy of
    the classifier on samples generated for each label; None for
    unconditional generators), ``warning`` (:func:`confidence_warning` of
    the real test clips' IS, or None), ``samples_per_sec``, ``seconds``,
    the input path, the generator's family and step.
  """
  if num_samples < 2:
    raise ValueError(f"--num_samples={num_samples} must be at least 2")
  if isinstance(model, str):
    gen_path = model
    model = export_lib.load_generator(model)
  else:
    gen_path = ""
  if isinstance(classifier, str):
    classifier = load_eval_classifier(classifier)
  config = model["config"]
  family = gans.get_family(str(config.model.family))
  if real is None:
    real = real_statistics(classifier, cache_dir=cache_dir, splits=splits)
  stats = None
  logits, labels = [], []
  t0 = time.perf_counter()
  for x, y in generated_batches(model, num_samples, batch_size, seed,
                                classifier.clip, through_audio):
    lg, ft = classify(classifier, x, batch_size)
    if stats is None:
      stats = metrics.FeatureStats(ft.shape[1])
    stats.update(ft)
    logits.append(lg)
    if y is not None:
      labels.append(y)
  seconds = time.perf_counter() - t0
  logits_np = np.concatenate(logits)
  is_mean, is_std = metrics.inception_score(logits_np,
                                            min(splits, len(logits_np)))
  result: dict[str, Any] = {
      "generator": gen_path, "family": str(config.model.family),
      "step": int(model.get("step", -1)), "classifier": classifier.path,
      "classifier_test_accuracy": classifier.meta.get("test_accuracy"),
      "num_samples": int(num_samples), "splits": int(splits),
      "input": _input_path(media.output_kind(family, config), through_audio),
      "model": {"is_mean": is_mean, "is_std": is_std,
                "fid_train": metrics.fid(stats, real["train"]["stats"]),
                "fid_test": metrics.fid(stats, real["test"]["stats"])},
      "real": {s: {k: v for k, v in real[s].items() if k != "stats"}
               for s in ("train", "test")},
      "conditional": None,
      "seconds": seconds, "samples_per_sec": num_samples / max(seconds, 1e-9),
      "device": jax.devices()[0].device_kind,
  }
  result["real"]["fid_train_test"] = real["fid_train_test"]
  result["warning"] = confidence_warning(real["test"]["is_mean"],
                                         classifier.num_classes)
  if labels:
    y = np.concatenate(labels)
    names = tuple(model.get("class_names", ()))
    mapping = class_map(names, classifier.class_names, family.num_classes(
        config))
    if mapping is not None:
      pred = np.argmax(logits_np, -1)
      target = mapping[y]
      per_class = {}
      for k in range(family.num_classes(config)):
        sel = y == k
        name = names[k] if k < len(names) else str(k)
        per_class[name] = (float(np.mean(pred[sel] == target[sel]))
                           if sel.any() else None)
      result["conditional"] = {"accuracy": float(np.mean(pred == target)),
                               "per_class": per_class}
  return result
