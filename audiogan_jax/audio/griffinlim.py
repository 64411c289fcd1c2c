"""Griffin-Lim phase retrieval in JAX (batched, jitted), plain and fast.

Uses the circular STFT of ``spectrogram.py``; since ``istft`` applies the
canonical dual window, ``stft(istft(.))`` is the orthogonal projection onto
consistent coefficient sets, which is what Griffin-Lim alternates with the
projection onto the target magnitude.  The fast variant is the accelerated
algorithm of Perraudin, Balazs & Sondergaard (2013):

    t_n = P_mag(P_consistent(c_{n-1})),   c_n = t_n + alpha (t_n - t_{n-1})

``alpha = 0`` gives plain Griffin-Lim; the default 0.99 matches librosa.
"""

from __future__ import annotations

from typing import Optional

import jax
import jax.numpy as jnp

from audiogan_jax.audio.spectrogram import NUM_BINS, NUM_FRAMES, istft, stft


def _unit(z: jax.Array) -> jax.Array:
  """z / |z|, with 1 where z == 0 so no coefficient loses its magnitude."""
  mag = jnp.abs(z)
  return jnp.where(mag > 0, z / jnp.where(mag > 0, mag, 1.0), 1.0 + 0j)


def iterate(magnitude: jax.Array, phase: jax.Array, n_iter, momentum,
            stft_fn=stft, istft_fn=istft) -> jax.Array:
  """The fast Griffin-Lim loop for any STFT pair whose ``istft_fn`` uses the
  canonical dual window; returns the waveform."""
  magnitude = magnitude.astype(jnp.float32)
  start = magnitude * jnp.exp(1j * phase.astype(jnp.float32))

  def body(_, carry):
    coeffs, previous = carry
    projected = magnitude * _unit(stft_fn(istft_fn(coeffs)))
    return projected + momentum * (projected - previous), projected

  _, final = jax.lax.fori_loop(0, n_iter, body, (start, start))
  return istft_fn(final)


@jax.jit
def _fast_griffin_lim(magnitude: jax.Array, phase: jax.Array, n_iter: jax.Array,
                      momentum: jax.Array) -> jax.Array:
  return iterate(magnitude, phase, n_iter, momentum)


def griffin_lim(magnitude: jax.Array, n_iter: int = 32, momentum: float = 0.99,
                init_phase: Optional[jax.Array] = None,
                seed: int = 0) -> jax.Array:
  """(Fast) Griffin-Lim: magnitude [..., 257, 128] -> waveform [..., 16384]; momentum=0 is plain GL."""
  magnitude = jnp.asarray(magnitude, jnp.float32)
  if magnitude.ndim < 2 or magnitude.shape[-2:] != (NUM_BINS, NUM_FRAMES):
    raise ValueError(
        f"expected a magnitude of shape [..., {NUM_BINS}, {NUM_FRAMES}], "
        f"got {magnitude.shape}")
  if init_phase is None:
    init_phase = random_phase(magnitude.shape, seed)
  init_phase = jnp.asarray(init_phase, jnp.float32)
  if init_phase.shape != magnitude.shape:
    raise ValueError(
        f"expected init_phase of shape {magnitude.shape}, got {init_phase.shape}")
  if n_iter < 0:
    raise ValueError(f"n_iter must be >= 0, got {n_iter}")
  return _fast_griffin_lim(magnitude, init_phase, jnp.int32(n_iter),
                           jnp.float32(momentum))


def random_phase(shape: tuple[int, ...], seed: int = 0) -> jax.Array:
  """Uniform random phase in [0, 2 pi) of the given shape (float32)."""
  return jax.random.uniform(jax.random.key(seed), shape, jnp.float32,
                            0.0, 2.0 * jnp.pi)
