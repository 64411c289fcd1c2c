"""WaveGAN for 65536-sample clips (about 4 s at 16 kHz).

    audiogan-train --config=configs/wavegan_long.py --workdir=runs/wavegan_long \
        --config.data.source=folder --config.data.path=/data/drums

One more stride-4 layer in G (dense -> 16 x 32d) and in D (-> 16 x 32d);
everything else as configs/wavegan.py. Clips are read, padded or trimmed to
65536 samples (``data.num_samples``); the synthetic dataset joins four
syllables of one class per clip.
"""

import ml_collections

from audiogan_jax import config as config_lib


def get_config() -> ml_collections.ConfigDict:
  """Paper-size WaveGAN with 65536-sample output."""
  return config_lib.wavegan_config("wavegan", num_samples=65536)
