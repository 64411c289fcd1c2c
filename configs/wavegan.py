"""WaveGAN (Donahue et al.) at the paper's settings: raw 16384-sample clips.

    audiogan-train --config=configs/wavegan.py --workdir=runs/wavegan \
        --config.data.source=folder --config.data.path=/data/sc09

d = 64 (19.1 M G / 17.4 M D parameters), c = 1, phase shuffle 2, WGAN-GP
(lambda = 10), Adam 1e-4 with betas (0.5, 0.9), 5 critic updates per G
update, batch 64, 200k iterations.
"""

import ml_collections

from audiogan_jax import config as config_lib


def get_config() -> ml_collections.ConfigDict:
  """Paper-size WaveGAN."""
  return config_lib.wavegan_config("wavegan")
