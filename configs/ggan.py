"""GGAN at the paper's settings (SC09, 5 % labels).

    audiogan-train --config=configs/ggan.py --workdir=runs/ggan \
        --config.data.source=folder --config.data.path=/data/sc09

ch = 16, batch 64, Adam lr 5e-4 for E, Ce, G, F and Cx and 2e-4 for D1, D2
and Df (the paper's text), betas (0, 0.999), k = 2 discriminator updates per
iteration, then one E/Ce/G and one F/Cx update; 5 % of the clips labelled.
"""

import ml_collections

from audiogan_jax import config as config_lib


def get_config() -> ml_collections.ConfigDict:
  """Paper-size GGAN."""
  return config_lib.ggan_config()
