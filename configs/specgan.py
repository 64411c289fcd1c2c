"""SpecGAN (Donahue et al.): a DCGAN on 128x128 log-magnitude spectrograms.

    audiogan-train --config=configs/specgan.py --workdir=runs/specgan \
        --config.data.source=folder --config.data.path=/data/sc09

STFT 256-sample window, 128 hop; log magnitude normalised per frequency bin
by the training set's mean and std (computed at the start of training and
kept in model.norm_mean / model.norm_std, so exported generators carry them),
/ 3 std, clipped to [-1, 1]. 5x5 stride-2 G and D at d = 64 (19.0 M / 17.4 M
parameters), WGAN-GP, Adam 1e-4 (0.5, 0.9), 5 critic updates, batch 64;
generated spectrograms back to audio by Griffin-Lim.
"""

import ml_collections

from audiogan_jax import config as config_lib


def get_config() -> ml_collections.ConfigDict:
  """Paper-size SpecGAN."""
  return config_lib.wavegan_config("specgan")
