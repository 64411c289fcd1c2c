"""IS/FID every ``eval.score_every`` iterations; the best FID's generator kept.

Process 0 scores the EMA generator with the evaluation classifier (trained
into ``eval/`` on first use, or ``eval.classifier_file``): the row goes to
``eval/scores.jsonl`` and TensorBoard, the full result to
``eval/score.json`` (the report at the end reuses it), and a new best FID
(train statistics) writes ``generator_best.msgpack`` and ``eval/best.json``.
"""

from __future__ import annotations

import json
import os
from typing import Any

from absl import logging

from audiogan_jax import export as export_lib
from audiogan_jax import workdir as workdir_lib
from audiogan_jax.eval import evaluate as evaluate_lib
from audiogan_jax.eval import run_eval
from audiogan_jax.train.tasks import base


class Scores(base.Task):
  """IS, FID against the real train and test clips, conditional accuracy."""

  def __init__(self, run: base.Run):
    self.run = run
    self.settings = run_eval.eval_settings(run.config)
    self.every = int(self.settings.score_every)
    self.dir = os.path.join(run.workdir, workdir_lib.EVAL_DIR)
    self._real: Any = None
    self._best = float("inf")

  def _prepare(self) -> None:
    run = self.run
    self._real = evaluate_lib.real_statistics(
        run.eval_classifier(), run.config.data, run.cache_dir)
    best = os.path.join(self.dir, "best.json")
    if os.path.exists(best):
      with open(best) as f:
        self._best = float(json.load(f)["fid_train"])

  def __call__(self, state, step: int) -> None:
    run, s = self.run, self.settings
    if not run.main:
      return
    if self._real is None:
      self._prepare()
    model = export_lib.model_from_state("generator", run.family, run.config,
                                        state, run.dataset.class_names, step)
    result = evaluate_lib.score_generator(
        model, run.eval_classifier(), int(s.num_samples), int(s.batch_size),
        int(s.seed), bool(s.through_audio), run.cache_dir, self._real)
    values = {"eval/is": result["model"]["is_mean"],
              "eval/fid_train": result["model"]["fid_train"],
              "eval/fid_test": result["model"]["fid_test"]}
    if result["conditional"]:
      values["eval/conditional_accuracy"] = result["conditional"]["accuracy"]
    run.writer.scalars(step, values)
    logging.info("step %d: IS %.3f ± %.3f, FID %.2f (train) %.2f (test), "
                 "%.1f samples/s", step, result["model"]["is_mean"],
                 result["model"]["is_std"], values["eval/fid_train"],
                 values["eval/fid_test"], result["samples_per_sec"])
    with open(os.path.join(self.dir, "scores.jsonl"), "a") as f:
      f.write(json.dumps({"step": step, **values}) + "\n")
    with open(os.path.join(self.dir, run_eval.SCORE_FILE), "w") as f:
      json.dump(result, f, indent=2)
    if values["eval/fid_train"] < self._best:
      self._best = values["eval/fid_train"]
      name = workdir_lib.BEST_GENERATOR_FILE
      export_lib.save_model(os.path.join(run.workdir, name), "generator",
                            model)
      with open(os.path.join(self.dir, "best.json"), "w") as f:
        json.dump({"step": step, "fid_train": values["eval/fid_train"],
                   "is": values["eval/is"], "generator": name}, f, indent=2)
      logging.info("step %d: best FID so far; wrote %s", step, name)
