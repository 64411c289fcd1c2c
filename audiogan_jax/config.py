"""Shared pieces of the experiment configs in ``configs/``."""

from __future__ import annotations

import ml_collections

from audiogan_jax.data import sources


def train_config(**overrides) -> ml_collections.ConfigDict:
  """The ``train`` section with the defaults every model shares."""
  c = ml_collections.ConfigDict(dict(
      batch_size=128,        # global, split over all devices
      num_steps=60000,       # iterations (d_steps D updates + 1 G update)
      d_steps=2,             # discriminator updates per generator update
      seed=0,
      ema_decay=0.9999, ema_start=20000,   # BigGAN's generator EMA
      compute_dtype="float32",
      num_devices=0,         # 0: every device of every process
      log_every=100, checkpoint_every=2000, keep_checkpoints=3,
      sample_every=2000, num_samples=20, export_at_end=True))
  c.update(overrides)
  return c


def biggan_config(conditional: bool) -> ml_collections.ConfigDict:
  """Paper-size BigGAN spectrogram GAN (GGAN/GAAE Appendix A)."""
  c = ml_collections.ConfigDict()
  c.model = ml_collections.ConfigDict(dict(
      family="biggan", conditional=conditional, ch=16, z_dim=128,
      attention=True,    # the non-local blocks at 128x64 in G and D
      num_classes=-1))   # -1: taken from the dataset
  c.data = sources.default_data_config()
  c.train = train_config()
  c.optim = ml_collections.ConfigDict(dict(
      g_lr=5e-5, d_lr=2e-4, b1=0.0, b2=0.999, eps=1e-6, grad_clip=0.0))
  return c


def load_config_file(path: str) -> ml_collections.ConfigDict:
  """Runs ``get_config()`` of a config file given by path."""
  import importlib.util  # pylint: disable=g-import-not-at-top
  import os  # pylint: disable=g-import-not-at-top
  if not os.path.exists(path):
    raise FileNotFoundError(f"config file {path!r} not found")
  spec = importlib.util.spec_from_file_location(
      "audiogan_config_" + os.path.splitext(os.path.basename(path))[0], path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config()
