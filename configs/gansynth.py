"""GANSynth at the paper's settings (NSynth acoustic notes, pitches 24-84).

    audiogan-train --config=configs/gansynth.py --workdir=runs/gansynth \
        --config.data.source=tfds --config.data.path=/data/tfds \
        --config.data.tfds.name=nsynth --config.data.tfds.nsynth_families=all \
        --config.data.tfds.nsynth_pitches=24-84

A folder of notes named with their pitch (NSynth's
``<instrument>-<pitch>-<velocity>.wav``) works too:
``--config.data.source=folder --config.data.path=DIR
--config.data.folder.label_from=pitch``. Without a data flag it trains on
the embedded synthetic notes.

IF-Mel images 256 x 512 x 2 (STFT 1024 / 256 of 65536-sample clips),
progressive G and D of 7 resolutions from 4 x 8 (channels 256, 256, 256,
256, 128, 64, 32), pitch one-hot (61) concatenated to z (256), pixel norm,
equalised learning rate, minibatch std, auxiliary pitch classifier;
WGAN-GP + drift + classifier losses; Adam 8e-4 (0, 0.99), batch 8; stages of
100k iterations (800k images) stable and in transition (GANSynth's code).
--config.model.representation=if trains on the exact (not mel-warped) IF.
"""

import ml_collections

from audiogan_jax import config as config_lib


def get_config() -> ml_collections.ConfigDict:
  """Paper-size GANSynth."""
  return config_lib.gansynth_config()
