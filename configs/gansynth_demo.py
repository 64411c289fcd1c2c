"""Demo: a small-width GANSynth on the embedded synthetic notes.

    audiogan-train --config=configs/gansynth_demo.py --workdir=runs/gansynth_demo

The code of configs/gansynth.py on one-second notes of three pitches (MIDI
36, 60, 84: C2, C4, C6), sized for two CPU cores. The IF-Mel images are
128 x 128 x 2 (STFT 256 / 128 of 16384 samples). The progressive G and D
have five resolutions from 8 x 8 with 32, 32, 32, 16, 8 channels (halved
towards the top like the paper's), batch 8. The stages are 50 iterations
stable and 50 fading in, so the full resolution is reached at iteration
450, and the run stops at 800. At the end it trains an evaluation
classifier on the notes' pitch, scores 500 generated notes by their pitch
(IS, FID, accuracy per pitch) and writes the listening report
(WORKDIR/report.html). A run this short only shows the system working: the
paper trains 256 x 512 images for 1.375M iterations.

    audiogan-generate --generator=runs/gansynth_demo/generator.msgpack \
        --pitch=60 --num=4 --output=c4/
"""

import ml_collections

from audiogan_jax import config as config_lib


def get_config() -> ml_collections.ConfigDict:
  """Small GANSynth on the synthetic notes."""
  c = config_lib.gansynth_config()
  c.model.update(dict(n_fft=256, hop=128, z_dim=64, num_classes=-1,
                      channels=(32, 32, 32, 16, 8), start_shape=(8, 8),
                      stable_steps=50, transition_steps=50))
  c.data.num_samples = 16384
  c.data.synthetic.update(dict(pitches="36,60,84", num_train=500,
                               num_valid=50, num_test=200))
  c.train.update(dict(num_steps=800, ema_decay=0.99, log_every=20,
                      checkpoint_every=400, sample_every=400,
                      num_samples=10, eval_batch_size=50))
  config_lib.cpu_demo_report(c)
  return c
