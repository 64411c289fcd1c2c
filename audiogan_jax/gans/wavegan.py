"""WaveGAN, SpecGAN and conditional WaveGAN (SPEC section 6).

One family for ``model.family`` ``wavegan`` (raw waveforms) and ``specgan``
(the 128x128 representation of ``audio/specgan_repr.py``), with
``model.conditioning``:

* ``none``: WaveGAN / SpecGAN. WGAN-GP: the critic minimises
  E[D(G(z))] - E[D(x)] + lambda E[(||grad D(x~)|| - 1)^2] (lambda = 10, the
  penalty on random interpolates, in float32); G minimises -E[D(G(z))].
* ``concat``: conditional WaveGAN by concatenation; the one-hot label as full
  planes after G's dense layer and as extra input channels of D; the same
  WGAN-GP loss with D(x, y). In the critic's update the fakes are made for
  the real batch's labels, so every interpolate has one label.
* ``acgan``: auxiliary classifier GAN; D sees no label and has a real/fake
  logit and class logits. D minimises sigmoid CE(real -> 1, fake -> 0) +
  softmax CE(class(x), y) + CE(class(G(z, y')), y'); G minimises sigmoid
  CE(fake -> 1) + CE(class(G(z, y')), y') (the dissertation's losses; real
  targets 1 - ``loss.label_smoothing``).

Adam 1e-4, betas (0.5, 0.9); ``train.d_steps`` (5) critic updates per G
update, each on a fresh real batch, as one ``lax.scan``. Phase shuffle
(WaveGAN's D, ``model.phase_shuffle`` = 2) draws a shift per example on the
device in every D application. z ~ U(-1, 1)^100.
"""

from __future__ import annotations

from typing import Any, Mapping

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from audiogan_jax.audio import specgan_repr
from audiogan_jax.gans import common
from audiogan_jax.models import wavegan as nets
from audiogan_jax.gans import losses
from audiogan_jax.gans import state as state_lib

GANState = state_lib.GANState
Config = ml_collections.ConfigDict

GENERATOR = "g"
ENCODER: tuple[str, ...] = ()
# Config keys the compiled iteration reads beyond gans/family.py's common
# ones (the compiled-step cache key).
STEP_CONFIG_KEYS = ("train.d_steps", "data.num_samples")
CONDITIONINGS = ("none", "concat", "acgan")

# Named random streams, folded into each update's key.
_Z, _Y, _SHUFFLE, _GP, _GP_SHUFFLE = 1, 2, 3, 4, 5


def kind(config: Config) -> str:
  """'wave' for WaveGAN, 'spec' for SpecGAN."""
  return "spec" if str(config.model.family) == "specgan" else "wave"


def conditioning(config: Config) -> str:
  """The conditioning scheme, checked."""
  c = str(config.model.get("conditioning", "none"))
  if c not in CONDITIONINGS:
    raise ValueError(f"--config.model.conditioning={c!r}; use one of "
                     f"{', '.join(CONDITIONINGS)}")
  return c


def num_classes(config: Config) -> int:
  """Classes the generator conditions on (0 for WaveGAN / SpecGAN)."""
  if conditioning(config) == "none":
    return 0
  n = int(config.model.num_classes)
  if n <= 0:
    raise ValueError("a conditional WaveGAN needs the number of classes: set "
                     "--config.model.num_classes or train on labelled data")
  return n


def num_samples(config: Config) -> int:
  """Clip length in samples (16384; WaveGAN also 65536)."""
  n = int(config.data.get("num_samples", 16384))
  if kind(config) == "spec" and n != specgan_repr.NUM_SAMPLES:
    raise ValueError(f"--config.data.num_samples={n}: SpecGAN's 128x128 "
                     f"representation is of {specgan_repr.NUM_SAMPLES}-sample "
                     "clips")
  nets.num_layers(n)  # checks the length
  return n


def output_kind(config: Config) -> str:
  """What ``generate`` returns: 'waveform' or 'specgan' spectrograms."""
  return "specgan" if kind(config) == "spec" else "waveform"


def input_fields(config: Config) -> tuple[str, ...]:
  """The batch fields the step reads (SpecGAN's STFT runs on the device)."""
  del config
  return ("waveform", "label")


def networks(config: Config) -> dict[str, Any]:
  """The Flax modules of the family, by name."""
  dt = common.compute_dtype(config)
  m, n, k = config.model, num_classes(config), kind(config)
  t = num_samples(config)
  conv = str(m.get("conv1d", "auto"))
  nets.conv1d_impl(conv)   # the one-line error for a bad value
  return {
      "g": nets.Generator(d=int(m.d), c=int(m.c), kind=k, num_samples=t,
                          num_classes=n, conv1d=conv, dtype=dt),
      "d": nets.Discriminator(d=int(m.d), kind=k, num_samples=t,
                              num_classes=n, conditioning=conditioning(config),
                              phase_shuffle=int(m.phase_shuffle)
                              if k == "wave" else 0, conv1d=conv, dtype=dt)}


def optimizers(config: Config) -> dict[str, optax.GradientTransformation]:
  """Adam for G and for D, each with its own learning rate."""
  return {"g": common.adam(config, float(config.optim.g_lr)),
          "d": common.adam(config, float(config.optim.d_lr))}


def streams(config: Config) -> dict[str, str]:
  """Conditional models train on the labelled clips, the others on all."""
  return {"x": "labelled" if num_classes(config) else "all"}


def steps_per_iteration(config: Config) -> int:
  """Fresh real batches per iteration: one per critic update."""
  return int(config.train.d_steps)


def _data_shape(config: Config) -> tuple[int, ...]:
  if kind(config) == "spec":
    return (*nets.SPECGAN_SHAPE, 1)
  return (num_samples(config), int(config.model.c))


def network_inputs(config: Config, name: str, batch: int = 2):
  """Example inputs of one network, for initialisation and reports."""
  z = jnp.zeros((batch, int(config.model.z_dim)), jnp.float32)
  n = num_classes(config)
  y = jnp.zeros((batch,), jnp.int32) if n else None
  x = jnp.zeros((batch, *_data_shape(config)), jnp.float32)
  return {"g": (z, y),
          "d": (x, y if conditioning(config) == "concat" else None)}[name]


def init_state(config: Config, key: jax.Array) -> GANState:
  """Fresh parameters, optimizer states and the generator's EMA copy."""
  params, stats = common.init_networks(
      networks(config), lambda n: network_inputs(config, n), key)
  return common.new_state(params, stats, optimizers(config),
                          {"g": ("g",), "d": ("d",)}, ("g",))


def sample_latents(config: Config, key: jax.Array, batch: int):
  """z ~ U(-1, 1)^z_dim and uniformly drawn labels (None if unconditional)."""
  z = jax.random.uniform(jax.random.fold_in(key, _Z),
                         (batch, int(config.model.z_dim)), jnp.float32,
                         -1.0, 1.0)
  n = num_classes(config)
  y = (jax.random.randint(jax.random.fold_in(key, _Y), (batch,), 0, n)
       if n else None)
  return z, y


def normalisation(config: Config) -> tuple[np.ndarray, np.ndarray]:
  """SpecGAN's per-bin mean and std (set from the data by ``resolve``)."""
  mean = np.asarray(config.model.get("norm_mean", ()) or (), np.float32)
  std = np.asarray(config.model.get("norm_std", ()) or (), np.float32)
  if mean.shape != (specgan_repr.NUM_FREQ,) or std.shape != mean.shape:
    raise ValueError(
        "SpecGAN needs its per-frequency normalisation statistics "
        "(model.norm_mean / model.norm_std, 128 values each); audiogan-train "
        "computes them from the training set")
  return mean, std


def resolve(config: Config, dataset) -> Config:
  """Fills what comes from the data: SpecGAN's normalisation statistics.

  Kept in the config, so checkpoints' config.json and exported generators
  carry them and generation can undo the normalisation.
  """
  if kind(config) != "spec" or len(config.model.get("norm_mean", ()) or ()):
    return config
  mean, std = specgan_repr.dataset_statistics(dataset.train.waveforms)
  config.model.norm_mean = [float(v) for v in mean]
  config.model.norm_std = [float(v) for v in std]
  return config


def real_inputs(config: Config, waves: jax.Array) -> jax.Array:
  """A batch of clips [B, T] as D's input: [B, T, 1] or [B, 128, 128, 1]."""
  if kind(config) == "spec":
    mean, std = normalisation(config)
    return specgan_repr.waveform_to_spec(waves.astype(jnp.float32), mean, std)
  if int(config.model.c) != 1:
    raise ValueError(f"--config.model.c={int(config.model.c)}: the data "
                     "pipeline gives mono clips; train with c=1")
  return waves[..., None]


def generate(config: Config, params, stats, z: jax.Array,
             y: jax.Array | None) -> jax.Array:
  """Waveforms [B, T] (WaveGAN) or spectrograms [B, 128, 128, 1] (SpecGAN)."""
  out = networks(config)["g"].apply({"params": params, "batch_stats": stats},
                                    z, y, train=False)
  if kind(config) == "wave" and out.shape[-1] == 1:
    return out[..., 0]
  return out


def train_iteration(state: GANState, batch: Mapping[str, jax.Array],
                    key: jax.Array, *, config: Config) -> tuple[GANState, dict]:
  """``d_steps`` critic updates on fresh batches, then one G update.

  ``batch["x_waveform"]`` is [d_steps, B, T] and ``batch["x_label"]``
  [d_steps, B].
  """
  mods, txs = networks(config), optimizers(config)
  g, d = mods["g"], mods["d"]
  cond = conditioning(config)
  n = num_classes(config)
  k = int(config.train.d_steps)
  gp_weight = float(config.loss.gp_weight)
  smooth = float(config.loss.get("label_smoothing", 0.0))
  bsz = batch["x_waveform"].shape[1]

  def gen(g_params, z, y):
    return g.apply({"params": g_params, "batch_stats": state.stats["g"]}, z,
                   y, train=True)

  def critic(d_params, x, y, shuffle_key):
    return d.apply({"params": d_params, "batch_stats": state.stats["d"]}, x,
                   y if cond == "concat" else None, train=True,
                   shuffle_key=shuffle_key)

  def d_update(state, inputs):
    j, waves, y_real = inputs
    kj = jax.random.fold_in(key, j)
    real = real_inputs(config, waves)
    z, _ = sample_latents(config, kj, bsz)
    y = y_real if n else None
    fake = jax.lax.stop_gradient(gen(state.params["g"], z, y)).astype(
        real.dtype)
    ks = jax.random.fold_in(kj, _SHUFFLE)

    def loss_fn(dp):
      x = jnp.concatenate([real, fake])
      yy = jnp.concatenate([y, y]) if n else None
      out = critic(dp, x, yy, ks)
      if cond == "acgan":
        logit, cls = out
        adv = (losses.sigmoid_cross_entropy(logit[:bsz], 1.0 - smooth)
               + losses.sigmoid_cross_entropy(logit[bsz:], 0.0))
        cls_loss = (common.cross_entropy(cls[:bsz], y)
                    + common.cross_entropy(cls[bsz:], y))
        m = {"d_adv": adv, "d_cls": cls_loss,
             "acc_real": common.accuracy(cls[:bsz], y),
             "acc_fake": common.accuracy(cls[bsz:], y)}
        return adv + cls_loss, (jnp.mean(logit[:bsz]),
                                jnp.mean(logit[bsz:]), m)
      wd = losses.wasserstein_d_loss(out[:bsz], out[bsz:])
      kg = jax.random.fold_in(kj, _GP_SHUFFLE)
      gp = losses.gradient_penalty(lambda xx: critic(dp, xx, y, kg), real,
                                   fake, jax.random.fold_in(kj, _GP))
      return wd + gp_weight * gp, (jnp.mean(out[:bsz]), jnp.mean(out[bsz:]),
                                   {"gp": gp, "wasserstein": -wd})

    (d_loss, (d_real, d_fake, m)), grads = jax.value_and_grad(
        loss_fn, has_aux=True)(state.params["d"])
    state = state_lib.apply_updates(state, "d", ("d",), {"d": grads}, txs["d"])
    m.update(d_loss=d_loss, d_real=d_real, d_fake=d_fake,
             d_grad_norm=state_lib.global_norm(grads))
    return state, m

  state, d_metrics = common.scan_updates(
      d_update, state, (jnp.arange(k), batch["x_waveform"], batch["x_label"]),
      config)
  metrics = jax.tree.map(lambda m: m[-1], d_metrics)

  kg = jax.random.fold_in(key, k)
  z, y = sample_latents(config, kg, bsz)

  def g_loss_fn(gp_):
    fake = gen(gp_, z, y)
    out = critic(state.params["d"], fake, y, jax.random.fold_in(kg, _SHUFFLE))
    if cond == "acgan":
      logit, cls = out
      return (losses.sigmoid_cross_entropy(logit, 1.0)
              + common.cross_entropy(cls, y))
    return losses.wasserstein_g_loss(out)

  g_loss, grads = jax.value_and_grad(g_loss_fn)(state.params["g"])
  state = state_lib.apply_updates(state, "g", ("g",), {"g": grads}, txs["g"])
  state = state.replace(step=state.step + 1)
  state = state_lib.update_ema(state, float(config.train.ema_decay),
                               int(config.train.ema_start))
  metrics.update(g_loss=g_loss, g_grad_norm=state_lib.global_norm(grads))
  return state, metrics


def encode(config: Config, params, stats, x):
  """WaveGAN and SpecGAN have no encoder (``ENCODER`` is empty)."""
  raise ValueError("a WaveGAN/SpecGAN run has no encoder or classifier to "
                   "encode with; train a guided model (configs/gaae.py or "
                   "configs/ggan.py)")
