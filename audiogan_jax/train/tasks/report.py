"""The listening report at the end of the run (``eval.report_at_end``,
process 0): ``report.html`` from the exported generator (see
:func:`audiogan_jax.eval.run_eval.build_report`)."""

from __future__ import annotations

from absl import logging

from audiogan_jax.eval import run_eval
from audiogan_jax.train.tasks import base


class Report(base.Task):
  """Builds ``report.html`` after the exports."""

  def __init__(self, run: base.Run):
    self.run = run
    self.enabled = bool(run_eval.eval_settings(run.config).report_at_end)
    if self.enabled and not run.config.train.get("export_at_end", True):
      raise ValueError("--config.eval.report_at_end needs "
                       "--config.train.export_at_end=True")

  def finish(self, state, step: int) -> None:
    if self.enabled and self.run.main:
      path = run_eval.build_report(self.run.workdir)
      logging.info("wrote the listening report %s", path)
