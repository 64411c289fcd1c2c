"""Unsupervised BigGAN spectrogram baseline of GGAN/GAAE (paper settings).

    audiogan-train --config=configs/biggan_unsup.py --workdir=runs/biggan_unsup \
        --config.data.source=folder --config.data.path=/data/sc09

Plain BN in G, plain D, hinge loss, ch = 16, batch 128, Adam lr 5e-5 (G) and
2e-4 (D) with betas (0, 0.999), two D updates per G update, 60k iterations.
"""

import ml_collections

from audiogan_jax import config as config_lib


def get_config() -> ml_collections.ConfigDict:
  """Paper-size unsupervised BigGAN on 256x128 log-magnitude spectrograms."""
  return config_lib.biggan_config(conditional=False)
