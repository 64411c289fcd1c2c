"""Conditional WaveGAN by concatenation (MSc dissertation, section 3.2.1).

    audiogan-train --config=configs/cwavegan_concat.py --workdir=runs/cwg \
        --config.data.source=folder --config.data.path=/data/sc09

The one-hot label broadcast to full planes: concatenated to G's reshaped
dense output (16 x (16d + n)) and to D's input as n extra channels. WGAN-GP
on D(x, y), otherwise WaveGAN's settings. Trains on the labelled clips
(data.labelled_fraction of the training set).
"""

import ml_collections

from audiogan_jax import config as config_lib


def get_config() -> ml_collections.ConfigDict:
  """Conditional WaveGAN, concatenation."""
  return config_lib.wavegan_config("wavegan", conditioning="concat")
