"""The demo learns, writes the listening report, and the report works.

``audiogan-train --config=configs/demo.py`` is run as a user runs it, for
200 of its 300 iterations, with IS/FID at the last iteration so that the
in-training scorer and the best-FID generator are exercised too. Then:

* the demo learns what GAAE exists for (``curves.json``): C's held-out
  accuracy on 200 clips rises above 0.3 and the evaluation classifier labels
  more than 0.2 of 200 generated clips with the class they were made for
  (chance 0.1 for both: a class-blind decoder or a C that does not learn
  reaches these with probability below 1e-4); measured (2026-12-07, with
  the decoder's last block at 8 channels): C 0.335 and 0.535, generated
  clips 0.285 and 0.295 at iterations 150 and 200 (the demo's run is
  deterministic);
* the evaluation classifier stopped by its rule, confident on real clips;
* the report it leaves is opened in headless Chromium: no console error,
  every image and sound loads.

The run uses XLA's default optimisation (the suite's level 0 in conftest.py
makes 200 iterations about three times slower).
"""

import json
import os
import subprocess
import sys

import pytest

import browser_check
from tests_helpers import optimised_xla_flags

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STEPS = 200


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
  workdir = str(tmp_path_factory.mktemp("demo") / "run")
  overrides = [
      f"--config.train.num_steps={STEPS}",
      f"--config.train.checkpoint_every={STEPS}",
      f"--config.train.sample_every={STEPS}", "--config.train.eval_every=50",
      "--config.train.log_every=50",
      "--config.eval.num_samples=40", f"--config.eval.score_every={STEPS}",
      "--config.eval.report_per_class=1"]
  p = subprocess.run(
      [sys.executable, "-m", "audiogan_jax.cli.train",
       f"--config={os.path.join(ROOT, 'configs', 'demo.py')}",
       f"--workdir={workdir}", *overrides],
      capture_output=True, text=True, timeout=1500,
      env=dict(os.environ, JAX_PLATFORMS="cpu",
               XLA_FLAGS=optimised_xla_flags()))
  assert p.returncode == 0, p.stderr[-3000:]
  return workdir, p


def test_demo_learns_its_classes(demo_run):
  workdir, _ = demo_run
  with open(os.path.join(workdir, "curves.json")) as f:
    curves = json.load(f)
  c = [r["accuracy"] for r in curves["classifier"]]
  cond = [r["accuracy"] for r in curves["conditional"]]
  base = [r["accuracy"] for r in curves["baseline"]]
  print(f"C {c}, generated clips {cond}, labelled-only {base}")
  assert [r["step"] for r in curves["classifier"]] == [50, 100, 150, 200]
  assert len(cond) == 4 and len(base) == 4
  assert max(c[-2:]) > 0.3, f"C's held-out accuracy stayed at {c}"
  assert max(cond[-2:]) > 0.2, (
      f"generated clips carry their label only {cond} of the time")
  assert os.path.exists(os.path.join(workdir, "curves.png"))


def test_evaluation_classifier_stopped_confident(demo_run):
  workdir, _ = demo_run
  with open(os.path.join(workdir, "eval", "classifier.json")) as f:
    r = json.load(f)
  assert r["real_test_is"] >= 0.9 * 10 and r["steps"] < r["max_steps"], r


def test_demo_run_scores_and_keeps_the_best_generator(demo_run):
  workdir, _ = demo_run
  ev = os.path.join(workdir, "eval")
  with open(os.path.join(ev, "classifier.json")) as f:
    assert json.load(f)["steps"] >= 100
  with open(os.path.join(ev, "scores.jsonl")) as f:
    rows = [json.loads(l) for l in f]
  assert [r["step"] for r in rows] == [STEPS]
  assert all(r["eval/fid_train"] > 0 and 1.0 <= r["eval/is"] <= 10.0
             for r in rows)
  with open(os.path.join(ev, "best.json")) as f:
    best = json.load(f)
  assert best["fid_train"] == min(r["eval/fid_train"] for r in rows)
  assert os.path.exists(os.path.join(workdir, "generator_best.msgpack"))
  with open(os.path.join(ev, "score.json")) as f:
    score = json.load(f)
  assert score["step"] == STEPS and score["num_samples"] == 40
  # The report reused the in-training score of the last step.
  assert score["model"]["fid_train"] == rows[-1]["eval/fid_train"]
  assert score["input"].startswith("PGHI")   # demo: eval.through_audio
  rep = os.path.join(ev, "representation", "representation.json")
  with open(rep) as f:
    probes = json.load(f)["probes"]
  assert set(probes) == {"guided", "style"}
  assert set(probes["guided"]) == {"class", "gender"}


def test_demo_report_loads_in_chromium(demo_run):
  workdir, _ = demo_run
  path = os.path.join(workdir, "report.html")
  assert os.path.exists(path)
  page = open(path, encoding="utf-8").read()
  assert "http://" not in page and "https://" not in page
  result = browser_check.check_page(path)
  assert result["errors"] == [], result["errors"]
  assert result["console_lines"] == [], result["console_lines"]
  assert not result["timed_out"]
  # 10 classes x 1 generated + 10 real + 8 interpolation steps.
  audios = result["audios"]
  assert len(audios) == 28, len(audios)
  assert all(a["error"] is None and a["readyState"] >= 1
             and abs(a["duration"] - 16384 / 16000) < 0.01 for a in audios)
  images = result["images"]
  # 28 spectrograms + the learning curves + the interpolation sheet + 4
  # t-SNE maps.
  assert len(images) == 34, len(images)
  assert all(i["complete"] and i["naturalWidth"] > 0 for i in images)
  for words in ("Inception Score", "real test data", "Linear probes",
                "Conditional accuracy", "t-SNE", "Interpolation",
                "Learning curves"):
    assert words in page, words
