"""Shared pieces of the experiment configs in ``configs/``."""

from __future__ import annotations

import ml_collections

from audiogan_jax.data import sources


def train_config(**overrides) -> ml_collections.ConfigDict:
  """The ``train`` section with the defaults every model shares."""
  c = ml_collections.ConfigDict(dict(
      batch_size=128,        # global, split over all devices
      per_device_batch_size=0,  # > 0: global batch = this x devices
      num_steps=60000,       # iterations (d_steps D updates + 1 G update)
      d_steps=2,             # discriminator updates per generator update
      seed=0,
      ema_decay=0.9999, ema_start=20000,   # BigGAN's generator EMA
      compute_dtype="float32",   # or bfloat16: params, optimizer state,
                                 # BN statistics and losses stay float32
      unroll_d_steps=True,       # the k D updates unrolled (False: lax.scan)
      prefetch_to_device=2,      # input batches put on the devices ahead
      num_devices=0,         # 0: every device of every process
      log_every=100, checkpoint_every=2000, keep_checkpoints=3,
      sample_every=2000, num_samples=20, export_at_end=True,
      eval_every=2000,       # guided models: C's held-out accuracy; 0: off
      eval_batch_size=64,
      check_finite_every=10,  # NaN/Inf in losses or params seen within this
      nonfinite_rollbacks=0,  # > 0: on NaN/Inf, roll back to the last good
                              # checkpoint with other random numbers, up to
                              # this many times; 0: stop
      rng_offset=0))          # other batch order and noise, same init
  c.update(overrides)
  return c


def eval_config() -> ml_collections.ConfigDict:
  """The ``eval`` section (see ``audiogan_jax.eval.evaluate.eval_config``)."""
  from audiogan_jax.eval import evaluate  # pylint: disable=g-import-not-at-top
  return evaluate.eval_config()


def biggan_config(conditional: bool) -> ml_collections.ConfigDict:
  """Paper-size BigGAN spectrogram GAN (GGAN/GAAE Appendix A)."""
  c = ml_collections.ConfigDict()
  c.model = ml_collections.ConfigDict(dict(
      family="biggan", conditional=conditional, ch=16, z_dim=128,
      d_ch=0,            # discriminator-side width; 0: the same as ch
      attention=True,    # the non-local blocks at 128x64 in G and D
      # cBN class gains/biases: "orthogonal" (BigGAN) or "zeros".
      cbn_init="orthogonal",
      # Beyond the papers: the fewest channels of a generator block (0: the
      # papers' ch x (16, 16, 16, 16, 16, 1)); for small demo widths.
      g_min_channels=0,
      num_classes=-1))   # -1: taken from the dataset
  c.data = sources.default_data_config()
  c.train = train_config()
  c.optim = ml_collections.ConfigDict(dict(
      g_lr=5e-5, d_lr=2e-4, b1=0.0, b2=0.999, eps=1e-6, grad_clip=0.0))
  c.eval = eval_config()
  return c


def gaae_config() -> ml_collections.ConfigDict:
  """Paper-size GAAE (GAAE section III and Appendix Tables 20-23)."""
  c = biggan_config(conditional=True)
  c.model.family = "gaae"
  # How C's output y^_u conditions Dec and S: "probabilities" (its softmax,
  # the paper's y^; the losses reach C through it) or "argmax" (its class).
  c.model.predicted_label = "probabilities"
  # Beyond the paper: "batch" standardises the style code z' (guided.py).
  c.model.style_norm = "none"
  c.data.labelled_fraction = 0.05
  # EDC = alpha (w1 G + w2 lambda R) + beta (w3 Cl + w4 Cg + w5 L).
  c.loss = ml_collections.ConfigDict(dict(
      lambda_rec=20.0, w1=0.6, w2=0.4, w3=0.25, w4=0.25, w5=0.5,
      alpha=0.5, beta=0.5,
      # Beyond the paper: the weight of Cg in the decoder's loss (0: x^_g
      # is detached for Cg, as the paper).
      cg_decoder=0.0))
  return c


def ggan_config() -> ml_collections.ConfigDict:
  """Paper-size GGAN (GGAN section III and Appendix Tables XII-XVI)."""
  c = biggan_config(conditional=True)
  c.model.family = "ggan"
  c.data.labelled_fraction = 0.05
  c.train.batch_size = 64
  # The paper's text: 5e-4 for E, Ce, G, F and Cx; 2e-4 for D1, D2 and Df.
  c.optim.g_lr = 5e-4
  c.optim.d_lr = 2e-4
  c.loss = ml_collections.ConfigDict(dict(mode_divergence_eps=1e-4))
  return c


def wavegan_config(family: str = "wavegan", conditioning: str = "none",
                   num_samples: int = 16384) -> ml_collections.ConfigDict:
  """Paper-size WaveGAN / SpecGAN (WaveGAN paper; SPEC section 6).

  d = 64, c = 1, z ~ U(-1, 1)^100, phase shuffle 2 (WaveGAN's D), WGAN-GP
  with lambda = 10, Adam 1e-4 with betas (0.5, 0.9), 5 critic updates per
  G update, batch 64, 200k iterations; no EMA (the papers use none).
  """
  c = ml_collections.ConfigDict()
  c.model = ml_collections.ConfigDict(dict(
      family=family, conditioning=conditioning, d=64, c=1, z_dim=100,
      phase_shuffle=2,
      # WaveGAN's 1-D convs: "polyphase" (stride in the channels), "xla"
      # (XLA's strided/dilated convs) or "auto" (polyphase on CPU only);
      # the same parameters and numbers (models/wavegan.py).
      conv1d="auto",
      num_classes=-1,     # -1: taken from the dataset (conditional models)
      # SpecGAN: per-frequency mean and std of the training set's log
      # magnitude, filled in by audiogan-train and exported with G.
      norm_mean=[], norm_std=[]))
  c.data = sources.default_data_config()
  c.data.num_samples = num_samples
  c.train = train_config(batch_size=64, num_steps=200000, d_steps=5,
                         ema_decay=0.0, ema_start=0, eval_every=0,
                         sample_every=5000, checkpoint_every=5000)
  c.optim = ml_collections.ConfigDict(dict(
      g_lr=1e-4, d_lr=1e-4, b1=0.5, b2=0.9, eps=1e-8, grad_clip=0.0))
  c.loss = ml_collections.ConfigDict(dict(gp_weight=10.0,
                                          label_smoothing=0.0))
  c.eval = eval_config()
  return c


def gansynth_config() -> ml_collections.ConfigDict:
  """Paper-size GANSynth (Engel et al. 2019; report 004 section 2.1.5).

  IF-Mel images of 4-second notes (64000 samples zero-padded to 65536;
  STFT 1024 / 256 -> 256 x 512 x 2), 61 pitches (NSynth's 24-84), z ~
  N(0, I)^256, 7 resolutions from 4 x 8 with 256, 256, 256, 256, 128, 64, 32
  channels, WGAN-GP (10) + drift (0.001) + auxiliary pitch classifier (10
  for G and D), Adam 8e-4 with betas (0, 0.99), batch 8, one D update per G
  update. Stages of 800k images each (100k iterations at batch 8) stable and
  in transition, as GANSynth's code: 11M images (1.375M iterations) in all.
  """
  c = ml_collections.ConfigDict()
  c.model = ml_collections.ConfigDict(dict(
      family="gansynth", representation="ifmel", n_fft=1024, hop=256,
      z_dim=256, num_classes=61,
      channels=(256, 256, 256, 256, 128, 64, 32), start_shape=(4, 8),
      stable_steps=100000, transition_steps=100000))
  c.data = sources.default_data_config()
  c.data.num_samples = 65536
  c.data.label = "pitch"
  c.data.synthetic.kind = "notes"
  c.data.synthetic.pitches = "24-84"
  c.train = train_config(batch_size=8, num_steps=1375000, d_steps=1,
                         ema_decay=0.999, ema_start=0, eval_every=0,
                         sample_every=10000, checkpoint_every=10000)
  c.optim = ml_collections.ConfigDict(dict(
      g_lr=8e-4, d_lr=8e-4, b1=0.0, b2=0.99, eps=1e-8, grad_clip=0.0))
  c.loss = ml_collections.ConfigDict(dict(
      gp_weight=10.0, drift_weight=0.001, d_ac_weight=10.0, g_ac_weight=10.0))
  c.eval = eval_config()
  return c


def cpu_demo_report(c: ml_collections.ConfigDict) -> None:
  """The demos' listening report at the end (WORKDIR/report.html): 500
  scored clips, two sounds per class, and an evaluation classifier trained
  first at CPU size (widths 8-64, hidden 64) until the real test clips' IS
  reaches 0.9 of the class count (checked every 50 steps from step 100,
  2,000 steps at the most); the learning curves' labelled-only baseline at
  the same widths."""
  c.eval.report_at_end = True
  c.eval.num_samples = 500
  c.eval.report_per_class = 2
  c.eval.baseline_widths = (8, 16, 32, 64)
  c.eval.classifier.update(dict(widths=(8, 16, 32, 64), hidden=64,
                                batch_size=32, num_steps=2000, min_steps=100,
                                check_every=50, lr=1e-3))


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
