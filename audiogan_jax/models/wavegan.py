"""WaveGAN and SpecGAN networks (Donahue et al.; SPEC section 6).

WaveGAN G: z ~ U(-1, 1)^100 -> dense 256d -> [16, 16d] -> ReLU -> five 1-D
transposed convs (kernel 25, stride 4) 16d -> 8d -> 4d -> 2d -> d -> c with
ReLU between -> tanh: [16384, c]. D mirrors it with 1-D convs (kernel 25,
stride 4) c -> d -> .. -> 16d, LeakyReLU(0.2) after each and phase shuffle
after each but the last, then flatten -> dense -> 1. At d = 64, c = 1:
19,065,345 (G) and 17,427,969 (D) parameters, the published 19.1 M / 17.4 M.

Longer clips (``num_samples = 65536``) add one more stride-4 layer to each:
G starts from [16, 32d] and D ends at [16, 32d].

SpecGAN: the same with 2-D 5x5 stride-2 (transposed) convs on the 128x128
representation: dense -> [4, 4, 16d] -> 128x128xc; 19,065,345 / 17,427,969
parameters at d = 64 (the published 19.0 M / 17.4 M).

Conditioning (``num_classes > 0``):

* ``concat``: the one-hot label broadcast to n full planes, concatenated to
  the reshaped dense output in G and to the input of D as n extra channels
  (conditional WaveGAN, concatenation);
* ``acgan``: G as for ``concat``; D takes no label and has two heads, a
  real/fake logit and n class logits (auxiliary classifier GAN).

No batch norm anywhere (WaveGAN and SpecGAN train without it).
"""

from __future__ import annotations

import math
from typing import Any, Optional

import flax.linen as nn
import jax
import jax.numpy as jnp

Dtype = Any

KERNEL_1D = 25
STRIDE_1D = 4
KERNEL_2D = 5
STRIDE_2D = 2
SPECGAN_SHAPE = (128, 128)


def num_layers(num_samples: int) -> int:
  """Stride-4 layers of WaveGAN for a clip length (16384: 5, 65536: 6)."""
  if num_samples == 16384:
    return 5
  if num_samples == 65536:
    return 6
  raise ValueError(f"--config.data.num_samples={num_samples}: WaveGAN makes "
                   "16384- or 65536-sample clips")


def phase_shuffle(x: jax.Array, key: jax.Array, n: int) -> jax.Array:
  """Shifts each example of [B, T, C] by its own k in [-n, n] along T.

  The samples shifted in at the edge are the reflection of the signal (no
  zeros, as WaveGAN's phase shuffle). ``n = 0`` is the identity.
  """
  if n == 0:
    return x
  b, t = x.shape[0], x.shape[1]
  shifts = jax.random.randint(key, (b,), -n, n + 1)
  padded = jnp.pad(x, ((0, 0), (n, n), (0, 0)), mode="reflect")

  def one(row, k):
    # Output position i reads padded[i + n - k] = x[i - k] (reflected).
    return jax.lax.dynamic_slice_in_dim(row, n - k, t, axis=0)

  return jax.vmap(one)(padded, shifts)


def label_planes(y: jax.Array, num_classes: int, shape: tuple[int, ...],
                 dtype: Dtype) -> jax.Array:
  """One-hot labels broadcast to full planes: [B, *shape, num_classes]."""
  onehot = jax.nn.one_hot(y, num_classes, dtype=dtype)
  return jnp.broadcast_to(onehot.reshape(onehot.shape[0],
                                         *(1,) * len(shape), num_classes),
                          (onehot.shape[0], *shape, num_classes))


class Generator(nn.Module):
  """WaveGAN (``kind='wave'``) or SpecGAN (``kind='spec'``) generator."""

  d: int = 64
  c: int = 1
  kind: str = "wave"
  num_samples: int = 16384
  num_classes: int = 0   # > 0: the label planes join the dense output
  dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, z: jax.Array, y: Optional[jax.Array] = None,
               train: bool = False) -> jax.Array:
    del train  # no batch norm
    spec = self.kind == "spec"
    layers = 5 if spec else num_layers(self.num_samples)
    mult = 2 ** (layers - 1)
    start = (4, 4) if spec else (16,)
    h = nn.Dense(math.prod(start) * mult * self.d,
                 dtype=self.dtype, name="dense")(z.astype(self.dtype))
    h = h.reshape(h.shape[0], *start, mult * self.d)
    h = nn.relu(h)
    if self.num_classes:
      h = jnp.concatenate(
          [h, label_planes(y, self.num_classes, start, h.dtype)], axis=-1)
    kernel = (KERNEL_2D, KERNEL_2D) if spec else (KERNEL_1D,)
    stride = (STRIDE_2D, STRIDE_2D) if spec else (STRIDE_1D,)
    for i in range(layers):
      last = i == layers - 1
      out = self.c if last else mult // 2 ** (i + 1) * self.d
      h = nn.ConvTranspose(out, kernel, strides=stride, padding="SAME",
                           dtype=self.dtype, name=f"up{i}")(h)
      h = jnp.tanh(h) if last else nn.relu(h)
    return h.astype(jnp.float32)


class Discriminator(nn.Module):
  """WaveGAN / SpecGAN critic; ``acgan`` adds a class head.

  Returns the critic output [B] (``acgan``: a tuple of it and the class
  logits [B, num_classes]). ``shuffle_key`` drives WaveGAN's phase shuffle
  (``phase_shuffle`` = n, only with ``kind='wave'``); without a key there is
  no shuffle (inference).
  """

  d: int = 64
  kind: str = "wave"
  num_samples: int = 16384
  num_classes: int = 0
  conditioning: str = "none"   # none | concat | acgan
  phase_shuffle: int = 2
  dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array, y: Optional[jax.Array] = None,
               train: bool = False,
               shuffle_key: Optional[jax.Array] = None):
    del train
    spec = self.kind == "spec"
    layers = 5 if spec else num_layers(self.num_samples)
    h = x.astype(self.dtype)
    if self.conditioning == "concat":
      h = jnp.concatenate(
          [h, label_planes(y, self.num_classes, h.shape[1:-1], h.dtype)],
          axis=-1)
    kernel = (KERNEL_2D, KERNEL_2D) if spec else (KERNEL_1D,)
    stride = (STRIDE_2D, STRIDE_2D) if spec else (STRIDE_1D,)
    for i in range(layers):
      h = nn.Conv(2 ** i * self.d, kernel, strides=stride, padding="SAME",
                  dtype=self.dtype, name=f"down{i}")(h)
      h = nn.leaky_relu(h, 0.2)
      if (not spec and i < layers - 1 and shuffle_key is not None
          and self.phase_shuffle):
        h = phase_shuffle(h, jax.random.fold_in(shuffle_key, i),
                          self.phase_shuffle)
    h = h.reshape(h.shape[0], -1)
    critic = nn.Dense(1, dtype=self.dtype, name="out")(h)[:, 0]
    critic = critic.astype(jnp.float32)
    if self.conditioning == "acgan":
      logits = nn.Dense(self.num_classes, dtype=self.dtype, name="classes")(h)
      return critic, logits.astype(jnp.float32)
    return critic
