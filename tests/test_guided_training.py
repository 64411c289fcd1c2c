"""GAAE and GGAN through the training system: runs, resumes, exports, evals."""

import json
import os

import numpy as np
import pytest

from audiogan_jax import export as export_lib
from audiogan_jax import generation
from audiogan_jax.cli import info
from audiogan_jax.train import trainer
from tests_helpers import LEARNING
from tests_helpers import assert_learns
from tests_helpers import tiny_gaae_config
from tests_helpers import tiny_ggan_config


def _metrics(workdir):
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    return [json.loads(line) for line in f]


# GAAE runs long enough for its learning test (LEARNING), GGAN 4 steps.
_STEPS = {"gaae": LEARNING["gaae"][0], "ggan": 4}


@pytest.fixture(scope="module", params=["gaae", "ggan"])
def run(request, tmp_path_factory):
  config = {"gaae": tiny_gaae_config, "ggan": tiny_ggan_config}[
      request.param]()
  n = _STEPS[request.param]
  config.train.update(num_steps=n, eval_every=n // 2, checkpoint_every=n // 2,
                      sample_every=n)
  workdir = str(tmp_path_factory.mktemp(request.param))
  state = trainer.train_and_evaluate(config, workdir)
  return request.param, config, workdir, state


def test_run_is_finite_and_scored(run):
  name, _, workdir, state = run
  n = _STEPS[name]
  assert int(state.step) == n
  rows = [r for r in _metrics(workdir) if "train/acc_labelled" in r]
  assert len(rows) == n
  for r in rows:
    assert all(np.isfinite(v) for v in r.values()), r
  with open(os.path.join(workdir, "eval.json")) as f:
    evals = json.load(f)["held_out_accuracy"]
  assert [e["step"] for e in evals] == [n // 2, n]
  assert all(0.0 <= e["accuracy"] <= 1.0 for e in evals)
  if name == "gaae":
    # S learns (test_mixed_precision holds bfloat16 to the same threshold).
    assert_learns(rows, "gaae")
    assert {"train/g_loss", "train/r_loss", "train/cl_loss", "train/cg_loss",
            "train/l_loss", "train/s_loss"} <= set(rows[-1])
  else:
    assert {"train/ec_loss", "train/g1_loss", "train/g2_loss",
            "train/gc_loss", "train/mg_loss", "train/fg_loss",
            "train/d1_loss", "train/d2_loss", "train/df_loss"} <= set(rows[-1])


def test_trainer_samples_equal_audiogan_generate_of_the_same_seed(
    run, tmp_path):
  """One generation path: the sheet the trainer wrote at the last step and
  the exported generator's ``audiogan-generate`` output for the trainer's
  sample seed (train.seed + 2) are the same clips."""
  import soundfile as sf  # pylint: disable=g-import-not-at-top
  name, config, workdir, _ = run
  step_dir = os.path.join(workdir, "samples", f"step_{_STEPS[name]:07d}")
  written = sorted(f for f in os.listdir(step_dir) if f.endswith(".wav"))
  assert len(written) == int(config.train.num_samples)
  paths = generation.generate_files(
      os.path.join(workdir, "generator.msgpack"), len(written),
      str(tmp_path), seed=int(config.train.seed) + 2)
  assert [os.path.basename(p) for p in paths] == written
  for p in paths:
    a, _ = sf.read(os.path.join(step_dir, os.path.basename(p)))
    b, _ = sf.read(p)
    np.testing.assert_array_equal(a, b)


def test_exported_generator_makes_class_conditional_spectrograms(run):
  _, config, workdir, _ = run
  from audiogan_jax import gans  # pylint: disable=g-import-not-at-top
  loaded = export_lib.load_generator(os.path.join(workdir,
                                                  "generator.msgpack"))
  family = gans.get_family(str(loaded["config"].model.family))
  z, y = generation.sample_inputs(family, loaded["config"], 4, seed=0, label=1)
  specs = np.asarray(family.generate(loaded["config"], loaded["params"],
                                     loaded["batch_stats"], z, y))
  assert specs.shape == (4, 256, 128, 1)
  assert np.all(np.abs(specs) <= 1.0)
  assert str(config.model.family) == str(loaded["config"].model.family)


def test_resume_continues_from_the_checkpoint(run):
  name, config, workdir, state = run
  n = _STEPS[name]
  config.train.num_steps = n + 2
  resumed = trainer.train_and_evaluate(config, workdir)
  assert int(resumed.step) == n + 2
  steps = [r["step"] for r in _metrics(workdir) if "train/acc_labelled" in r]
  assert steps == list(range(1, n + 3)), name
  del state


def test_info_reports_paper_size_networks():
  from audiogan_jax import config as config_lib  # pylint: disable=g-import-not-at-top
  gaae_report = info.network_report(config_lib.gaae_config())
  assert set(gaae_report) == {"enc", "cls", "dec", "lat", "s"}
  # The decoder and S are the supervised BigGAN's G and D (10 classes).
  assert gaae_report["dec"]["params"] == 6_676_002
  assert gaae_report["s"]["params"] == 2_410_722
  enc_out = [list(o) for o in gaae_report["enc"]["output"]]
  assert enc_out == [[2, 128], [2, 128]]
  ggan_report = info.network_report(config_lib.ggan_config())
  assert set(ggan_report) == {"e", "ce", "g", "d", "dh", "d2", "f", "cx",
                              "df"}
  assert ggan_report["g"]["params"] == 6_625_026     # unsupervised BigGAN G
  assert ggan_report["d2"]["params"] == 2_408_162    # unsupervised BigGAN D
  assert ggan_report["f"]["inputs"] == [[2, 256]]    # 16ch trunk features


def _write_clips(directory, n=3):
  import soundfile  # pylint: disable=g-import-not-at-top
  from audiogan_jax.data import synthetic  # pylint: disable=g-import-not-at-top
  os.makedirs(directory, exist_ok=True)
  clips = synthetic.generate(n, seed=5, num_classes=10, stream=2)
  for i, w in enumerate(clips.waveforms):
    soundfile.write(os.path.join(directory, f"clip{i}.wav"), w, 16000)
  return sorted(os.path.join(directory, f"clip{i}.wav") for i in range(n))


def test_encode_gives_representations_and_classes(run, tmp_path):
  from audiogan_jax import encoding  # pylint: disable=g-import-not-at-top
  name, config, workdir, _ = run
  files = _write_clips(str(tmp_path / "clips"))
  model = os.path.join(workdir, "encoder.msgpack")
  out = encoding.encode_files(model, encoding.list_inputs(str(tmp_path)), 2)
  keys = {"gaae": ("guided", "style"), "ggan": ("representation",)}[name]
  for k in keys:
    assert out[k].shape == (3, 128) and np.all(np.isfinite(out[k]))
  n = int(config.model.num_classes) if int(config.model.num_classes) > 0 \
      else 10
  assert out["logits"].shape == (3, n)
  assert list(out["files"]) == files
  assert np.all((out["predicted"] >= 0) & (out["predicted"] < n))
  again = encoding.encode_files(model, files, 4)   # other batch size
  np.testing.assert_allclose(again["logits"], out["logits"], atol=1e-5)


def test_encode_cli_and_its_errors(run, tmp_path):
  import subprocess  # pylint: disable=g-import-not-at-top
  import sys  # pylint: disable=g-import-not-at-top
  name, _, workdir, _ = run
  if name != "gaae":
    pytest.skip("the command line is the same for both families")
  _write_clips(str(tmp_path / "clips"), 2)
  out = tmp_path / "codes.npz"
  env = {**os.environ, "JAX_PLATFORMS": "cpu"}
  ok = subprocess.run(
      [sys.executable, "-m", "audiogan_jax.cli.encode",
       f"--workdir={workdir}", f"--input={tmp_path / 'clips'}",
       f"--output={out}"], capture_output=True, text=True, env=env,
      check=False, timeout=600)
  assert ok.returncode == 0, ok.stderr
  data = np.load(out)
  assert data["guided"].shape == (2, 128) and len(data["predicted_name"]) == 2
  bad = subprocess.run(
      [sys.executable, "-m", "audiogan_jax.cli.encode",
       f"--model={workdir}/generator.msgpack",
       f"--input={tmp_path / 'clips'}", f"--output={out}"],
      capture_output=True, text=True, env=env, check=False, timeout=600)
  assert bad.returncode == 2
  assert "is not an audiogan_jax encoder file" in bad.stderr
  assert len(bad.stderr.strip().splitlines()) == 1, bad.stderr


def test_gaae_with_guidance_from_another_dataset(tmp_path):
  # The gender experiment in miniature: main clips (seed 0) unlabelled, the
  # labelled stream from a second synthetic dataset (seed 1) with its
  # gender-like label; C is scored on the guidance source's test split.
  config = tiny_gaae_config()
  g = config.data.guidance
  g.source, g.seed, g.label, g.labelled_fraction = "synthetic", 1, "gender", 0.25
  g.synthetic.num_train, g.synthetic.num_test = 32, 8
  config.train.num_steps = 2
  workdir = str(tmp_path / "guided")
  state = trainer.train_and_evaluate(config, workdir)
  assert int(state.step) == 2
  with open(os.path.join(workdir, "run.json")) as f:
    facts = json.load(f)
  assert facts["class_names"] == ["low", "high"]
  assert facts["num_train"] == 64 + 32 and facts["num_labelled"] == 8
  with open(os.path.join(workdir, "config.json")) as f:
    assert json.load(f)["model"]["num_classes"] == 2
  with open(os.path.join(workdir, "eval.json")) as f:
    evals = json.load(f)["held_out_accuracy"]
  assert [e["step"] for e in evals] == [2]
  loaded = export_lib.load_encoder(os.path.join(workdir, "encoder.msgpack"))
  assert list(loaded["class_names"]) == ["low", "high"]


def test_few_labels_comparison_runs_both_models(tmp_path):
  from audiogan_jax.experiments import few_labels  # pylint: disable=g-import-not-at-top
  config = tiny_gaae_config()
  rows = few_labels.compare(config, [0.25], steps=2, eval_every=1,
                            cache_dir=str(tmp_path))
  (row,) = rows
  assert row["fraction"] == 0.25 and row["num_labelled"] == 16
  assert row["num_classes"] == 10 and row["num_test"] == 16
  assert [h["step"] for h in row["guided"]["history"]] == [1, 2]
  assert [h["step"] for h in row["baseline"]["history"]] == [1, 2]
  for h in row["guided"]["history"] + row["baseline"]["history"]:
    assert 0.0 <= h["accuracy"] <= 1.0
  assert np.isfinite(row["guided"]["history"][-1]["cl_loss"])
