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

The 1-D layers (kernel 25, stride 4) can be computed two ways with the same
parameters and the same numbers (``conv1d``):

* ``"xla"``: ``nn.Conv`` / ``nn.ConvTranspose``. XLA writes the transposed
  convolution, and every strided convolution's input gradient, as a
  convolution over the input dilated by 4: three of four multiplications are
  by zero.
* ``"polyphase"``: the stride moved into the channels. A transposed conv is
  one stride-1 conv of kernel 7 to 4 x C_out channels (one per output phase)
  followed by depth-to-space; a strided conv is space-to-depth (4 x C_in
  channels) followed by one stride-1 conv of kernel 7. That conv is one
  matmul over 7 shifted copies of its input (im2col), so forward, backward
  and the gradient penalty's double backward are all matmuls (4.3x faster
  on a CPU; 4x the activation memory).
* ``"auto"`` (default): polyphase on CPU, XLA's own elsewhere (cuDNN has
  kernels for strided and transposed convs).
"""

from __future__ import annotations

import math
from typing import Any, Optional

import numpy as np

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


CONV1D_IMPLS = ("auto", "polyphase", "xla")


def conv1d_impl(name: str) -> str:
  """``"polyphase"`` or ``"xla"`` for a ``model.conv1d`` value."""
  if name not in CONV1D_IMPLS:
    raise ValueError(f"--config.model.conv1d={name!r}: use one of "
                     f"{', '.join(CONV1D_IMPLS)}")
  if name == "auto":
    return "polyphase" if jax.default_backend() == "cpu" else "xla"
  return name


def _same_pad_lo(k: int, s: int, n: int) -> int:
  """Low-side padding of a SAME strided conv (``lax.padtype_to_pads``)."""
  out = -(-n // s)
  return max((out - 1) * s + k - n, 0) // 2


def _transpose_taps(k: int, s: int) -> tuple[np.ndarray, int, int]:
  """Tap table of a SAME transposed conv as ``s`` stride-1 phases.

  ``lax.conv_transpose(.., 'SAME')`` pads the s-times-dilated input by
  ``pad = ceil((k + s - 2) / 2)`` below (when s <= k - 1), so output s m + r
  reads input m + d through tap ``j = s d + pad - r``. Returns the index table
  [taps, s] into the kernel (-1: no tap), and the low/high input padding.
  """
  pad = k - 1 if s > k - 1 else -(-(k + s - 2) // 2)
  d_lo = -(pad // s)
  d_hi = (k - 1 - pad + s - 1) // s
  table = np.full((d_hi - d_lo + 1, s), -1, np.int32)
  for t, d in enumerate(range(d_lo, d_hi + 1)):
    for r in range(s):
      j = s * d + pad - r
      if 0 <= j < k:
        table[t, r] = j
  return table, -d_lo, d_hi


def _strided_taps(k: int, s: int, n: int) -> tuple[np.ndarray, int, int]:
  """Tap table of a SAME stride-``s`` conv over space-to-depth input.

  Output m reads input s m + j - pad = s (m + e) + q: tap j sits at block
  offset e and phase q. Returns the index table [taps, s] into the kernel
  (-1: none) and the low/high padding in blocks.
  """
  pad = _same_pad_lo(k, s, n)
  e_lo = -pad // s
  e_hi = (k - 1 - pad) // s
  table = np.full((e_hi - e_lo + 1, s), -1, np.int32)
  for j in range(k):
    e, q = divmod(j - pad, s)
    table[e - e_lo, q] = j
  return table, -e_lo, e_hi


def _stride1_matmul(x: jax.Array, w: jax.Array, lo: int,
                    hi: int) -> jax.Array:
  """Stride-1 conv of x [B, N, C] with w [taps, C, O], padding (lo, hi),
  as one matmul over the taps' shifted copies (im2col).

  Its gradients are matmuls too: XLA's CPU convolution computes a kernel
  gradient as a convolution whose window is the whole signal, which ran
  single-digit GFLOP/s here.
  """
  taps, c, o = w.shape
  n = x.shape[1] + lo + hi - taps + 1
  xp = jnp.pad(x, ((0, 0), (lo, hi), (0, 0)))
  cols = jnp.concatenate([xp[:, t:t + n] for t in range(taps)], axis=-1)
  return jnp.einsum("bnk,ko->bno", cols, w.reshape(taps * c, o))


def _gather_taps(kernel: jax.Array, table: np.ndarray) -> jax.Array:
  """kernel [k, I, O] -> [taps, s, I, O], zeros where the table has -1."""
  taps = jnp.take(kernel, np.maximum(table, 0), axis=0)
  return jnp.where(table[..., None, None] >= 0, taps, 0)


class Conv1D(nn.Module):
  """``nn.Conv(features, (k,), strides=(s,), padding='SAME')`` or its
  transpose (``transpose=True``, as ``nn.ConvTranspose``): the same
  parameters, computed as ``impl`` says (module docstring)."""

  features: int
  kernel_size: int = KERNEL_1D
  stride: int = STRIDE_1D
  transpose: bool = False
  impl: str = "polyphase"
  dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    k, s = self.kernel_size, self.stride
    kernel = self.param("kernel", nn.initializers.lecun_normal(),
                        (k, x.shape[-1], self.features))
    bias = self.param("bias", nn.initializers.zeros_init(), (self.features,))
    x, kernel, bias = nn.dtypes.promote_dtype(x, kernel, bias,
                                              dtype=self.dtype)
    b, n, c = x.shape
    dn = ("NWC", "WIO", "NWC")
    if self.impl == "xla" and self.transpose:
      y = jax.lax.conv_transpose(x, kernel, (s,), "SAME",
                                 dimension_numbers=dn)
    elif self.impl == "xla":
      y = jax.lax.conv_general_dilated(x, kernel, (s,), "SAME",
                                       dimension_numbers=dn)
    elif self.transpose:
      table, lo, hi = _transpose_taps(k, s)
      w = _gather_taps(kernel, table)                 # [taps, s, I, O]
      w = jnp.moveaxis(w, 1, 2).reshape(w.shape[0], c, s * self.features)
      y = _stride1_matmul(x, w, lo, hi)
      y = y.reshape(b, n * s, self.features)          # phase r -> s m + r
    else:
      if n % s:
        raise ValueError(f"polyphase conv: length {n} is not a multiple of "
                         f"the stride {s}")
      table, lo, hi = _strided_taps(k, s, n)
      w = _gather_taps(kernel, table).reshape(-1, s * c, self.features)
      y = _stride1_matmul(x.reshape(b, n // s, s * c), w, lo, hi)
    return y + bias


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
  conv1d: str = "auto"   # how the 1-D convs are computed (module doc)
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
      if spec:
        h = nn.ConvTranspose(out, kernel, strides=stride, padding="SAME",
                             dtype=self.dtype, name=f"up{i}")(h)
      else:
        h = Conv1D(out, transpose=True, impl=conv1d_impl(self.conv1d),
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
  conv1d: str = "auto"
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
      if spec:
        h = nn.Conv(2 ** i * self.d, kernel, strides=stride, padding="SAME",
                    dtype=self.dtype, name=f"down{i}")(h)
      else:
        h = Conv1D(2 ** i * self.d, impl=conv1d_impl(self.conv1d),
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
