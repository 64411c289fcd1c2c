"""Supervised BigGAN spectrogram baseline of GGAN/GAAE (paper settings).

    audiogan-train --config=configs/biggan_sup.py --workdir=runs/biggan_sup \
        --config.data.source=folder --config.data.path=/data/sc09

Class-conditional BN in G, projection D, trained on the labelled examples
(``data.labelled_fraction``; all of them by default); otherwise as
``biggan_unsup``.
"""

import ml_collections

from audiogan_jax import config as config_lib


def get_config() -> ml_collections.ConfigDict:
  """Paper-size supervised BigGAN (cBN generator, projection discriminator)."""
  return config_lib.biggan_config(conditional=True)
