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


def wasserstein_d_loss(d_real: jax.Array, d_fake: jax.Array) -> jax.Array:
  """WGAN critic loss without the penalty: E[D(G(z))] - E[D(x)]."""
  return (jnp.mean(d_fake.astype(jnp.float32))
          - jnp.mean(d_real.astype(jnp.float32)))


def wasserstein_g_loss(d_fake: jax.Array) -> jax.Array:
  """WGAN generator loss: -E[D(G(z))]."""
  return -jnp.mean(d_fake.astype(jnp.float32))


def gradient_penalty(critic, real: jax.Array, fake: jax.Array,
                     key: jax.Array) -> jax.Array:
  """WGAN-GP's E[(||grad_x D(x~)||_2 - 1)^2] on random interpolates.

  ``x~ = eps x + (1 - eps) G(z)`` with one ``eps ~ U[0, 1]`` per example;
  ``critic`` maps a batch to one score per example. Computed in float32
  whatever the compute dtype: the interpolates, the gradient and its norm.
  """
  real = real.astype(jnp.float32)
  fake = fake.astype(jnp.float32)
  shape = (real.shape[0],) + (1,) * (real.ndim - 1)
  eps = jax.random.uniform(key, shape, jnp.float32)
  mixed = eps * real + (1.0 - eps) * fake
  grads = jax.grad(lambda x: jnp.sum(critic(x).astype(jnp.float32)))(mixed)
  norms = jnp.sqrt(jnp.sum(jnp.square(grads.astype(jnp.float32)),
                           axis=tuple(range(1, grads.ndim))) + 1e-12)
  return jnp.mean(jnp.square(norms - 1.0))


def sigmoid_cross_entropy(logits: jax.Array, target: float) -> jax.Array:
  """Mean sigmoid cross entropy of logits against one target in [0, 1]."""
  x = logits.astype(jnp.float32)
  # -t log s(x) - (1 - t) log(1 - s(x)), stable for large |x|.
  return jnp.mean(jax.nn.softplus(x) - target * x)
