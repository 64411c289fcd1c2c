"""The evaluation on the synthetic dataset: classifier, real rows, IS/FID, CLI.

One small evaluation classifier (widths 4-16, 32 hidden units, lr 1e-3) is
trained once for the module on 400 synthetic clips; the scores use the real
code paths (PGHI round trip included) on untrained tiny generators, so they
check plumbing and the real-data rows, not generation quality.
"""

import json
import os
import subprocess
import sys

import jax
import numpy as np
import pytest

from audiogan_jax import export as export_lib
from audiogan_jax import gans
from audiogan_jax.data import synthetic
from audiogan_jax.eval import evaluate
from audiogan_jax.eval import gan_train as gan_train_lib
from audiogan_jax.eval import metrics
from audiogan_jax.gans import common as gan_common
from tests_helpers import tiny_config, tiny_gansynth_config, tiny_wavegan_config

NUM_CLASSES = 10


def _data_config():
  c = tiny_config()
  c.data.synthetic.num_train = 400
  c.data.synthetic.num_test = 200
  c.eval.classifier.update(dict(widths=(4, 8, 16, 16), hidden=32,
                                batch_size=16, num_steps=1000, min_steps=100,
                                check_every=50, lr=1e-3))
  return c


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
  """A trained evaluation classifier, its cache and the real-data rows."""
  root = tmp_path_factory.mktemp("eval")
  c = _data_config()
  path = str(root / "classifier.msgpack")
  result = evaluate.train_eval_classifier(c, path, str(root / "cache"))
  loaded = evaluate.load_eval_classifier(path)
  real = evaluate.real_statistics(loaded, cache_dir=str(root / "cache"))
  return dict(root=root, config=c, path=path, result=result, clf=loaded,
              real=real)


def _export_generator(config, path, family_name=None):
  """An untrained generator of ``config`` written as an exported file."""
  family = gans.get_family(family_name or str(config.model.family))
  config = config.copy_and_resolve_references()
  if int(config.model.get("num_classes", -1)) <= 0:
    config.model.num_classes = NUM_CLASSES
  state = family.init_state(config, jax.random.key(0))
  names = synthetic.class_names(NUM_CLASSES)
  export_lib.save_generator(path, config,
                            *gan_common.generator_variables(family, state),
                            names, 0)
  return path


def test_classifier_learns_the_synthetic_classes(setup):
  r = setup["result"]
  assert r["num_train"] == 400 and r["num_test"] == 200
  assert r["test_accuracy"] > 0.6, r            # chance is 0.1
  meta = setup["clf"].meta
  assert meta["kind"] == "evaluation"
  assert setup["clf"].clip == 10.0
  assert setup["clf"].class_names[0] == "zero"
  # The FID features are the 32 hidden units.
  x = np.zeros((3, 256, 128, 1), np.float32)
  logits, feats = evaluate.classify(setup["clf"], x)
  assert logits.shape == (3, NUM_CLASSES) and feats.shape == (3, 32)


def test_real_rows_separate_real_from_noise(setup):
  real, clf = setup["real"], setup["clf"]
  # Real test IS close to the number of classes: the classifier trained
  # until it was confident (the stopping rule at 0.9 of the class count)
  # and the classes are balanced (an untrained one scores about 1).
  r = setup["result"]
  assert r["real_test_is"] >= 0.9 * NUM_CLASSES or r["steps"] == 1000, r
  assert r["steps"] < 1000 and r["steps"] % 50 == 0, r   # stopped by the rule
  assert real["test"]["is_mean"] > 0.8 * NUM_CLASSES, real["test"]
  assert real["train"]["accuracy"] > 0.6
  # FID(train, test) is far below FID(train, noise spectrograms).
  rng = np.random.default_rng(0)
  noise = rng.uniform(-1, 1, (200, 256, 128, 1)).astype(np.float32)
  _, feats = evaluate.classify(clf, noise)
  stats = metrics.FeatureStats(feats.shape[1])
  stats.update(feats)
  fid_noise = metrics.fid(real["train"]["stats"], stats)
  assert real["fid_train_test"] < 0.1 * fid_noise, (real["fid_train_test"],
                                                    fid_noise)


def test_reference_statistics_are_cached(setup):
  cached = sorted(f for f in os.listdir(setup["root"] / "cache")
                  if f.startswith("refstats_"))
  assert len(cached) == 2, cached
  again = evaluate.real_statistics(setup["clf"],
                                   cache_dir=str(setup["root"] / "cache"))
  assert again["fid_train_test"] == pytest.approx(
      setup["real"]["fid_train_test"], rel=1e-12)
  assert again["test"]["is_mean"] == pytest.approx(
      setup["real"]["test"]["is_mean"], rel=1e-12)


def test_score_conditional_spectrogram_generator(setup, tmp_path):
  gen = _export_generator(tiny_config(), str(tmp_path / "g.msgpack"))
  r = evaluate.score_generator(gen, setup["clf"], num_samples=40,
                               batch_size=16, through_audio=True,
                               real=setup["real"])
  m = r["model"]
  assert 1.0 <= m["is_mean"] <= NUM_CLASSES
  assert np.isfinite(m["fid_train"]) and np.isfinite(m["fid_test"])
  # An untrained generator is far from the real clips.
  assert m["fid_train"] > 3 * setup["real"]["fid_train_test"]
  assert r["input"].startswith("PGHI")
  cond = r["conditional"]
  assert set(cond["per_class"]) == set(setup["clf"].class_names)
  assert 0.0 <= cond["accuracy"] <= 1.0
  assert r["num_samples"] == 40 and r["samples_per_sec"] > 0
  json.dumps(r)  # JSON-able


def test_score_refuses_another_clip_without_audio(setup, tmp_path):
  c = tiny_config()
  c.data.spectrogram_clip = 15.0
  gen = _export_generator(c, str(tmp_path / "g15.msgpack"))
  with pytest.raises(ValueError, match="--through_audio"):
    evaluate.score_generator(gen, setup["clf"], num_samples=8, batch_size=8,
                             real=setup["real"])


def test_score_waveform_generator(setup, tmp_path):
  gen = _export_generator(tiny_wavegan_config(), str(tmp_path / "w.msgpack"))
  r = evaluate.score_generator(gen, setup["clf"], num_samples=16,
                               batch_size=8, real=setup["real"])
  assert r["input"] == "waveform -> spectrogram"
  assert r["conditional"] is None
  assert np.isfinite(r["model"]["fid_test"])


def test_score_ifspec_generator(setup, tmp_path):
  """GANSynth's IF-Mel images reach the classifier through the exact inverse
  STFT and the first 16384 samples of the clip."""
  c = tiny_gansynth_config()
  c.model.num_classes = 4
  gen = _export_generator(c, str(tmp_path / "gs.msgpack"))
  r = evaluate.score_generator(gen, setup["clf"], num_samples=16,
                               batch_size=8, real=setup["real"])
  assert r["input"] == "inverse STFT -> waveform -> spectrogram"
  assert np.isfinite(r["model"]["fid_test"])
  assert 1.0 <= r["model"]["is_mean"] <= NUM_CLASSES


def test_classifier_data_is_the_first_second_of_long_clips():
  c = tiny_gansynth_config()
  c.data.num_samples = 65536
  d = evaluate.classifier_data_config(c.data)
  assert d.num_samples == 16384 and d.label == "pitch"


def test_gan_train_reports_real_test_accuracy(setup, tmp_path):
  gen = _export_generator(tiny_config(), str(tmp_path / "g.msgpack"))
  cc = setup["config"].eval.classifier.copy_and_resolve_references()
  cc.num_steps = 4
  r = gan_train_lib.gan_train(gen, cc, setup["config"].data, num_samples=20,
                         batch_size=10, cache_dir=str(setup["root"] / "cache"),
                         modes=("generated", "real"))
  assert set(r["test_accuracy"]) == {"generated", "real"}
  assert all(0.0 <= v <= 1.0 for v in r["test_accuracy"].values())
  assert r["num_generated"] == 20


def test_gan_train_needs_a_conditional_generator(setup, tmp_path):
  gen = _export_generator(tiny_wavegan_config(), str(tmp_path / "w.msgpack"))
  with pytest.raises(ValueError, match="class-conditional"):
    gan_train_lib.gan_train(gen, setup["config"].eval.classifier,
                       setup["config"].data, num_samples=4)


def _cli(*args):
  return subprocess.run([sys.executable, "-m", "audiogan_jax.cli.eval",
                         *args], capture_output=True, text=True, timeout=600,
                        env=dict(os.environ, JAX_PLATFORMS="cpu"))


def test_cli_score_writes_json(setup, tmp_path):
  gen = _export_generator(tiny_config(), str(tmp_path / "g.msgpack"))
  out = tmp_path / "score.json"
  p = _cli("score", f"--generator={gen}", f"--classifier={setup['path']}",
           "--num_samples=20", "--batch_size=10",
           f"--cache_dir={setup['root'] / 'cache'}", f"--output={out}")
  assert p.returncode == 0, p.stderr[-2000:]
  r = json.loads(out.read_text())
  assert r["num_samples"] == 20 and r["input"] == "generated spectrogram"
  # The cached real rows were reused: the same FID(train, test).
  assert r["real"]["fid_train_test"] == pytest.approx(
      setup["real"]["fid_train_test"], rel=1e-9)
  assert "real test" in p.stdout and "conditional accuracy" in p.stdout


@pytest.mark.parametrize("args,message", [
    (("bogus",), "give one command"),
    (("score", "--classifier=x"), "score needs --generator and --output"),
    (("score", "--generator=/nonexistent.msgpack", "--classifier=x",
      "--output=/tmp/x.json"), "/nonexistent.msgpack"),
])
def test_cli_errors_are_one_line(args, message):
  p = _cli(*args)
  assert p.returncode == 2, (p.returncode, p.stderr[-1000:])
  lines = [l for l in p.stderr.splitlines() if l.startswith("audiogan-eval")]
  assert len(lines) == 1 and message in lines[0], p.stderr[-1000:]


def test_low_real_data_is_is_warned_in_plain_words():
  # A classifier that is right but unsure (real IS 1.35 of 10 classes, as
  # measured on spoken digits after a fixed short budget) cannot rank
  # generators: the score and the report say so.
  msg = evaluate.confidence_warning(1.35, 10)
  assert "unsure of real clips" in msg and "1.35 of at most 10" in msg
  assert "cannot be trusted" in msg and "num_steps" in msg
  assert evaluate.confidence_warning(9.2, 10) is None
  assert evaluate.confidence_warning(None, 10) is None
