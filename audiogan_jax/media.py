"""What a generator's outputs become: waveforms to listen to, images to see.

Every family says what its ``generate`` returns (``output_kind``):

* ``spectrogram``: 256x128 log-magnitude spectrograms (BigGAN, GGAN, GAAE),
  inverted by PGHI or Griffin-Lim;
* ``specgan``: SpecGAN's normalised 128x128 spectrograms, inverted with the
  model's normalisation statistics and Griffin-Lim;
* ``waveform``: raw clips (WaveGAN), shown as 256x128 log-magnitude
  spectrograms of each 16384-sample stretch side by side;
* ``ifspec``: GANSynth's [time, frequency, 2] IF-Mel (or IF) images,
  inverted exactly by the family (no phase estimation) and shown as their
  magnitude channel (frequency up, time across).
"""

from __future__ import annotations

from typing import Optional

import numpy as np

SPECTROGRAM, SPECGAN, WAVEFORM, IFSPEC = ("spectrogram", "specgan",
                                          "waveform", "ifspec")


def output_kind(family, config) -> str:
  """The kind of output ``family.generate`` returns for ``config``."""
  return family.output_kind(config)


def input_fields(family, config) -> tuple[str, ...]:
  """The fields of the training batches the family reads."""
  return tuple(family.input_fields(config))


def waveform_images(waves: np.ndarray, clip: float = 10.0) -> np.ndarray:
  """Waveforms [N, T] (T a multiple of 16384) -> images [N, 256, T/128, 1]."""
  from audiogan_jax.audio import spectrogram as spec_lib  # pylint: disable=g-import-not-at-top
  waves = np.asarray(waves, np.float32)
  n, t = waves.shape
  parts = t // spec_lib.NUM_SAMPLES
  chunks = waves[:, :parts * spec_lib.NUM_SAMPLES].reshape(
      n * parts, spec_lib.NUM_SAMPLES)
  specs = np.asarray(spec_lib.log_spectrogram(chunks, float(clip)))
  specs = specs.reshape(n, parts, spec_lib.NUM_FREQ, spec_lib.NUM_FRAMES)
  return np.concatenate(list(specs.transpose(1, 0, 2, 3)), axis=-1)[..., None]


def to_media(family, config, outputs, method: str = "pghi",
             seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
  """Generator outputs -> (images [N, H, W, 1] in [-1, 1], waves [N, T]).

  Args:
    family: The GAN family module.
    config: The generator's config.
    outputs: What ``family.generate`` returned, as numpy.
    method: Spectrogram inversion for 256x128 spectrograms: ``pghi`` or
      ``griffinlim`` (SpecGAN always uses Griffin-Lim, as its paper).
    seed: Seed of Griffin-Lim's initial phase.

  Returns:
    Images to tile into a PNG and float32 waveforms in [-1, 1].
  """
  kind = output_kind(family, config)
  outputs = np.asarray(outputs, np.float32)
  if kind == WAVEFORM:
    waves = outputs if outputs.ndim == 2 else outputs[..., 0]
    return waveform_images(waves, float(config.data.spectrogram_clip)), waves
  if kind == IFSPEC:
    waves = family.to_waveforms(config, outputs)
    images = outputs[..., :1].transpose(0, 2, 1, 3)
    return images, np.clip(waves, -1.0, 1.0)
  if kind == SPECGAN:
    from audiogan_jax.audio import specgan_repr  # pylint: disable=g-import-not-at-top
    mean, std = family.normalisation(config)
    waves = specgan_repr.spec_to_waveform(outputs, mean, std, seed=seed)
    return outputs, np.clip(waves, -1.0, 1.0)
  from audiogan_jax.audio import invert  # pylint: disable=g-import-not-at-top
  waves = invert.spectrogram_to_audio(
      outputs, r=float(config.data.spectrogram_clip), method=method, peak=0.9)
  return outputs, waves


def class_tag(labels: Optional[np.ndarray], i: int, class_names) -> str:
  """'_<class name>' of sample i ('' for unconditional samples)."""
  if labels is None:
    return ""
  k = int(labels[i])
  return "_" + (class_names[k] if k < len(class_names) else str(k))
