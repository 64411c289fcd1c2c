"""Fault injection: audiogan-train killed at random points and resumed each
time ends with the parameters of an uninterrupted run (same seed, CPU)."""

import os
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

from audiogan_jax import checkpoint as ckpt_lib
from audiogan_jax.train import trainer
from tests_helpers import last_logged_step
from tests_helpers import tiny_config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESTS = os.path.dirname(os.path.abspath(__file__))
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "JAX_PLATFORMS": "cpu"}
STEPS = 16

_CONFIG_FILE = f"""
import sys
sys.path.insert(0, {TESTS!r})
from tests_helpers import tiny_config


def get_config():
  c = tiny_config()
  c.train.update(num_steps={STEPS}, checkpoint_every={{every}},
                 export_at_end=False, log_every=1)
  return c
"""


def _config(every):
  c = tiny_config()
  c.train.update(num_steps=STEPS, checkpoint_every=every, export_at_end=False,
                 log_every=1)
  return c


def _final_state(workdir):
  ckpt = ckpt_lib.Checkpointer(os.path.join(workdir, "checkpoints"))
  try:
    assert ckpt.latest_step() == STEPS
    state, _ = ckpt.restore(None)
  finally:
    ckpt.close()
  return state


def _run(config_path, workdir, kill_at=None, sig=signal.SIGKILL, args=()):
  """audiogan-train; with ``kill_at``, sent ``sig`` once that step is logged."""
  proc = subprocess.Popen(
      [sys.executable, "-m", "audiogan_jax.cli.train",
       f"--config={config_path}", f"--workdir={workdir}", *args],
      cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
      text=True)
  start = last_logged_step(workdir)
  if kill_at is not None:
    deadline = time.time() + 300
    while proc.poll() is None and time.time() < deadline:
      if last_logged_step(workdir) >= kill_at:
        proc.send_signal(sig)
        break
      time.sleep(0.005)
  out, err = proc.communicate(timeout=300)
  return proc.returncode, err, start


def _compare(reference, workdir):
  ref, got = _final_state(reference), _final_state(workdir)
  for a, b in zip(jax.tree.leaves(ref), jax.tree.leaves(got)):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6,
                               atol=1e-7)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
  """The uninterrupted run, in this process."""
  workdir = str(tmp_path_factory.mktemp("reference"))
  trainer.train_and_evaluate(_config(STEPS), workdir)
  return workdir


def _config_file(tmp_path, every):
  path = tmp_path / f"tiny_{every}.py"
  path.write_text(_CONFIG_FILE.format(every=every))
  return str(path)


def test_sigkill_at_random_points_then_resume_gives_the_same_parameters(
    reference, tmp_path):
  rng = np.random.default_rng(int(time.time()))
  points = sorted(rng.choice(np.arange(2, STEPS - 2), 3, replace=False))
  config_path = _config_file(tmp_path, 3)
  workdir = str(tmp_path / "run")
  for point in points:
    code, err, _ = _run(config_path, workdir, kill_at=int(point))
    assert code == -signal.SIGKILL, (point, code, err[-2000:])
  code, err, start = _run(config_path, workdir)
  assert code == 0, err[-2000:]
  assert start >= points[-1], (points, start)
  _compare(reference, workdir)


def test_sigterm_and_sigint_save_exit_cleanly_and_resume(reference, tmp_path):
  config_path = _config_file(tmp_path, STEPS)   # no periodic checkpoint
  workdir = str(tmp_path / "run")
  saved = []
  for sig, point in ((signal.SIGTERM, 4), (signal.SIGINT, 9)):
    code, err, _ = _run(config_path, workdir, kill_at=point, sig=sig)
    assert code == 128 + sig, (code, err[-2000:])
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"audiogan-train: stopped by {sig.name} at step ")
    assert "rerun the same command to resume" in last
    assert "Traceback" not in err
    step = int(last.split(" at step ")[1].split(";")[0])
    assert step >= point
    saved.append(step)
    ckpt_dir = os.path.join(workdir, "checkpoints")
    assert max(int(s) for s in os.listdir(ckpt_dir) if s.isdigit()) == step
  code, err, _ = _run(config_path, workdir)
  assert code == 0, err[-2000:]
  _compare(reference, workdir)
  # The same workdir with other data is refused (the error is the last
  # line, after the start-up log) and left untouched.
  code, err, _ = _run(config_path, workdir, args=["--config.data.seed=3"])
  assert code == 2
  assert err.strip().splitlines()[-1].startswith(
      f"audiogan-train: error: --workdir={workdir} holds checkpoints of a "
      "different run (data.seed: 0 -> 3)")
  assert "Traceback" not in err
  _compare(reference, workdir)
