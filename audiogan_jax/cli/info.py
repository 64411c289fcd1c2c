"""audiogan-info: parameter counts and shapes of a config's networks.

    audiogan-info --config=configs/biggan_sup.py [--json] [--data]

--data also loads the dataset and reports its size, the labelled subset and
the input pipeline's examples/s from the spectrogram cache.
"""

import json
import sys

from absl import app
from absl import flags
from ml_collections import config_flags

from audiogan_jax.cli import common

_CONFIG = config_flags.DEFINE_config_file(
    "config", None, "Experiment config file (configs/<name>.py).",
    lock_config=True)
_JSON = flags.DEFINE_bool("json", False, "Print one JSON object.")
_DATA = flags.DEFINE_bool("data", False,
                          "Also load the data and time the input pipeline.")
flags.mark_flags_as_required(["config"])


def network_report(config) -> dict:
  """Per network: parameter count, input and output shapes (batch 2)."""
  import jax  # pylint: disable=g-import-not-at-top
  from audiogan_jax import gans  # pylint: disable=g-import-not-at-top
  from audiogan_jax.gans import state as state_lib  # pylint: disable=g-import-not-at-top

  family = gans.get_family(str(config.model.family))
  if int(config.model.get("num_classes", -1)) <= 0:
    config = config.copy_and_resolve_references()
    with config.unlocked():
      config.model.num_classes = 10
  shapes = jax.eval_shape(lambda k: family.init_state(config, k),
                          jax.random.key(0))
  report = {}
  for name, module in family.networks(config).items():
    inputs = family.network_inputs(config, name)
    out = jax.eval_shape(
        lambda p, s, *a, m=module: m.apply({"params": p, "batch_stats": s}, *a,
                                           train=False),
        shapes.params[name], shapes.stats[name], *inputs)
    report[name] = {
        "module": type(module).__name__,
        "params": state_lib.count_params(shapes.params[name]),
        "inputs": [list(x.shape) for x in inputs if x is not None],
        "output": jax.tree.map(lambda o: list(o.shape), out)}
  return report


def data_report(config) -> dict:
  """Dataset sizes and the pipeline's examples/s from the in-memory cache."""
  from audiogan_jax import gans  # pylint: disable=g-import-not-at-top
  from audiogan_jax.data import pipeline  # pylint: disable=g-import-not-at-top

  family = gans.get_family(str(config.model.family))
  ds = pipeline.load_dataset(config, with_test=True)
  with config.unlocked():
    if int(config.model.get("num_classes", -1)) <= 0:
      config.model.num_classes = ds.num_classes
  it = pipeline.make_iterator(ds, family.streams(config),
                              global_batch=int(config.train.batch_size),
                              steps_per_iteration=int(config.train.d_steps),
                              seed=int(config.train.seed))
  return {"train": len(ds.train), "labelled": int((ds.train.labels >= 0).sum()),
          "test": len(ds.test) if ds.test is not None else 0,
          "classes": list(ds.class_names),
          "pipeline_examples_per_sec": round(pipeline.measure_throughput(it), 1)}


@common.user_errors("audiogan-info")
def main(argv) -> None:
  """Prints the report."""
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  common.hide_accelerators_from_tensorflow()
  config = _CONFIG.value
  m = config.model
  # BigGAN-style ch; WaveGAN's d; GANSynth's per-resolution channels.
  width = next(k for k in ("ch", "d", "channels") if k in m)
  conditional = (str(m.get("conditioning", "none")) != "none"
                 or bool(m.get("conditional", False))
                 or str(config.data.get("label", "")) == "pitch")
  size = m[width]
  size = ",".join(map(str, size)) if isinstance(size, (list, tuple)) else int(
      size)
  out = {"model": str(m.family), "conditional": conditional,
         width: size, "networks": network_report(config)}
  if "conditioning" in m:
    out["conditioning"] = str(m.conditioning)
  out["total_params"] = sum(n["params"] for n in out["networks"].values())
  if _DATA.value:
    out["data"] = data_report(config)
  if _JSON.value:
    print(json.dumps(out))
    return
  print(f"model {out['model']} (conditional={out['conditional']}, "
        f"{width}={out[width]})")
  print(f"{'network':<10}{'module':<22}{'params':>14}  input -> output")
  for name, n in out["networks"].items():
    ins = ", ".join("x".join(map(str, s)) for s in n["inputs"])
    outs = n["output"]
    outs = outs if outs and isinstance(outs[0], list) else [outs]
    print(f"{name:<10}{n['module']:<22}{n['params']:>14,}  {ins} -> "
          f"{', '.join('x'.join(map(str, o)) for o in outs)}")
  print(f"{'total':<32}{out['total_params']:>14,}")
  if "data" in out:
    d = out["data"]
    print(f"data: {d['train']} train ({d['labelled']} labelled), {d['test']} "
          f"test, classes {', '.join(d['classes'])}")
    print(f"input pipeline: {d['pipeline_examples_per_sec']:.0f} examples/s "
          "from the in-memory cache")
  sys.stdout.flush()


def run() -> None:
  """Console-script entry point."""
  common.run_app(main, "audiogan-info")


if __name__ == "__main__":
  run()
