"""Demo: a small-width supervised BigGAN on the embedded synthetic dataset.

    audiogan-train --config=configs/demo.py --workdir=runs/demo

The code of the paper configs at ch = 1 and batch 16, sized to train on two
CPU cores in a few minutes. The non-local blocks are off: at 128x64 their
8192x2048 attention maps take over 80 % of a CPU step (turn them on with
--config.model.attention=True on an accelerator). it leaves checkpoints, TensorBoard events, WAV and
PNG samples and an exported generator in the workdir.
"""

import ml_collections

from audiogan_jax import config as config_lib


def get_config() -> ml_collections.ConfigDict:
  """Small supervised BigGAN on the synthetic dataset."""
  c = config_lib.biggan_config(conditional=True)
  c.model.ch = 1
  c.model.attention = False
  c.data.source = "synthetic"
  c.data.synthetic.num_train = 1000
  c.data.synthetic.num_test = 200
  c.train.update(dict(batch_size=16, num_steps=300, ema_decay=0.99,
                      ema_start=0, log_every=10, checkpoint_every=100,
                      sample_every=100, num_samples=20))
  return c
