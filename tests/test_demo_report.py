"""The demo run writes the listening report, and the report works in Chromium.

``audiogan-train --config=configs/demo.py`` is run as a user runs it, with
the run shortened (2 iterations, 200 clips, a 20-step evaluation classifier,
40 scored samples) and IS/FID at the last iteration so that the in-training scorer
and the best-FID generator are exercised too. The report it leaves is opened
in headless Chromium: no console error, every image and sound loads.
"""

import json
import os
import subprocess
import sys

import pytest

import browser_check

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
  workdir = str(tmp_path_factory.mktemp("demo") / "run")
  overrides = [
      "--config.train.num_steps=2", "--config.train.checkpoint_every=2",
      "--config.train.sample_every=2", "--config.train.eval_every=2",
      "--config.train.log_every=1",
      "--config.data.synthetic.num_train=200",
      "--config.data.synthetic.num_test=100",
      "--config.eval.classifier.num_steps=20",
      "--config.eval.num_samples=40", "--config.eval.score_every=2",
      "--config.eval.report_per_class=1"]
  p = subprocess.run(
      [sys.executable, "-m", "audiogan_jax.cli.train",
       f"--config={os.path.join(ROOT, 'configs', 'demo.py')}",
       f"--workdir={workdir}", *overrides],
      capture_output=True, text=True, timeout=900,
      env=dict(os.environ, JAX_PLATFORMS="cpu"))
  assert p.returncode == 0, p.stderr[-3000:]
  return workdir, p


def test_demo_run_scores_and_keeps_the_best_generator(demo_run):
  workdir, _ = demo_run
  ev = os.path.join(workdir, "eval")
  with open(os.path.join(ev, "classifier.json")) as f:
    assert json.load(f)["steps"] == 20
  with open(os.path.join(ev, "scores.jsonl")) as f:
    rows = [json.loads(l) for l in f]
  assert [r["step"] for r in rows] == [2]
  assert all(r["eval/fid_train"] > 0 and 1.0 <= r["eval/is"] <= 10.0
             for r in rows)
  with open(os.path.join(ev, "best.json")) as f:
    best = json.load(f)
  assert best["fid_train"] == min(r["eval/fid_train"] for r in rows)
  assert os.path.exists(os.path.join(workdir, "generator_best.msgpack"))
  with open(os.path.join(ev, "score.json")) as f:
    score = json.load(f)
  assert score["step"] == 2 and score["num_samples"] == 40
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
  # 28 spectrograms + the interpolation sheet + 4 t-SNE maps.
  assert len(images) == 33, len(images)
  assert all(i["complete"] and i["naturalWidth"] > 0 for i in images)
  for words in ("Inception Score", "real test data", "Linear probes",
                "Conditional accuracy", "t-SNE", "Interpolation"):
    assert words in page, words
