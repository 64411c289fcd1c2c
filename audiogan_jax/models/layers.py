"""BigGAN building blocks for 256x128 spectrograms (GGAN/GAAE Appendix A).

All convolutions and dense layers of the generator and discriminator are
spectrally normalised (Miyato et al.); the power-iteration vector ``u`` and the
last ``sigma`` live in the ``batch_stats`` collection beside the batch-norm
statistics, so one mutable collection carries all non-trainable state.
"""

from __future__ import annotations

from typing import Any, Optional

import flax.linen as nn
import jax
import jax.numpy as jnp

Dtype = Any

# BigGAN initialises every conv/dense orthogonally; gains keep the residual
# branches at unit scale before spectral normalisation takes over.
_ORTHO = nn.initializers.orthogonal()


class SNConv(nn.Module):
  """Spectrally normalised 2-D convolution (SAME padding)."""

  features: int
  kernel_size: tuple[int, int] = (3, 3)
  use_bias: bool = True
  dtype: Optional[Dtype] = None

  @nn.compact
  def __call__(self, x: jax.Array, train: bool) -> jax.Array:
    conv = nn.Conv(self.features, self.kernel_size, padding="SAME",
                   use_bias=self.use_bias, kernel_init=_ORTHO,
                   dtype=self.dtype, name="conv")
    return nn.SpectralNorm(conv, dtype=self.dtype, name="sn")(
        x, update_stats=train)


class SNDense(nn.Module):
  """Spectrally normalised dense layer."""

  features: int
  use_bias: bool = True
  dtype: Optional[Dtype] = None

  @nn.compact
  def __call__(self, x: jax.Array, train: bool) -> jax.Array:
    dense = nn.Dense(self.features, use_bias=self.use_bias,
                     kernel_init=_ORTHO, dtype=self.dtype, name="dense")
    return nn.SpectralNorm(dense, dtype=self.dtype, name="sn")(
        x, update_stats=train)


class ClassEmbed(nn.Embed):
  """A class embedding looked up by integer labels or by class probabilities.

  Integer labels ``[B]`` pick rows of the table; a float ``[B, n]`` vector of
  class probabilities (a one-hot vector, or a classifier's softmax) gives the
  probability-weighted sum of the rows, which for one-hot vectors is the same
  row. Gradients flow into the probabilities, so a classifier whose output
  conditions a network is trained through it. The parameters are those of
  ``nn.Embed``.
  """

  def __call__(self, inputs: jax.Array) -> jax.Array:
    if jnp.issubdtype(inputs.dtype, jnp.integer):
      return super().__call__(inputs)
    if inputs.shape[-1] != self.num_embeddings:
      raise ValueError(f"class probabilities have {inputs.shape[-1]} entries, "
                       f"the embedding {self.num_embeddings} classes")
    table = jnp.asarray(self.embedding, jnp.float32)
    return jnp.dot(inputs.astype(jnp.float32), table).astype(
        self.dtype or jnp.float32)


class SNEmbed(nn.Module):
  """Spectrally normalised class embedding (projection discriminator).

  Takes integer labels or class probabilities (see :class:`ClassEmbed`).
  """

  num_embeddings: int
  features: int

  @nn.compact
  def __call__(self, y: jax.Array, train: bool) -> jax.Array:
    embed = ClassEmbed(self.num_embeddings, self.features,
                       embedding_init=_ORTHO, name="embed")
    return nn.SpectralNorm(embed, name="sn")(y, update_stats=train)


CBN_INITS = ("orthogonal", "zeros")


def cbn_initializer(name: str):
  """The initializer of the cBN class embeddings (``model.cbn_init``)."""
  if name not in CBN_INITS:
    raise ValueError(f"--config.model.cbn_init={name!r}: use one of "
                     + ", ".join(CBN_INITS))
  return _ORTHO if name == "orthogonal" else nn.initializers.zeros


class ConditionalBatchNorm(nn.Module):
  """Batch norm whose gain and bias come from the class (cBN, BigGAN).

  Without ``num_classes`` it is a plain batch norm with learned scale and bias.
  The class-conditional gain is ``1 + embed_g(y)`` and the bias
  ``embed_b(y)``. ``embed_init`` sets how both embeddings start:
  ``"orthogonal"`` (BigGAN-PyTorch's ``ccbn`` under its ``init_weights``:
  orthonormal rows, so gains and biases differ by class by about
  1/sqrt(channels) and the generator depends on its label from the first
  step) or ``"zeros"`` (the unconditional network at first; the class only
  matters once the embeddings have grown). ``y`` is integer labels or class
  probabilities (:class:`ClassEmbed`).
  """

  num_classes: int = 0
  embed_init: str = "orthogonal"
  momentum: float = 0.9
  epsilon: float = 1e-5
  dtype: Optional[Dtype] = None

  @nn.compact
  def __call__(self, x: jax.Array, y: Optional[jax.Array],
               train: bool) -> jax.Array:
    conditional = self.num_classes > 0
    # Statistics in float32 whatever the compute dtype.
    h = nn.BatchNorm(use_running_average=not train, momentum=self.momentum,
                     epsilon=self.epsilon, use_scale=not conditional,
                     use_bias=not conditional, dtype=jnp.float32,
                     name="bn")(x.astype(jnp.float32))
    if conditional:
      if y is None:
        raise ValueError("a class-conditional batch norm needs labels")
      c = x.shape[-1]
      init = cbn_initializer(self.embed_init)
      gain = ClassEmbed(self.num_classes, c, embedding_init=init,
                        name="gain")(y)
      bias = ClassEmbed(self.num_classes, c, embedding_init=init,
                        name="bias")(y)
      h = h * (1.0 + gain[:, None, None, :]) + bias[:, None, None, :]
    return h.astype(self.dtype or x.dtype)


def upsample2(x: jax.Array) -> jax.Array:
  """Nearest-neighbour upsampling by two in both spatial axes."""
  return jnp.repeat(jnp.repeat(x, 2, axis=1), 2, axis=2)


def avgpool2(x: jax.Array) -> jax.Array:
  """2x2 average pooling, stride 2."""
  return nn.avg_pool(x, (2, 2), strides=(2, 2))


class GBlock(nn.Module):
  """Generator up ResBlock (GAAE Tables 10/14).

  main: (c)BN -> ReLU -> up x2 -> 3x3 conv -> (c)BN -> ReLU -> 3x3 conv;
  shortcut: up x2 -> 1x1 conv; output = main + shortcut.
  """

  features: int
  num_classes: int = 0
  cbn_init: str = "orthogonal"
  dtype: Optional[Dtype] = None

  @nn.compact
  def __call__(self, x: jax.Array, y: Optional[jax.Array],
               train: bool) -> jax.Array:
    h = ConditionalBatchNorm(self.num_classes, self.cbn_init,
                             dtype=self.dtype, name="bn1")(x, y, train)
    h = upsample2(nn.relu(h))
    h = SNConv(self.features, dtype=self.dtype, name="conv1")(h, train)
    h = ConditionalBatchNorm(self.num_classes, self.cbn_init,
                             dtype=self.dtype, name="bn2")(h, y, train)
    h = SNConv(self.features, dtype=self.dtype, name="conv2")(nn.relu(h), train)
    sc = SNConv(self.features, (1, 1), dtype=self.dtype, name="shortcut")(
        upsample2(x), train)
    return h + sc


class DBlock(nn.Module):
  """Discriminator ResBlock (GAAE Tables 11/15).

  main: ReLU -> 3x3 conv -> ReLU -> 3x3 conv -> 2x2 avg pool;
  shortcut: 1x1 conv -> 2x2 avg pool (identity when shapes already agree and
  there is no pooling: the "no shortcut" block). As in BigGAN, the first block
  of the discriminator sees the raw input without the leading ReLU
  (``preactivation=False``) and pools before its shortcut convolution.
  """

  features: int
  downsample: bool = True
  preactivation: bool = True
  dtype: Optional[Dtype] = None

  @nn.compact
  def __call__(self, x: jax.Array, train: bool) -> jax.Array:
    h = nn.relu(x) if self.preactivation else x
    h = SNConv(self.features, dtype=self.dtype, name="conv1")(h, train)
    h = SNConv(self.features, dtype=self.dtype, name="conv2")(nn.relu(h), train)
    if self.downsample:
      h = avgpool2(h)
    learnable_sc = self.downsample or x.shape[-1] != self.features
    if not learnable_sc:
      return h + x
    sc = x
    if self.preactivation:
      sc = SNConv(self.features, (1, 1), dtype=self.dtype, name="shortcut")(
          sc, train)
      if self.downsample:
        sc = avgpool2(sc)
    else:
      if self.downsample:
        sc = avgpool2(sc)
      sc = SNConv(self.features, (1, 1), dtype=self.dtype, name="shortcut")(
          sc, train)
    return h + sc


class NonLocal(nn.Module):
  """Self-attention (non-local) block of SAGAN/BigGAN.

  theta: 1x1 conv to C/8; phi: 1x1 conv to C/8 then 2x2 max pool; g: 1x1 conv
  to C/2 then 2x2 max pool; attention softmax(theta phi^T) g -> 1x1 conv to C,
  scaled by a learned gamma that starts at zero (the block starts as identity).
  """

  dtype: Optional[Dtype] = None

  @nn.compact
  def __call__(self, x: jax.Array, train: bool) -> jax.Array:
    b, h, w, c = x.shape
    ck, cv = max(c // 8, 1), max(c // 2, 1)
    theta = SNConv(ck, (1, 1), use_bias=False, dtype=self.dtype,
                   name="theta")(x, train)
    phi = SNConv(ck, (1, 1), use_bias=False, dtype=self.dtype,
                 name="phi")(x, train)
    g = SNConv(cv, (1, 1), use_bias=False, dtype=self.dtype, name="g")(x, train)
    phi = nn.max_pool(phi, (2, 2), strides=(2, 2))
    g = nn.max_pool(g, (2, 2), strides=(2, 2))
    theta = theta.reshape(b, h * w, ck)
    phi = phi.reshape(b, (h // 2) * (w // 2), ck)
    g = g.reshape(b, (h // 2) * (w // 2), cv)
    logits = jnp.einsum("bqc,bkc->bqk", theta, phi).astype(jnp.float32)
    attn = jax.nn.softmax(logits, axis=-1).astype(g.dtype)
    o = jnp.einsum("bqk,bkc->bqc", attn, g).reshape(b, h, w, cv)
    o = SNConv(c, (1, 1), use_bias=False, dtype=self.dtype, name="o")(o, train)
    gamma = self.param("gamma", nn.initializers.zeros, ())
    return x + gamma * o
