"""audiogan-export: write a trained run's EMA generator to one file.

    audiogan-export --workdir=runs/demo --output=demo_generator.msgpack [--step=N]

The file (msgpack, no pickle) holds the generator's params and batch-norm
statistics with the config needed to rebuild it; audiogan-generate reads it.
"""

import json
import os

from absl import app
from absl import flags

from audiogan_jax.cli import common

_WORKDIR = flags.DEFINE_string("workdir", None, "A training workdir.")
_OUTPUT = flags.DEFINE_string("output", None, "The file to write.")
_STEP = flags.DEFINE_integer("step", None,
                             "Checkpoint step (default: the newest).")
flags.mark_flags_as_required(["workdir", "output"])


def export_workdir(workdir: str, output: str, step=None) -> int:
  """Exports the EMA generator of a workdir's checkpoint; returns its step."""
  import jax  # pylint: disable=g-import-not-at-top
  import ml_collections  # pylint: disable=g-import-not-at-top
  from audiogan_jax import export as export_lib  # pylint: disable=g-import-not-at-top
  from audiogan_jax import gans  # pylint: disable=g-import-not-at-top
  from audiogan_jax.train import checkpoint as ckpt_lib  # pylint: disable=g-import-not-at-top

  cfg_path = os.path.join(workdir, "config.json")
  if not os.path.exists(cfg_path):
    raise FileNotFoundError(f"{cfg_path} not found: --workdir must be a "
                            "directory written by audiogan-train")
  with open(cfg_path) as f:
    config = ml_collections.ConfigDict(json.load(f))
  class_names = ()
  run_path = os.path.join(workdir, "run.json")
  if os.path.exists(run_path):
    with open(run_path) as f:
      class_names = tuple(json.load(f).get("class_names", ()))
  family = gans.get_family(str(config.model.family))
  ckpt = ckpt_lib.Checkpointer(os.path.join(workdir, "checkpoints"))
  steps = ckpt.manager.all_steps()
  if not steps:
    raise FileNotFoundError(f"no checkpoint in {workdir}/checkpoints: train "
                            "first (audiogan-train)")
  if step is not None and step not in steps:
    raise ValueError(f"--step={step} has no checkpoint; available: "
                     f"{', '.join(map(str, sorted(steps)))}")
  dev = jax.sharding.SingleDeviceSharding(jax.devices()[0])
  abstract = jax.tree.map(
      lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=dev),
      jax.eval_shape(lambda k: family.init_state(config, k), jax.random.key(0)))
  state, _ = ckpt.restore(abstract, step)
  ckpt.close()
  g = family.GENERATOR
  export_lib.save_generator(output, config, state.ema_params[g],
                            state.ema_stats[g], class_names,
                            int(jax.device_get(state.step)))
  return int(jax.device_get(state.step))


@common.user_errors("audiogan-export")
def main(argv) -> None:
  """Exports and says where."""
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  step = export_workdir(_WORKDIR.value, _OUTPUT.value, _STEP.value)
  print(f"exported the EMA generator at step {step} to {_OUTPUT.value}")


def run() -> None:
  """Console-script entry point."""
  common.run_app(main, "audiogan-export")


if __name__ == "__main__":
  run()
