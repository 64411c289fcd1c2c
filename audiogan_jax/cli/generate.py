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

The work is done by :mod:`audiogan_jax.generation` (imported when the command
runs, so that ``--help`` answers without loading JAX).
"""

from __future__ import annotations

from absl import app
from absl import flags

from audiogan_jax.cli import common

FLAGS = flags.FLAGS


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
  from audiogan_jax import generation  # pylint: disable=g-import-not-at-top
  paths = generation.generate_files(
      FLAGS.generator, FLAGS.num, FLAGS.output, FLAGS.label, FLAGS.seed,
      FLAGS.method, FLAGS.batch_size, FLAGS.interpolate, FLAGS.seed2,
      FLAGS.pitch)
  print(f"wrote {len(paths)} WAV files and spectrograms.png to "
        f"{FLAGS.output}")


def run() -> None:
  """Console-script entry point."""
  _define_flags()
  common.run_app(main, "audiogan-generate")


if __name__ == "__main__":
  run()
