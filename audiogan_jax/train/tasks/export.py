"""The run's exports at its end (``train.export_at_end``, process 0):
``generator.msgpack`` (the EMA generator) and, for the guided models,
``encoder.msgpack`` (the trained encoder-side networks)."""

from __future__ import annotations

import os

from absl import logging

from audiogan_jax import export as export_lib
from audiogan_jax import workdir as workdir_lib
from audiogan_jax.gans import common as gan_common
from audiogan_jax.train.tasks import base


class Export(base.Task):
  """Writes the generator (and encoder) files of the final state."""

  def __init__(self, run: base.Run):
    self.run = run
    self.enabled = bool(run.config.train.get("export_at_end", True))

  def finish(self, state, step: int) -> None:
    run, family = self.run, self.run.family
    if not (self.enabled and run.main):
      return
    path = os.path.join(run.workdir, workdir_lib.GENERATOR_FILE)
    export_lib.save_generator(path, run.config,
                              *gan_common.generator_variables(family, state),
                              run.dataset.class_names, step)
    logging.info("exported the EMA generator to %s", path)
    if family.ENCODER:
      path = os.path.join(run.workdir, workdir_lib.ENCODER_FILE)
      export_lib.save_encoder(path, run.config,
                              *export_lib.encoder_variables(family, state),
                              run.dataset.class_names, step)
      logging.info("exported the encoder and classifier to %s", path)
