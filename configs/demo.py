"""Demo: a small-width GAAE on the embedded synthetic dataset, 5 % labels.

    audiogan-train --config=configs/demo.py --workdir=runs/demo

The code of configs/gaae.py at decoder width ch = 1, encoder/discriminator
width d_ch = 2 and batch 8, 120 iterations, sized for two CPU cores (about 1.6 s an
iteration there). The non-local blocks are off: at 128x64 their 8192x2048
attention maps take over 80 % of a CPU step (turn them on with
--config.model.attention=True on an accelerator). It leaves checkpoints,
TensorBoard events, the classifier's held-out accuracy (eval.json), WAV and
PNG samples per class and the exported decoder in the workdir. A run this
short shows the whole system working; it is far from the paper's 60,000
iterations at ch = 16, and its classifier stays near chance.
"""

import ml_collections

from audiogan_jax import config as config_lib


def get_config() -> ml_collections.ConfigDict:
  """Small GAAE on the synthetic dataset."""
  c = config_lib.gaae_config()
  c.model.ch = 1
  c.model.d_ch = 2
  c.model.attention = False
  c.data.source = "synthetic"
  c.data.labelled_fraction = 0.05
  c.data.synthetic.num_train = 1000
  c.data.synthetic.num_test = 200
  c.train.update(dict(batch_size=8, num_steps=120, ema_decay=0.99,
                      ema_start=0, log_every=10, checkpoint_every=60,
                      sample_every=60, num_samples=20, eval_every=40,
                      eval_batch_size=50))
  config_lib.cpu_demo_report(c)
  return c
