"""Throughput of one training iteration: ``audiogan-bench``'s measurements.

One *iteration* is what ``audiogan-train`` runs per step: all update groups
of the model with the papers' k (e.g. GAAE's two S/L updates and one E/Dec/C
update; WaveGAN's five critic updates and one G update), as one jitted call.
An *example* is one real clip the iteration reads: ``global batch x batches
per iteration x streams`` (GAAE: 128 x 3 x 2 = 768 at the paper's batch).

Measured, per run:

* ``compile_sec``: tracing, lowering and XLA compilation of the iteration;
* ``sec_per_iter``: the median of N timed iterations after warm-up, each
  ended by ``block_until_ready`` (the device synchronised); the input batch
  is already on the devices, so this is the step alone;
* ``flops_per_iter``: XLA's cost analysis of the iteration with its k
  discriminator updates unrolled (XLA counts a loop body once), summed over
  all devices;
* ``flops_utilization``: achieved FLOP/s over the peak of all devices of the
  mesh: a table of dense peaks for known accelerators (in the compute dtype),
  on a CPU the rate of a large matmul measured here;
* ``peak_memory_bytes``: the device's peak bytes in use where the runtime
  reports it (GPU, TPU); on a CPU XLA's estimate for the compiled iteration
  (arguments + outputs + temporaries - donated aliases);
* ``pipeline_examples_per_sec``: the tf.data pipeline from its cache, in
  examples of the same kind.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import statistics
import tempfile
import time
from typing import Any, Optional

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from audiogan_jax import gans
from audiogan_jax import media
from audiogan_jax.data import pipeline
from audiogan_jax.gans import common as gan_common
from audiogan_jax.train import sharding
from audiogan_jax.gans import state as state_lib
from audiogan_jax.train import trainer

Config = ml_collections.ConfigDict

# Dense peak FLOP/s per device (no sparsity), by compute dtype. float32 on
# NVIDIA GPUs from Ampere on runs matmuls and convolutions as TF32 under
# JAX's default precision, so its peak is the TF32 one. TPUs run float32
# matmuls as bfloat16 passes at the default precision.
# Sources: the vendors' data sheets (H100 SXM5/PCIe, H200, A100, L4, V100,
# P100; Cloud TPU system architecture pages).
PEAK_FLOPS: dict[str, dict[str, float]] = {
    "h100 pcie": {"bfloat16": 756e12, "float32": 378e12},
    "h100": {"bfloat16": 989.4e12, "float32": 494.7e12},
    "h200": {"bfloat16": 989.4e12, "float32": 494.7e12},
    "gh200": {"bfloat16": 989.4e12, "float32": 494.7e12},
    "a100": {"bfloat16": 312e12, "float32": 156e12},
    "l4": {"bfloat16": 121e12, "float32": 60e12},
    "v100": {"bfloat16": 15.7e12, "float32": 15.7e12},  # no bf16 units
    "p100": {"bfloat16": 9.3e12, "float32": 9.3e12},
    "tpu v4": {"bfloat16": 275e12, "float32": 275e12},
    "tpu v5 lite": {"bfloat16": 197e12, "float32": 197e12},
    "tpu v5e": {"bfloat16": 197e12, "float32": 197e12},
    "tpu v5p": {"bfloat16": 459e12, "float32": 459e12},
    "tpu v5": {"bfloat16": 459e12, "float32": 459e12},
    "tpu v6 lite": {"bfloat16": 918e12, "float32": 918e12},
    "tpu v6e": {"bfloat16": 918e12, "float32": 918e12},
}

JSON_KEYS = ("examples_per_sec", "sec_per_iter", "compile_sec",
             "flops_per_iter", "flops_utilization", "peak_memory_bytes",
             "pipeline_examples_per_sec", "device")


def table_peak(device_kind: str, dtype: str) -> Optional[float]:
  """The dense peak FLOP/s of one device from :data:`PEAK_FLOPS`, or None."""
  kind = device_kind.lower()
  for name in sorted(PEAK_FLOPS, key=len, reverse=True):  # most specific
    if name in kind:
      return PEAK_FLOPS[name].get(dtype)
  return None


def matmul_peak(dtype: str = "float32", n: int = 2048, reps: int = 5,
                device=None) -> float:
  """FLOP/s of the best of ``reps`` timed n x n matmuls on one device."""
  device = device or jax.devices()[0]
  dt = jnp.dtype(dtype)
  a = jax.device_put(jnp.ones((n, n), dt), device)
  b = jax.device_put(jnp.full((n, n), 0.5, dt), device)
  f = jax.jit(lambda x, y: x @ y)
  f(a, b).block_until_ready()
  best = float("inf")
  for _ in range(reps):
    t0 = time.perf_counter()
    f(a, b).block_until_ready()
    best = min(best, time.perf_counter() - t0)
  return 2.0 * n ** 3 / best


def device_peak(dtype: str) -> tuple[float, str]:
  """Peak FLOP/s of one device and where it came from ('table' or 'matmul')."""
  dev = jax.devices()[0]
  peak = table_peak(dev.device_kind, dtype)
  if peak is not None and dev.platform != "cpu":
    return peak, "table"
  return matmul_peak(dtype), "matmul"


def _unrolled(config: Config) -> Config:
  c = ml_collections.ConfigDict(config.to_dict())
  c.train.unroll_d_steps = True
  return c


def iteration_flops(family, config: Config, mesh, state, batch,
                    key, variant=None) -> float:
  """XLA's FLOP count of one iteration, k updates unrolled, all devices.

  Lowered only (not compiled): the unoptimised program's count, before the
  partitioner splits it over the devices. ``variant``: the step's static
  variant (``trainer.step_variant``; GANSynth's growth stage).
  """
  step = trainer.make_train_step(family, _unrolled(config), mesh)
  cost = step.lower(state, batch, key, variant).cost_analysis()
  if isinstance(cost, (list, tuple)):
    cost = cost[0] if cost else {}
  return float((cost or {}).get("flops", float("nan")))


def _memory(compiled) -> tuple[Optional[int], str]:
  stats = jax.devices()[0].memory_stats() or {}
  if "peak_bytes_in_use" in stats:
    return int(stats["peak_bytes_in_use"]), "device"
  try:
    m = compiled.memory_analysis()
  except Exception:  # pylint: disable=broad-except
    m = None
  if m is None:
    return None, "unavailable"
  total = (m.argument_size_in_bytes + m.output_size_in_bytes
           + m.temp_size_in_bytes - m.alias_size_in_bytes)
  return int(total), "xla_estimate"


def abstract_inputs(family, config: Config):
  """Shape/dtype structs of the state and one iteration's batch."""
  state = jax.eval_shape(lambda k: family.init_state(config, k),
                         jax.random.key(0))
  k = family.steps_per_iteration(config)
  b = int(config.train.batch_size)
  shapes = {"spectrogram": (256, 128, 1),
            "waveform": (int(config.data.get("num_samples", 16384)),),
            "label": ()}
  batch = {f"{s}_{f}": jax.ShapeDtypeStruct(
      (k, b, *shapes[f]), np.int32 if f == "label" else np.float32)
           for s in family.streams(config)
           for f in media.input_fields(family, config)}
  return state, batch


def _iteration(config: Config, iteration: Optional[int]) -> int:
  """The training iteration to measure: ``iteration``, default the last."""
  n = int(config.train.num_steps)
  it = n - 1 if iteration is None or iteration < 0 else int(iteration)
  if it >= n:
    raise ValueError(f"--iteration={it} is past the run "
                     f"(--config.train.num_steps={n}); use 0..{n - 1}")
  return it


def count_flops(config: Config, config_name: str = "",
                iteration: Optional[int] = None) -> dict[str, Any]:
  """FLOPs and parameters of one iteration, from tracing alone.

  Nothing is compiled, run or loaded. The values the data would fill in
  (the number of classes, SpecGAN's normalisation statistics) are set to
  the synthetic dataset's class count and zeros/ones of the right shape:
  the FLOP count depends on their shapes only. For sizes no host at hand
  can compile or run.
  """
  family = gans.get_family(str(config.model.family))
  mesh = sharding.make_mesh(int(config.train.get("num_devices", 0)))
  config = trainer.resolve_batch_size(config, mesh)
  if int(config.model.get("num_classes", -1)) <= 0:
    config.model.num_classes = int(config.data.synthetic.num_classes)
  if family.output_kind(config) == media.SPECGAN and not len(
      config.model.get("norm_mean", ()) or ()):
    config.model.norm_mean, config.model.norm_std = [0.0] * 128, [1.0] * 128
  state, batch = abstract_inputs(family, config)
  k = family.steps_per_iteration(config)
  b = int(config.train.batch_size)
  it = _iteration(config, iteration)
  variant = trainer.step_variant(family, config, it)
  flops = iteration_flops(family, config, mesh, state, batch,
                          jax.random.key(1), variant)
  ex = b * k * len(family.streams(config))
  return {"config": config_name, "model": str(config.model.family),
          "iteration": it, "variant": variant,
          "compute_dtype": str(gan_common.compute_dtype(config)),
          "global_batch": b, "steps_per_iteration": k,
          "examples_per_iter": ex,
          "params": state_lib.count_params(state.params),
          "flops_per_iter": flops, "flops_per_example": flops / ex,
          "num_steps": int(config.train.num_steps),
          "date": datetime.date.today().isoformat(), "jax": jax.__version__}


def benchmark(config: Config, *, steps: int = 10, warmup: int = 2,
              pipeline_batches: int = 10, cache_dir: Optional[str] = None,
              config_name: str = "", compile_only: bool = False,
              iteration: Optional[int] = None) -> dict[str, Any]:
  """Measures one training iteration of ``config``; returns the JSON row.

  ``compile_only``: compile and count, but run nothing (for sizes a host
  cannot run in reasonable time); the timed values are then None.
  ``iteration``: the iteration whose step is measured (default the last):
  for a family whose step changes along the run (GANSynth's growth stages,
  ``trainer.step_variant``) the step compiled for that iteration, started
  at it.
  """
  if compile_only:
    steps, warmup = 1, 0
  if steps < 1 or warmup < 0:
    raise ValueError(f"--steps={steps} --warmup={warmup}: need at least one "
                     "timed step and no negative warm-up")
  family = gans.get_family(str(config.model.family))
  tc = config.train
  mesh = sharding.make_mesh(int(tc.get("num_devices", 0)))
  config = trainer.resolve_batch_size(config, mesh)
  global_batch = int(config.train.batch_size)
  fields = media.input_fields(family, config)
  own_cache = cache_dir is None and not config.data.get("cache_dir", "")
  tmp = tempfile.TemporaryDirectory(prefix="audiogan_bench_") if own_cache \
      else None
  try:
    cache = (tmp.name if tmp else cache_dir or str(config.data.cache_dir))
    dataset = pipeline.load_dataset(config, cache_dir=cache,
                                    spectrograms="spectrogram" in fields)
    config = trainer.resolve_config(config, dataset, family)
    k = family.steps_per_iteration(config)
    streams = family.streams(config)
    examples_per_iter = global_batch * k * len(streams)

    def iterator():
      return pipeline.make_iterator(dataset, streams, global_batch=global_batch,
                                    steps_per_iteration=k,
                                    seed=int(tc.seed), fields=fields)

    # The input pipeline alone, from the cache.
    pipe_rate = pipeline.measure_throughput(iterator(), pipeline_batches)
    # Examples in the pipeline's unit (rows of every stream, all processes).
    pipe_rate *= jax.process_count()
    host_batch = next(iterator())
  finally:
    if tmp is not None:
      tmp.cleanup()

  state = trainer.init_state(family, config, mesh)
  it = _iteration(config, iteration)
  variant = trainer.step_variant(family, config, it)
  if variant is not None:
    state = state.replace(step=sharding.replicate(
        np.asarray(it, state.step.dtype), mesh))
  batch = sharding.to_global(host_batch, mesh)
  key = sharding.replicate(jax.random.key(int(tc.seed) + 1), mesh)
  step = trainer.make_train_step(family, config, mesh)
  t0 = time.perf_counter()
  lowered = step.lower(state, batch, key, variant)
  compiled = lowered.compile()
  compile_sec = time.perf_counter() - t0

  times, bad = [], []
  if not compile_only:
    for _ in range(warmup):
      state, metrics = compiled(state, batch, key)
    jax.block_until_ready(state)
    for _ in range(steps):
      t = time.perf_counter()
      state, metrics = compiled(state, batch, key)
      jax.block_until_ready((state, metrics))
      times.append(time.perf_counter() - t)
    bad = [n for n, v in jax.device_get(metrics).items()
           if not np.isfinite(np.asarray(v)).all()]
  sec = statistics.median(times) if times else None
  peak_mem, mem_source = _memory(compiled)

  flops = iteration_flops(family, config, mesh, state, batch, key, variant)
  dtype = str(gan_common.compute_dtype(config))
  peak_one, peak_source = device_peak(dtype)
  n_dev = int(mesh.devices.size)
  achieved = flops / sec if sec else None
  dev = jax.devices()[0]
  params = state_lib.count_params(state.params)
  rate = examples_per_iter / sec if sec else None
  per = lambda a, b: a / b if a is not None and b else None
  return {
      "config": config_name,
      "model": str(config.model.family),
      "device": f"{n_dev} x {dev.device_kind}",
      "platform": dev.platform,
      "num_devices": n_dev,
      "num_processes": jax.process_count(),
      "compute_dtype": dtype,
      "global_batch": global_batch,
      "per_device_batch": global_batch // n_dev,
      "steps_per_iteration": k,
      "iteration": it, "variant": variant,
      "streams": len(streams),
      "examples_per_iter": examples_per_iter,
      "params": params,
      "compile_sec": round(compile_sec, 3),
      "sec_per_iter": sec,
      "sec_per_iter_min": min(times) if times else None,
      "sec_per_iter_max": max(times) if times else None,
      "timed_steps": len(times),
      "iters_per_sec": per(1.0, sec),
      "examples_per_sec": rate,
      "flops_per_iter": flops,
      "achieved_flops_per_sec": achieved,
      "peak_flops_per_sec": peak_one * n_dev,
      "peak_flops_source": peak_source,
      "flops_utilization": per(achieved, peak_one * n_dev),
      "peak_memory_bytes": peak_mem,
      "peak_memory_source": mem_source,
      "pipeline_examples_per_sec": pipe_rate,
      "pipeline_headroom": per(pipe_rate, rate),
      "num_steps": int(tc.num_steps),
      "est_hours_for_num_steps": per(sec * int(tc.num_steps), 3600.0)
                                 if sec else None,
      "non_finite_metrics": bad,
      "date": datetime.date.today().isoformat(),
      "host": f"{platform.machine()} {os.cpu_count()} CPUs",
      "jax": jax.__version__,
  }


def summary(row: dict[str, Any]) -> str:
  """The row as a few human-readable lines."""
  mem = row["peak_memory_bytes"]
  mem_text = ("n/a" if mem is None
              else f"{mem / 2**20:,.1f} MiB ({row['peak_memory_source']})")
  lines = [
      f"{row['config'] or row['model']} on {row['device']} "
      f"({row['compute_dtype']}), global batch {row['global_batch']} "
      f"({row['per_device_batch']} per device), "
      f"{row['steps_per_iteration']} batches x {row['streams']} streams "
      "per iteration",
      f"  compile          {row['compile_sec']:.1f} s",
      f"  FLOPs/iteration  {row['flops_per_iter'] / 1e9:,.2f} G",
      f"  peak memory      {mem_text}",
      f"  input pipeline   {row['pipeline_examples_per_sec']:,.1f} "
      "examples/s",
  ]
  if row["sec_per_iter"] is None:
    lines.append("  (compiled only: nothing was run or timed)")
    return "\n".join(lines)
  lines[2:2] = [
      f"  iteration        {row['sec_per_iter'] * 1e3:,.1f} ms (median of "
      f"{row['timed_steps']}; {row['sec_per_iter_min'] * 1e3:,.1f}-"
      f"{row['sec_per_iter_max'] * 1e3:,.1f})",
      f"  examples/s       {row['examples_per_sec']:,.1f}"]
  lines[5:5] = [
      f"  achieved         {row['achieved_flops_per_sec'] / 1e12:,.4f} "
      f"TFLOP/s = {100 * row['flops_utilization']:.1f} % of "
      f"{row['peak_flops_per_sec'] / 1e12:,.3f} ({row['peak_flops_source']})"]
  lines[-1] += f" ({row['pipeline_headroom']:,.1f}x the step's use)"
  lines.append(f"  {row['num_steps']:,} iterations would take "
               f"{row['est_hours_for_num_steps']:,.2f} h")
  if row["non_finite_metrics"]:
    lines.append("  warning: non-finite " + ", ".join(row["non_finite_metrics"]))
  return "\n".join(lines)


def to_json(row: dict[str, Any]) -> str:
  """One JSON line."""
  return json.dumps(row, sort_keys=True)


TABLE_COLUMNS = (
    ("config", "config"), ("size", "label"), ("params M", "params"),
    ("dtype", "compute_dtype"),
    ("devices", "device"), ("batch", "global_batch"),
    ("examples/s", "examples_per_sec"), ("ms/iter", "sec_per_iter"),
    ("GFLOP/iter", "flops_per_iter"), ("FLOP util.", "flops_utilization"),
    ("peak mem. MiB", "peak_memory_bytes"), ("compile s", "compile_sec"),
    ("pipeline ex/s", "pipeline_examples_per_sec"))


def _cell(key: str, value) -> str:
  if value is None:
    return "n/a"
  if key == "sec_per_iter":
    return f"{value * 1e3:,.1f}"
  if key == "flops_per_iter":
    return f"{value / 1e9:,.1f}"
  if key == "flops_utilization":
    return f"{100 * value:.1f} %"
  if key == "peak_memory_bytes":
    return f"{value / 2**20:,.0f}"
  if key == "params":
    return f"{value / 1e6:,.2f}"
  if key == "config":
    return os.path.basename(str(value)) or "?"
  if isinstance(value, float):
    return f"{value:,.1f}"
  return str(value)


def markdown_table(rows: list[dict[str, Any]]) -> str:
  """Rows from ``--json`` runs as one Markdown table."""
  head = "| " + " | ".join(t for t, _ in TABLE_COLUMNS) + " |"
  rule = "|" + "|".join("---" for _ in TABLE_COLUMNS) + "|"
  body = ["| " + " | ".join(_cell(k, r.get(k)) for _, k in TABLE_COLUMNS)
          + " |" for r in rows]
  return "\n".join([head, rule, *body])


def read_rows(path: str) -> list[dict[str, Any]]:
  """The JSON lines of a ``--output`` file."""
  if not os.path.exists(path):
    raise FileNotFoundError(f"--table={path}: no such file; write one with "
                            "audiogan-bench --json --output=FILE")
  rows = []
  with open(path) as f:
    for i, line in enumerate(f, 1):
      if not line.strip():
        continue
      try:
        rows.append(json.loads(line))
      except json.JSONDecodeError as e:
        raise ValueError(f"--table={path}: line {i} is not JSON ({e.msg}); "
                         "the file should hold audiogan-bench --json lines"
                         ) from None
  return rows
