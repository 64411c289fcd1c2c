"""Tiny configs of the real models on synthetic data, for the tests.

They keep the k discriminator updates in one ``lax.scan`` body
(``train.unroll_d_steps=False``): the same updates as the unrolled default,
and on these sizes 10-20 % quicker to compile, which is most of the suite's
time (the unrolled form is what test_bench measures).
"""

import json
import os
import re

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # pylint: disable=g-import-not-at-top

from audiogan_jax import config as config_lib  # pylint: disable=g-import-not-at-top
from audiogan_jax.eval import represent  # pylint: disable=g-import-not-at-top


def tiny_config(conditional: bool = True):
  """The paper's BigGAN code at ch = 1, batch 4, on 64 synthetic clips."""
  c = config_lib.biggan_config(conditional=conditional)
  c.model.ch = 1
  c.model.attention = False
  c.data.synthetic.num_train = 64
  c.data.synthetic.num_valid = 8
  c.data.synthetic.num_test = 16
  c.train.update(dict(batch_size=4, num_steps=4, ema_decay=0.9, ema_start=0,
                      log_every=1, checkpoint_every=2, sample_every=0,
                      num_samples=4, unroll_d_steps=False))
  return c


def tiny_gaae_config():
  """The paper's GAAE code at ch = 1, batch 4, on 64 synthetic clips (the
  learning curves' labelled-only baseline at widths 4, 4, 8, 8)."""
  c = config_lib.gaae_config()
  c.model.ch = 1
  c.eval.baseline_widths = (4, 4, 8, 8)
  c.model.attention = False
  c.data.labelled_fraction = 0.25
  c.data.synthetic.num_train = 64
  c.data.synthetic.num_valid = 8
  c.data.synthetic.num_test = 16
  c.train.update(dict(batch_size=4, num_steps=4, ema_decay=0.9, ema_start=0,
                      log_every=1, checkpoint_every=2, sample_every=0,
                      num_samples=4, eval_every=2, eval_batch_size=8,
                      unroll_d_steps=False))
  return c


def tiny_ggan_config():
  """The paper's GGAN code at ch = 1, batch 4, on 64 synthetic clips (the
  learning curves' labelled-only baseline at widths 4, 4, 8, 8)."""
  c = config_lib.ggan_config()
  c.model.ch = 1
  c.eval.baseline_widths = (4, 4, 8, 8)
  c.model.attention = False
  c.data.labelled_fraction = 0.25
  c.data.synthetic.num_train = 64
  c.data.synthetic.num_valid = 8
  c.data.synthetic.num_test = 16
  c.train.update(dict(batch_size=4, num_steps=4, ema_decay=0.9, ema_start=0,
                      log_every=1, checkpoint_every=2, sample_every=0,
                      num_samples=4, eval_every=2, eval_batch_size=8,
                      unroll_d_steps=False))
  return c


def tiny_wavegan_config(family: str = "wavegan", conditioning: str = "none",
                        num_samples: int = 16384):
  """The paper's WaveGAN / SpecGAN code at d = 2, batch 4, 64 clips."""
  c = config_lib.wavegan_config(family, conditioning, num_samples)
  c.model.d = 2
  c.data.synthetic.num_train = 64
  c.data.synthetic.num_valid = 8
  c.data.synthetic.num_test = 16
  c.train.update(dict(batch_size=4, num_steps=3, d_steps=2, log_every=1,
                      checkpoint_every=3, sample_every=0, num_samples=4,
                      unroll_d_steps=False))
  return c


# The learning tests' short runs (test_training, test_guided_training and
# test_wavegan in float32, test_mixed_precision in bfloat16, same
# thresholds): iterations, the discriminator-side loss, and the largest
# ratio of its mean over the last 5 iterations to its mean over the first 3.
# A model whose updates do nothing keeps a ratio near 1.
LEARNING = {
    "biggan": (20, "train/d_loss", 0.7),
    "gaae": (14, "train/s_loss", 0.5),
    "wavegan": (30, "train/d_loss", 0.9),
}


def learning_ratio(rows, name):
  """The loss ratio of :data:`LEARNING` for metrics.jsonl rows."""
  steps, key, _ = LEARNING[name]
  loss = np.array([r[key] for r in rows if key in r])
  assert len(loss) == steps and np.all(np.isfinite(loss)), loss
  return float(np.mean(loss[-5:]) / np.mean(loss[:3]))


def assert_learns(rows, name, dtype="float32"):
  """The discriminator-side loss fell below :data:`LEARNING`'s ratio."""
  ratio, limit = learning_ratio(rows, name), LEARNING[name][2]
  assert ratio < limit, (
      f"{name} in {dtype}: the last 5 iterations' {LEARNING[name][1]} is "
      f"{ratio:.2f} of the first 3's (needs < {limit})")
  return ratio


def tiny_gansynth_config(pitches: str = "48,55,62,69"):
  """GANSynth's code at a CPU size: 16384-sample notes of a few pitches,
  STFT 256 / 128 (128 x 128 x 2 IF-Mel images), four resolutions from
  16 x 16 of 16, 16, 8, 8 channels, batch 4, stages of 2 iterations."""
  c = config_lib.gansynth_config()
  c.model.update(dict(n_fft=256, hop=128, z_dim=16, num_classes=-1,
                      channels=(16, 16, 8, 8), start_shape=(16, 16),
                      stable_steps=2, transition_steps=2))
  c.data.num_samples = 16384
  c.data.synthetic.update(dict(pitches=pitches, num_train=64, num_valid=8,
                               num_test=16))
  c.train.update(dict(batch_size=4, num_steps=3, log_every=1,
                      checkpoint_every=3, sample_every=0, num_samples=4))
  return c


def fit_softmax(x, y, num_classes, steps, lr=0.1):
  """Softmax regression on standardised features; returns a predictor."""
  return represent.softmax_regression(x, y, num_classes, steps, lr)


def last_logged_step(workdir: str) -> int:
  """The newest step in ``workdir``/metrics.jsonl (-1 before the first),
  read while a training process may be writing it."""
  try:
    with open(os.path.join(workdir, "metrics.jsonl")) as f:
      lines = f.read().splitlines()
  except OSError:
    return -1
  for line in reversed(lines):
    try:
      return int(json.loads(line)["step"])
    except (ValueError, KeyError):
      continue   # a line being written
  return -1


def optimised_xla_flags() -> str:
  """XLA_FLAGS without the suite's ``--xla_backend_optimization_level=0``
  (conftest.py), for the commands that train for hundreds of iterations
  (the demo's and the conditional WaveGANs' learning runs): there the
  optimised code's speed counts more than its compile time."""
  return re.sub(r"--xla_backend_optimization_level=\S+", "",
                os.environ.get("XLA_FLAGS", "")).strip()
