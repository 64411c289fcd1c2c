"""GAAE at the paper's settings (SC09, 5 % labels).

    audiogan-train --config=configs/gaae.py --workdir=runs/gaae \
        --config.data.source=folder --config.data.path=/data/sc09

ch = 16, batch 128, Adam lr 5e-5 (E, Dec, C) and 2e-4 (S, L), betas (0, 0.999),
k = 2 S/L updates per E/Dec/C update, 60,000 iterations, lambda = 20,
w1..w5 = 0.6, 0.4, 0.25, 0.25, 0.5, alpha = beta = 0.5, 5 % of the training
clips labelled. The paper trained it with mixed precision on two P100s:
add --config.train.compute_dtype=bfloat16 on accelerators.
"""

import ml_collections

from audiogan_jax import config as config_lib


def get_config() -> ml_collections.ConfigDict:
  """Paper-size GAAE."""
  return config_lib.gaae_config()
