"""Pieces every GAN family shares: optimizers, initialisation, small losses."""

from __future__ import annotations

from typing import Any, Callable, Mapping

import jax
import jax.numpy as jnp
import ml_collections
import optax

from audiogan_jax.models import layers
from audiogan_jax.gans import state as state_lib

Config = ml_collections.ConfigDict


COMPUTE_DTYPES = ("float32", "bfloat16")


def compute_dtype(config: Config):
  """The dtype of activations and matmuls (``train.compute_dtype``).

  ``bfloat16`` is mixed precision: parameters, optimizer states, the
  spectral norm's power iteration, batch-norm statistics, attention
  softmax, gradient penalty and losses stay float32.
  """
  name = str(config.train.get("compute_dtype", "float32"))
  if name not in COMPUTE_DTYPES:
    raise ValueError(f"--config.train.compute_dtype={name!r}; use one of "
                     f"{', '.join(COMPUTE_DTYPES)}")
  return jnp.dtype(name)


def scan_updates(update: Callable, state, xs, config: Config):
  """Runs the k discriminator-side updates of one iteration (``lax.scan``).

  ``train.unroll_d_steps`` (the default) unrolls the loop into straight-line
  code: on 2 CPU cores a WaveGAN iteration (k = 5) then takes 1.8 s instead
  of 7.5 s and a GAAE one 1.27 s instead of 2.26 s (docs/PERFORMANCE.md),
  for a longer compilation at large k. ``False`` keeps one loop body.
  ``audiogan-bench`` lowers the unrolled form to count FLOPs either way, as
  XLA's cost analysis counts a loop body once.
  """
  return jax.lax.scan(update, state, xs,
                      unroll=bool(config.train.get("unroll_d_steps", True)))


def d_width(config: Config) -> int:
  """Channel multiplier of the discriminator-shaped networks.

  ``model.d_ch`` (0: the same as ``model.ch``) sets the width of every network
  built on the BigGAN discriminator trunk (D, S, GAAE's E, GGAN's D1 and D2)
  apart from the generator's ``model.ch``, as BigGAN's G_ch and D_ch. The
  papers use ch = 16 for both.
  """
  d = int(config.model.get("d_ch", 0))
  return d if d > 0 else int(config.model.ch)


def g_min_channels(config: Config) -> int:
  """The fewest channels of any generator block (``model.g_min_channels``).

  0 (the papers): block i has ``widths[i] * ch`` channels, so the last block,
  at 256x128 with multiplier 1, has ``ch``. At a small demo width (ch = 1)
  that leaves one ReLU channel for the output convolution to draw the whole
  spectrogram from: a constant wherever it is zero and little contrast.
  """
  n = int(config.model.get("g_min_channels", 0))
  if n < 0:
    raise ValueError(f"--config.model.g_min_channels={n} must be >= 0 "
                     "(0: the papers' widths)")
  return n


def cbn_init(config: Config) -> str:
  """How the cBN class embeddings start (``model.cbn_init``, layers.py).

  "orthogonal" (the default, BigGAN's) makes the generator class-dependent
  from the first step; "zeros" starts it class-blind.
  """
  name = str(config.model.get("cbn_init", "orthogonal"))
  layers.cbn_initializer(name)   # the one-line error for a bad value
  return name


def adam(config: Config, lr: float) -> optax.GradientTransformation:
  """Adam with the config's betas and epsilon (and optional global clipping)."""
  o = config.optim
  parts = []
  if o.get("grad_clip", 0.0):
    parts.append(optax.clip_by_global_norm(float(o.grad_clip)))
  parts.append(optax.adam(lr, b1=float(o.b1), b2=float(o.b2), eps=float(o.eps)))
  return optax.chain(*parts)


def init_networks(modules: Mapping[str, Any],
                  inputs: Callable[[str], tuple], key: jax.Array
                  ) -> tuple[dict[str, Any], dict[str, Any]]:
  """Initial params and ``batch_stats`` of every network, one key each.

  Keys are ``fold_in(key, i)`` over the networks' sorted names, so adding a
  network to a family never changes another network's initialisation order
  silently within a family's own fixed set of names.
  """
  params, stats = {}, {}
  for i, name in enumerate(sorted(modules)):
    v = modules[name].init({"params": jax.random.fold_in(key, i)},
                           *inputs(name), train=False)
    params[name] = v["params"]
    stats[name] = v.get("batch_stats", {})
  # Flax's SpectralNorm writes its normalised weight back into the params at
  # initialisation, in the layer's compute dtype: keep every float in
  # float32 (mixed precision keeps parameters and statistics in float32).
  return float32(params), float32(stats)


def float32(tree):
  """Every floating leaf of a pytree as float32."""
  return jax.tree.map(
      lambda a: a.astype(jnp.float32)
      if jnp.issubdtype(a.dtype, jnp.floating) else a, tree)


def new_state(params, stats, txs: Mapping[str, optax.GradientTransformation],
              groups: Mapping[str, tuple[str, ...]], ema: tuple[str, ...]):
  """A fresh GANState: optimizer group g owns the networks ``groups[g]``;
  the networks in ``ema`` get EMA copies."""
  opt = {g: txs[g].init({n: params[n] for n in names})
         for g, names in groups.items()}
  return state_lib.GANState(
      step=jnp.zeros((), jnp.int32), params=params, stats=stats,
      opt_state=opt, ema_params={n: params[n] for n in ema},
      ema_stats={n: stats[n] for n in ema})


def cross_entropy(logits: jax.Array, labels: jax.Array) -> jax.Array:
  """Mean softmax cross-entropy of integer labels, in float32."""
  return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(
      logits.astype(jnp.float32), labels))


def accuracy(logits: jax.Array, labels: jax.Array) -> jax.Array:
  """Fraction of argmax predictions equal to the labels."""
  return jnp.mean((jnp.argmax(logits, -1) == labels).astype(jnp.float32))


def generator_variables(family, state) -> tuple[Any, Any]:
  """The EMA params and statistics ``family.generate`` takes.

  ``family.GENERATOR`` names one network (its variables are passed as they
  are) or a tuple of networks (GGAN's E and G: passed as dicts by name).
  """
  g = family.GENERATOR
  if isinstance(g, str):
    return state.ema_params[g], state.ema_stats[g]
  return ({n: state.ema_params[n] for n in g},
          {n: state.ema_stats[n] for n in g})


def apply_network(mods: Mapping[str, Any], name: str, params, stats, *args,
                  train: bool):
  """Runs network ``name``; returns (output, its new batch_stats)."""
  out, new = mods[name].apply(
      {"params": params[name], "batch_stats": stats[name]}, *args,
      train=train, mutable=["batch_stats"])
  return out, new.get("batch_stats", stats[name])


def guided_num_classes(config: Config, model: str) -> int:
  """The classes of a guided model (always conditional), checked."""
  n = int(config.model.num_classes)
  if n <= 0:
    raise ValueError(f"{model} needs the number of classes: set "
                     "--config.model.num_classes or train on labelled data")
  return n
