"""audiogan-bench: its FLOP count, peaks, the CLI's JSON row and its errors."""

import json
import os
import subprocess
import sys

import jax
import numpy as np
import pytest

from audiogan_jax import gans
from audiogan_jax.train import bench
from audiogan_jax.train import sharding
from audiogan_jax.train import trainer
from tests_helpers import tiny_wavegan_config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _bench(*args, devices=1):
  env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "JAX_PLATFORMS": "cpu",
         "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}"}
  return subprocess.run([sys.executable, "-m", "audiogan_jax.cli.bench",
                         *args], capture_output=True, text=True, env=env,
                        cwd=ROOT, timeout=600)


@pytest.mark.parametrize("kind,dtype,peak", [
    ("NVIDIA H100 80GB HBM3", "bfloat16", 989.4e12),
    ("NVIDIA H100 PCIe", "bfloat16", 756e12),
    ("NVIDIA H200", "float32", 494.7e12),
    ("NVIDIA A100-SXM4-40GB", "bfloat16", 312e12),
    ("TPU v5 lite", "bfloat16", 197e12),
    ("TPU v4", "float32", 275e12),
    ("cpu", "float32", None)])
def test_peak_table_lookup(kind, dtype, peak):
  assert bench.table_peak(kind, dtype) == peak


def test_matmul_peak_is_a_plausible_rate():
  rate = bench.matmul_peak("float32", n=256, reps=3)
  assert 1e8 < rate < 1e14, rate


def _flops(d_steps):
  config = tiny_wavegan_config()
  config.model.num_classes = 0
  config.train.d_steps = d_steps
  family = gans.get_family("wavegan")
  mesh = sharding.make_mesh(1)
  state, batch = bench.abstract_inputs(family, config)
  return bench.iteration_flops(family, config, mesh, state, batch,
                               jax.random.key(1))


def test_flops_count_every_critic_update():
  # XLA's cost analysis counts a loop body once; the bench lowers the k
  # updates unrolled, so the count grows by one critic update per k.
  f1, f2, f3 = _flops(1), _flops(2), _flops(3)
  critic = f2 - f1
  assert critic > 0.2 * f1, (f1, f2, f3)
  np.testing.assert_allclose(f3 - f2, critic, rtol=1e-3)
  # The scanned program the trainer runs is counted with one body only.
  config = tiny_wavegan_config()
  config.train.update(d_steps=3, unroll_d_steps=False)
  family = gans.get_family("wavegan")
  mesh = sharding.make_mesh(1)
  state, batch = bench.abstract_inputs(family, config)
  step = trainer.make_train_step(family, config, mesh)
  scanned = step.lower(state, batch, jax.random.key(1)).cost_analysis()
  assert scanned["flops"] < 0.8 * f3


def test_flops_only_counts_the_same_iteration_without_data():
  config = tiny_wavegan_config()   # d_steps = 2
  row = bench.count_flops(config, "tiny")
  assert row["flops_per_iter"] == _flops(2)
  assert row["examples_per_iter"] == 4 * 2 and row["params"] > 0


def test_cli_json_row_on_eight_devices_with_a_per_device_batch(tmp_path):
  out = tmp_path / "bench.jsonl"
  proc = _bench("--config=configs/wavegan.py", "--config.model.d=2",
                "--config.train.per_device_batch_size=1",
                "--config.train.d_steps=2",
                "--config.data.synthetic.num_train=64",
                "--config.data.synthetic.num_valid=8",
                "--config.data.synthetic.num_test=16",
                "--steps=3", "--warmup=1", "--pipeline_batches=3", "--json",
                f"--output={out}", devices=8)
  assert proc.returncode == 0, proc.stdout + proc.stderr
  row = json.loads(proc.stdout.strip().splitlines()[-1])
  assert json.loads(out.read_text().strip()) == row
  assert set(bench.JSON_KEYS) <= set(row)
  assert row["device"] == "8 x cpu" and row["num_devices"] == 8
  assert row["global_batch"] == 8 and row["per_device_batch"] == 1
  assert row["examples_per_iter"] == 8 * 2
  np.testing.assert_allclose(row["examples_per_sec"],
                             row["examples_per_iter"] / row["sec_per_iter"])
  for key in ("examples_per_sec", "sec_per_iter", "compile_sec",
              "flops_per_iter", "pipeline_examples_per_sec",
              "peak_memory_bytes"):
    assert row[key] > 0, key
  assert 0 < row["flops_utilization"] < 2, row["flops_utilization"]
  assert row["peak_flops_source"] == "matmul"
  # The state alone (params, two Adam moments, a copy for G's EMA) is
  # over 3 x the parameters in float32.
  assert row["peak_memory_bytes"] > 3 * 4 * row["params"]
  assert not row["non_finite_metrics"]


def test_cli_mistake_is_a_one_line_error():
  proc = _bench("--config=configs/wavegan.py", "--config.train.batch_size=6",
                devices=4)
  assert proc.returncode == 2, proc.stdout + proc.stderr
  assert "batch_size=6 is not divisible by the 4 devices" in proc.stderr
  assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_bad_step_counts_and_per_device_batches_are_clear_errors():
  config = tiny_wavegan_config()
  with pytest.raises(ValueError, match="--steps=0"):
    bench.benchmark(config, steps=0)
  config.train.per_device_batch_size = -2
  with pytest.raises(ValueError, match="per_device_batch_size=-2"):
    trainer.resolve_batch_size(config, sharding.make_mesh(1))
  config.train.per_device_batch_size = 3
  assert trainer.resolve_batch_size(
      config, sharding.make_mesh(1)).train.batch_size == 3


def test_prefetch_to_mesh_reads_ahead_and_keeps_the_order():
  mesh = sharding.make_mesh(1)
  pulled = []

  def source():
    for i in range(5):
      pulled.append(i)
      yield {"x_label": np.full((2, 4), i, np.int32)}

  for size in (0, 1, 3):
    pulled.clear()
    it = trainer.prefetch_to_mesh(source(), mesh, size)
    first = next(it)
    assert len(pulled) == max(size, 1)   # the next batches already sent
    got = [first, *it]
    assert [int(b["x_label"][0, 0]) for b in got] == [0, 1, 2, 3, 4]
    assert all(isinstance(b["x_label"], jax.Array)
               and b["x_label"].sharding == sharding.batch_sharding(mesh)
               for b in got)
