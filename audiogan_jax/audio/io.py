"""Audio file I/O: read audio files as mono 16 kHz float32; write WAV."""

from __future__ import annotations

import os
import struct
from typing import NamedTuple, Optional

import numpy as np
import soundfile

SAMPLE_RATE = 16000
NUM_SAMPLES = 16384

# Lower-case extensions (with the dot) of the containers libsndfile decodes.
AUDIO_EXTENSIONS = (".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".mp3",
                    ".aif", ".aiff", ".aifc", ".au", ".snd", ".caf", ".w64",
                    ".rf64")


class AudioFileError(ValueError):
  """An audio file that cannot be decoded."""


def is_audio_file(path: str) -> bool:
  """Whether ``path`` has one of the AUDIO_EXTENSIONS (case-insensitive)."""
  return os.path.splitext(path)[1].lower() in AUDIO_EXTENSIONS


def fix_length(wave: np.ndarray, num_samples: Optional[int]) -> np.ndarray:
  """Zero-pads or trims the last axis to ``num_samples`` (None keeps it)."""
  if num_samples is None:
    return wave
  n = wave.shape[-1]
  if n >= num_samples:
    return wave[..., :num_samples]
  pad = [(0, 0)] * (wave.ndim - 1) + [(0, num_samples - n)]
  return np.pad(wave, pad)


class ClipInfo(NamedTuple):
  """What reading one file did to it (for the data summary)."""

  sample_rate: int     # the file's rate (resampled when not the target)
  channels: int        # > 1: downmixed to mono
  num_samples: int     # length at the target rate, before padding/trimming
  silent: bool         # every sample is zero


def wav_truncation(path: str) -> Optional[str]:
  """Why a RIFF/WAVE file is cut short, or None when it is whole.

  libsndfile reads a truncated WAV without complaint (it returns the samples
  that are there), so a copy cut off mid-transfer would pass for a shorter
  clip. The ``data`` chunk's declared size is compared with the bytes that
  follow it. Streaming writers that leave the size unknown (0 or
  0xFFFFFFFF) and non-WAV files are not judged.
  """
  try:
    size = os.path.getsize(path)
    with open(path, "rb") as f:
      head = f.read(12)
      if len(head) < 12 or head[:4] not in (b"RIFF", b"RIFX") or (
          head[8:12] != b"WAVE"):
        return None
      fmt = ">I" if head[:4] == b"RIFX" else "<I"
      pos = 12
      while pos + 8 <= size:
        f.seek(pos)
        chunk = f.read(8)
        if len(chunk) < 8:
          return None
        declared = struct.unpack(fmt, chunk[4:8])[0]
        if chunk[:4] == b"data":
          have = size - pos - 8
          if declared in (0, 0xFFFFFFFF) or have >= declared:
            return None
          return (f"its header declares {declared} bytes of samples but the "
                  f"file holds {have}")
        pos += 8 + declared + (declared & 1)
  except OSError:
    return None
  return None


def read_audio(path: str, sample_rate: int = SAMPLE_RATE,
               num_samples: Optional[int] = NUM_SAMPLES
               ) -> tuple[np.ndarray, ClipInfo]:
  """:func:`load_audio`, and what was done to the file (:class:`ClipInfo`)."""
  if not os.path.isfile(path):
    raise AudioFileError(f"audio file {path!r} does not exist; check the path")
  if os.path.getsize(path) == 0:
    raise AudioFileError(f"audio file {path!r} is empty (0 bytes); remove it "
                         "or replace it with a valid recording")
  try:
    # float32 decoding scales every integer width (8/16/24/32 bit) to [-1, 1).
    data, file_rate = soundfile.read(path, dtype="float32", always_2d=True)
  except (soundfile.SoundFileError, RuntimeError, TypeError) as e:
    reason = getattr(e, "error_string", None) or str(e)
    reason = " ".join(reason.split())  # libsndfile reasons can span lines
    raise AudioFileError(
        f"cannot read audio file {path!r}: {reason}; remove it or convert it "
        "to WAV/FLAC") from None
  if data.shape[0] == 0 or data.shape[1] == 0:
    raise AudioFileError(
        f"audio file {path!r} holds no samples; remove it or replace it with "
        "a non-empty recording")
  cut = wav_truncation(path)
  if cut:
    raise AudioFileError(
        f"audio file {path!r} is truncated ({cut}); copy it again or remove "
        "it")
  wave = data.mean(axis=1, dtype=np.float32)
  if file_rate != sample_rate:
    import librosa  # pylint: disable=g-import-not-at-top  # slow import
    wave = librosa.resample(wave, orig_sr=file_rate, target_sr=sample_rate,
                            res_type="soxr_hq")
  wave = np.nan_to_num(np.asarray(wave, np.float32), nan=0.0, posinf=1.0,
                       neginf=-1.0)
  # Float files may exceed full scale; everything downstream expects [-1, 1].
  wave = np.clip(wave, -1.0, 1.0)
  info = ClipInfo(sample_rate=int(file_rate), channels=int(data.shape[1]),
                  num_samples=int(wave.shape[-1]),
                  silent=not bool(np.any(wave)))
  return (np.ascontiguousarray(fix_length(wave, num_samples),
                               dtype=np.float32), info)


def load_audio(path: str, sample_rate: int = SAMPLE_RATE,
               num_samples: Optional[int] = NUM_SAMPLES) -> np.ndarray:
  """Reads an audio file as mono float32 at ``sample_rate``, fixed length.

  Any channel count is averaged to mono, any rate resampled (soxr), any
  sample format scaled to [-1, 1]; shorter clips are zero-padded at the end
  and longer ones trimmed. Unreadable, empty and truncated files raise
  :class:`AudioFileError` naming the file.
  """
  return read_audio(path, sample_rate, num_samples)[0]


def write_wav(path: str, wave: np.ndarray,
              sample_rate: int = SAMPLE_RATE) -> None:
  """Writes a [T] (or [T, C]) waveform as 16-bit PCM WAV, clipped to ±1."""
  wave = np.clip(np.asarray(wave, np.float32), -1.0, 1.0)
  parent = os.path.dirname(os.path.abspath(path))
  os.makedirs(parent, exist_ok=True)
  soundfile.write(path, wave, int(sample_rate), subtype="PCM_16", format="WAV")
