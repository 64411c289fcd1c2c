"""Learning curves of a run: is the model learning what it exists for?

Three series over training iterations, written as ``WORKDIR/curves.json`` and
drawn as ``WORKDIR/curves.png`` (and in the listening report):

* ``classifier``: a guided model's classifier (GAAE's C, GGAN's Cx) on the
  held-out clips;
* ``baseline``: the Simple Classifier trained on the labelled clips alone at
  the run's batch size, scored at the same iterations, i.e. after the same
  number of labelled examples as the guided model's classifier has seen
  (the papers' comparison);
* ``conditional``: the evaluation classifier's accuracy on clips the
  generator made for each label (chance: one over the number of classes).
"""

from __future__ import annotations

import json
import os
from typing import Any, Optional, Sequence

import numpy as np

from audiogan_jax import viz
from audiogan_jax.data import pipeline
from audiogan_jax.eval import classifier as clf

CURVES_FILE = "curves.json"
CURVES_PNG = "curves.png"

# Series name -> (line colour, what it is).
SERIES = {
    "classifier": ((31, 119, 180), "guided model's classifier, held-out"),
    "baseline": ((255, 127, 14), "Simple Classifier on the labelled clips "
                                 "alone, same examples"),
    "conditional": ((44, 160, 44), "generated clips labelled with their "
                                   "class by the evaluation classifier"),
}


def baseline_curve(dataset: pipeline.Dataset, batch_size: int, steps: int,
                   every: int, seed: int = 0,
                   widths: Optional[Sequence[int]] = None
                   ) -> list[dict[str, Any]]:
  """The labelled-only Simple Classifier's held-out accuracy every ``every``
  steps of ``batch_size`` (GAAE Table XXIV, Adam 1e-4, augmentation; other
  conv ``widths`` if given)."""
  cc = clf.default_classifier_config()
  if widths:
    cc.widths = tuple(int(w) for w in widths)
  cc.batch_size = int(batch_size)
  cc.num_steps = int(steps)
  cc.seed = int(seed)
  _, h = clf.train_classifier(
      dataset.train.spectrograms, dataset.train.labels, dataset.num_classes,
      cc, eval_x=dataset.test.spectrograms, eval_y=dataset.test.true_labels,
      log_every=int(every))
  return [{"step": int(s), "accuracy": float(a)}
          for s, a in zip(h["eval_step"], h["eval_accuracy"])]


def plot(series: dict[str, Sequence[tuple[int, float]]], chance: float,
         width: int = 480, height: int = 240, pad: int = 12) -> np.ndarray:
  """An [H, W, 3] line chart of accuracies in [0, 1] over iterations.

  Grey grid lines at 0, 0.25, 0.5, 0.75 and 1, a dashed line at chance;
  colours as :data:`SERIES`.
  """
  img = np.full((height, width, 3), 255, np.uint8)
  x0, x1, y0, y1 = pad, width - pad, pad, height - pad
  last = max([s for pts in series.values() for s, _ in pts] or [1])

  def to_px(step: float, value: float) -> tuple[int, int]:
    x = x0 + (x1 - x0) * step / max(last, 1)
    y = y1 - (y1 - y0) * min(max(value, 0.0), 1.0)
    return int(round(x)), int(round(y))

  for v in (0.0, 0.25, 0.5, 0.75, 1.0):
    img[to_px(0, v)[1], x0:x1 + 1] = 200 if v not in (0.0, 1.0) else 120
  img[y0:y1 + 1, x0] = 120
  cy = to_px(0, chance)[1]
  for x in range(x0, x1 + 1, 8):
    img[cy, x:x + 4] = (160, 160, 160)
  for name, pts in series.items():
    colour = SERIES.get(name, ((0, 0, 0), ""))[0]
    px = [to_px(s, a) for s, a in pts]
    for (xa, ya), (xb, yb) in zip(px[:-1], px[1:]):
      n = max(abs(xb - xa), abs(yb - ya), 1)
      for t in np.linspace(0.0, 1.0, n + 1):
        x, y = int(round(xa + t * (xb - xa))), int(round(ya + t * (yb - ya)))
        img[max(y - 1, 0):y + 1, max(x - 1, 0):x + 1] = colour
    for x, y in px:
      img[max(y - 2, 0):y + 3, max(x - 2, 0):x + 3] = colour
  return img


def write(workdir: str, curves: dict[str, list[dict[str, Any]]],
          num_classes: int) -> Optional[str]:
  """Writes ``curves.json`` and ``curves.png``; returns the PNG's path."""
  series = {name: [(r["step"], r["accuracy"]) for r in rows]
            for name, rows in curves.items() if rows}
  with open(os.path.join(workdir, CURVES_FILE), "w") as f:
    json.dump({"num_classes": int(num_classes),
               "chance": 1.0 / max(num_classes, 1),
               "series": {n: SERIES[n][1] for n in curves if n in SERIES},
               **curves}, f, indent=2)
  if not series:
    return None
  path = os.path.join(workdir, CURVES_PNG)
  viz.write_png(path, plot(series, 1.0 / max(num_classes, 1)))
  return path


def read(workdir: str) -> Optional[dict[str, Any]]:
  """``curves.json`` of a workdir, or None."""
  path = os.path.join(workdir, CURVES_FILE)
  if not os.path.exists(path):
    return None
  with open(path) as f:
    return json.load(f)


def caption(curves: dict[str, Any]) -> str:
  """One line per series: its colour, what it is, and where it ended."""
  parts = []
  for name, (colour, what) in SERIES.items():
    rows = curves.get(name) or []
    if rows:
      parts.append(f"{_colour_name(colour)}: {what} (last "
                   f"{rows[-1]['accuracy']:.1%} at iteration "
                   f"{rows[-1]['step']})")
  parts.append(f"dashed: chance ({curves.get('chance', 0):.1%})")
  return "; ".join(parts)


def _colour_name(colour: tuple[int, int, int]) -> str:
  return {(31, 119, 180): "blue", (255, 127, 14): "orange",
          (44, 160, 44): "green"}.get(tuple(colour), "line")
