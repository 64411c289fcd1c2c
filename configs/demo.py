"""Demo: a small-width GAAE on the embedded dataset, 5 % labels, on a CPU.

    audiogan-train --config=configs/demo.py --workdir=runs/demo

The networks and losses of configs/gaae.py at decoder width ch = 1,
encoder/discriminator width d_ch = 2, batch 8, 300 iterations on 2,000
embedded clips (100 labelled), an EMA of the decoder over about ten
iterations (train.ema_decay = 0.9), sized for two
CPU cores (about 1 s an iteration there), with the non-local blocks off (at
128x64 their 8192x2048 attention maps take over 80 % of a CPU step; turn
them on with --config.model.attention=True on an accelerator).

At ch = 1 the decoder's last block (multiplier 1) would have a single
channel at 256x128 for the output convolution to draw the spectrogram
from; model.g_min_channels = 8 gives it eight, as at ch = 8 (measured: the
generated clips' conditional accuracy through PGHI 13 % -> 25 %, IS 1.43 ->
2.04, for about 10 % more time per iteration).

The paper's settings are made for 60,000 iterations at ch = 16; in 300 they
leave C and the decoder at chance. The demo changes five more values, each behind
a config key, for reasons that hold on spoken digits as on the embedded
words (docs/MODELS.md, "GAAE in a short run"):

* optim.g_lr = optim.d_lr = 1e-3 (paper 5e-5 / 2e-4): few iterations;
* loss.w3 = 16 (paper 0.25): the few labelled clips are the only class
  signal; at 0.25 their term is 3 % of the encoder's loss, and the trunk C
  reads is moved by R, G and L instead;
* loss.lambda_rec = 5 (paper 20) with loss.cg_decoder = 8 (paper 0: x^_g
  detached): the decoder learns the class of y_r from C as well as from S,
  instead of reconstructing x_u from its style code alone;
* model.style_norm = "batch": the style codes the decoder learns from have
  the prior's mean and variance from the first step, so clips generated
  from z' ~ N(0, I) are in distribution before L has matched the rest;
* model.predicted_label = "argmax": y^_u conditions Dec and S as C's class,
  so R and G do not train C (measured: C learns faster this way).

It leaves checkpoints, TensorBoard events, C's held-out accuracy and the
generated clips' conditional accuracy (eval.json, curves.json/png), WAV and
PNG samples per class, the exported decoder and encoder, and report.html.
"""

import ml_collections

from audiogan_jax import config as config_lib


def get_config() -> ml_collections.ConfigDict:
  """Small GAAE on the synthetic dataset, settings for a short run."""
  c = config_lib.gaae_config()
  c.model.update(dict(ch=1, d_ch=2, attention=False, g_min_channels=8,
                      predicted_label="argmax", style_norm="batch"))
  c.loss.update(dict(w3=16.0, lambda_rec=5.0, cg_decoder=8.0))
  c.optim.update(dict(g_lr=1e-3, d_lr=1e-3))
  c.data.source = "synthetic"
  c.data.labelled_fraction = 0.05
  c.data.synthetic.num_train = 2000
  c.data.synthetic.num_test = 200
  c.train.update(dict(batch_size=8, num_steps=300, ema_decay=0.9,
                      ema_start=0, log_every=10, checkpoint_every=150,
                      sample_every=150, num_samples=20, eval_every=50,
                      eval_batch_size=50))
  config_lib.cpu_demo_report(c)
  return c
