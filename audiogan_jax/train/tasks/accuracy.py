"""Held-out accuracy every ``train.eval_every``, the learning curves at the end.

Each evaluation appends one row to ``eval.json``: C's accuracy on the
labelled held-out clips (the guided models' classifier, trained networks,
not EMA) and the conditional accuracy of generated clips (the evaluation
classifier's agreement with the labels they were made for, on
``eval.curve_samples`` clips of fixed latents, seed ``train.seed + 3``).
At the end of the run the rows become ``curves.json``/``curves.png``, with
the labelled-only Simple Classifier trained at the same batch size for as
many iterations beside C (``eval.baseline_curve``).
"""

from __future__ import annotations

import json
import os
from typing import Any, Optional

from absl import logging
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from audiogan_jax import generation
from audiogan_jax import workdir as workdir_lib
from audiogan_jax.data import pipeline
from audiogan_jax.eval import curves as curves_lib
from audiogan_jax.eval import evaluate as evaluate_lib
from audiogan_jax.eval import run_eval
from audiogan_jax.gans import common as gan_common
from audiogan_jax.gans.family import Family
from audiogan_jax.train.tasks import base

Config = ml_collections.ConfigDict


def wants_curve(config: Config) -> bool:
  """Whether the conditional-accuracy curve is drawn: it needs the
  evaluation classifier, so only when the run trains or names one anyway."""
  s = run_eval.eval_settings(config)
  return bool(int(s.get("curve_samples", 0)) and (
      str(s.classifier_file) or int(s.score_every) or bool(s.report_at_end)))


def every(config: Config, family: Family) -> int:
  """``train.eval_every`` when there is something to evaluate, else 0."""
  if not (family.ENCODER or wants_curve(config)):
    return 0
  return int(config.train.get("eval_every", 0))


def make_predict(family: Family, config: Config):
  """Jitted ``(params, stats, x) -> class index`` of a guided model's C."""
  return jax.jit(lambda p, s, x: jnp.argmax(
      family.encode(config, p, s, x)["logits"], -1))


def held_out_accuracy(predict, params, stats, split: pipeline.Split,
                      batch_size: int) -> float:
  """Accuracy of ``predict`` (see :func:`make_predict`) on a labelled split."""
  keep = np.flatnonzero(split.true_labels >= 0)
  if not len(keep):
    raise ValueError("the held-out split has no labels to score C on")
  correct = 0
  for i in range(0, len(keep), batch_size):
    idx = keep[i:i + batch_size]
    x = np.asarray(split.spectrograms[idx], np.float32)
    n = len(x)
    if n < batch_size:  # one compiled shape
      x = np.concatenate([x, np.zeros((batch_size - n, *x.shape[1:]),
                                      np.float32)])
    pred = np.asarray(predict(params, stats, x))[:n]
    correct += int((pred == split.true_labels[idx]).sum())
  return correct / len(keep)


def read_log(workdir: str) -> list[dict[str, Any]]:
  """The evaluations an earlier run of this workdir recorded."""
  path = os.path.join(workdir, workdir_lib.EVAL_FILE)
  if not os.path.exists(path):
    return []
  try:
    with open(path) as f:
      return list(json.load(f).get("held_out_accuracy", []))
  except (OSError, ValueError, AttributeError):
    return []


def write_curves(workdir: str, family: Family, config: Config,
                 dataset: pipeline.Dataset, eval_log: list[dict]) -> None:
  """curves.json/png: the classifier's and the generator's evaluations, and
  (guided models, ``eval.baseline_curve``) the labelled-only Simple
  Classifier trained at the same batch size for as many iterations."""
  tc = config.train
  curves = {
      "classifier": [{"step": r["step"], "accuracy": r["accuracy"]}
                     for r in eval_log if "accuracy" in r],
      "conditional": [{"step": r["step"],
                       "accuracy": r["conditional_accuracy"]}
                      for r in eval_log if "conditional_accuracy" in r]}
  settings = run_eval.eval_settings(config)
  if (family.ENCODER and curves["classifier"] and dataset.test is not None
      and bool(settings.get("baseline_curve", True))):
    steps = curves["classifier"][-1]["step"]
    every_ = max(1, int(tc.get("eval_every", 0)) or steps)
    logging.info("training the labelled-only Simple Classifier for %d "
                 "steps of %d (the learning curves' baseline)", steps,
                 int(tc.batch_size))
    curves["baseline"] = curves_lib.baseline_curve(
        dataset, int(tc.batch_size), steps, every_, int(tc.seed),
        tuple(settings.get("baseline_widths", ())))
  path = curves_lib.write(workdir, curves, dataset.num_classes)
  if path:
    logging.info("wrote the learning curves %s", path)


class HeldOutAccuracy(base.Task):
  """``eval.json`` rows every ``train.eval_every``; the curves at the end."""

  def __init__(self, run: base.Run):
    self.run = run
    config, family = run.config, run.family
    self.every = every(config, family)
    self.log = [r for r in read_log(run.workdir) if r["step"] <= run.start]
    self.predict = (make_predict(family, config)
                    if self.every and family.ENCODER else None)
    n = int(run_eval.eval_settings(config).get("curve_samples", 0))
    self.curve_samples = n if (wants_curve(config)
                               and family.num_classes(config)) else 0
    self._probe: dict[str, Any] = {}

  def conditional_accuracy(self, state) -> Optional[float]:
    """The evaluation classifier's agreement with the generated clips'
    labels (process 0; None when the classes cannot be matched)."""
    run, family, config = self.run, self.run.family, self.run.config
    if not self.curve_samples or not run.main:
      return None
    probe = self._probe
    if not probe:
      classifier = run.eval_classifier()
      probe.update(classifier=classifier,
                   mapping=evaluate_lib.class_map(
                       run.dataset.class_names, classifier.class_names,
                       family.num_classes(config)),
                   inputs=generation.sample_inputs(
                       family, config, self.curve_samples,
                       int(config.train.seed) + 3))
    if probe["mapping"] is None:
      return None
    z, y = probe["inputs"]
    out = generation.generate(
        family, config,
        *base.on_host(gan_common.generator_variables(family, state)), z, y)
    x = evaluate_lib.classifier_inputs(family, config, out,
                                       probe["classifier"].clip, False)
    logits, _ = evaluate_lib.classify(probe["classifier"], x)
    return float(np.mean(np.argmax(logits, -1)
                         == probe["mapping"][np.asarray(y)]))

  def __call__(self, state, step: int) -> None:
    run, enc = self.run, self.run.family.ENCODER
    if not run.main:
      return
    row: dict[str, Any] = {"step": step}
    if enc:
      row["accuracy"] = held_out_accuracy(
          self.predict, *base.on_host(({n: state.params[n] for n in enc},
                                       {n: state.stats[n] for n in enc})),
          run.dataset.test, int(run.config.train.get("eval_batch_size", 64)))
    cond = self.conditional_accuracy(state)
    if cond is not None:
      row["conditional_accuracy"] = cond
    self.log.append(row)
    run.writer.scalars(step, {f"eval/{k}": v for k, v in row.items()
                              if k != "step"})
    logging.info("step %d: held-out accuracy of the classifier %s, "
                 "conditional accuracy of generated clips %s", step,
                 f"{row['accuracy']:.4f}" if "accuracy" in row else "-",
                 f"{cond:.4f}" if cond is not None else "-")
    with open(os.path.join(run.workdir, workdir_lib.EVAL_FILE), "w") as f:
      json.dump({"held_out_accuracy": self.log}, f, indent=2)

  def finish(self, state, step: int) -> None:
    if self.log and self.run.main:
      write_curves(self.run.workdir, self.run.family, self.run.config,
                   self.run.dataset, self.log)
