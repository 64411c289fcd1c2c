"""Phase-gradient heap integration (PGHI; Prusa, Balazs & Sondergaard 2017).

Reconstructs the STFT phase from the magnitude alone, for the circular,
window-centre-referenced STFT of ``spectrogram.py`` (periodic Hann 512, hop
``a = 128``, ``M = 512`` bins per cycle).  Treating the Hann window as a
Gaussian ``exp(-pi t^2 / lam)`` with ``lam = 0.25645 * 512^2`` samples^2, the
STFT is an entire function of ``x - i lam w`` up to the real factor
``exp(-pi lam w^2)``, and the Cauchy-Riemann equations give, with
``s = log|X|`` (natural log) and the phase ``psi`` referenced to the window
centre (``x`` in samples, ``w`` in cycles/sample):

    d psi / dx = (1 / lam) ds/dw + 2 pi w
    d psi / dw = -lam ds/dx

Discretised, the phase advance from frame m to m+1 at bin k is
``a * ((M / lam) * (s[k+1] - s[k-1]) / 2 + 2 pi k / M)`` and from bin k to k+1
at frame m is ``-(lam / (a M)) * (s[m+1] - s[m-1]) / 2`` (time wraps around).
The phase is integrated from the loudest coefficient outwards with a max-heap
(trapezoidal rule between neighbours); coefficients more than ``tol`` nepers
below the clip maximum get uniformly random phase and are never integrated
from, because their gradients are dominated by the clipping floor.

Two details specific to real signals: at DC and Nyquist the frequency
derivative of ``s`` is taken as zero (``|X|`` is even about those bins), and
each integrated island's free phase constant is chosen so that its DC/Nyquist
coefficients come out (nearly) real, as they must for a real signal; without
that, a strong DC component is largely cancelled by the inverse real FFT.

The heap integration is numba-compiled; the batched entry runs clips in
parallel threads.
"""

from __future__ import annotations

import os
import tempfile

import numba
import numpy as np

from audiogan_jax.audio.spectrogram import HOP, NUM_BINS, NUM_FRAMES, WINDOW

# Time-frequency ratio of the Gaussian that best matches a Hann window of
# length 512 (the constant 0.25645 is ltfat's/TiFGAN's), in samples^2.
LAMBDA = 0.25645 * WINDOW ** 2

# Magnitudes from ``spectrogram_to_magnitude`` sit exactly ``r`` nepers below
# the maximum at the clipping floor; with ``tol == r`` they must count as
# insignificant despite float rounding of log(exp(-r)).
_FLOOR_SLACK = 1e-3
# Level buckets for choosing island start points (see ``_pghi_single``).
_NUM_BUCKETS = 4096


def _jit(**options):
  """``numba.njit(cache=True)`` that still caches when the package dir is read-only."""
  def decorate(func):
    try:
      return numba.njit(cache=True, **options)(func)
    except RuntimeError:
      # numba found no writable cache location (read-only install and no
      # writable user cache dir); a per-user temp dir keeps compiles cached.
      numba.config.CACHE_DIR = os.path.join(
          tempfile.gettempdir(), f"audiogan_jax_numba_{os.getuid()}")
      return numba.njit(cache=True, **options)(func)
  return decorate


@_jit()
def _heap_push(items, keys, size, item, key):
  """Insert ``item`` with ``key`` into the max-heap ``items/keys[:size]``; returns the new size."""
  # Keys live next to the items so sifting never chases indices into the
  # spectrogram.
  pos = size
  while pos > 0:
    parent = (pos - 1) >> 1
    if keys[parent] >= key:
      break
    items[pos] = items[parent]
    keys[pos] = keys[parent]
    pos = parent
  items[pos] = item
  keys[pos] = key
  return size + 1


@_jit()
def _heap_pop(items, keys, size):
  """Remove the top of the max-heap ``items/keys[:size]``; returns (item, new size)."""
  top = items[0]
  size -= 1
  last_item = items[size]
  last_key = keys[size]
  pos = 0
  while True:
    child = 2 * pos + 1
    if child >= size:
      break
    if child + 1 < size and keys[child + 1] > keys[child]:
      child += 1
    if keys[child] <= last_key:
      break
    items[pos] = items[child]
    keys[pos] = keys[child]
    pos = child
  if size > 0:
    items[pos] = last_item
    keys[pos] = last_key
  return top, size


@_jit()
def _pghi_single(mag, tol, lam, seed, phase_out):
  """PGHI for one clip: ``mag`` [K, N] -> writes the phase into ``phase_out`` [K, N]."""
  num_bins, num_frames = mag.shape
  a = float(HOP)
  m_fft = float(WINDOW)
  tiny = 1e-37

  s = np.empty((num_bins, num_frames))
  smax = -np.inf
  for k in range(num_bins):
    for m in range(num_frames):
      v = np.log(max(float(mag[k, m]), tiny))
      s[k, m] = v
      if v > smax:
        smax = v

  # Phase advance per frame (tgrad) and per bin (fgrad) at every coefficient.
  # At DC and Nyquist |X| of a real signal is even in frequency, so the
  # central difference with the mirrored neighbour is zero there.
  tgrad = np.empty((num_bins, num_frames))
  fgrad = np.empty((num_bins, num_frames))
  t_scale = a * m_fft / lam
  f_scale = -lam / (a * m_fft)
  for k in range(num_bins):
    for m in range(num_frames):
      if 0 < k < num_bins - 1:
        ds_dk = 0.5 * (s[k + 1, m] - s[k - 1, m])
      else:
        ds_dk = 0.0
      tgrad[k, m] = t_scale * ds_dk + 2.0 * np.pi * a * k / m_fft
      ds_dm = 0.5 * (s[k, (m + 1) % num_frames] - s[k, m - 1 if m > 0 else num_frames - 1])
      fgrad[k, m] = f_scale * ds_dm

  np.random.seed(seed)
  total = num_bins * num_frames
  key = s.ravel()
  phase = np.zeros(total)
  done = np.zeros(total, dtype=np.bool_)
  island = np.full(total, -1, dtype=np.int64)
  threshold = smax - tol + _FLOOR_SLACK
  remaining = 0
  for i in range(total):
    if key[i] <= threshold:
      done[i] = True
      phase[i] = 2.0 * np.pi * np.random.random()
    else:
      remaining += 1

  # Islands restart at the loudest coefficient not reached yet.  A full sort
  # of the ~33k keys would cost as much as the integration itself, so bucket
  # the significant keys by level (counting sort, O(n)) and take the exact
  # maximum inside the first bucket that still holds an unreached one.
  span = max(smax - threshold, 1e-12)
  bucket_of = np.empty(total, dtype=np.int64)
  bucket_start = np.zeros(_NUM_BUCKETS + 1, dtype=np.int64)
  for i in range(total):
    if not done[i]:
      b = min(int((smax - key[i]) / span * _NUM_BUCKETS), _NUM_BUCKETS - 1)
      bucket_of[i] = b
      bucket_start[b + 1] += 1
  for b in range(_NUM_BUCKETS):
    bucket_start[b + 1] += bucket_start[b]
  order = np.empty(bucket_start[_NUM_BUCKETS], dtype=np.int64)
  fill = bucket_start[:_NUM_BUCKETS].copy()
  for i in range(total):
    if not done[i]:
      order[fill[bucket_of[i]]] = i
      fill[bucket_of[i]] += 1

  heap = np.empty(total, dtype=np.int64)
  heap_keys = np.empty(total)
  size = 0
  bucket = 0
  num_islands = 0
  while remaining > 0:
    start = -1
    while start < 0:
      for j in range(bucket_start[bucket], bucket_start[bucket + 1]):
        i = order[j]
        if not done[i] and (start < 0 or key[i] > key[start]):
          start = i
      if start < 0:
        bucket += 1
    phase[start] = 0.0
    done[start] = True
    island[start] = num_islands
    remaining -= 1
    size = _heap_push(heap, heap_keys, size, start, key[start])
    while size > 0:
      idx, size = _heap_pop(heap, heap_keys, size)
      label = island[idx]
      k = idx // num_frames
      m = idx - k * num_frames
      p = phase[idx]
      # Time neighbours (circular).
      mn = m + 1 if m + 1 < num_frames else 0
      j = k * num_frames + mn
      if not done[j]:
        phase[j] = p + 0.5 * (tgrad[k, m] + tgrad[k, mn])
        done[j] = True
        island[j] = label
        remaining -= 1
        size = _heap_push(heap, heap_keys, size, j, key[j])
      mp = m - 1 if m > 0 else num_frames - 1
      j = k * num_frames + mp
      if not done[j]:
        phase[j] = p - 0.5 * (tgrad[k, m] + tgrad[k, mp])
        done[j] = True
        island[j] = label
        remaining -= 1
        size = _heap_push(heap, heap_keys, size, j, key[j])
      # Frequency neighbours (not circular).
      if k + 1 < num_bins:
        j = idx + num_frames
        if not done[j]:
          phase[j] = p + 0.5 * (fgrad[k, m] + fgrad[k + 1, m])
          done[j] = True
          island[j] = label
          remaining -= 1
          size = _heap_push(heap, heap_keys, size, j, key[j])
      if k > 0:
        j = idx - num_frames
        if not done[j]:
          phase[j] = p - 0.5 * (fgrad[k, m] + fgrad[k - 1, m])
          done[j] = True
          island[j] = label
          remaining -= 1
          size = _heap_push(heap, heap_keys, size, j, key[j])

    num_islands += 1

  # Each island's phase is only known up to a constant.  A real signal has
  # real DC and Nyquist coefficients, and there the positive- and
  # negative-frequency parts overlap, so pick each island's constant to make
  # its DC/Nyquist coefficients as close to real (phase 0 or pi) as possible:
  # rotate by -angle(sum |X|^2 exp(2 i phi)) / 2.
  z_re = np.zeros(num_islands)
  z_im = np.zeros(num_islands)
  for k in (0, num_bins - 1):
    for m in range(num_frames):
      i = k * num_frames + m
      if island[i] >= 0:
        w = float(mag[k, m]) ** 2
        z_re[island[i]] += w * np.cos(2.0 * phase[i])
        z_im[island[i]] += w * np.sin(2.0 * phase[i])
  rotation = np.empty(num_islands)
  for j in range(num_islands):
    rotation[j] = -0.5 * np.arctan2(z_im[j], z_re[j])
  for i in range(total):
    if island[i] >= 0:
      phase[i] += rotation[island[i]]

  # Wrap in float64 before the float32 store: integrated phases reach ~1e4 rad.
  two_pi = 2.0 * np.pi
  for k in range(num_bins):
    for m in range(num_frames):
      v = phase[k * num_frames + m]
      phase_out[k, m] = v - two_pi * np.floor(v / two_pi)


@_jit(parallel=True)
def _pghi_batch(mag, tol, lam, seeds, phase_out):
  """PGHI over a batch [B, K, N], one clip per thread."""
  for b in numba.prange(mag.shape[0]):
    _pghi_single(mag[b], tol, lam, seeds[b], phase_out[b])


def pghi(magnitude: np.ndarray, tol: float = 10.0, seed: int = 0,
         lam: float = LAMBDA) -> np.ndarray:
  """Phase from STFT magnitude [..., 257, 128] by phase-gradient heap integration -> float32 phase, same shape."""
  magnitude = np.asarray(magnitude)
  if magnitude.ndim < 2 or magnitude.shape[-2:] != (NUM_BINS, NUM_FRAMES):
    raise ValueError(
        f"expected a magnitude of shape [..., {NUM_BINS}, {NUM_FRAMES}] "
        f"(or [B, {NUM_BINS}, {NUM_FRAMES}]), got {magnitude.shape}")
  if np.iscomplexobj(magnitude):
    raise ValueError("pghi expects a real magnitude, got complex values")
  batch_shape = magnitude.shape[:-2]
  flat = np.ascontiguousarray(
      magnitude.reshape((-1, NUM_BINS, NUM_FRAMES)), dtype=np.float32)
  if not np.all(np.isfinite(flat)) or np.any(flat < 0):
    raise ValueError("pghi expects finite, non-negative magnitudes")
  # One independent seed per clip keeps results identical however the clips
  # are spread over threads.
  seeds = np.random.default_rng(seed).integers(0, 2**31 - 1, size=flat.shape[0])
  phase = np.empty_like(flat)
  _pghi_batch(flat, float(tol), float(lam), seeds.astype(np.int64), phase)
  return phase.reshape(batch_shape + (NUM_BINS, NUM_FRAMES))
