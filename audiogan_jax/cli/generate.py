"""audiogan-generate: sounds from an exported generator, no workdir needed.

    audiogan-generate --generator=demo_generator.msgpack --num=16 --output=samples/ [--label=3] [--seed=0] [--method=pghi]

Writes sample_NNN.wav (spectrograms inverted by PGHI or Griffin-Lim) and
spectrograms.png, a grid of the generated spectrograms.
"""

from absl import app
from absl import flags

from audiogan_jax.cli import common

_GENERATOR = flags.DEFINE_string("generator", None,
                                 "An exported generator file.")
_NUM = flags.DEFINE_integer("num", 16, "How many sounds.")
_OUTPUT = flags.DEFINE_string("output", None, "Output directory.")
_LABEL = flags.DEFINE_integer(
    "label", None, "Class index for conditional models (default: cycle "
    "through the classes).")
_SEED = flags.DEFINE_integer("seed", 0, "Random seed of the latents.")
_METHOD = flags.DEFINE_enum("method", "pghi", ["pghi", "griffinlim"],
                            "Spectrogram inversion.")
_BATCH = flags.DEFINE_integer("batch_size", 64, "Generator batch size.")
flags.mark_flags_as_required(["generator", "output"])


def generate_files(generator: str, num: int, output: str, label=None,
                   seed: int = 0, method: str = "pghi",
                   batch_size: int = 64) -> list[str]:
  """Generates ``num`` sounds into ``output``; returns the WAV paths."""
  import os  # pylint: disable=g-import-not-at-top
  import jax  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  from audiogan_jax import export as export_lib  # pylint: disable=g-import-not-at-top
  from audiogan_jax import gans  # pylint: disable=g-import-not-at-top
  from audiogan_jax.audio import invert  # pylint: disable=g-import-not-at-top
  from audiogan_jax.train import trainer  # pylint: disable=g-import-not-at-top

  if num < 1:
    raise ValueError(f"--num={num} must be at least 1")
  loaded = export_lib.load_generator(generator)
  config = loaded["config"]
  family = gans.get_family(str(config.model.family))
  n_classes = family.num_classes(config)
  if label is not None:
    if not n_classes:
      raise ValueError(f"--label given but {generator} is an unconditional "
                       "generator; drop --label")
    if not 0 <= label < n_classes:
      raise ValueError(f"--label={label} is out of range: this generator has "
                       f"{n_classes} classes (0..{n_classes - 1})")
  z, y = trainer.sample_inputs(family, config, num, seed, label)
  gen = jax.jit(lambda zz, yy: family.generate(
      config, loaded["params"], loaded["batch_stats"], zz, yy))
  specs = []
  for i in range(0, num, batch_size):
    zz = z[i:i + batch_size]
    yy = None if y is None else y[i:i + batch_size]
    specs.append(np.asarray(gen(zz, yy)))
  specs = np.concatenate(specs)
  waves = invert.spectrogram_to_audio(
      specs, r=float(config.data.spectrogram_clip), method=method,
      peak=0.9)
  trainer.write_samples(output, specs, waves,
                        None if y is None else np.asarray(y),
                        loaded["class_names"],
                        int(config.data.get("sample_rate", 16000)),
                        cols=n_classes or 0)
  return sorted(os.path.join(output, f) for f in os.listdir(output)
                if f.endswith(".wav"))


@common.user_errors("audiogan-generate")
def main(argv) -> None:
  """Generates and says where."""
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  paths = generate_files(_GENERATOR.value, _NUM.value, _OUTPUT.value,
                         _LABEL.value, _SEED.value, _METHOD.value,
                         _BATCH.value)
  print(f"wrote {len(paths)} WAV files and spectrograms.png to "
        f"{_OUTPUT.value}")


def run() -> None:
  """Console-script entry point."""
  common.run_app(main, "audiogan-generate")


if __name__ == "__main__":
  run()
