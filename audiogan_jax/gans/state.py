"""The one pytree that holds a GAN's whole training state."""

from __future__ import annotations

from typing import Any, Mapping

import flax
import jax
import jax.numpy as jnp
import numpy as np
import optax

PyTree = Any


@flax.struct.dataclass
class GANState:
  """Every network's params and mutable collections, optimizer states, EMA.

  ``params[name]`` / ``stats[name]`` hold each network's trainable parameters
  and its ``batch_stats`` collection (batch-norm statistics and the spectral
  norm's power-iteration vectors); ``opt_state[group]`` each optimizer group's
  state; ``ema_params`` / ``ema_stats`` the exponential moving average of the
  networks named in the config (the generator), used for samples and export.
  ``step`` counts finished iterations (k discriminator updates + one
  generator update).
  """

  step: jax.Array
  params: dict[str, PyTree]
  stats: dict[str, PyTree]
  opt_state: dict[str, PyTree]
  ema_params: dict[str, PyTree]
  ema_stats: dict[str, PyTree]


def apply_updates(state: GANState, group: str, names: tuple[str, ...],
                  grads: Mapping[str, PyTree],
                  tx: optax.GradientTransformation) -> GANState:
  """Applies one optimizer group's update to the networks it owns."""
  params = {n: state.params[n] for n in names}
  updates, opt = tx.update(dict(grads), state.opt_state[group], params)
  params = optax.apply_updates(params, updates)
  return state.replace(params={**state.params, **params},
                       opt_state={**state.opt_state, group: opt})


def update_ema(state: GANState, decay: float, start: int) -> GANState:
  """EMA of params and statistics; a plain copy before ``start`` (BigGAN)."""
  d = jnp.where(state.step >= start, decay, 0.0)

  def ema(old, new):
    if not jnp.issubdtype(new.dtype, jnp.floating):
      return new
    return (d * old + (1.0 - d) * new).astype(new.dtype)

  names = tuple(state.ema_params)
  return state.replace(
      ema_params={n: jax.tree.map(ema, state.ema_params[n], state.params[n])
                  for n in names},
      ema_stats={n: jax.tree.map(ema, state.ema_stats[n], state.stats[n])
                 for n in names})


def count_params(tree: PyTree) -> int:
  """Number of scalars in a pytree of arrays or shape structs."""
  return int(sum(np.prod(x.shape) for x in jax.tree.leaves(tree)))


def global_norm(tree: PyTree) -> jax.Array:
  """L2 norm of all leaves (gradient norms for the logs)."""
  return optax.global_norm(tree)
