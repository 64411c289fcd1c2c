"""train/tasks: each periodic task alone, on an untrained tiny BigGAN."""

import json
import os

import pytest

from audiogan_jax import export as export_lib
from audiogan_jax import gans
from audiogan_jax import workdir as workdir_lib
from audiogan_jax.data import pipeline
from audiogan_jax.train import sharding
from audiogan_jax.train import tasks
from audiogan_jax.train import trainer
from audiogan_jax.train import writer as writer_lib
from audiogan_jax.train.tasks import accuracy
from tests_helpers import tiny_config


def test_itstime():
  assert [s for s in range(1, 11) if tasks.itstime(s, 4)] == [4, 8]
  assert [s for s in range(1, 11) if tasks.itstime(s, 4, 10)] == [4, 8, 10]
  assert not any(tasks.itstime(s, 0, 10) for s in range(1, 11))


@pytest.fixture(scope="module")
def run(tmp_path_factory):
  config = tiny_config()
  config.data.synthetic.update(dict(num_train=16, num_valid=4, num_test=8))
  config.train.update(dict(sample_every=2, num_samples=4))
  workdir = str(tmp_path_factory.mktemp("tasks"))
  family = gans.get_family("biggan")
  dataset = pipeline.load_dataset(config,
                                  cache_dir=os.path.join(workdir, "cache"))
  config = trainer.resolve_config(config, dataset, family)
  state = trainer.init_state(family, config, sharding.make_mesh(1))
  writer = writer_lib.MetricWriter(workdir)
  yield tasks.Run(config, family, workdir, dataset, writer,
                  workdir_lib.cache_dir(config, workdir), 0), state
  writer.close()


def test_the_runs_tasks_and_when_they_are_due(run):
  r, _ = run
  names = [type(t).__name__ for t in tasks.from_config(r)]
  assert names == ["SampleSheets", "HeldOutAccuracy", "Scores", "Export",
                   "Report"]
  due = {type(t).__name__: [s for s in range(1, 7) if t.due(s, 6)]
         for t in tasks.from_config(r)}
  # Samples every 2 (the last sheet is finish()'s); BigGAN has no encoder
  # and the tiny config no scores: no evaluation.
  assert due["SampleSheets"] == [2, 4, 6]
  assert due["HeldOutAccuracy"] == [] and due["Scores"] == []
  assert due["Export"] == [] and due["Report"] == []


def test_sample_sheet_alone(run):
  r, state = run
  sheets = tasks.samples.SampleSheets(r)
  sheets(state, 2)
  d = workdir_lib.samples_dir(r.workdir, 2)
  wavs = sorted(f for f in os.listdir(d) if f.endswith(".wav"))
  assert len(wavs) == 4 and wavs[0] == "sample_000_zero.wav"
  assert {"spectrograms.png", "waveforms.png"} <= set(os.listdir(d))
  sheets.finish(state, 2)          # already written: nothing new
  sheets.finish(state, 3)          # the final state's sheet
  assert os.path.isdir(workdir_lib.samples_dir(r.workdir, 3))


def test_export_alone(run):
  r, state = run
  tasks.export.Export(r).finish(state, 5)
  model = export_lib.load_generator(
      os.path.join(r.workdir, workdir_lib.GENERATOR_FILE))
  assert model["step"] == 5 and model["class_names"][0] == "zero"
  assert not os.path.exists(os.path.join(r.workdir,
                                         workdir_lib.ENCODER_FILE))


def test_accuracy_log_resumes_up_to_the_start(tmp_path):
  rows = [{"step": 2, "accuracy": 0.1}, {"step": 4, "accuracy": 0.2},
          {"step": 6, "accuracy": 0.3}]
  with open(tmp_path / workdir_lib.EVAL_FILE, "w") as f:
    json.dump({"held_out_accuracy": rows}, f)
  assert accuracy.read_log(str(tmp_path)) == rows
  (tmp_path / workdir_lib.EVAL_FILE).write_text("not json")
  assert accuracy.read_log(str(tmp_path)) == []


def test_report_without_exports_is_refused_before_training(run):
  r, _ = run
  config = r.config.copy_and_resolve_references()
  config.train.export_at_end = False
  config.eval.report_at_end = True
  with pytest.raises(ValueError, match="report_at_end needs"):
    tasks.report.Report(tasks.Run(config, r.family, r.workdir, r.dataset,
                                  r.writer, r.cache_dir, 0))
