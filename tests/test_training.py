"""The training system end to end on tiny configs of the real models."""

import json
import os
import subprocess
import sys

import chex
import jax
import numpy as np
import pytest
import soundfile as sf

from audiogan_jax import export as export_lib
from audiogan_jax.train import trainer
from tests_helpers import LEARNING
from tests_helpers import assert_learns
from tests_helpers import tiny_config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "JAX_PLATFORMS": "cpu"}


def _cli(module, *args, check=True):
  proc = subprocess.run([sys.executable, "-m", f"audiogan_jax.cli.{module}",
                         *args], capture_output=True, text=True, env=ENV,
                        cwd=ROOT, timeout=600)
  if check and proc.returncode:
    raise AssertionError(f"{module} failed:\n{proc.stdout}\n{proc.stderr}")
  return proc


def _rows(workdir):
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    return [json.loads(line) for line in f]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
  """A 20-iteration supervised run with samples, checkpoints and export."""
  workdir = str(tmp_path_factory.mktemp("run"))
  config = tiny_config()
  config.train.update(num_steps=LEARNING["biggan"][0], sample_every=10,
                      checkpoint_every=10)
  state = trainer.train_and_evaluate(config, workdir)
  return workdir, jax.device_get(state)


def test_short_run_losses_move_and_stay_finite(trained):
  workdir, state = trained
  rows = _rows(workdir)
  assert [r["step"] for r in rows] == list(range(1, 21))
  for key in ("train/d_loss", "train/g_loss", "train/d_real", "train/d_fake"):
    vals = np.array([r[key] for r in rows])
    assert np.all(np.isfinite(vals)), key
    assert np.ptp(vals) > 1e-3, f"{key} does not move: {vals}"
  assert int(state.step) == 20
  # The discriminator learns to separate real from fake within a few steps
  # (test_mixed_precision holds bfloat16 to the same threshold).
  assert_learns(rows, "biggan")


def test_run_leaves_checkpoints_events_samples_and_export(trained):
  workdir, _ = trained
  assert sorted(os.listdir(os.path.join(workdir, "checkpoints"))) == ["10", "20"]
  assert any(f.startswith("events") for f in os.listdir(
      os.path.join(workdir, "tb")))
  for step in ("step_0000010", "step_0000020"):
    d = os.path.join(workdir, "samples", step)
    files = os.listdir(d)
    assert "spectrograms.png" in files
    assert len([f for f in files if f.endswith(".wav")]) == 4
  loaded = export_lib.load_generator(os.path.join(workdir,
                                                  "generator.msgpack"))
  assert loaded["step"] == 20 and len(loaded["class_names"]) == 10


def test_resume_gives_the_same_parameters_as_an_uninterrupted_run(
    tmp_path, monkeypatch):
  # Traced (and compiled) once for the three runs below: the step is
  # cached, and neither the state restored from a checkpoint nor later
  # batches change its input shapes, dtypes or shardings.
  from audiogan_jax import gans  # pylint: disable=g-import-not-at-top
  family = gans.get_family("biggan")
  monkeypatch.setattr(trainer, "_STEP_CACHE", {})
  monkeypatch.setattr(family, "train_iteration",
                      chex.assert_max_traces(family.train_iteration, n=1))
  config = tiny_config()
  full = jax.device_get(trainer.train_and_evaluate(config, str(tmp_path / "a")))
  config.train.num_steps = 2
  trainer.train_and_evaluate(config, str(tmp_path / "b"))
  config.train.num_steps = 4
  resumed = jax.device_get(trainer.train_and_evaluate(config,
                                                      str(tmp_path / "b")))
  assert int(resumed.step) == 4
  assert [r["step"] for r in _rows(str(tmp_path / "b"))] == [1, 2, 3, 4]
  for a, b in zip(jax.tree.leaves(full), jax.tree.leaves(resumed)):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6,
                               atol=1e-7)


def test_unsupervised_model_trains(tmp_path):
  config = tiny_config(conditional=False)
  config.train.update(num_steps=2, export_at_end=False)
  state = jax.device_get(trainer.train_and_evaluate(config, str(tmp_path)))
  rows = _rows(str(tmp_path))
  assert all(np.isfinite(r["train/d_loss"]) for r in rows)
  assert "embed" not in state.params["d"]      # plain D, no projection


def test_export_then_generate_in_a_fresh_process(trained, tmp_path):
  workdir, _ = trained
  gen_file = str(tmp_path / "g.msgpack")
  _cli("export", f"--workdir={workdir}", f"--output={gen_file}")
  a = export_lib.load_generator(gen_file)
  b = export_lib.load_generator(os.path.join(workdir, "generator.msgpack"))
  for x, y in zip(jax.tree.leaves(a["params"]), jax.tree.leaves(b["params"])):
    np.testing.assert_array_equal(x, y)
  out = tmp_path / "sounds"
  _cli("generate", f"--generator={gen_file}", "--num=3", f"--output={out}",
       "--label=2", "--seed=1")
  wavs = sorted(f for f in os.listdir(out) if f.endswith(".wav"))
  assert len(wavs) == 3 and all(f.endswith("_two.wav") for f in wavs), wavs
  assert (out / "spectrograms.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
  wave, sr = sf.read(str(out / wavs[0]))
  assert sr == 16000 and wave.shape == (16384,) and np.abs(wave).max() > 0.1
  bad = _cli("generate", f"--generator={gen_file}", f"--output={out}",
             "--label=10", check=False)
  assert bad.returncode == 2
  assert "--label=10 is out of range" in bad.stderr
  assert len(bad.stderr.strip().splitlines()) == 1


def test_info_json_reports_paper_size_counts():
  proc = _cli("info", "--config=configs/biggan_sup.py", "--json")
  rep = json.loads(proc.stdout.strip().splitlines()[-1])
  assert rep["networks"]["g"]["params"] == 6_676_002
  assert rep["networks"]["d"]["params"] == 2_410_722
  assert rep["total_params"] == 6_676_002 + 2_410_722


def test_generate_rejects_a_file_that_is_not_a_generator(tmp_path):
  junk = tmp_path / "junk.msgpack"
  junk.write_bytes(b"not a generator")
  bad = _cli("generate", f"--generator={junk}", f"--output={tmp_path}",
             check=False)
  assert bad.returncode == 2
  assert "is not an audiogan_jax generator file" in bad.stderr


@pytest.mark.parametrize("args,message", [
    (["--config=configs/demo.py", "--config.train.bogus=1"],
     "unknown config key 'bogus' (--config.train.bogus)"),
    (["--config=configs/nope.py"], "cannot load --config"),
    (["--config=configs/demo.py", "--config.train.batch_size=abc"],
     "--config.train.batch_size=abc"),
])
def test_flag_mistakes_are_one_line_errors(args, message):
  bad = _cli("info", *args, check=False)
  assert bad.returncode == 2
  assert message in bad.stderr
  assert len(bad.stderr.strip().splitlines()) == 1, bad.stderr


def test_batch_size_not_divisible_by_devices_is_a_clear_error(tmp_path):
  proc = subprocess.run(
      [sys.executable, "-m", "audiogan_jax.cli.train",
       "--config=configs/demo.py", f"--workdir={tmp_path}",
       "--config.train.batch_size=6"],
      capture_output=True, text=True, cwd=ROOT, timeout=600,
      env={**ENV, "XLA_FLAGS": "--xla_force_host_platform_device_count=4"})
  assert proc.returncode == 2
  assert "batch_size=6 is not divisible by the 4 devices" in proc.stderr
