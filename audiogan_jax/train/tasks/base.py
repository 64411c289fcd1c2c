"""What every periodic task shares: :class:`Task`, :class:`Run`,
:func:`itstime`, :func:`on_host`."""

from __future__ import annotations

import dataclasses
from typing import Any, Optional

import jax
import ml_collections

from audiogan_jax.data import pipeline
from audiogan_jax.eval import evaluate as evaluate_lib
from audiogan_jax.eval import run_eval
from audiogan_jax.gans.family import Family
from audiogan_jax.train import writer as writer_lib

Config = ml_collections.ConfigDict


def itstime(step: int, every: int, last: Optional[int] = None) -> bool:
  """Whether work done every ``every`` iterations runs after ``step``
  (also after the run's ``last`` iteration, if given; never if every <= 0)."""
  return every > 0 and (step % every == 0 or step == last)


def on_host(tree: Any) -> Any:
  """Host copies of (replicated) state arrays.

  Work that process 0 does alone (samples, evaluations, scores) runs on
  these, i.e. on its own device: a jitted function given the state's global
  arrays would be one program over every process's devices, which the other
  processes never run.
  """
  return jax.device_get(tree)


@dataclasses.dataclass
class Run:
  """What the tasks share of one training run."""
  config: Config
  family: Family
  workdir: str
  dataset: pipeline.Dataset
  writer: writer_lib.MetricWriter
  cache_dir: str
  start: int            # the iteration the run (re)started from
  _classifier: Any = None

  @property
  def main(self) -> bool:
    """Whether this is the process that writes files (process 0)."""
    return jax.process_index() == 0

  def eval_classifier(self) -> evaluate_lib.EvalClassifier:
    """The evaluation classifier, trained or read once for every task."""
    if self._classifier is None:
      self._classifier = evaluate_lib.load_eval_classifier(
          run_eval.ensure_classifier(self.config, self.workdir))
    return self._classifier


class Task:
  """Work done every ``every`` iterations (and after the last, if
  ``at_last``) and/or once at the end."""
  every: int = 0
  at_last: bool = True

  def due(self, step: int, num_steps: int) -> bool:
    return itstime(step, self.every, num_steps if self.at_last else None)

  def __call__(self, state, step: int) -> None:
    """The periodic work, with the (finite) state after ``step``."""

  def finish(self, state, step: int) -> None:
    """Once after the last iteration (``step``: the final step)."""
