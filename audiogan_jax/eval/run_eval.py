"""Evaluation of a training workdir: classifier, scores, report.

What ``audiogan-eval report`` and the end of a training run with
``eval.report_at_end`` do. Everything lands in ``WORKDIR/eval/``:

* ``classifier.msgpack``: the evaluation classifier, trained on the run's
  data when ``eval.classifier_file`` names none (``classifier.json``: its
  test accuracy);
* ``score.json``: IS/FID of the exported generator against the real-data
  rows (:func:`evaluate.score_generator`);
* ``representation/``: a guided model's probe accuracies and t-SNE maps;
* ``WORKDIR/report.html``: the listening report.
"""

from __future__ import annotations

import datetime
import json
import os
from typing import Any, Optional

from absl import logging
import ml_collections
import numpy as np

from audiogan_jax import encoding
from audiogan_jax import gans
from audiogan_jax import generation
from audiogan_jax import media
from audiogan_jax import viz
from audiogan_jax import workdir as workdir_lib
from audiogan_jax.data import pipeline
from audiogan_jax.eval import curves as curves_lib
from audiogan_jax.eval import evaluate
from audiogan_jax.eval import report as report_lib
from audiogan_jax.eval import represent

Config = ml_collections.ConfigDict

SCORE_FILE = "score.json"


def eval_settings(config: Config) -> Config:
  """The run's ``eval`` block over the defaults (old configs have none)."""
  c = evaluate.eval_config()
  if "eval" in config:
    c.update(config.eval.to_dict())
  return c


def ensure_classifier(config: Config, workdir: str) -> str:
  """The evaluation classifier's file, trained into WORKDIR/eval if needed."""
  settings = eval_settings(config)
  if str(settings.classifier_file):
    path = str(settings.classifier_file)
    if not os.path.exists(path):
      raise FileNotFoundError(
          f"--config.eval.classifier_file={path} does not exist; train one "
          "with audiogan-eval train-classifier, or set it to '' to train one "
          "in the workdir")
    return path
  path = os.path.join(workdir, workdir_lib.EVAL_DIR,
                      evaluate.CLASSIFIER_FILE)
  if os.path.exists(path):
    return path
  logging.info("training the evaluation classifier (%d steps) into %s",
               int(settings.classifier.num_steps), path)
  run = ml_collections.ConfigDict(config.to_dict())
  run.eval = settings
  result = evaluate.train_eval_classifier(run, path,
                                          workdir_lib.cache_dir(config, workdir))
  with open(os.path.join(workdir, workdir_lib.EVAL_DIR, "classifier.json"),
            "w") as f:
    json.dump(result, f, indent=2)
  logging.info("evaluation classifier: test accuracy %.4f",
               result["test_accuracy"])
  return path


def _fmt_pm(mean: Optional[float], std: Optional[float]) -> str:
  if mean is None:
    return "–"
  return f"{mean:.2f} ± {std:.2f}" if std is not None else f"{mean:.2f}"


def _score_tables(score: dict[str, Any]) -> list[report_lib.Table]:
  m, r = score["model"], score["real"]
  rows = [
      [f"this model ({score['family']}, step {score['step']})",
       _fmt_pm(m["is_mean"], m["is_std"]), m["fid_train"], m["fid_test"],
       score["num_samples"]],
      ["real train data", _fmt_pm(r["train"]["is_mean"], r["train"]["is_std"]),
       None, r["fid_train_test"], r["train"]["num"]],
      ["real test data", _fmt_pm(r["test"]["is_mean"], r["test"]["is_std"]),
       r["fid_train_test"], None, r["test"]["num"]],
  ]
  tables = [report_lib.Table(
      title="Inception Score and FID (evaluation classifier)",
      columns=["", "IS (10 splits)", "FID vs train", "FID vs test", "clips"],
      rows=rows, highlight_rows=[0],
      note=(f"Generated clips: {score['input']}; classifier "
            f"{os.path.basename(score['classifier'])} (test accuracy "
            f"{score.get('classifier_test_accuracy') or 0:.3f}); "
            f"{score['samples_per_sec']:.1f} samples/s on "
            f"{score['device']}."
            + (f" Warning: {score['warning']}." if score.get("warning")
               else "")))]
  if score.get("conditional"):
    cond = score["conditional"]
    tables.append(report_lib.Table(
        title="Conditional accuracy: the classifier on samples of each label",
        columns=["class", "accuracy"],
        rows=[[k, v] for k, v in cond["per_class"].items()]
        + [["all", cond["accuracy"]]], highlight_rows=[len(cond["per_class"])]))
  if score.get("family") == "gansynth":
    tables.append(report_lib.Table(
        title="Published (NSynth acoustic notes, pitch IS; report 004)",
        columns=["model", "pitch IS"],
        rows=[[n, i] for n, i in evaluate.PUBLISHED_NSYNTH],
        note="GANSynth's pitch classifier on NSynth; comparable only with a "
             "run on NSynth scored with a classifier trained on the pitch "
             "(--config.data.label=pitch)."))
    return tables
  tables.append(report_lib.Table(
      title="Published (S09, 5 % labels; SPEC section 7)",
      columns=["model", "IS", "FID"],
      rows=[[n, _fmt_pm(i, s), f] for n, i, s, f in evaluate.PUBLISHED_S09],
      note="The papers' numbers on SC09 with WaveGAN's classifier, 50,000 "
           "samples; comparable only with a run on SC09."))
  return tables


def _rep_table(rep: dict[str, Any]) -> report_lib.Table:
  rows = []
  for name, probes in rep["probes"].items():
    for label, res in probes.items():
      rows.append([name, label, res.get("test_accuracy"),
                   res.get("train_accuracy"), res.get("chance")])
  note = ""
  if rep.get("classifier_accuracy") is not None:
    note = (f"The model's own classifier on the test clips "
            f"({rep['classifier_label']}): {rep['classifier_accuracy']:.3f}.")
  return report_lib.Table(
      title="Linear probes on the learnt representations",
      columns=["representation", "label", "test accuracy", "train accuracy",
               "chance"], rows=rows, note=note)


def _sounds(images, waves, caption: str = "") -> list[report_lib.Sound]:
  return [report_lib.Sound(wave=np.asarray(w, np.float32),
                           image=np.asarray(im)[..., 0] if np.ndim(im) == 3
                           else np.asarray(im), caption=caption)
          for im, w in zip(images, waves)]


def build_report(workdir: str, output: Optional[str] = None,
                 classifier: Optional[str] = None,
                 num_samples: Optional[int] = None,
                 through_audio: Optional[bool] = None,
                 per_class: Optional[int] = None, seed: int = 0,
                 rescore: bool = False) -> str:
  """Scores the run (when a classifier is at hand) and writes the report.

  Args:
    workdir: A training workdir.
    output: The HTML file (default WORKDIR/report.html).
    classifier: An evaluation classifier file (default: the run's
      ``eval.classifier_file``, else WORKDIR/eval/classifier.msgpack, trained
      on the run's data if missing).
    num_samples: Generated clips to score (default ``eval.num_samples``).
    through_audio: Default ``eval.through_audio``.
    per_class: Sounds per class on the page (default
      ``eval.report_per_class``).
    seed: Seed of the generated sounds.
    rescore: Score again even if WORKDIR/eval/score.json is for this step.

  Returns:
    The report's path.
  """
  model = workdir_lib.load_model(workdir, "generator")
  config = model["config"]
  settings = eval_settings(config)
  family = gans.get_family(str(config.model.family))
  cache_dir = workdir_lib.cache_dir(config, workdir)
  out_dir = os.path.join(workdir, workdir_lib.EVAL_DIR)
  os.makedirs(out_dir, exist_ok=True)
  num_samples = int(settings.num_samples if num_samples is None
                    else num_samples)
  through_audio = bool(settings.through_audio if through_audio is None
                       else through_audio)
  per_class = int(settings.report_per_class if per_class is None
                  else per_class)
  step = int(model.get("step", -1))

  # Scores: reuse this step's, else compute.
  score_path = os.path.join(out_dir, SCORE_FILE)
  score = None
  if os.path.exists(score_path) and not rescore:
    with open(score_path) as f:
      old = json.load(f)
    if (old.get("step") == step and old.get("num_samples") == num_samples
        and (classifier is None or old.get("classifier") == classifier)):
      score = old
  if score is None:
    clf_path = classifier or ensure_classifier(config, workdir)
    score = evaluate.score_generator(
        model, clf_path, num_samples=num_samples,
        batch_size=int(settings.batch_size), seed=int(settings.seed),
        through_audio=through_audio, cache_dir=cache_dir)
    with open(score_path, "w") as f:
      json.dump(score, f, indent=2)

  # Representations of a guided model.
  rep = None
  if family.ENCODER:
    enc, _ = encoding.load_model(workdir=workdir)
    rep = represent.evaluate_representations(
        enc, os.path.join(out_dir, "representation"), cache_dir,
        tsne_points=500, seed=seed)

  # Generated sounds per class, real clips per class, an interpolation.
  names = tuple(model["class_names"])
  n_classes = family.num_classes(config)
  rows = []
  if n_classes:
    for k in range(n_classes):
      outs, _, _ = generation.generate_spectrograms(model, per_class, k, seed)
      imgs, waves = media.to_media(family, config, outs, "pghi", seed)
      rows.append((names[k] if k < len(names) else str(k),
                   _sounds(imgs, waves)))
  else:
    outs, _, _ = generation.generate_spectrograms(model, per_class * 4, None,
                                                  seed)
    imgs, waves = media.to_media(family, config, outs, "pghi", seed)
    rows.append(("samples", _sounds(imgs, waves)))

  data = ml_collections.ConfigDict(config.data.to_dict())
  data.labelled_fraction = 1.0
  if "guidance" in data:
    data.guidance.source = ""
  test = pipeline.load_split(data, "test", cache_dir, spectrograms=False)
  real_rows = []
  for k, cname in enumerate(test.audio.class_names):
    idx = np.flatnonzero(test.true_labels == k)[:per_class]
    if len(idx):
      w = np.asarray(test.waveforms[idx], np.float32)
      imgs = media.waveform_images(w, float(config.data.spectrogram_clip))
      real_rows.append((cname, _sounds(imgs, w)))

  figures = []
  steps = 8
  label = 0 if n_classes else None
  outs, _, _ = generation.generate_spectrograms(
      model, steps, label, seed + 1, interpolate=steps)
  imgs, waves = media.to_media(family, config, outs, "pghi", seed)
  figures.append(report_lib.Figure(
      title="Interpolation",
      png=viz.png_bytes(viz.grid(imgs, cols=steps)),
      caption=(f"{steps} steps on the line between the latents of seeds "
               f"{seed + 1} and {seed + 2}"
               + (f", class {names[0] if names else 0}" if n_classes
                  else "")),
      sounds=_sounds(imgs, waves)))
  learning = curves_lib.read(workdir)
  png_path = os.path.join(workdir, curves_lib.CURVES_PNG)
  if learning and os.path.exists(png_path):
    with open(png_path, "rb") as f:
      figures.insert(0, report_lib.Figure(
          title="Learning curves (accuracy over training iterations)",
          png=f.read(), caption=curves_lib.caption(learning),
          legend=[(what, colour) for name, (colour, what)
                  in curves_lib.SERIES.items() if learning.get(name)]))
  if rep:
    for rname, by_label in rep["tsne"].items():
      for lname, path in by_label.items():
        with open(path, "rb") as f:
          png = f.read()
        figures.append(report_lib.Figure(
            title=f"t-SNE of the {rname} representation, coloured by {lname}",
            png=png, caption=f"{min(500, rep['num_test'])} test clips",
            legend=[(n, tuple(c)) for n, c in rep["legends"][lname]]))

  tables = _score_tables(score)
  if rep:
    tables.append(_rep_table(rep))
  facts = [("model", str(config.model.family)), ("checkpoint step", str(step)),
           ("workdir", os.path.abspath(workdir)),
           ("written", datetime.datetime.now().isoformat(timespec="seconds")),
           ("scored with", f"audiogan-eval score --generator=... "
            f"--classifier={score['classifier']} --num_samples={num_samples}"
            + (" --through_audio" if through_audio else ""))]
  data_out = report_lib.ReportData(
      title=f"audiogan_jax listening report: {config.model.family}",
      subtitle=f"step {step} · {os.path.abspath(workdir)}",
      sample_rate=int(config.data.get("sample_rate", 16000)),
      classes=rows, real=real_rows, tables=tables, figures=figures,
      config_json=config.to_json(indent=2), facts=facts)
  output = output or os.path.join(workdir, workdir_lib.REPORT_FILE)
  return report_lib.write_report(output, data_out)
