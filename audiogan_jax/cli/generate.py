"""audiogan-generate: sounds from an exported generator, no workdir needed.

    audiogan-generate --generator=demo_generator.msgpack --num=16 --output=samples/ [--label=3] [--seed=0] [--method=pghi]
    audiogan-generate --generator=demo_generator.msgpack --interpolate=8 --label=2 --seed=5 [--seed2=9] --output=interp/
    audiogan-generate --generator=gansynth_generator.msgpack --pitch=60 --num=8 --output=c4/

Writes sample_NNN_<class>.wav, spectrograms.png (a grid of the generated
spectrograms) and waveforms.png (their waveforms). Spectrogram models'
outputs are inverted by PGHI or Griffin-Lim (--method; SpecGAN always uses
Griffin-Lim with its saved normalisation); WaveGAN's are the waveforms, shown
as log-magnitude spectrograms. --label fixes the
class of a conditional generator (default: cycle through the classes).
--pitch=P does the same by MIDI pitch for a generator whose classes are
pitches (GANSynth: 24..84; 60 is middle C).

--interpolate=N (N >= 2) writes instead interp_000.wav .. interp_<N-1>.wav
and spectrograms.png, one row: the N evenly spaced points, ends included, of
the straight line from the latent of --seed to that of --seed2 (default
--seed + 1), all at the class --label, which a class-conditional generator
(GAAE, GGAN, supervised BigGAN, conditional WaveGAN) requires. GAAE's latent is its style latent
z'. The first and last steps are the sounds that ``--num=1 --seed=S`` and
``--num=1 --seed=S2`` give. --num does not apply and may not be given with
--interpolate.
"""

from __future__ import annotations

import functools
import os
from typing import Any, Optional, Union

from absl import app
from absl import flags

from audiogan_jax.cli import common

FLAGS = flags.FLAGS

# (family, config JSON) -> jitted generate(params, stats, z, y); the params
# are arguments, so one compiled program serves every file of that shape.
_GENERATE_FNS: dict[tuple[str, str], Any] = {}


def _define_flags() -> None:
  """Defines the flags (at run time, so other commands can import this)."""
  flags.DEFINE_string("generator", None, "An exported generator file.")
  flags.DEFINE_integer("num", 16, "How many sounds (not with --interpolate).")
  flags.DEFINE_string("output", None, "Output directory.")
  flags.DEFINE_integer(
      "label", None, "Class index for conditional models (default: cycle "
      "through the classes; required with --interpolate).")
  flags.DEFINE_integer(
      "pitch", None, "MIDI pitch for generators conditioned on pitch "
      "(GANSynth), instead of --label.")
  flags.DEFINE_integer("seed", 0, "Random seed of the latents.")
  flags.DEFINE_enum("method", "pghi", ["pghi", "griffinlim"],
                    "Spectrogram inversion.")
  flags.DEFINE_integer("batch_size", 64, "Generator batch size.")
  flags.DEFINE_integer(
      "interpolate", 0, "If N >= 2: N steps on the line between the latents "
      "of --seed and --seed2 at the class --label, instead of --num random "
      "sounds.")
  flags.DEFINE_integer("seed2", None, "The seed of the interpolation's far "
                       "end (default: --seed + 1).")
  flags.mark_flags_as_required(["generator", "output"])


def interpolation_inputs(family, config, steps: int, seed: int,
                         label: Optional[int] = None,
                         seed2: Optional[int] = None):
  """Latents on the line from seed's to seed2's, at one fixed label.

  Args:
    family: The GAN family module.
    config: The generator's config.
    steps: Number of points, both ends included (at least 2).
    seed: Seed of the first end (the latent ``--num=1 --seed=seed`` uses).
    label: The class of every point (None for an unconditional generator).
    seed2: Seed of the last end (default: ``seed + 1``).

  Returns:
    ``z`` [steps, z_dim] and ``y`` [steps] (None when unconditional).
  """
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  from audiogan_jax.train import trainer  # pylint: disable=g-import-not-at-top
  seed2 = seed + 1 if seed2 is None else seed2
  za, _ = trainer.sample_inputs(family, config, 1, seed, label)
  zb, _ = trainer.sample_inputs(family, config, 1, seed2, label)
  t = jnp.linspace(0.0, 1.0, steps)[:, None]
  z = (1.0 - t) * za + t * zb
  y = (jnp.full((steps,), label, jnp.int32)
       if family.num_classes(config) else None)
  return z, y


def _generate_fn(family, config):
  """The jitted ``(params, stats, z, y) -> spectrograms`` of one config."""
  key = (family.__name__, config.to_json())
  if key not in _GENERATE_FNS:
    import jax  # pylint: disable=g-import-not-at-top
    _GENERATE_FNS[key] = jax.jit(functools.partial(family.generate, config))
  return _GENERATE_FNS[key]


def _check_label(family, config, generator: str, label: Optional[int],
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
  """Generated spectrograms, without inversion or files.

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
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  from audiogan_jax import export as export_lib  # pylint: disable=g-import-not-at-top
  from audiogan_jax import gans  # pylint: disable=g-import-not-at-top
  from audiogan_jax.train import trainer  # pylint: disable=g-import-not-at-top

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
  _check_label(family, config, name, label, model["class_names"], interpolate)
  if interpolate:
    num = interpolate
    z, y = interpolation_inputs(family, config, num, seed, label, seed2)
  else:
    z, y = trainer.sample_inputs(family, config, num, seed, label)
  gen = _generate_fn(family, config)
  params = jax.device_put(model["params"])
  stats = jax.device_put(model["batch_stats"])
  batch = min(batch_size, num)
  specs = []
  for i in range(0, num, batch):
    zz = z[i:i + batch]
    yy = None if y is None else y[i:i + batch]
    n = zz.shape[0]
    if n < batch:  # one compiled shape for every batch
      zz = jnp.concatenate([zz, jnp.zeros((batch - n, *zz.shape[1:]),
                                          zz.dtype)])
      yy = None if yy is None else jnp.concatenate(
          [yy, jnp.zeros((batch - n,), yy.dtype)])
    specs.append(np.asarray(gen(params, stats, zz, yy))[:n])
  return (np.concatenate(specs), None if y is None else np.asarray(y),
          model)


def generate_files(generator: str, num: int, output: str,
                   label: Optional[int] = None, seed: int = 0,
                   method: str = "pghi", batch_size: int = 64,
                   interpolate: int = 0,
                   seed2: Optional[int] = None,
                   pitch: Optional[int] = None) -> list[str]:
  """Generates sounds into ``output`` (see :func:`generate_spectrograms`).

  Returns:
    The WAV paths written: ``sample_NNN[_class].wav``, or ``interp_NNN.wav``
    with ``interpolate``; ``spectrograms.png`` is written beside them.
  """
  from audiogan_jax import gans  # pylint: disable=g-import-not-at-top
  from audiogan_jax import media  # pylint: disable=g-import-not-at-top
  from audiogan_jax import viz  # pylint: disable=g-import-not-at-top
  from audiogan_jax.audio import io as audio_io  # pylint: disable=g-import-not-at-top
  from audiogan_jax.train import trainer  # pylint: disable=g-import-not-at-top

  outputs, labels, model = generate_spectrograms(
      generator, num, label, seed, batch_size, interpolate, seed2, pitch)
  config = model["config"]
  family = gans.get_family(str(config.model.family))
  specs, waves = media.to_media(family, config, outputs, method, seed)
  rate = int(config.data.get("sample_rate", 16000))
  if interpolate:
    os.makedirs(output, exist_ok=True)
    viz.write_png(os.path.join(output, "spectrograms.png"),
                  viz.grid(specs, cols=len(specs)))
    viz.write_png(os.path.join(output, "waveforms.png"),
                  viz.waveform_grid(waves, cols=len(waves)))
    paths = [os.path.join(output, f"interp_{i:03d}.wav")
             for i in range(len(specs))]
    for path, wave in zip(paths, waves):
      audio_io.write_wav(path, wave, rate)
    return paths
  trainer.write_samples(output, specs, waves, labels, model["class_names"],
                        rate, cols=family.num_classes(config) or 0)
  return sorted(os.path.join(output, f) for f in os.listdir(output)
                if f.startswith("sample_") and f.endswith(".wav"))


@common.user_errors("audiogan-generate")
def main(argv) -> None:
  """Generates and says where."""
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  if FLAGS.interpolate and FLAGS["num"].present:
    raise ValueError("--num and --interpolate exclude each other: "
                     "--interpolate=N makes N sounds")
  if FLAGS.seed2 is not None and not FLAGS.interpolate:
    raise ValueError("--seed2 only applies with --interpolate=N")
  paths = generate_files(FLAGS.generator, FLAGS.num, FLAGS.output,
                         FLAGS.label, FLAGS.seed, FLAGS.method,
                         FLAGS.batch_size, FLAGS.interpolate, FLAGS.seed2,
                         FLAGS.pitch)
  print(f"wrote {len(paths)} WAV files and spectrograms.png to "
        f"{FLAGS.output}")


def run() -> None:
  """Console-script entry point."""
  _define_flags()
  common.run_app(main, "audiogan-generate")


if __name__ == "__main__":
  run()
