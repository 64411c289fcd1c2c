"""BigGAN generator and discriminator for 256x128 log-magnitude spectrograms.

Architecture of GGAN/GAAE Appendix A (Tables 12-17), ch = 16 in the papers:

generator      z(128) -> SN dense -> 4x2x16ch -> 5 up ResBlocks (16ch) to
               128x64 -> non-local -> up ResBlock to 256x128x1ch -> BN -> ReLU
               -> SN 3x3 conv -> 1 channel -> tanh
discriminator  256x128x1 -> ResBlock D 128x64x1ch -> non-local -> ResBlocks D
               to 64x32x1ch, 32x16x2ch, 16x8x4ch, 8x4x8ch, 4x2x16ch ->
               ResBlock without resampling -> ReLU -> global sum pool -> SN dense
               -> 1 (+ sum(embed(y) * h) for the projection discriminator)

Reading of the tables: their output sizes need six halvings from 256x128 to
4x2, so the block listed as "64x32x1ch" with no resampling mark downsamples as
well; we follow the output sizes.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from audiogan_jax.models import layers

Dtype = Any

SPEC_SHAPE = (256, 128)
BASE_SHAPE = (4, 2)
G_WIDTHS = (16, 16, 16, 16, 16, 1)   # channel multipliers of the six up blocks
D_WIDTHS = (1, 1, 2, 4, 8, 16)       # channel multipliers of the six down blocks


class Generator(nn.Module):
  """BigGAN generator; class-conditional through cBN when num_classes > 0."""

  ch: int = 16
  num_classes: int = 0
  widths: Sequence[int] = G_WIDTHS
  attention: bool = True
  attention_index: int = 4   # non-local after the 5th block (128x64)
  cbn_init: str = "orthogonal"   # the cBN class embeddings (layers.py)
  min_channels: int = 0          # floor on every block's width (0: none)
  dtype: Optional[Dtype] = None

  @nn.compact
  def __call__(self, z: jax.Array, y: Optional[jax.Array] = None,
               train: bool = True) -> jax.Array:
    if self.num_classes > 0 and y is None:
      raise ValueError("this generator is class-conditional: pass labels y")
    c0 = max(self.widths[0] * self.ch, self.min_channels)
    h = layers.SNDense(BASE_SHAPE[0] * BASE_SHAPE[1] * c0, dtype=self.dtype,
                       name="dense")(z.astype(self.dtype or z.dtype), train)
    h = h.reshape(z.shape[0], BASE_SHAPE[0], BASE_SHAPE[1], c0)
    cond = y if self.num_classes > 0 else None
    for i, mult in enumerate(self.widths):
      h = layers.GBlock(max(mult * self.ch, self.min_channels),
                        self.num_classes, self.cbn_init,
                        dtype=self.dtype, name=f"block{i}")(h, cond, train)
      if self.attention and i == self.attention_index:
        h = layers.NonLocal(dtype=self.dtype, name="attention")(h, train)
    h = layers.ConditionalBatchNorm(dtype=self.dtype, name="bn_out")(
        h, None, train)
    h = layers.SNConv(1, dtype=self.dtype, name="conv_out")(nn.relu(h), train)
    return jnp.tanh(h.astype(jnp.float32))


class DiscriminatorTrunk(nn.Module):
  """The discriminator up to the global sum pool: [B,256,128,1] -> [B,16ch]."""

  ch: int = 16
  widths: Sequence[int] = D_WIDTHS
  attention: bool = True
  attention_index: int = 0   # non-local after the 1st block (128x64)
  dtype: Optional[Dtype] = None

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = True) -> jax.Array:
    h = x.astype(self.dtype or x.dtype)
    for i, mult in enumerate(self.widths):
      h = layers.DBlock(mult * self.ch, downsample=True,
                        preactivation=i > 0, dtype=self.dtype,
                        name=f"block{i}")(h, train)
      if self.attention and i == self.attention_index:
        h = layers.NonLocal(dtype=self.dtype, name="attention")(h, train)
    h = layers.DBlock(self.widths[-1] * self.ch, downsample=False,
                      dtype=self.dtype, name=f"block{len(self.widths)}")(
                          h, train)
    return jnp.sum(nn.relu(h).astype(jnp.float32), axis=(1, 2))


class Discriminator(nn.Module):
  """BigGAN discriminator; a projection discriminator when num_classes > 0."""

  ch: int = 16
  num_classes: int = 0
  widths: Sequence[int] = D_WIDTHS
  attention: bool = True
  dtype: Optional[Dtype] = None

  @nn.compact
  def __call__(self, x: jax.Array, y: Optional[jax.Array] = None,
               train: bool = True) -> jax.Array:
    h = DiscriminatorTrunk(self.ch, self.widths, attention=self.attention,
                           dtype=self.dtype, name="trunk")(x, train)
    out = layers.SNDense(1, name="head")(h, train)[:, 0]
    if self.num_classes > 0:
      if y is None:
        raise ValueError("this discriminator is a projection discriminator: "
                         "pass labels y")
      emb = layers.SNEmbed(self.num_classes, h.shape[-1], name="embed")(
          y, train)
      out = out + jnp.sum(emb * h, axis=-1)
    return out


class SimpleClassifier(nn.Module):
  """The Simple Classifier of GAAE Table XXIV.

  256x128x1 -> [3x3 conv 32 -> ReLU -> 2x2 max pool] -> [64] -> [128] -> [256]
  -> dense num_classes. With ``hidden`` > 0 a dense layer of that many ReLU
  units sits before the class layer (the evaluation classifier: its
  activations are the FID features; the table's network has none, and its
  penultimate activations are the flattened 16x8x256 = 32,768 values, whose
  covariance would have 10^9 entries). ``return_features`` also returns the
  penultimate activations.
  """

  num_classes: int
  widths: Sequence[int] = (32, 64, 128, 256)
  hidden: int = 0

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = True,
               return_features: bool = False):
    h = x
    for i, w in enumerate(self.widths):
      h = nn.Conv(w, (3, 3), padding="SAME", name=f"conv{i}")(h)
      h = nn.max_pool(nn.relu(h), (2, 2), strides=(2, 2))
    feats = h.reshape(h.shape[0], -1)
    if self.hidden:
      feats = nn.relu(nn.Dense(self.hidden, name="hidden")(feats))
    logits = nn.Dense(self.num_classes, name="logits")(feats)
    return (logits, feats) if return_features else logits
