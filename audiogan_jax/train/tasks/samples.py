"""Sample sheets: WAV and PNG of the EMA generator every ``train.sample_every``.

The latents are fixed for the whole run (``generation.sample_inputs`` with
seed ``train.seed + 2``; labels cycling over the classes), so sheets of
different iterations show the same sounds as the generator learns; the
exported generator's ``audiogan-generate --seed=<train.seed + 2>`` makes
the same clips. The first four clips and the grid also go to TensorBoard.
"""

from __future__ import annotations

import os

import numpy as np

from audiogan_jax import generation
from audiogan_jax import media
from audiogan_jax import viz
from audiogan_jax import workdir as workdir_lib
from audiogan_jax.gans import common as gan_common
from audiogan_jax.train.tasks import base


class SampleSheets(base.Task):
  """``samples/step_NNNNNNN/``: a sheet every ``train.sample_every``
  iterations and one of the final state."""

  at_last = False

  def __init__(self, run: base.Run):
    self.run = run
    tc = run.config.train
    self.every = int(tc.get("sample_every", 0))
    self.z, self.y = generation.sample_inputs(
        run.family, run.config, int(tc.num_samples), int(tc.seed) + 2)

  def __call__(self, state, step: int) -> None:
    run, family, config = self.run, self.run.family, self.run.config
    if not run.main:
      return
    outputs = generation.generate(
        family, config,
        *base.on_host(gan_common.generator_variables(family, state)),
        self.z, self.y)
    specs, waves = media.to_media(family, config, outputs)
    rate = int(config.data.get("sample_rate", 16000))
    generation.write_samples(
        workdir_lib.samples_dir(run.workdir, step), specs, waves,
        None if self.y is None else np.asarray(self.y),
        run.dataset.class_names, rate, cols=family.num_classes(config) or 0)
    run.writer.image(step, "samples/spectrograms", viz.grid(specs))
    run.writer.audio(step, "samples/audio", waves[:4], rate)

  def finish(self, state, step: int) -> None:
    if self.every and not os.path.isdir(
        workdir_lib.samples_dir(self.run.workdir, step)):
      self(state, step)
