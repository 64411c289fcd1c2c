"""C's held-out accuracy against the labelled-only Simple Classifier.

    python -m audiogan_jax.experiments.few_labels --config=configs/gaae.py \
        --config.model.ch=4 --config.model.d_ch=16 \
        --config.model.attention=False --config.train.batch_size=16 \
        --config.optim.g_lr=2e-4 --fractions=0.01,0.05,1.0 --steps=1500 \
        --eval_every=500 --output=few_labels.json

For each labelled fraction: trains the guided model of the config (GAAE or
GGAN) for ``--steps`` iterations and scores its classifier (GAAE's C, GGAN's
Cx) on the held-out split every ``--eval_every`` iterations; then trains the
Simple Classifier (``eval/classifier.py``: GAAE Table XXIV, Adam 1e-4, the
paper's augmentation) on the labelled clips alone for the same number of
steps at the same batch size, i.e. on as many labelled examples as C saw,
and scores it the same way.

The guided model's steps are driven directly, on the training pipeline's
batches gathered in numpy (``pipeline.make_iterator(use_tf=False)``: the
script needs no TensorFlow, so it also runs on accelerator machines that lack
it), and C is scored as the trainer scores it
(``train/tasks/accuracy.py``). Nothing is checkpointed or exported.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any, Optional

from absl import app
from absl import flags
from absl import logging
import jax
import ml_collections
from ml_collections import config_flags

from audiogan_jax import gans
from audiogan_jax import viz
from audiogan_jax.data import pipeline
from audiogan_jax.eval import curves
from audiogan_jax.train import sharding
from audiogan_jax.train import trainer
from audiogan_jax.train.tasks import accuracy

Config = ml_collections.ConfigDict

def train_guided(config: Config, dataset: pipeline.Dataset, steps: int,
                 eval_every: int, max_seconds: float = 0.0) -> dict[str, Any]:
  """Trains the config's guided model; its classifier's held-out accuracy."""
  config = trainer.resolve_config(config, dataset)
  family = gans.get_family(str(config.model.family))
  if not family.ENCODER:
    raise ValueError(f"--config.model.family={config.model.family} has no "
                     "classifier; use a guided model (gaae or ggan)")
  mesh = sharding.make_mesh(1)
  state = trainer.init_state(family, config, mesh)
  step_fn = trainer.make_train_step(family, config, mesh)
  key = jax.random.key(int(config.train.seed) + 1)
  predict = accuracy.make_predict(family, config)
  batches = pipeline.make_iterator(
      dataset, family.streams(config),
      global_batch=int(config.train.batch_size),
      steps_per_iteration=family.steps_per_iteration(config),
      seed=int(config.train.seed), stop_iteration=steps, use_tf=False)
  enc = family.ENCODER
  history, t0, done = [], time.perf_counter(), 0
  for step in range(steps):
    state, metrics = step_fn(state, next(batches), key)
    done = step + 1
    late = bool(max_seconds) and time.perf_counter() - t0 > max_seconds
    if done % eval_every == 0 or done == steps or late:
      acc = accuracy.held_out_accuracy(
          predict, {n: state.params[n] for n in enc},
          {n: state.stats[n] for n in enc}, dataset.test, 100)
      losses = {n: round(float(v), 4)
                for n, v in jax.device_get(metrics).items()
                if n.endswith("_loss")}
      history.append({"step": done, "accuracy": acc, **losses})
      logging.info("%s step %d: held-out accuracy %.4f %s",
                   config.model.family, done, acc, losses)
    if late:
      break
  return {"history": history, "iterations": done,
          "seconds": time.perf_counter() - t0}


def train_baseline(config: Config, dataset: pipeline.Dataset, steps: int,
                   eval_every: int) -> dict[str, Any]:
  """The Simple Classifier on the labelled clips alone, same steps and batch."""
  t0 = time.perf_counter()
  history = curves.baseline_curve(dataset, int(config.train.batch_size),
                                  steps, eval_every, int(config.train.seed))
  return {"history": history, "iterations": steps,
          "seconds": time.perf_counter() - t0}


def compare(config: Config, fractions: list[float], steps: int,
            eval_every: int, cache_dir: Optional[str] = None,
            max_seconds: float = 0.0) -> list[dict[str, Any]]:
  """One row per labelled fraction: the guided model and the baseline."""
  rows = []
  for fraction in fractions:
    c = Config(config.to_dict())
    c.data.labelled_fraction = float(fraction)
    dataset = pipeline.load_dataset(c, cache_dir=cache_dir, with_test=True)
    logging.info("data: %s", dataset.summary())
    guided = train_guided(c, dataset, steps, eval_every, max_seconds)
    # The baseline sees as many labelled examples as C did (the guided run
    # may have stopped early at max_seconds).
    rows.append({
        "fraction": float(fraction),
        "num_labelled": int((dataset.train.labels >= 0).sum()),
        "num_test": len(dataset.test), "num_classes": dataset.num_classes,
        "guided": guided,
        "baseline": train_baseline(c, dataset, guided["iterations"],
                                   eval_every)})
  return rows


def _define_flags() -> dict[str, Any]:
  """The command's flags, declared on use so importing the module is free."""
  return {
      "config": config_flags.DEFINE_config_file(
          "config", None, "A guided model's config file."),
      "fractions": flags.DEFINE_list("fractions", ["0.01", "0.05", "1.0"],
                                     "Labelled fractions to compare."),
      "steps": flags.DEFINE_integer("steps", 1500,
                                    "Iterations of each training."),
      "eval_every": flags.DEFINE_integer(
          "eval_every", 500, "Score the classifiers every N steps."),
      "max_seconds": flags.DEFINE_float(
          "max_seconds", 0.0, "Stop a guided training after this many "
          "seconds (compilation included); 0: no limit."),
      "output": flags.DEFINE_string("output", "few_labels.json",
                                    "Where to write the results (JSON)."),
      "cache_dir": flags.DEFINE_string("cache_dir", "",
                                       "Spectrogram cache folder."),
  }


def main(argv: list[str], fl: dict[str, Any]) -> None:
  """Runs the comparison the flags describe and prints the table."""
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  config = fl["config"].value
  if config is None:
    sys.exit("few_labels: --config=configs/gaae.py (or ggan.py) is required")
  try:
    fractions = [float(v) for v in fl["fractions"].value]
  except ValueError:
    fractions = []
  if not fractions or not all(0.0 < v <= 1.0 for v in fractions):
    sys.exit(f"few_labels: --fractions={','.join(fl['fractions'].value)} "
             "must be numbers in (0, 1], e.g. 0.01,0.05,1.0")
  steps, eval_every = fl["steps"].value, fl["eval_every"].value
  if steps < 1 or eval_every < 1:
    sys.exit("few_labels: --steps and --eval_every must be positive")
  rows = compare(config, fractions, steps, eval_every,
                 fl["cache_dir"].value or None, fl["max_seconds"].value)
  output = fl["output"].value
  os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
  with open(output, "w") as fh:
    json.dump({"device": jax.devices()[0].device_kind,
               "config": config.to_dict(), "rows": rows}, fh, indent=1,
              default=str)
  for r in rows:
    series = {"classifier": [(h["step"], h["accuracy"])
                             for h in r["guided"]["history"]],
              "baseline": [(h["step"], h["accuracy"])
                           for h in r["baseline"]["history"]]}
    png = f"{os.path.splitext(output)[0]}_{r['fraction']:g}.png"
    viz.write_png(png, curves.plot(series, 1.0 / r["num_classes"]))
    logging.info("wrote %s (blue: %s, orange: the Simple Classifier)", png,
                 config.model.family)
  name = str(config.model.family).upper()
  print(f"labelled  clips  {name} C (iterations)  Simple Classifier")
  for r in rows:
    g, b = r["guided"]["history"][-1], r["baseline"]["history"][-1]
    print(f"{r['fraction']:>8.0%}  {r['num_labelled']:>5}  "
          f"{g['accuracy']:>6.1%} ({g['step']})  {b['accuracy']:>6.1%}")


def run() -> None:
  f = _define_flags()
  app.run(lambda argv: main(argv, f))


if __name__ == "__main__":
  run()
