"""Signal pieces shared by the embedded datasets (syllables and notes)."""

from __future__ import annotations

import numpy as np


def smoothstep(x: np.ndarray) -> np.ndarray:
  """3x^2 - 2x^3 on x clipped to [0, 1]: a smooth 0 -> 1 ramp."""
  x = np.clip(x, 0.0, 1.0)
  return x * x * (3.0 - 2.0 * x)


def mix_noise_floor(clean: np.ndarray, noise: np.ndarray,
                    snr_db: np.ndarray, out: np.ndarray) -> None:
  """``out`` = clean + noise scaled to ``snr_db`` below it, peak under 1.

  Rows are examples [N, T]; ``noise`` is any noise of the right shape (it is
  scaled, not changed). Row sums of squares and peaks are taken without
  full-size temporaries.
  """
  num_samples = clean.shape[1]
  noise_rms = np.sqrt(np.einsum("ij,ij->i", noise, noise) / num_samples)
  clean_rms = np.sqrt(np.einsum("ij,ij->i", clean, clean) / num_samples)
  scale = clean_rms * 10 ** (-snr_db / 20) / (noise_rms + 1e-9)
  np.multiply(noise, scale[:, None].astype(np.float32), out=out)
  out += clean
  peak = np.maximum(out.max(axis=1), -out.min(axis=1))
  out *= np.minimum(1.0, 0.999 / np.maximum(peak, 1e-9))[:, None].astype(
      np.float32)
