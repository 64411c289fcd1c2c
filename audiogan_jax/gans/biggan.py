"""The BigGAN spectrogram baselines of GGAN/GAAE: unsupervised and supervised.

Unsupervised: plain BN in G, plain D. Supervised (``model.num_classes > 0``):
class-conditional BN in G, projection D, trained on the labelled stream.
Both: hinge loss, Adam with lr 5e-5 (G) and 2e-4 (D), ``train.d_steps``
discriminator updates per generator update, each on a fresh real batch.
"""

from __future__ import annotations

from typing import Any, Mapping

import jax
import jax.numpy as jnp
import ml_collections
import optax

from audiogan_jax.gans import common
from audiogan_jax.models import biggan as nets
from audiogan_jax.gans import losses
from audiogan_jax.gans import state as state_lib

GANState = state_lib.GANState
Config = ml_collections.ConfigDict

# Named random streams, folded into each step's key.
_Z, _Y, _D = 1, 2, 3


def num_classes(config: Config) -> int:
  """Number of classes the networks condition on (0 for unsupervised)."""
  return int(config.model.num_classes) if config.model.conditional else 0


compute_dtype = common.compute_dtype


def networks(config: Config) -> dict[str, Any]:
  """The Flax modules of the family, by name."""
  n, ch, dt = num_classes(config), int(config.model.ch), compute_dtype(config)
  att = bool(config.model.get("attention", True))
  return {"g": nets.Generator(ch=ch, num_classes=n, attention=att,
                             cbn_init=common.cbn_init(config),
                            min_channels=common.g_min_channels(config),
                            dtype=dt),
          "d": nets.Discriminator(ch=common.d_width(config), num_classes=n,
                                  attention=att, dtype=dt)}


def optimizers(config: Config) -> dict[str, optax.GradientTransformation]:
  """One optimizer per network group, each with its own learning rate."""
  return {"g": common.adam(config, float(config.optim.g_lr)),
          "d": common.adam(config, float(config.optim.d_lr))}


def streams(config: Config) -> dict[str, str]:
  """Which example pool feeds each real batch: 'all' or 'labelled'."""
  return {"x": "labelled" if num_classes(config) else "all"}


def _example_inputs(config: Config, batch: int = 2):
  z = jnp.zeros((batch, int(config.model.z_dim)), jnp.float32)
  y = jnp.zeros((batch,), jnp.int32)
  x = jnp.zeros((batch, *nets.SPEC_SHAPE, 1), jnp.float32)
  return z, y, x


def init_state(config: Config, key: jax.Array) -> GANState:
  """Fresh parameters, optimizer states and EMA copies."""
  variables = {
      name: module.init({"params": jax.random.fold_in(key, i)},
                        *network_inputs(config, name), train=False)
      for i, (name, module) in enumerate(sorted(networks(config).items(),
                                                reverse=True))}  # g=0, d=1
  # float32 whatever the compute dtype (see common.init_networks).
  params = common.float32({n: v["params"] for n, v in variables.items()})
  stats = common.float32({n: v["batch_stats"] for n, v in variables.items()})
  # Each optimizer group owns a dict of networks (one network each here).
  return common.new_state(params, stats, optimizers(config),
                          {"g": ("g",), "d": ("d",)}, ("g",))


def sample_latents(config: Config, key: jax.Array, batch: int):
  """z ~ N(0, I) and uniformly drawn labels (None when unconditional)."""
  z = jax.random.normal(jax.random.fold_in(key, _Z),
                        (batch, int(config.model.z_dim)), jnp.float32)
  n = num_classes(config)
  y = (jax.random.randint(jax.random.fold_in(key, _Y), (batch,), 0, n)
       if n else None)
  return z, y


def generate(config: Config, params, stats, z: jax.Array,
             y: jax.Array | None) -> jax.Array:
  """Spectrograms [B,256,128,1] from a generator's params (inference mode)."""
  g = networks(config)["g"]
  return g.apply({"params": params, "batch_stats": stats}, z,
                 y if num_classes(config) else None, train=False)


def train_iteration(state: GANState, batch: Mapping[str, jax.Array],
                    key: jax.Array, *, config: Config) -> tuple[GANState, dict]:
  """One iteration: ``d_steps`` D updates on fresh batches, then one G update.

  ``batch["x_spectrogram"]`` is [d_steps, B, 256, 128, 1] and
  ``batch["x_label"]`` [d_steps, B]; the generator update draws its own
  latents and labels.
  """
  mods, txs = networks(config), optimizers(config)
  g, d = mods["g"], mods["d"]
  cond = num_classes(config) > 0
  k = int(config.train.d_steps)
  real_all = batch["x_spectrogram"]
  labels_all = batch["x_label"]
  bsz = real_all.shape[1]

  def d_update(state, inputs):
    j, real, y_real = inputs
    kj = jax.random.fold_in(key, j)
    y_real = y_real if cond else None
    z, y_fake = sample_latents(config, kj, bsz)
    fake, g_vars = g.apply({"params": state.params["g"],
                            "batch_stats": state.stats["g"]}, z, y_fake,
                           train=True, mutable=["batch_stats"])
    fake = jax.lax.stop_gradient(fake)
    # Real and fake through D in one pass (D has no batch norm).
    x = jnp.concatenate([real, fake.astype(real.dtype)], axis=0)
    yd = jnp.concatenate([y_real, y_fake], axis=0) if cond else None

    def d_loss_fn(d_params):
      out, new_vars = d.apply({"params": d_params,
                               "batch_stats": state.stats["d"]}, x, yd,
                              train=True, mutable=["batch_stats"])
      d_real, d_fake = out[:bsz], out[bsz:]
      loss = losses.hinge_d_loss(d_real, d_fake)
      return loss, (new_vars["batch_stats"], jnp.mean(d_real),
                    jnp.mean(d_fake))

    (d_loss, (d_stats, d_real_m, d_fake_m)), grads = jax.value_and_grad(
        d_loss_fn, has_aux=True)(state.params["d"])
    state = state_lib.apply_updates(state, "d", ("d",), {"d": grads}, txs["d"])
    state = state.replace(stats={**state.stats, "d": d_stats,
                                 "g": g_vars["batch_stats"]})
    return state, {"d_loss": d_loss, "d_real": d_real_m, "d_fake": d_fake_m,
                   "d_grad_norm": state_lib.global_norm(grads)}

  # The k discriminator updates, each on its own real batch, as one scan so
  # the update is compiled once whatever k is.
  state, d_metrics = common.scan_updates(
      d_update, state, (jnp.arange(k), real_all, labels_all), config)
  metrics = jax.tree.map(lambda m: m[-1], d_metrics)

  kg = jax.random.fold_in(key, k)
  z, y_fake = sample_latents(config, kg, bsz)

  def g_loss_fn(g_params):
    fake, new_vars = g.apply({"params": g_params,
                              "batch_stats": state.stats["g"]}, z, y_fake,
                             train=True, mutable=["batch_stats"])
    out = d.apply({"params": state.params["d"],
                   "batch_stats": state.stats["d"]}, fake, y_fake, train=False)
    return losses.hinge_g_loss(out), new_vars["batch_stats"]

  (g_loss, g_stats), grads = jax.value_and_grad(g_loss_fn, has_aux=True)(
      state.params["g"])
  state = state_lib.apply_updates(state, "g", ("g",), {"g": grads}, txs["g"])
  state = state.replace(stats={**state.stats, "g": g_stats},
                        step=state.step + 1)
  state = state_lib.update_ema(state, float(config.train.ema_decay),
                               int(config.train.ema_start))
  metrics.update(g_loss=g_loss, g_grad_norm=state_lib.global_norm(grads))
  return state, metrics


def steps_per_iteration(config: Config) -> int:
  """Fresh real batches per iteration: one per D update."""
  return int(config.train.d_steps)


def encode(config: Config, params, stats, x):
  """BigGAN has no encoder (``ENCODER`` is empty)."""
  raise ValueError("a BigGAN run has no encoder or classifier to encode with; "
                   "train a guided model (configs/gaae.py or configs/ggan.py)")


def network_inputs(config: Config, name: str, batch: int = 2):
  """Example inputs of one network, for shape and parameter reports."""
  z, y, x = _example_inputs(config, batch)
  yy = y if num_classes(config) else None
  return {"g": (z, yy), "d": (x, yy)}[name]


GENERATOR = "g"
ENCODER: tuple[str, ...] = ()
# Config keys the compiled iteration reads beyond gans/family.py's common
# ones (the compiled-step cache key).
STEP_CONFIG_KEYS = ("train.d_steps",)
