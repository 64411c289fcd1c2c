"""The multi-host path on one machine: processes of one jax.distributed job.

Each process is ``audiogan-train --distributed`` with 2 simulated CPU
devices (gloo collectives), started by ``launch/local_multiprocess.sh`` or
directly, as the processes of a pod slice would be. Checked: 2 processes x
2 devices train to the parameters of 1 process x 4 devices (BigGAN and
WaveGAN); each process reads only its slice of every batch; SIGTERM to one
process stops both at one agreed step with one checkpoint, and the job
carries on in 1 process, then in 2 again, one of them SIGKILLed (the
other ends within the heartbeat timeout), and ends with the uninterrupted
run's parameters.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

from audiogan_jax import errors
from audiogan_jax import gans
from audiogan_jax import workdir as workdir_lib
from audiogan_jax.data import pipeline
from tests_helpers import last_logged_step
from tests_helpers import tiny_gaae_config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESTS = os.path.dirname(os.path.abspath(__file__))
STEPS = 8
HEARTBEAT = 5

_CONFIG_FILE = """
import sys
sys.path.insert(0, {tests!r})
import tests_helpers


def get_config():
  c = tests_helpers.{maker}
  c.train.update(num_steps={steps}, checkpoint_every=3, export_at_end=False,
                 log_every=1, check_finite_every=2, batch_size=8)
  return c
"""

_MAKERS = {"biggan": "tiny_config()",
           "wavegan": "tiny_wavegan_config('wavegan', 'none')"}


def _config_file(tmp_path, name):
  path = tmp_path / f"{name}.py"
  path.write_text(_CONFIG_FILE.format(tests=TESTS, maker=_MAKERS[name],
                                      steps=STEPS))
  return str(path)


def _env(devices):
  flags = os.environ.get("XLA_FLAGS", "")
  return {**os.environ, "JAX_PLATFORMS": "cpu", "TF_CPP_MIN_LOG_LEVEL": "3",
          "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices} "
                       f"{flags}".strip()}


def _launch(config, workdir, n=2, args=()):
  """launch/local_multiprocess.sh: n processes x 2 devices, to the end."""
  p = subprocess.run(
      ["bash", os.path.join(ROOT, "launch", "local_multiprocess.sh"), str(n),
       config, workdir, *args],
      cwd=ROOT, capture_output=True, text=True, timeout=600,
      env={**_env(2), "PYTHON": sys.executable,
           "HEARTBEAT_TIMEOUT": str(HEARTBEAT)})
  assert p.returncode == 0, p.stderr[-3000:]
  return p


def _single(config, workdir, devices=4, args=()):
  """One process with ``devices`` devices, to the end."""
  p = subprocess.run(
      [sys.executable, "-m", "audiogan_jax.cli.train", f"--config={config}",
       f"--workdir={workdir}", *args],
      cwd=ROOT, capture_output=True, text=True, timeout=600,
      env=_env(devices))
  assert p.returncode == 0, p.stderr[-3000:]
  return p


def _free_port():
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def _start_job(config, workdir):
  """Two processes of one job, started directly (their Popen objects)."""
  port = _free_port()
  return [subprocess.Popen(
      [sys.executable, "-m", "audiogan_jax.cli.train", f"--config={config}",
       f"--workdir={workdir}", "--distributed",
       f"--coordinator_address=127.0.0.1:{port}", "--num_processes=2",
       f"--process_id={i}", f"--heartbeat_timeout={HEARTBEAT}"],
      cwd=ROOT, env=_env(2), stdout=subprocess.DEVNULL,
      stderr=subprocess.PIPE, text=True) for i in range(2)]


def _wait_for_step(procs, workdir, step):
  deadline = time.time() + 300
  while last_logged_step(workdir) < step:
    assert time.time() < deadline, "the job did not reach step %d" % step
    assert all(p.poll() is None for p in procs), [
        p.stderr.read()[-2000:] for p in procs if p.poll() is not None]
    time.sleep(0.02)


def _state(workdir, step=STEPS):
  """The newest checkpoint's state, on this process's one device."""
  run = workdir_lib.restore(workdir)
  assert run.step == step
  return run.state


def _assert_same(a_dir, b_dir):
  """Same step; parameters, statistics and EMA copies equal to the 8-device
  check's tolerance (the cross-device sums are added in another order). The
  optimizer state holds the last gradient itself (BigGAN's Adam has
  beta1 = 0), whose batch sums (conv biases: over B x H x W) differ by up
  to 4e-4 between 1 process of 4 devices and 2 of 2: atol 1e-3 there."""
  a, b = _state(a_dir), _state(b_dir)
  assert int(a.step) == int(b.step)
  for field in ("params", "stats", "ema_params", "ema_stats", "opt_state"):
    atol = 1e-3 if field == "opt_state" else 2e-5
    for x, y in zip(jax.tree.leaves(getattr(a, field)),
                    jax.tree.leaves(getattr(b, field))):
      np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=2e-4,
                                 atol=atol, err_msg=field)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
  """{name: (config file, 2-process workdir, 1-process 4-device workdir)}."""
  root = tmp_path_factory.mktemp("multihost")
  out = {}
  for name in ("biggan", "wavegan"):
    config = _config_file(root, name)
    two, one = str(root / f"{name}_2x2"), str(root / f"{name}_1x4")
    _launch(config, two)
    _single(config, one)
    out[name] = (config, two, one)
  return out


@pytest.mark.parametrize("name", ["biggan", "wavegan"])
def test_two_processes_train_as_one_process_of_four_devices(runs, name):
  config, two, one = runs[name]
  _assert_same(one, two)
  with open(os.path.join(two, "metrics.jsonl")) as f:
    steps = [json.loads(l)["step"] for l in f if '"train/' in l]
  assert steps == list(range(1, STEPS + 1))      # process 0 writes, once
  assert os.path.isdir(os.path.join(two, "processes"))
  del config


def test_each_process_reads_only_its_slice_of_every_batch(monkeypatch):
  c = tiny_gaae_config()
  c.data.synthetic.update(num_train=48, num_test=4)
  c.data.labelled_fraction = 0.5
  data = pipeline.load_dataset(c, with_test=False)
  streams = gans.get_family("gaae").streams(c)     # labelled and unlabelled

  def batches(count, index):
    monkeypatch.setattr(jax, "process_count", lambda: count)
    monkeypatch.setattr(jax, "process_index", lambda: index)
    it = pipeline.make_iterator(data, streams, global_batch=8,
                                steps_per_iteration=2, seed=3,
                                start_iteration=5, stop_iteration=9,
                                fields=("spectrogram", "label"),
                                use_tf=False)
    return list(it)

  whole = batches(1, 0)
  parts = [batches(2, 0), batches(2, 1)]
  assert len(whole) == 4
  for i, batch in enumerate(whole):
    for k, v in batch.items():
      assert v.shape[1] == 8
      joined = np.concatenate([parts[0][i][k], parts[1][i][k]], axis=1)
      np.testing.assert_array_equal(joined, v)


@pytest.fixture(scope="module")
def stopped(runs, tmp_path_factory):
  """The 2-process BigGAN job, one process sent SIGTERM after step 2."""
  config = runs["biggan"][0]
  workdir = str(tmp_path_factory.mktemp("stopped") / "run")
  procs = _start_job(config, workdir)
  _wait_for_step(procs, workdir, 2)
  t = time.time()
  procs[1].send_signal(signal.SIGTERM)
  lines = []
  for p in procs:
    _, err = p.communicate(timeout=120)
    assert p.returncode == 128 + signal.SIGTERM, (p.returncode, err[-2000:])
    assert "Traceback" not in err
    lines.append(err.strip().splitlines()[-1])
  return dict(config=config, workdir=workdir, lines=lines,
              seconds=time.time() - t)


def test_sigterm_to_one_process_stops_both_at_one_step(stopped):
  steps = set()
  for line in stopped["lines"]:
    assert line.startswith("audiogan-train: stopped by SIGTERM at step "), line
    assert "rerun the same command to resume" in line
    steps.add(int(line.split(" at step ")[1].split(";")[0]))
  print(f"both stopped {stopped['seconds']:.1f} s after the signal")
  assert len(steps) == 1, stopped["lines"]
  step = steps.pop()
  assert 2 <= step < STEPS
  saved = sorted(int(s) for s in os.listdir(
      os.path.join(stopped["workdir"], "checkpoints")) if s.isdigit())
  assert saved[-1] == step, saved


@pytest.fixture(scope="module")
def continued(stopped, tmp_path_factory):
  """The stopped job carried on in one workdir: by 1 process of 4 devices
  to step 5 (a checkpoint of 2 processes restores in 1), then by 2
  processes again (and 1 in 2), one of them SIGKILLed after the checkpoint
  at step 6, then by 2 processes to the end."""
  config = stopped["config"]
  workdir = str(tmp_path_factory.mktemp("continued") / "run")
  shutil.copytree(stopped["workdir"], workdir)
  _single(config, workdir, args=["--config.train.num_steps=5"])
  procs = _start_job(config, workdir)
  _wait_for_step(procs, workdir, 7)       # after the checkpoint at step 6
  procs[1].kill()
  t = time.time()
  _, err = procs[0].communicate(timeout=120)
  procs[1].communicate()
  waited = time.time() - t
  killed = dict(code=procs[0].returncode, err=err, waited=waited)
  _launch(config, workdir)
  return dict(workdir=workdir, killed=killed)


def test_sigkill_of_one_process_ends_the_other(continued):
  """The other process ends within the heartbeat timeout. Mostly with the
  one line of a lost process (a collective it runs fails first); when it
  was waiting elsewhere, JAX's distributed service ends it with its own
  fatal message once the heartbeat times out."""
  killed = continued["killed"]
  err = killed["err"]
  last = err.strip().splitlines()[-1]
  print(f"the other process ended {killed['waited']:.1f} s after the kill "
        f"(exit {killed['code']}): {last[:200]}")
  assert killed["waited"] < HEARTBEAT + 30, killed["waited"]
  if killed["code"] == 1:
    assert last.startswith(
        "audiogan-train: error: this job lost one of its processes ("), last
    assert last.endswith("rerun the same command to resume from the last "
                         "checkpoint"), last
    assert "cannot write checkpoint" not in err
  else:
    assert killed["code"] != 0
    assert "another task died" in err, err[-2000:]


def test_stopped_job_resumes_to_the_uninterrupted_parameters(runs, continued):
  """Across SIGTERM, 2 -> 1 and 1 -> 2 processes, and SIGKILL."""
  _assert_same(runs["biggan"][1], continued["workdir"])


def test_a_lost_process_is_told_apart_from_a_fault_here(monkeypatch):
  gloo = RuntimeError(
      "UNKNOWN: Gloo AllGather failed: [external/gloo/gloo/transport/tcp/"
      "pair.cc:538] Read error [127.0.0.1]:47324: Connection reset by peer")
  disk = OSError(28, "No space left on device")
  assert not errors.lost_process(gloo)        # not in a distributed job
  monkeypatch.setattr(jax.distributed, "is_initialized", lambda: True)
  assert errors.lost_process(gloo)
  assert not errors.lost_process(disk)
  assert not errors.lost_process(ValueError("bad --config.data.path"))


@pytest.mark.parametrize("args,message", [
    (["--distributed"], "--distributed found no job to join"),
    (["--distributed", "--num_processes=2"],
     "--num_processes and --process_id go together"),
    (["--distributed", "--num_processes=2", "--process_id=2"],
     "--process_id=2 must be in 0 .. --num_processes - 1 = 1"),
])
def test_distributed_flag_mistakes_are_one_line_errors(args, message,
                                                       tmp_path):
  env = {k: v for k, v in _env(1).items() if not k.startswith("JAX_COORD")}
  p = subprocess.run(
      [sys.executable, "-m", "audiogan_jax.cli.train",
       f"--config={_config_file(tmp_path, 'biggan')}",
       f"--workdir={tmp_path / 'run'}",
       *args], cwd=ROOT, capture_output=True, text=True, timeout=120, env=env)
  assert p.returncode == 2, p.stderr[-2000:]
  assert p.stderr.strip().splitlines()[-1].startswith(
      f"audiogan-train: error: {message}"), p.stderr[-2000:]
  assert "Traceback" not in p.stderr
