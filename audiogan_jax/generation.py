"""Generation: latents and labels, batched jitted generation, sample files.

The one path every caller uses: the trainer's sample sheets and its
conditional-accuracy curve, ``audiogan-generate``, ``audiogan-eval`` (IS/FID,
GAN-train) and the listening report.

Two ways of drawing the generator's inputs, for two purposes:

* :func:`sample_inputs`: ``num`` fixed latents from one seed, labels cycling
  over the classes (0, 1, ..., n-1, 0, ...) or all one ``label`` — sample
  sheets and ``audiogan-generate``, where each class must appear;
* :func:`random_inputs`: batch ``b`` of a long run drawn from
  ``fold_in(key(seed), b)``, labels uniform over the classes as the papers'
  y_r — the scores, where the classes are sampled as in training.
"""

from __future__ import annotations

import functools
import os
from typing import Any, Optional, Union

import jax
import jax.numpy as jnp
import numpy as np

from audiogan_jax import export as export_lib
from audiogan_jax import gans
from audiogan_jax import media
from audiogan_jax import viz
from audiogan_jax.audio import io as audio_io

# (family, config JSON) -> jitted generate(params, stats, z, y); the params
# are arguments, so one compiled program serves every generator of a config
# and batch shape.
_GENERATE_FNS: dict[tuple[str, str], Any] = {}


def generate_fn(family, config):
  """The jitted ``(params, stats, z, y) -> outputs`` of one config (cached)."""
  key = (family.name, config.to_json())
  if key not in _GENERATE_FNS:
    _GENERATE_FNS[key] = jax.jit(functools.partial(family.generate, config))
  return _GENERATE_FNS[key]


def sample_inputs(family, config, num: int, seed: int,
                  label: Optional[int] = None):
  """Fixed latents (and labels cycling over the classes, or all ``label``).

  Returns:
    ``z`` [num, ...] and ``y`` [num] int32 (None for an unconditional
    generator).
  """
  z, _ = family.sample_latents(config, jax.random.key(seed), num)
  n = family.num_classes(config)
  if not n:
    return z, None
  y = (jnp.full((num,), label, jnp.int32) if label is not None
       else jnp.arange(num, dtype=jnp.int32) % n)
  return z, y


def random_inputs(family, config, seed: int, batch_index: int,
                  batch_size: int):
  """Batch ``batch_index`` of a long draw: latents and uniform labels (as the
  papers' y_r), from ``fold_in(key(seed), batch_index)``."""
  return family.sample_latents(
      config, jax.random.fold_in(jax.random.key(int(seed)), batch_index),
      batch_size)


def interpolation_inputs(family, config, steps: int, seed: int,
                         label: Optional[int] = None,
                         seed2: Optional[int] = None):
  """Latents on the line from seed's to seed2's, at one fixed label.

  Args:
    family: The GAN family module.
    config: The generator's config.
    steps: Number of points, both ends included (at least 2).
    seed: Seed of the first end (the latent ``sample_inputs(..., 1, seed)``
      gives).
    label: The class of every point (None for an unconditional generator).
    seed2: Seed of the last end (default: ``seed + 1``).

  Returns:
    ``z`` [steps, z_dim] and ``y`` [steps] (None when unconditional).
  """
  seed2 = seed + 1 if seed2 is None else seed2
  za, _ = sample_inputs(family, config, 1, seed, label)
  zb, _ = sample_inputs(family, config, 1, seed2, label)
  t = jnp.linspace(0.0, 1.0, steps)[:, None]
  z = (1.0 - t) * za + t * zb
  y = (jnp.full((steps,), label, jnp.int32)
       if family.num_classes(config) else None)
  return z, y


def generate(family, config, params, stats, z, y,
             batch_size: Optional[int] = None) -> np.ndarray:
  """The generator's outputs for ``z``/``y``, ``batch_size`` at a time.

  Every batch has one shape (the last is zero-padded), so one compiled
  program serves them all; ``batch_size`` None generates all at once.
  """
  gen = generate_fn(family, config)
  num = int(z.shape[0])
  batch = min(int(batch_size or num), num)
  outs = []
  for i in range(0, num, batch):
    zz = z[i:i + batch]
    yy = None if y is None else y[i:i + batch]
    n = int(zz.shape[0])
    if n < batch:
      zz = jnp.concatenate([zz, jnp.zeros((batch - n, *zz.shape[1:]),
                                          zz.dtype)])
      yy = None if yy is None else jnp.concatenate(
          [yy, jnp.zeros((batch - n,), yy.dtype)])
    outs.append(np.asarray(gen(params, stats, zz, yy))[:n])
  return np.concatenate(outs)


def check_label(family, config, generator: str, label: Optional[int],
                class_names: tuple[str, ...], interpolate: int) -> None:
  """One-line errors for a --label the generator cannot take."""
  n = family.num_classes(config)
  if label is not None and not n:
    raise ValueError(f"--label given but {generator} is an unconditional "
                     "generator; drop --label")
  if label is not None and not 0 <= label < n:
    raise ValueError(f"--label={label} is out of range: this generator has "
                     f"{n} classes (0..{n - 1})")
  if interpolate and n and label is None:
    names = (f": {', '.join(f'{i}={c}' for i, c in enumerate(class_names))}"
             if len(class_names) == n else "")
    raise ValueError(f"--interpolate needs --label=K with this conditional "
                     f"generator (K in 0..{n - 1}{names})")


def pitch_label(class_names: tuple[str, ...], pitch: int,
                generator: str) -> int:
  """The class index of MIDI pitch ``pitch`` (classes named by pitch)."""
  names = tuple(str(c) for c in class_names)
  if not names or not all(c.lstrip("-").isdigit() for c in names):
    raise ValueError(f"--pitch given but the classes of {generator} are not "
                     f"pitches ({', '.join(names[:4])}...); use --label")
  if str(pitch) not in names:
    raise ValueError(f"--pitch={pitch} is not among the pitches of "
                     f"{generator} ({names[0]}..{names[-1]})")
  return names.index(str(pitch))


def generate_spectrograms(generator: Union[str, dict[str, Any]], num: int = 16,
                          label: Optional[int] = None, seed: int = 0,
                          batch_size: int = 64, interpolate: int = 0,
                          seed2: Optional[int] = None,
                          pitch: Optional[int] = None):
  """Generated outputs of an exported generator, without inversion or files.

  Args:
    generator: An exported generator file, or a dict as
      :func:`audiogan_jax.export.load_generator` returns.
    num: How many random sounds (ignored with ``interpolate``).
    label: Fixed class (conditional generators); required with
      ``interpolate`` for those.
    seed: Seed of the latents (the first end of an interpolation).
    batch_size: Generator batch size; every batch has this shape (the last
      one is padded), or the number of sounds when that is smaller.
    interpolate: If at least 2, this many points on the line between the
      latents of ``seed`` and ``seed2`` (see :func:`interpolation_inputs`).
    seed2: The far end's seed (default ``seed + 1``).
    pitch: A MIDI pitch, for generators whose classes are pitches: sets
      ``label`` (give one or the other).

  Returns:
    ``(outputs, labels [N] or None, model)``: what the generator makes
    (spectrograms [N,256,128,1]; WaveGAN waveforms [N,T]; SpecGAN
    spectrograms [N,128,128,1]; GANSynth IF-Mel images [N,T,F,2]) and the
    labels as numpy arrays, and the loaded generator dict.

  Raises:
    ValueError: a bad count, label or batch size (one-line messages).
    ExportFormatError: ``generator`` is not a generator file.
  """
  if interpolate and interpolate < 2:
    raise ValueError(f"--interpolate={interpolate} must be at least 2 (the "
                     "two ends)")
  if not interpolate and num < 1:
    raise ValueError(f"--num={num} must be at least 1")
  if batch_size < 1:
    raise ValueError(f"--batch_size={batch_size} must be at least 1")
  name = generator if isinstance(generator, str) else "the generator"
  model = (export_lib.load_generator(generator)
           if isinstance(generator, str) else generator)
  config = model["config"]
  family = gans.get_family(str(config.model.family))
  if pitch is not None:
    if label is not None:
      raise ValueError("--pitch and --label exclude each other")
    label = pitch_label(model["class_names"], pitch, name)
  check_label(family, config, name, label, model["class_names"], interpolate)
  if interpolate:
    num = interpolate
    z, y = interpolation_inputs(family, config, num, seed, label, seed2)
  else:
    z, y = sample_inputs(family, config, num, seed, label)
  params = jax.device_put(model["params"])
  stats = jax.device_put(model["batch_stats"])
  out = generate(family, config, params, stats, z, y, batch_size)
  return out, None if y is None else np.asarray(y), model


def write_samples(directory: str, specs: np.ndarray, waves: np.ndarray,
                  labels: Optional[np.ndarray], class_names, sample_rate: int,
                  cols: int = 0, prefix: str = "sample") -> list[str]:
  """Writes PNG grids of spectrograms and waveforms and one WAV per sample
  (``<prefix>_NNN[_class].wav``); returns the WAV paths in order."""
  os.makedirs(directory, exist_ok=True)
  viz.write_png(os.path.join(directory, "spectrograms.png"),
                viz.grid(specs, cols=cols))
  viz.write_png(os.path.join(directory, "waveforms.png"),
                viz.waveform_grid(waves, cols=cols))
  paths = []
  for i, w in enumerate(waves):
    tag = media.class_tag(labels, i, class_names)
    paths.append(os.path.join(directory, f"{prefix}_{i:03d}{tag}.wav"))
    audio_io.write_wav(paths[-1], w, sample_rate)
  return paths


def generate_files(generator: str, num: int, output: str,
                   label: Optional[int] = None, seed: int = 0,
                   method: str = "pghi", batch_size: int = 64,
                   interpolate: int = 0,
                   seed2: Optional[int] = None,
                   pitch: Optional[int] = None) -> list[str]:
  """Generates sounds into ``output`` (see :func:`generate_spectrograms`).

  Returns:
    The WAV paths written: ``sample_NNN[_class].wav``, or ``interp_NNN.wav``
    with ``interpolate`` (one row); ``spectrograms.png`` and
    ``waveforms.png`` are written beside them.
  """
  outputs, labels, model = generate_spectrograms(
      generator, num, label, seed, batch_size, interpolate, seed2, pitch)
  config = model["config"]
  family = gans.get_family(str(config.model.family))
  specs, waves = media.to_media(family, config, outputs, method, seed)
  rate = int(config.data.get("sample_rate", 16000))
  if interpolate:
    return write_samples(output, specs, waves, None, (), rate,
                         cols=len(specs), prefix="interp")
  paths = write_samples(output, specs, waves, labels, model["class_names"],
                        rate, cols=family.num_classes(config) or 0)
  return sorted(paths)
