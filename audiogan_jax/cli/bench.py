"""audiogan-bench: compile time, step time, FLOP utilisation and memory.

    audiogan-bench --config=configs/gaae.py [--config.train.compute_dtype=bfloat16] [--steps=10] [--json]

Times one full training iteration of the config's model (all its update
groups, the papers' k) on every visible device, as audiogan-train runs it:
compile time, the median step time with the device synchronised,
examples/s, XLA's FLOP count, achieved FLOP/s as a fraction of the
devices' peak, peak device memory and the input pipeline's examples/s from
its cache. --json prints one JSON line (keys in docs/PERFORMANCE.md);
--output=FILE appends it to FILE, and --table=FILE prints such a file's rows
as a Markdown table.
"""

from absl import app
from absl import flags
from ml_collections import config_flags

from audiogan_jax.cli import common

_CONFIG = config_flags.DEFINE_config_file(
    "config", None, "Experiment config file (configs/<name>.py).",
    lock_config=True)
_STEPS = flags.DEFINE_integer("steps", 10,
                              "Timed iterations (the median is reported).")
_WARMUP = flags.DEFINE_integer("warmup", 2,
                               "Untimed iterations after compilation.")
_PIPELINE_BATCHES = flags.DEFINE_integer(
    "pipeline_batches", 10, "Iterations' worth of input batches read to "
    "time the input pipeline.")
_CACHE_DIR = flags.DEFINE_string(
    "cache_dir", None, "Spectrogram cache to reuse (default: "
    "config.data.cache_dir, else a temporary one).")
_JSON = flags.DEFINE_bool("json", False, "Print one JSON line.")
_COMPILE_ONLY = flags.DEFINE_bool(
    "compile_only", False, "Compile and count FLOPs and memory, run nothing "
    "(sizes this host cannot run in reasonable time).")
_LABEL = flags.DEFINE_string("label", "", "A name for this run, kept in "
                             "the JSON row (e.g. paper, small).")
_OUTPUT = flags.DEFINE_string("output", None,
                              "Also append the JSON line to this file.")
_FLOPS_ONLY = flags.DEFINE_bool(
    "flops_only", False, "Only trace the iteration and print its FLOPs and "
    "parameters (no data, compilation or run; any size on any host).")
_TABLE = flags.DEFINE_string(
    "table", None, "Print the rows of this --output file as a Markdown "
    "table instead of benchmarking (no --config needed).")
_ITERATION = flags.DEFINE_integer(
    "iteration", -1, "Measure the step as it runs at this training "
    "iteration (GANSynth: the growth stage there); -1: the last one.")
_DISTRIBUTED = common.define_distributed_flags()


@common.user_errors("audiogan-bench")
def main(argv) -> None:
  """Benchmarks the iteration and prints the row."""
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  if _TABLE.value:
    from audiogan_jax.train import bench  # pylint: disable=g-import-not-at-top
    print(bench.markdown_table(bench.read_rows(_TABLE.value)))
    return
  if _CONFIG.value is None:
    raise ValueError("--config is required: audiogan-bench "
                     "--config=configs/<name>.py (or --table=FILE)")
  common.hide_accelerators_from_tensorflow()
  import jax  # pylint: disable=g-import-not-at-top
  common.initialize_distributed(_DISTRIBUTED)
  from audiogan_jax.train import bench  # pylint: disable=g-import-not-at-top
  if _FLOPS_ONLY.value:
    row = bench.count_flops(_CONFIG.value,
                            flags.FLAGS["config"].config_filename,
                            _ITERATION.value)
    row["label"] = _LABEL.value
    print(bench.to_json(row) if _JSON.value else
          f"{row['config']}: {row['flops_per_iter'] / 1e12:,.3f} TFLOP per "
          f"iteration, {row['flops_per_example'] / 1e9:,.2f} GFLOP per "
          f"example, {row['params'] / 1e6:,.2f} M parameters")
    if _OUTPUT.value:
      with open(_OUTPUT.value, "a") as f:
        f.write(bench.to_json(row) + "\n")
    return
  row = bench.benchmark(_CONFIG.value, steps=_STEPS.value,
                        warmup=_WARMUP.value,
                        pipeline_batches=_PIPELINE_BATCHES.value,
                        cache_dir=_CACHE_DIR.value,
                        config_name=flags.FLAGS["config"].config_filename,
                        compile_only=_COMPILE_ONLY.value,
                        iteration=_ITERATION.value)
  if jax.process_index() != 0:
    return
  row["label"] = _LABEL.value
  line = bench.to_json(row)
  print(line if _JSON.value else bench.summary(row), flush=True)
  if _OUTPUT.value:
    with open(_OUTPUT.value, "a") as f:
      f.write(line + "\n")


def run() -> None:
  """Console-script entry point."""
  common.run_app(main, "audiogan-bench")


if __name__ == "__main__":
  run()
