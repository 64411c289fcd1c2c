"""audiogan-export: write a trained run's EMA generator or encoder to a file.

    audiogan-export --workdir=runs/demo --output=demo_generator.msgpack [--step=N]
    audiogan-export --workdir=runs/demo --what=encoder --output=demo_encoder.msgpack

The file (msgpack, no pickle) holds the params and batch-norm statistics with
the config needed to rebuild the networks. --what=generator (the default)
writes the EMA generator (GAAE's decoder, GGAN's E and G), which
audiogan-generate reads; --what=encoder writes a guided model's encoder side
from the trained (not EMA) weights (GAAE's E and C, GGAN's D, F and Cx),
which audiogan-encode reads. A BigGAN run has no encoder.
"""

from typing import Optional

from absl import app
from absl import flags

from audiogan_jax.cli import common

FLAGS = flags.FLAGS


def _define_flags() -> None:
  """Defines the flags (at run time, so other commands can import this)."""
  flags.DEFINE_string("workdir", None, "A training workdir.")
  flags.DEFINE_string("output", None, "The file to write.")
  flags.DEFINE_integer("step", None, "Checkpoint step (default: the newest).")
  flags.DEFINE_enum("what", "generator", ["generator", "encoder"],
                    "Which part of the model to export.")
  flags.mark_flags_as_required(["workdir", "output"])


def export_workdir(workdir: str, output: str, step: Optional[int] = None,
                   what: str = "generator") -> int:
  """Exports the EMA generator (or the encoder) of a workdir's checkpoint.

  Args:
    workdir: A directory written by audiogan-train.
    output: The file to write.
    step: The checkpoint step (default: the newest).
    what: ``"generator"`` or ``"encoder"``.

  Returns:
    The step of the exported weights.

  Raises:
    ValueError: ``what="encoder"`` for a family without an encoder, or a
      ``step`` without a checkpoint.
    FileNotFoundError: not a workdir, or no checkpoint in it.
  """
  from audiogan_jax import export as export_lib  # pylint: disable=g-import-not-at-top
  from audiogan_jax import workdir as workdir_lib  # pylint: disable=g-import-not-at-top

  if what not in ("generator", "encoder"):
    raise ValueError(f"--what={what}: choose generator or encoder")
  family, config, _ = workdir_lib.read(workdir)
  if what == "encoder" and not family.ENCODER:
    raise ValueError(f"{workdir} holds a {config.model.family} model, which "
                     "has no encoder; use --what=generator (encoders come "
                     "with the guided models, gaae and ggan)")
  run = workdir_lib.restore(workdir, step)
  export_lib.save_model(
      output, what, export_lib.model_from_state(
          what, run.family, run.config, run.state, run.class_names, run.step))
  return run.step


@common.user_errors("audiogan-export")
def main(argv) -> None:
  """Exports and says where."""
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  common.setup_logging()
  step = export_workdir(FLAGS.workdir, FLAGS.output, FLAGS.step, FLAGS.what)
  what = "EMA generator" if FLAGS.what == "generator" else "encoder"
  print(f"exported the {what} at step {step} to {FLAGS.output}")


def run() -> None:
  """Console-script entry point."""
  _define_flags()
  common.run_app(main, "audiogan-export")


if __name__ == "__main__":
  run()
