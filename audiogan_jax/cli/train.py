"""audiogan-train: train a model from a config file.

    audiogan-train --config=configs/demo.py --workdir=runs/demo [--config.train.num_steps=300 ...]

Resumes automatically from the newest checkpoint in --workdir. Under a
multi-host launcher (SLURM, Cloud TPU pods) pass --distributed so every
process joins one jax.distributed job.

SIGTERM or SIGINT (preemption, Ctrl-C) saves a checkpoint after the current
iteration and exits with 128 + the signal number; the same command resumes.
A --workdir holding checkpoints of another model or data config is refused;
--overwrite moves its files to --workdir/previous/<time>/ and starts afresh.
"""

import sys

from absl import app
from absl import flags
from ml_collections import config_flags

from audiogan_jax.cli import common

_CONFIG = config_flags.DEFINE_config_file(
    "config", None, "Experiment config file (configs/<name>.py).",
    lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None,
                               "Directory for checkpoints, logs and samples.")
_DISTRIBUTED = common.define_distributed_flags()
_OVERWRITE = flags.DEFINE_bool(
    "overwrite", False,
    "Start afresh in a --workdir that holds another run: its files are moved "
    "to --workdir/previous/<time>/.")
flags.mark_flags_as_required(["config", "workdir"])


@common.user_errors("audiogan-train")
def main(argv) -> None:
  """Trains until config.train.num_steps, then exports the generator."""
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  common.hide_accelerators_from_tensorflow()
  common.initialize_distributed(_DISTRIBUTED)
  from audiogan_jax.train import trainer  # pylint: disable=g-import-not-at-top
  common.setup_logging()
  try:
    trainer.train_and_evaluate(_CONFIG.value, _WORKDIR.value,
                               overwrite=_OVERWRITE.value)
  except trainer.TrainingInterrupted as e:
    print(f"audiogan-train: {e}", file=sys.stderr)
    common.exit_now(128 + e.signum)


def run() -> None:
  """Console-script entry point."""
  common.run_app(main, "audiogan-train")


if __name__ == "__main__":
  run()
