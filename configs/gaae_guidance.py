"""GAAE with guidance from another dataset (the GAAE paper's gender experiment).

    audiogan-train --config=configs/gaae_guidance.py --workdir=runs/gaae_gender \
        --config.data.source=folder --config.data.path=/data/sc09 \
        --config.data.guidance.source=folder \
        --config.data.guidance.path=/data/librispeech_gender

The main dataset gives the unlabelled stream; the labelled stream comes from
``data.guidance``: another source (its own ``path``, ``seed``, ``synthetic`` /
``folder`` / ``tfds`` blocks), of which ``guidance.labelled_fraction`` of the
clips keep the label named by ``guidance.label`` ("" for the source's class
label, or an extra label such as the synthetic dataset's ``gender``). The
guidance clips also join the unlabelled pool, as in the paper; the held-out
accuracy is measured on the guidance source's test split.

As written (no flags), both datasets are the embedded synthetic one: the main
one with seed 0 and its digit-like labels hidden, the guidance one with
seed 1 and its speaker label ``gender`` (low / high voice), 5 % labelled.
Everything else is configs/gaae.py (paper size).
"""

import ml_collections

from audiogan_jax import config as config_lib


def get_config() -> ml_collections.ConfigDict:
  """Paper-size GAAE guided by a second (synthetic) dataset's gender label."""
  c = config_lib.gaae_config()
  c.data.source = "synthetic"
  g = c.data.guidance
  g.source = "synthetic"
  g.seed = 1
  g.label = "gender"
  g.labelled_fraction = 0.05
  return c
