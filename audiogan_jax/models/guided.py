"""The extra networks of the guided models GAAE and GGAN.

GAAE (Appendix Tables 20-23): the encoder is the BigGAN discriminator trunk
(to the global sum pool) with two dense heads, the guided latent z and the
style latent z'; the classifier C and the latent discriminator L are small
MLPs. GGAN (Appendix Tables XII-XVI): encoder E on [z, one-hot c], classifiers
Ce and Cx, the discrimination head D', the feature extractor F and the
feature-pair discriminator Df are MLPs on the trunk's features.

Readings of the papers' tables, written down here:

* The MLP tables list no spectral normalisation. Networks that play the
  discriminator's role (L, D', Df) get it, as every discriminator layer of
  BigGAN does; the others (encoder heads, C, Ce, Cx, F, GGAN's E) are plain
  dense layers so their outputs can take any scale (z' must match N(0, I)).
* GGAN's Table XV gives D' an input of 128 while the trunk emits 16ch = 256
  features; D' takes the trunk's features, whatever their width.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from audiogan_jax.models import biggan
from audiogan_jax.models import layers

Dtype = Any


class MLP(nn.Module):
  """Dense -> ReLU -> ... -> Dense; spectrally normalised if asked."""

  features: Sequence[int]
  spectral_norm: bool = False
  dtype: Optional[Dtype] = None

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = True) -> jax.Array:
    h = x.astype(self.dtype or x.dtype)
    for i, f in enumerate(self.features):
      if i:
        h = nn.relu(h)
      if self.spectral_norm:
        h = layers.SNDense(f, dtype=self.dtype, name=f"dense{i}")(h, train)
      else:
        h = nn.Dense(f, dtype=self.dtype, name=f"dense{i}")(h)
    return h.astype(jnp.float32)


class Encoder(nn.Module):
  """GAAE's encoder E: spectrogram -> (guided z, style z'), 128 each.

  The BigGAN discriminator trunk (Table 20: ResBlocks to 4x2x16ch, ReLU,
  global sum pool) followed by two dense heads.


  ``style_norm="batch"`` (beyond the paper) standardises z' with a batch
  norm without scale or bias, so the codes the decoder is trained on have
  the N(0, I) prior's mean and variance from the first step and generation
  from the prior is in distribution before L has matched the rest; "none"
  is the paper's plain dense head.
  """

  ch: int = 16
  z_dim: int = 128
  attention: bool = True
  style_norm: str = "none"
  dtype: Optional[Dtype] = None

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = True
               ) -> tuple[jax.Array, jax.Array]:
    h = biggan.DiscriminatorTrunk(self.ch, attention=self.attention,
                                  dtype=self.dtype, name="trunk")(x, train)
    guided = nn.Dense(self.z_dim, name="guided")(h)
    style = nn.Dense(self.z_dim, name="style")(h)
    if self.style_norm == "batch":
      style = nn.BatchNorm(use_running_average=not train, momentum=0.9,
                           use_scale=False, use_bias=False,
                           name="style_norm")(style)
    elif self.style_norm != "none":
      raise ValueError(f"--config.model.style_norm={self.style_norm!r}: use "
                       "none or batch")
    return guided, style


class PairDiscriminator(nn.Module):
  """GGAN's Df: [trunk features, 128-d code] -> 128 -> ReLU -> 1."""

  hidden: int = 128
  dtype: Optional[Dtype] = None

  @nn.compact
  def __call__(self, features: jax.Array, code: jax.Array,
               train: bool = True) -> jax.Array:
    h = jnp.concatenate([features.astype(jnp.float32),
                         code.astype(jnp.float32)], axis=-1)
    return MLP((self.hidden, 1), spectral_norm=True, dtype=self.dtype,
               name="mlp")(h, train)[:, 0]


class ConditionalEncoder(nn.Module):
  """GGAN's encoder E: [z, one-hot c] -> 128 -> ReLU -> 128 -> ReLU -> 128."""

  num_classes: int
  z_dim: int = 128
  dtype: Optional[Dtype] = None

  @nn.compact
  def __call__(self, z: jax.Array, c: jax.Array,
               train: bool = True) -> jax.Array:
    onehot = jax.nn.one_hot(c, self.num_classes, dtype=jnp.float32)
    h = jnp.concatenate([z.astype(jnp.float32), onehot], axis=-1)
    return MLP((128, 128, self.z_dim), dtype=self.dtype, name="mlp")(h, train)
