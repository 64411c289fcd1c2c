"""GANSynth's progressive generator and discriminator (Engel et al. 2019).

The networks of GANSynth (Appendix B), which follow Progressive GAN (Karras et
al. 2018), for a [T, F, 2] image (log magnitude and instantaneous frequency).
The published tables are for 128x1024x2 from a 2x16 start; our default is
256 time frames x 512 bins from a 4x8 start, seven resolutions either way:

generator      z(256) -> pixel norm, concat one-hot pitch(61) -> equalised
               dense to 4x8x256 (the "conv with kernel = start shape" on the
               1x1 input) -> PN(LReLU) -> 3x3 conv 256 -> PN(LReLU); then per
               resolution: up x2 -> 3x3 conv -> PN(LReLU) -> 3x3 conv ->
               PN(LReLU), channels 256, 256, 256, 128, 64, 32 (256x512x32);
               each resolution has a 1x1 toRGB conv to 2 channels; tanh.
discriminator  256x512x2 -> 1x1 fromRGB 32 -> LReLU; per resolution: 3x3 conv
               C_b -> LReLU -> 3x3 conv C_{b-1} -> LReLU -> 2x2 average pool,
               channels 32, 64, 128, 256, 256, 256 down to 4x8x256 ->
               minibatch std (257 channels) -> 3x3 conv 256 -> LReLU -> 4x8
               VALID conv 256 -> LReLU -> flatten -> dense 1 (real/fake) and
               dense 61 (pitch logits), no activation on either head.

PN(LReLU) is leaky ReLU (slope 0.2) followed by pixel norm. Every conv and
dense layer has an equalised learning rate: weights drawn from N(0, 1) and
multiplied at run time by gain / sqrt(fan_in), biases starting at zero; the
gain is sqrt(2) (He) before a leaky ReLU and 1 for the linear outputs (the
toRGB convs and D's two heads), as Progressive GAN. At the
default size: 7,319,182 (G) and 6,831,230 (D) parameters; the paper's
128x1024 image with a 2x16 start has the same counts (2 * 16 = 4 * 8).

Readings of the tables:

* The latent is pixel-normalised on its own before the one-hot pitch joins
  it, as Progressive GAN normalises its latent; the pitch stays exactly one.
* The first "conv with kernel = start shape" on a 1x1 input is a dense layer
  to start_h * start_w * C0 (the same map and parameter count), equalised
  with fan_in = its input width and gain sqrt(2) like every other layer.
* Channels change at the second conv of a discriminator block, so fromRGB at
  resolution b gives C_b, the same width as the output of the block above it
  (Progressive GAN's layout); that is what lets the two be blended.
* Progressive growing: both networks take a float ``progress`` in
  [0, R - 1] (traced, so one compiled step serves a whole fade-in and the
  stable stage after it) and blend per-resolution outputs (G) or inputs (D)
  with the weights of ``generator_weights`` and ``discriminator_weights``,
  and a static ``top``, the highest resolution computed. With ``top =
  ceil(progress)`` (what training uses, one compiled step per resolution)
  the blocks above it are skipped, so the early stages cost only their own
  FLOPs; with ``top=None`` every block is computed and those above get
  weight zero, the same values and exactly zero gradient.
"""

from __future__ import annotations

import math
from typing import Any, Optional, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from audiogan_jax.models import layers

Dtype = Any

CHANNELS = (256, 256, 256, 256, 128, 64, 32)   # per resolution, lowest first
START_SHAPE = (4, 8)
NUM_PITCHES = 61
LRELU_SLOPE = 0.2
HE_GAIN = math.sqrt(2.0)
PIXEL_NORM_EPS = 1e-8
MBSTD_GROUP = 4


def full_shape(start_shape: tuple[int, int],
               num_resolutions: int) -> tuple[int, int]:
  """Image size after ``num_resolutions - 1`` doublings of ``start_shape``."""
  factor = 2 ** (num_resolutions - 1)
  return (start_shape[0] * factor, start_shape[1] * factor)


def generator_weights(progress: jax.Array | float,
                      num_resolutions: int) -> jax.Array:
  """Weights [R] of the generator's per-resolution toRGB outputs.

  w_b = relu(1 - |progress - b|): at progress k only resolution k counts and
  between k and k + 1 the new resolution fades in linearly. The weights sum
  to one (progress is clipped to [0, R - 1]).
  """
  p = jnp.clip(jnp.asarray(progress, jnp.float32), 0.0, num_resolutions - 1)
  b = jnp.arange(num_resolutions, dtype=jnp.float32)
  return nn.relu(1.0 - jnp.abs(p - b))


def discriminator_weights(progress: jax.Array | float,
                          num_resolutions: int) -> jax.Array:
  """Weights [R] of the discriminator's fromRGB inputs.

  a_b = clip(b + 1 - progress, 0, 1): the input of resolution b is
  a_b * fromRGB_b(x_b) + (1 - a_b) * (the block above's output). At
  progress = k + t the entry resolution k + 1 reads the image alone
  (a_{k+1} = 1) and resolution k fades from its own fromRGB to the block above
  (a_k = 1 - t). The top weight is always one (progress is clipped to
  [0, R - 1]).
  """
  p = jnp.clip(jnp.asarray(progress, jnp.float32), 0.0, num_resolutions - 1)
  b = jnp.arange(num_resolutions, dtype=jnp.float32)
  return jnp.clip(b + 1.0 - p, 0.0, 1.0)


def equalized_scale(fan_in: int, gain: float = HE_GAIN) -> float:
  """The He constant gain / sqrt(fan_in) applied to the weights at run time."""
  return gain / math.sqrt(fan_in)


def pixel_norm(x: jax.Array, eps: float = PIXEL_NORM_EPS) -> jax.Array:
  """x / sqrt(mean(x^2 over channels) + eps), computed in float32."""
  x32 = x.astype(jnp.float32)
  ms = jnp.mean(jnp.square(x32), axis=-1, keepdims=True)
  return (x32 * jax.lax.rsqrt(ms + eps)).astype(x.dtype)


def minibatch_stddev(x: jax.Array, group_size: int = MBSTD_GROUP) -> jax.Array:
  """Appends the minibatch standard deviation as one channel: C -> C + 1.

  The batch splits into groups of min(group_size, B) consecutive examples
  (consecutive, so a group stays within one data-parallel shard when the
  per-device batch is a multiple of the group). For each group: the
  (population) standard deviation over the group of every feature, averaged
  over features and pixels, broadcast to a constant plane for each of the
  group's examples. Computed in float32.
  """
  b, h, w, c = x.shape
  g = min(group_size, b)
  if b % g:
    raise ValueError(f"minibatch std: batch {b} is not a multiple of the "
                     f"group size {g}")
  y = x.astype(jnp.float32).reshape(b // g, g, h, w, c)
  var = jnp.mean(jnp.square(y - jnp.mean(y, axis=1, keepdims=True)), axis=1)
  std = jnp.mean(jnp.sqrt(var + PIXEL_NORM_EPS), axis=(1, 2, 3))   # [B // g]
  plane = jnp.broadcast_to(jnp.repeat(std, g)[:, None, None, None],
                           (b, h, w, 1))
  return jnp.concatenate([x, plane.astype(x.dtype)], axis=-1)


def box_upsample(x: jax.Array, factor: int) -> jax.Array:
  """Nearest-neighbour (box) upsampling by ``factor`` in both spatial axes."""
  if factor == 1:
    return x
  return jnp.repeat(jnp.repeat(x, factor, axis=1), factor, axis=2)


def box_downsample(x: jax.Array, factor: int) -> jax.Array:
  """Mean over ``factor`` x ``factor`` blocks (average pooling)."""
  if factor == 1:
    return x
  b, h, w, c = x.shape
  return jnp.mean(x.reshape(b, h // factor, factor, w // factor, factor, c),
                  axis=(2, 4))


def _lrelu(x: jax.Array) -> jax.Array:
  return nn.leaky_relu(x, LRELU_SLOPE)


class EqualizedConv(nn.Module):
  """2-D convolution with an equalised learning rate (Karras et al.).

  The kernel is stored N(0, 1) and scaled at run time by
  gain / sqrt(kh * kw * cin), so every layer learns at the same rate under
  Adam whatever its fan-in. Parameters are float32; the conv runs in
  ``dtype``.
  """

  features: int
  kernel_size: tuple[int, int] = (3, 3)
  padding: str = "SAME"
  gain: float = HE_GAIN
  dtype: Optional[Dtype] = None

  def scale(self, in_features: int) -> float:
    """Runtime weight multiplier for an input of ``in_features`` channels."""
    kh, kw = self.kernel_size
    return equalized_scale(kh * kw * in_features, self.gain)

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    cin = x.shape[-1]
    kernel = self.param("kernel", nn.initializers.normal(1.0),
                        (*self.kernel_size, cin, self.features), jnp.float32)
    bias = self.param("bias", nn.initializers.zeros, (self.features,),
                      jnp.float32)
    dt = self.dtype or jnp.float32
    y = jax.lax.conv_general_dilated(
        x.astype(dt), (kernel * self.scale(cin)).astype(dt), (1, 1),
        self.padding, dimension_numbers=("NHWC", "HWIO", "NHWC"))
    return y + bias.astype(dt)


class EqualizedDense(nn.Module):
  """Dense layer with an equalised learning rate: kernel x gain/sqrt(fan_in)."""

  features: int
  gain: float = HE_GAIN
  dtype: Optional[Dtype] = None

  def scale(self, in_features: int) -> float:
    """Runtime weight multiplier for ``in_features`` inputs."""
    return equalized_scale(in_features, self.gain)

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    fan_in = x.shape[-1]
    kernel = self.param("kernel", nn.initializers.normal(1.0),
                        (fan_in, self.features), jnp.float32)
    bias = self.param("bias", nn.initializers.zeros, (self.features,),
                      jnp.float32)
    dt = self.dtype or jnp.float32
    w = (kernel * self.scale(fan_in)).astype(dt)
    return x.astype(dt) @ w + bias.astype(dt)


class Generator(nn.Module):
  """GANSynth generator: (z, pitch, progress) -> [B, H, W, out_channels].

  The output is float32 in [-1, 1]; [H, W] = full_shape(start_shape, R).
  """

  channels: Sequence[int] = CHANNELS
  start_shape: tuple[int, int] = START_SHAPE
  num_classes: int = NUM_PITCHES
  out_channels: int = 2
  dtype: Optional[Dtype] = None

  @property
  def num_resolutions(self) -> int:
    return len(self.channels)

  @nn.compact
  def __call__(self, z: jax.Array, pitch: jax.Array,
               progress: jax.Array | float, train: bool = True,
               top: Optional[int] = None) -> jax.Array:
    """``top`` (static): the highest resolution computed, at least
    ceil(progress); the blocks above it are skipped, which changes nothing
    (their weight is zero) and saves their FLOPs. None computes them all."""
    del train  # no batch statistics
    r = self.num_resolutions
    top = r - 1 if top is None else int(top)
    if not 0 <= top < r:
      raise ValueError(f"top={top} is not a resolution of 0..{r - 1}")
    sh, sw = self.start_shape
    c0 = self.channels[0]
    onehot = jax.nn.one_hot(pitch, self.num_classes, dtype=jnp.float32)
    h = jnp.concatenate([pixel_norm(z.astype(jnp.float32)), onehot], axis=-1)
    h = EqualizedDense(sh * sw * c0, dtype=self.dtype, name="latent")(h)
    h = pixel_norm(_lrelu(h.reshape(h.shape[0], sh, sw, c0)))
    h = EqualizedConv(c0, dtype=self.dtype, name="block0_conv")(h)
    h = pixel_norm(_lrelu(h))
    rgbs = [EqualizedConv(self.out_channels, (1, 1), gain=1.0,
                          dtype=self.dtype, name="to_rgb0")(h)]
    for b in range(1, top + 1):
      h = layers.upsample2(h)
      for i in range(2):
        h = EqualizedConv(self.channels[b], dtype=self.dtype,
                          name=f"block{b}_conv{i}")(h)
        h = pixel_norm(_lrelu(h))
      rgbs.append(EqualizedConv(self.out_channels, (1, 1), gain=1.0,
                                dtype=self.dtype, name=f"to_rgb{b}")(h))
    weights = generator_weights(progress, r)
    # Blend in float32: a weight of zero must silence its resolution exactly.
    # Blended at resolution top, then box-upsampled to the full image.
    out = sum(weights[b] * box_upsample(rgb.astype(jnp.float32),
                                        2 ** (top - b))
              for b, rgb in enumerate(rgbs))
    return jnp.tanh(box_upsample(out, 2 ** (r - 1 - top)))


class Discriminator(nn.Module):
  """GANSynth discriminator: (x, progress) -> (score [B], logits [B, n])."""

  channels: Sequence[int] = CHANNELS
  start_shape: tuple[int, int] = START_SHAPE
  num_classes: int = NUM_PITCHES
  out_channels: int = 2   # channels of the input image
  dtype: Optional[Dtype] = None

  @property
  def num_resolutions(self) -> int:
    return len(self.channels)

  @nn.compact
  def __call__(self, x: jax.Array, progress: jax.Array | float,
               train: bool = True,
               top: Optional[int] = None) -> tuple[jax.Array, jax.Array]:
    """``top`` (static): the highest resolution read, at least
    ceil(progress); it reads the image alone there (its weight is one), so
    skipping the blocks above changes nothing. None computes them all."""
    del train  # no batch statistics
    r = self.num_resolutions
    top = r - 1 if top is None else int(top)
    if not 0 <= top < r:
      raise ValueError(f"top={top} is not a resolution of 0..{r - 1}")
    want = full_shape(self.start_shape, r)
    if tuple(x.shape[1:3]) != want or x.shape[-1] != self.out_channels:
      raise ValueError(f"the discriminator reads [B, {want[0]}, {want[1]}, "
                       f"{self.out_channels}] images, got {x.shape}")
    dt = self.dtype or jnp.float32
    x = x.astype(jnp.float32)   # pooled in float32, then cast
    alphas = discriminator_weights(progress, r).astype(dt)
    h = None
    for b in range(top, -1, -1):
      x_b = box_downsample(x, 2 ** (r - 1 - b)).astype(dt)
      rgb = _lrelu(EqualizedConv(self.channels[b], (1, 1), dtype=self.dtype,
                                 name=f"from_rgb{b}")(x_b))
      # The top resolution has no block above it: its input is the image.
      inp = rgb if h is None else alphas[b] * rgb + (1 - alphas[b]) * h
      if b == 0:
        h = inp
        break
      h = _lrelu(EqualizedConv(self.channels[b], dtype=self.dtype,
                               name=f"block{b}_conv0")(inp))
      h = _lrelu(EqualizedConv(self.channels[b - 1], dtype=self.dtype,
                               name=f"block{b}_conv1")(h))
      h = layers.avgpool2(h)
    c0 = self.channels[0]
    h = minibatch_stddev(h)
    h = _lrelu(EqualizedConv(c0, dtype=self.dtype, name="block0_conv0")(h))
    h = _lrelu(EqualizedConv(c0, tuple(self.start_shape), padding="VALID",
                             dtype=self.dtype, name="block0_conv1")(h))
    h = h.reshape(h.shape[0], -1)
    score = EqualizedDense(1, gain=1.0, dtype=self.dtype, name="score")(h)[:, 0]
    logits = EqualizedDense(self.num_classes, gain=1.0, dtype=self.dtype,
                            name="classes")(h)
    return score.astype(jnp.float32), logits.astype(jnp.float32)
