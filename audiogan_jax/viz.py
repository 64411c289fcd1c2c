"""Spectrogram images: a colour map, grids and a dependency-free PNG writer."""

from __future__ import annotations

import os
import struct
import zlib

import numpy as np

# Anchor colours of a perceptually ordered dark-to-bright map (magma-like).
_ANCHORS = np.array([
    [0, 0, 4], [28, 16, 68], [79, 18, 123], [129, 37, 129], [181, 54, 122],
    [229, 80, 100], [251, 135, 97], [254, 194, 135], [252, 253, 191]],
                    np.float32)


def colorize(spec: np.ndarray) -> np.ndarray:
  """Maps a [H, W] spectrogram in [-1, 1] to [H, W, 3] uint8, low freq at the bottom."""
  v = np.clip((np.asarray(spec, np.float32) + 1.0) / 2.0, 0.0, 1.0)
  pos = v * (len(_ANCHORS) - 1)
  lo = np.floor(pos).astype(int).clip(0, len(_ANCHORS) - 2)
  t = (pos - lo)[..., None]
  rgb = _ANCHORS[lo] * (1 - t) + _ANCHORS[lo + 1] * t
  return rgb[::-1].astype(np.uint8)


def grid(specs: np.ndarray, cols: int = 0, pad: int = 2) -> np.ndarray:
  """Tiles [N, H, W(, 1)] spectrograms into one RGB image."""
  specs = np.asarray(specs)
  if specs.ndim == 4:
    specs = specs[..., 0]
  n, h, w = specs.shape
  cols = cols or int(np.ceil(np.sqrt(n * h / w)))
  cols = max(1, min(cols, n))
  rows = int(np.ceil(n / cols))
  out = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, 3), 255,
                np.uint8)
  for i, s in enumerate(specs):
    r, c = divmod(i, cols)
    y, x = pad + r * (h + pad), pad + c * (w + pad)
    out[y:y + h, x:x + w] = colorize(s)
  return out


def png_bytes(rgb: np.ndarray) -> bytes:
  """Encodes an [H, W, 3] uint8 image as the bytes of a PNG file."""
  rgb = np.ascontiguousarray(rgb, np.uint8)
  h, w, _ = rgb.shape
  raw = b"".join(b"\x00" + rgb[y].tobytes() for y in range(h))

  def chunk(tag: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + tag + data
            + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF))

  return (b"\x89PNG\r\n\x1a\n"
          + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
          + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))


def write_png(path: str, rgb: np.ndarray) -> None:
  """Writes an [H, W, 3] uint8 image as PNG."""
  png = png_bytes(rgb)
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  with open(path, "wb") as f:
    f.write(png)


def waveform_grid(waves: np.ndarray, cols: int = 0, width: int = 512,
                  height: int = 96, pad: int = 2) -> np.ndarray:
  """Tiles [N, T] waveforms in [-1, 1] into one RGB image of their envelopes.

  Each panel plots, per pixel column, the minimum to maximum of the samples
  that fall in it (dark blue on white, a grey zero line).
  """
  waves = np.clip(np.asarray(waves, np.float32), -1.0, 1.0)
  if waves.ndim == 3:
    waves = waves[..., 0]
  n, t = waves.shape
  width = min(width, t)
  cols = max(1, min(cols or int(np.ceil(np.sqrt(n * height / width))), n))
  rows = int(np.ceil(n / cols))
  out = np.full((rows * (height + pad) + pad, cols * (width + pad) + pad, 3),
                255, np.uint8)
  edges = np.linspace(0, t, width + 1).astype(int)
  ys = np.arange(height)[:, None]
  for i, w in enumerate(waves):
    lo = np.minimum.reduceat(w, edges[:-1])
    hi = np.maximum.reduceat(w, edges[:-1])
    # Row 0 is the top (+1), row height-1 the bottom (-1).
    top = np.round((1.0 - hi) / 2.0 * (height - 1)).astype(int)
    bottom = np.round((1.0 - lo) / 2.0 * (height - 1)).astype(int)
    panel = np.full((height, width, 3), 255, np.uint8)
    panel[height // 2] = (200, 200, 200)
    mask = (ys >= top[None, :]) & (ys <= bottom[None, :])
    panel[mask] = (31, 60, 136)
    r, c = divmod(i, cols)
    y, x = pad + r * (height + pad), pad + c * (width + pad)
    out[y:y + height, x:x + width] = panel
  return out
