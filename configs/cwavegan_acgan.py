"""Conditional WaveGAN with an auxiliary classifier (dissertation 3.2.2).

    audiogan-train --config=configs/cwavegan_acgan.py --workdir=runs/acgan \
        --config.data.source=folder --config.data.path=/data/sc09

G as the concatenation model; D sees no label and has two heads, a
real/fake logit and class logits. D: sigmoid cross entropy (real -> 1, fake
-> 0) + softmax cross entropy of the class head on real and generated clips;
G: sigmoid cross entropy (fake -> 1) + the class loss of its samples. With
this (non-Wasserstein) loss there is no gradient penalty and one D update
per G update; Adam 1e-4 (0.5, 0.9) as WaveGAN. loss.label_smoothing sets
the real target to 1 - s (the dissertation's best run smoothed labels).
"""

import ml_collections

from audiogan_jax import config as config_lib


def get_config() -> ml_collections.ConfigDict:
  """Conditional WaveGAN, auxiliary classifier."""
  c = config_lib.wavegan_config("wavegan", conditioning="acgan")
  c.train.d_steps = 1
  c.loss.gp_weight = 0.0
  return c
