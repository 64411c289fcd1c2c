"""Periodic work of a training run, built from the config.

The loop (``train/trainer.py``) owns the iteration, NaN rollback, signals
and checkpoints; everything else a run does along the way or at its end is
a :class:`Task` here, in its own module:

* :mod:`.samples`: sample sheets (WAV + PNG) every ``train.sample_every``;
* :mod:`.accuracy`: C's held-out accuracy and the generated clips'
  conditional accuracy every ``train.eval_every`` (``eval.json``), and the
  learning curves at the end (``curves.json``/``.png``);
* :mod:`.scores`: IS/FID every ``eval.score_every``, keeping the best-FID
  generator;
* :mod:`.export`: the EMA generator and encoder files at the end;
* :mod:`.report`: the listening report at the end.

A task is called with the state at the iterations :meth:`Task.due` names
(after the loop has checked the state is finite) and finished once after
the last iteration. :func:`from_config` builds the run's list.
"""

from __future__ import annotations

import ml_collections

from audiogan_jax.gans.family import Family
from audiogan_jax.train.tasks import accuracy
from audiogan_jax.train.tasks import export
from audiogan_jax.train.tasks import report
from audiogan_jax.train.tasks import samples
from audiogan_jax.train.tasks import scores
from audiogan_jax.train.tasks.base import Run
from audiogan_jax.train.tasks.base import Task
from audiogan_jax.train.tasks.base import itstime

__all__ = ["Run", "Task", "from_config", "itstime", "eval_every"]


def eval_every(config: ml_collections.ConfigDict, family: Family) -> int:
  """How often the accuracy task runs (0: never); see :mod:`.accuracy`."""
  return accuracy.every(config, family)


def from_config(run: Run) -> list[Task]:
  """The run's tasks, in the order they run at an iteration and at the end."""
  return [samples.SampleSheets(run), accuracy.HeldOutAccuracy(run),
          scores.Scores(run), export.Export(run), report.Report(run)]
