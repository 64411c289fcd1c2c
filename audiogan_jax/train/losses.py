"""GAN losses as plain functions of discriminator outputs."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def hinge_d_loss(d_real: jax.Array, d_fake: jax.Array) -> jax.Array:
  """Discriminator hinge loss: E[relu(1 - D(x))] + E[relu(1 + D(G(z)))]."""
  return (jnp.mean(jax.nn.relu(1.0 - d_real.astype(jnp.float32)))
          + jnp.mean(jax.nn.relu(1.0 + d_fake.astype(jnp.float32))))


def hinge_g_loss(d_fake: jax.Array) -> jax.Array:
  """Generator hinge loss: -E[D(G(z))]."""
  return -jnp.mean(d_fake.astype(jnp.float32))
