"""Training faults: NaN/Inf, damaged and failed checkpoints, a workdir of
another run, and damaged exported files. Each test asserts the message."""

import errno
import json
import os
import shutil

import jax
import jax.numpy as jnp
import numpy as np
from orbax.checkpoint import handlers
import pytest

from audiogan_jax import errors
from audiogan_jax import workdir as workdir_lib
from audiogan_jax import export as export_lib
from audiogan_jax import gans
from audiogan_jax.models import biggan
from audiogan_jax import checkpoint as ckpt_lib
from audiogan_jax.eval import classifier as classifier_lib
from audiogan_jax.train import trainer
from tests_helpers import tiny_config


def _config(steps=4):
  c = tiny_config()
  c.train.update(num_steps=steps, checkpoint_every=2, check_finite_every=1,
                 export_at_end=False)
  return c


def _training_error(error, config, workdir, **kwargs):
  """The one-line message of the ``error`` training raises."""
  with pytest.raises(error) as e:
    trainer.train_and_evaluate(config, workdir, **kwargs)
  msg = str(e.value)
  assert "\n" not in msg, msg
  return msg


def _steps(workdir):
  d = os.path.join(workdir, "checkpoints")
  return sorted(int(n) for n in os.listdir(d) if n.isdigit())


def _step_key(offset, step):
  """The key ``train_iteration`` gets for iteration ``step`` at an offset."""
  config = _config()
  config.train.rng_offset = offset
  _, base = trainer.rng_streams(config, 0)
  return jax.random.fold_in(base, step)


_FAMILY = gans.get_family("biggan")
_REAL_ITERATION = _FAMILY.train_iteration
_POISON_KEY = jax.random.key_data(_step_key(0, 2))


def _poisoned_iteration(state, batch, key, config):
  """The BigGAN iteration, with NaN losses at step 3 of offset 0 only.

  So the run's own random numbers hit a NaN at step 3, and any other
  (``train.rng_offset``, a rollback) get through.
  """
  state, metrics = _REAL_ITERATION(state, batch, key, config=config)
  bad = (state.step == 3) & jnp.all(jax.random.key_data(key) == _POISON_KEY)
  return state, {k: jnp.where(bad, jnp.nan, v) for k, v in metrics.items()}


# The poisoned step, compiled once for the tests below.
_POISONED_STEPS: dict = {}


@pytest.fixture
def poisoned(monkeypatch):
  monkeypatch.setattr(trainer, "_STEP_CACHE", _POISONED_STEPS)
  monkeypatch.setattr(_FAMILY, "train_iteration", _poisoned_iteration)


def test_nan_stops_within_n_steps_and_keeps_the_last_good_checkpoint(
    tmp_path, poisoned):
  workdir = str(tmp_path)
  msg = _training_error(trainer.NonFiniteError, _config(), workdir)
  assert "became NaN/Inf at step 3" in msg
  assert "the last good checkpoint step 2" in msg
  assert "--config.train.rng_offset=1" in msg
  assert "--config.train.nonfinite_rollbacks=N" in msg
  assert _steps(workdir) == [2]          # nothing non-finite was saved
  state, _ = ckpt_lib.Checkpointer(os.path.join(workdir, "checkpoints")
                                   ).restore(None)
  assert all(np.all(np.isfinite(x)) for x in jax.tree.leaves(state["params"]))


def test_nan_rolls_back_and_continues_with_other_random_numbers(
    tmp_path, poisoned):
  workdir = str(tmp_path)
  config = _config()
  config.train.nonfinite_rollbacks = 1
  state = trainer.train_and_evaluate(config, workdir)
  assert int(state.step) == 4
  _, meta = ckpt_lib.Checkpointer(os.path.join(workdir, "checkpoints")
                                  ).restore(None)
  assert meta["rollbacks"] == 1


def test_rerun_with_another_rng_offset_continues_after_a_nan(
    tmp_path, poisoned):
  workdir = str(tmp_path)
  with pytest.raises(trainer.NonFiniteError):
    trainer.train_and_evaluate(_config(), workdir)
  config = _config()
  config.train.rng_offset = 1
  assert int(trainer.train_and_evaluate(config, workdir).step) == 4


def test_damaged_newest_checkpoint_resumes_from_the_one_before(
    tmp_path, caplog):
  workdir = str(tmp_path)
  trainer.train_and_evaluate(_config(), workdir)
  assert _steps(workdir) == [2, 4]
  # Damage every file of step 4's state (a truncated copy, bit rot).
  for dirpath, _, names in os.walk(os.path.join(workdir, "checkpoints", "4")):
    for n in names:
      with open(os.path.join(dirpath, n), "r+b") as f:
        f.truncate(max(os.path.getsize(f.name) // 3, 1))
  config = _config(steps=6)
  with caplog.at_level("WARNING"):
    state = trainer.train_and_evaluate(config, workdir)
  assert int(state.step) == 6
  log = " ".join(r.getMessage() for r in caplog.records)
  assert "checkpoint step 4" in log and "cannot be read" in log
  assert "resuming from checkpoint step 2" in log
  moved = os.listdir(os.path.join(workdir, "checkpoints_unreadable"))
  assert len(moved) == 1 and moved[0].startswith("4-")   # kept, not deleted
  assert _steps(workdir) == [2, 4, 6]                     # 4 saved afresh


def test_no_readable_checkpoint_is_a_one_line_error(tmp_path):
  workdir = str(tmp_path)
  trainer.train_and_evaluate(_config(steps=2), workdir)
  shutil.rmtree(os.path.join(workdir, "checkpoints", "2", "state"))
  msg = _training_error(errors.CheckpointError, _config(), workdir)
  assert "no checkpoint in" in msg
  assert "move the folder away to start afresh" in msg


def test_failed_save_is_a_clear_error_and_keeps_the_older_checkpoints(
    tmp_path, monkeypatch):
  workdir = str(tmp_path)
  real = handlers.StandardCheckpointHandler.async_save
  calls = {"n": 0}

  async def disk_full(self, *args, **kwargs):
    calls["n"] += 1
    if calls["n"] >= 2:   # the first save (step 2) works, then the disk fills
      raise OSError(errno.ENOSPC, "No space left on device")
    return await real(self, *args, **kwargs)

  monkeypatch.setattr(handlers.StandardCheckpointHandler, "async_save",
                      disk_full)
  msg = _training_error(errors.CheckpointError, _config(steps=6), workdir)
  assert "cannot write checkpoint step 4" in msg
  assert "No space left on device" in msg
  assert "free disk space or fix the folder's permissions" in msg
  assert "intact checkpoints: 2" in msg
  monkeypatch.setattr(handlers.StandardCheckpointHandler, "async_save", real)
  state = trainer.train_and_evaluate(_config(steps=6), workdir)
  assert int(state.step) == 6


def test_workdir_of_another_run_is_refused_unless_overwrite(tmp_path):
  workdir = str(tmp_path)
  trainer.train_and_evaluate(_config(steps=2), workdir)
  other = _config(steps=2)
  other.data.seed = 5
  msg = _training_error(ValueError, other, workdir)
  assert f"--workdir={workdir} holds checkpoints of a different run" in msg
  assert "data.seed: 0 -> 5" in msg and "pass --overwrite" in msg
  # Changing train.* (a longer run) is a resume, not another run.
  longer = _config(steps=4)
  assert int(trainer.train_and_evaluate(longer, workdir).step) == 4
  state = trainer.train_and_evaluate(other, workdir, overwrite=True)
  assert int(state.step) == 2
  previous = os.listdir(os.path.join(workdir, "previous"))
  assert len(previous) == 1
  kept = os.path.join(workdir, "previous", previous[0])
  assert sorted(int(s) for s in os.listdir(os.path.join(kept, "checkpoints"))
                if s.isdigit()) == [2, 4]
  with open(os.path.join(workdir, "config.json")) as f:
    assert json.load(f)["data"]["seed"] == 5


# Exported files --------------------------------------------------------------

@pytest.fixture(scope="module")
def generator_file(tmp_path_factory):
  workdir = str(tmp_path_factory.mktemp("gen"))
  config = _config(steps=2)
  config.train.export_at_end = True
  trainer.train_and_evaluate(config, workdir)
  return os.path.join(workdir, "generator.msgpack")


def _load_error(path, load=export_lib.load_generator,
                error=export_lib.ExportFormatError):
  with pytest.raises(error) as e:
    load(str(path))
  msg = str(e.value)
  assert "\n" not in msg
  return msg


def test_exported_file_carries_format_version_model_and_checksum(
    generator_file):
  payload = export_lib.read_msgpack(generator_file, "generator", ValueError)
  assert payload["format"] == "audiogan_jax.generator"
  assert payload["version"] == export_lib.VERSION == 2
  assert payload["family"] == "biggan"
  assert payload["checksum"] == export_lib.checksum(payload)


def test_truncated_generator_file(generator_file, tmp_path):
  data = open(generator_file, "rb").read()
  bad = tmp_path / "cut.msgpack"
  bad.write_bytes(data[:len(data) // 2])
  assert "(not msgpack or truncated)" in _load_error(bad)


def test_tampered_generator_file(generator_file, tmp_path):
  payload = export_lib.read_msgpack(generator_file, "generator", ValueError)
  leaves, tree = jax.tree.flatten(payload["params"])
  leaves[0] = np.array(leaves[0])
  leaves[0].flat[0] += 1.0     # one weight edited, checksum left as it was
  payload["params"] = jax.tree.unflatten(tree, leaves)
  import flax.serialization  # pylint: disable=g-import-not-at-top
  bad = tmp_path / "edited.msgpack"
  bad.write_bytes(flax.serialization.msgpack_serialize(payload))
  msg = _load_error(bad)
  assert "is a damaged or modified audiogan_jax generator file" in msg
  del payload["checksum"]
  bad.write_bytes(flax.serialization.msgpack_serialize(payload))
  assert "its checksum is missing" in _load_error(bad)


def test_generator_file_whose_arrays_do_not_fit_its_config(generator_file,
                                                          tmp_path):
  model = export_lib.load_generator(generator_file)
  config = model["config"]
  config.model.ch = 2           # a consistent file of another width
  export_lib.save_generator(str(tmp_path / "g.msgpack"), config,
                            model["params"], model["batch_stats"])
  msg = _load_error(tmp_path / "g.msgpack")
  assert "does not match the model its config describes" in msg
  assert "the network needs" in msg
  config.model.family = "nope"
  export_lib.save_generator(str(tmp_path / "f.msgpack"), config,
                            model["params"], model["batch_stats"])
  msg = _load_error(tmp_path / "f.msgpack")
  assert "its config cannot build a model" in msg and "'nope'" in msg


def test_version_1_files_without_checksum_still_load(generator_file, tmp_path):
  payload = export_lib.read_msgpack(generator_file, "generator", ValueError)
  del payload["checksum"]
  payload["version"] = 1
  import flax.serialization  # pylint: disable=g-import-not-at-top
  old = tmp_path / "v1.msgpack"
  old.write_bytes(flax.serialization.msgpack_serialize(payload))
  assert export_lib.load_generator(str(old))["step"] == 2


def test_tampered_classifier_file(tmp_path):
  params = biggan.SimpleClassifier(num_classes=3, widths=(2, 2)).init(
      jax.random.key(0), jnp.zeros((1, 256, 128, 1)))["params"]
  path = str(tmp_path / "c.msgpack")
  classifier_lib.save_classifier(path, params, 3)
  assert classifier_lib.load_classifier(path).num_classes == 3
  payload = export_lib.read_msgpack(path, "classifier", ValueError)
  payload["num_classes"] = 4
  import flax.serialization  # pylint: disable=g-import-not-at-top
  with open(path, "wb") as f:
    f.write(flax.serialization.msgpack_serialize(payload))
  msg = _load_error(path, classifier_lib.load_classifier,
                    classifier_lib.ClassifierFormatError)
  assert "damaged or modified audiogan_jax classifier file" in msg


def test_identity_keys_compared_are_those_both_configs_have():
  old = {"model": {"ch": 1, "gone": 0}, "data": {"seed": 0, "cache_dir": "a"},
         "train": {"num_steps": 4}}
  new = {"model": {"ch": 2, "added": 3}, "data": {"seed": 0, "cache_dir": "b"},
         "train": {"num_steps": 8}, "optim": {"g_lr": 1.0}}
  # Keys added or removed by another audiogan_jax version, the cache folder
  # and train.* never count; a changed width does.
  assert workdir_lib.config_differences(old, new) == ["model.ch: 1 -> 2"]
