"""Audio file I/O: read audio files as mono 16 kHz float32; write WAV."""

from __future__ import annotations

import os
from typing import Optional

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


def load_audio(path: str, sample_rate: int = SAMPLE_RATE,
               num_samples: Optional[int] = NUM_SAMPLES) -> np.ndarray:
  """Reads an audio file as mono float32 at ``sample_rate``, fixed length."""
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
  wave = data.mean(axis=1, dtype=np.float32)
  if file_rate != sample_rate:
    import librosa  # pylint: disable=g-import-not-at-top  # slow import
    wave = librosa.resample(wave, orig_sr=file_rate, target_sr=sample_rate,
                            res_type="soxr_hq")
  wave = np.nan_to_num(np.asarray(wave, np.float32), nan=0.0, posinf=1.0,
                       neginf=-1.0)
  # Float files may exceed full scale; everything downstream expects [-1, 1].
  wave = np.clip(wave, -1.0, 1.0)
  return np.ascontiguousarray(fix_length(wave, num_samples), dtype=np.float32)


def write_wav(path: str, wave: np.ndarray,
              sample_rate: int = SAMPLE_RATE) -> None:
  """Writes a [T] (or [T, C]) waveform as 16-bit PCM WAV, clipped to ±1."""
  wave = np.clip(np.asarray(wave, np.float32), -1.0, 1.0)
  parent = os.path.dirname(os.path.abspath(path))
  os.makedirs(parent, exist_ok=True)
  soundfile.write(path, wave, int(sample_rate), subtype="PCM_16", format="WAV")
