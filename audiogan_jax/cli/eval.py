"""audiogan-eval: the bundled evaluation (IS/FID, GAN-train, representations, report).

    audiogan-eval train-classifier --config=configs/demo.py --workdir=DIR [--config.eval.classifier.num_steps=5000]
    audiogan-eval score --generator=FILE --classifier=FILE [--num_samples=50000] [--through_audio] --output=FILE.json
    audiogan-eval gan-train --generator=FILE --classifier=FILE [--num_samples=10000] [--steps=N] --output=FILE.json
    audiogan-eval representation --workdir=DIR|--model=FILE --output=DIR
    audiogan-eval report --workdir=DIR [--output=report.html] [--classifier=FILE] [--num_samples=N]

train-classifier trains the evaluation classifier (the Simple Classifier with
a 256-unit hidden layer whose activations are the FID features) on every
labelled clip of the config's data, prints its test accuracy and writes
DIR/classifier.msgpack (and classifier.json). score generates --num_samples
clips (labels uniform for conditional models), passes them to the classifier
(with --through_audio, spectrogram models' samples go through PGHI to audio
and back, as the papers did), and prints the Inception Score (10-split mean
± std), FID against the real training and test statistics, the real-data
rows (IS of the train and test clips, FID train vs test), the classifier's
accuracy on samples of each label, and samples/s. gan-train trains a fresh
classifier on generated samples only, on real + generated and on real clips,
and reports each one's real-test accuracy. representation scores a guided
model's classifier, probes its representations linearly and draws t-SNE
maps. report writes one self-contained HTML page with the sounds per class,
the metric tables beside the papers' numbers, t-SNE and interpolation.
"""

from __future__ import annotations

import json
import os

from absl import flags
from ml_collections import config_flags

from audiogan_jax.cli import common

FLAGS = flags.FLAGS
COMMANDS = ("train-classifier", "score", "gan-train", "representation",
            "report")
_COMMAND = ["audiogan-eval"]   # the command being run, for messages


def _define_flags() -> None:
  config_flags.DEFINE_config_file(
      "config", None, "Run config (train-classifier: its data and "
      "eval.classifier; gan-train: the real data, default the classifier's).",
      lock_config=True)
  flags.DEFINE_string("workdir", None, "train-classifier: where to write "
                      "classifier.msgpack; representation/report: a training "
                      "workdir.")
  flags.DEFINE_string("generator", None, "An exported generator file.")
  flags.DEFINE_string("classifier", None, "An evaluation classifier file.")
  flags.DEFINE_string("model", None, "representation: an exported encoder.")
  flags.DEFINE_string("output", None, "The output file (directory for "
                      "representation).")
  flags.DEFINE_integer("num_samples", None, "Generated clips (score: 50000; "
                       "gan-train: 10000; report: the run's eval.num_samples).")
  flags.DEFINE_bool("through_audio", False, "Spectrogram models: PGHI to "
                    "audio and back before the classifier.")
  flags.DEFINE_integer("batch_size", 64, "Generator/classifier batch size.")
  flags.DEFINE_integer("seed", 0, "Seed of the latents and labels.")
  flags.DEFINE_integer("steps", None, "gan-train: classifier steps (default "
                       "the classifier's own training steps).")
  flags.DEFINE_string("cache_dir", None, "Spectrogram and reference-"
                      "statistics cache (default: beside the classifier).")


def _require(*names: str) -> None:
  missing = [n for n in names if not FLAGS[n].value]
  if missing:
    raise ValueError(f"{_COMMAND[0]} needs "
                     + " and ".join(f"--{n}" for n in missing))


def _cache_dir() -> str:
  if FLAGS.cache_dir:
    return FLAGS.cache_dir
  return os.path.join(os.path.dirname(os.path.abspath(FLAGS.classifier)),
                      "cache")


def _write_json(path: str, result) -> None:
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  tmp = f"{path}.tmp{os.getpid()}"
  with open(tmp, "w") as f:
    json.dump(result, f, indent=2)
  os.replace(tmp, path)


def _print_score(r) -> None:
  m, real = r["model"], r["real"]
  print(f"{'':24s} {'IS':>16s} {'FID train':>10s} {'FID test':>10s}")
  print(f"{'generated (' + str(r['num_samples']) + ')':24s} "
        f"{m['is_mean']:8.3f} ± {m['is_std']:5.3f} {m['fid_train']:10.3f} "
        f"{m['fid_test']:10.3f}")
  print(f"{'real train':24s} {real['train']['is_mean']:8.3f} ± "
        f"{real['train']['is_std']:5.3f} {'':>10s} "
        f"{real['fid_train_test']:10.3f}")
  print(f"{'real test':24s} {real['test']['is_mean']:8.3f} ± "
        f"{real['test']['is_std']:5.3f}")
  if r.get("conditional"):
    c = r["conditional"]
    per = ", ".join(f"{k} {v:.2f}" for k, v in c["per_class"].items()
                    if v is not None)
    print(f"conditional accuracy {c['accuracy']:.4f} ({per})")
  if r.get("warning"):
    print(f"warning: {r['warning']}")
  print(f"{r['samples_per_sec']:.1f} samples/s on {r['device']} "
        f"({r['input']})")


def _train_classifier() -> None:
  _require("workdir")
  if FLAGS.config is None:
    raise ValueError("train-classifier needs --config=configs/<name>.py (its "
                     "data block names the dataset)")
  from audiogan_jax import workdir as workdir_lib  # pylint: disable=g-import-not-at-top
  from audiogan_jax.eval import evaluate  # pylint: disable=g-import-not-at-top
  config = FLAGS.config
  run = config.copy_and_resolve_references()
  if "eval" not in run:
    with run.unlocked():
      run.eval = evaluate.eval_config()
  output = FLAGS.output or os.path.join(FLAGS.workdir,
                                        evaluate.CLASSIFIER_FILE)
  result = evaluate.train_eval_classifier(
      run, output, FLAGS.cache_dir or workdir_lib.cache_dir(run, FLAGS.workdir))
  _write_json(os.path.splitext(output)[0] + ".json", result)
  print(f"test accuracy {result['test_accuracy']:.4f} and real test IS "
        f"{result['real_test_is']:.2f} on {result['num_test']} clips "
        f"({result['num_train']} training clips, {result['steps']} steps, "
        f"{result['seconds']:.0f} s); wrote {output}")
  warning = evaluate.confidence_warning(result["real_test_is"],
                                        len(result["classes"]))
  if warning:
    print(f"warning: {warning}")


def _score() -> None:
  _require("generator", "classifier", "output")
  from audiogan_jax.eval import evaluate  # pylint: disable=g-import-not-at-top
  n = 50000 if FLAGS.num_samples is None else FLAGS.num_samples
  result = evaluate.score_generator(
      FLAGS.generator, FLAGS.classifier, num_samples=n,
      batch_size=FLAGS.batch_size, seed=FLAGS.seed,
      through_audio=FLAGS.through_audio, cache_dir=_cache_dir())
  _write_json(FLAGS.output, result)
  _print_score(result)
  print(f"wrote {FLAGS.output}")


def _gan_train() -> None:
  _require("generator", "classifier", "output")
  from audiogan_jax.eval import evaluate  # pylint: disable=g-import-not-at-top
  from audiogan_jax.eval import gan_train as gan_train_lib  # pylint: disable=g-import-not-at-top
  import ml_collections  # pylint: disable=g-import-not-at-top
  loaded = evaluate.load_eval_classifier(FLAGS.classifier)
  data = (FLAGS.config.data if FLAGS.config is not None
          else loaded.data_config)
  if data is None:
    raise ValueError(f"{FLAGS.classifier} does not record its data; pass "
                     "--config=<run config>")
  training = ml_collections.ConfigDict(
      loaded.meta.get("training") or evaluate.eval_classifier_config()
      .to_dict())
  if FLAGS.steps is not None:
    if FLAGS.steps < 1:
      raise ValueError(f"--steps={FLAGS.steps} must be at least 1")
    training.num_steps = FLAGS.steps
  n = 10000 if FLAGS.num_samples is None else FLAGS.num_samples
  if n < 1:
    raise ValueError(f"--num_samples={n} must be at least 1")
  result = gan_train_lib.gan_train(FLAGS.generator, training, data, n,
                              FLAGS.batch_size, FLAGS.seed,
                              FLAGS.through_audio, _cache_dir(), loaded.clip)
  _write_json(FLAGS.output, result)
  for mode, acc in result["test_accuracy"].items():
    print(f"trained on {mode:16s} real-test accuracy {acc:.4f}")
  print(f"wrote {FLAGS.output}")


def _representation() -> None:
  _require("output")
  from audiogan_jax import encoding  # pylint: disable=g-import-not-at-top
  from audiogan_jax import workdir as workdir_lib  # pylint: disable=g-import-not-at-top
  from audiogan_jax.eval import represent  # pylint: disable=g-import-not-at-top
  model, source = encoding.load_model(FLAGS.workdir, FLAGS.model)
  cache = FLAGS.cache_dir or (
      workdir_lib.cache_dir(model["config"], FLAGS.workdir)
      if FLAGS.workdir else None)
  result = represent.evaluate_representations(model, FLAGS.output, cache,
                                              batch_size=FLAGS.batch_size,
                                              seed=FLAGS.seed)
  if result["classifier_accuracy"] is not None:
    print(f"classifier accuracy ({result['classifier_label']}) on the test "
          f"clips: {result['classifier_accuracy']:.4f}")
  for rep, probes in result["probes"].items():
    for label, res in probes.items():
      if "test_accuracy" in res:
        print(f"linear probe {rep:14s} -> {label:10s} test accuracy "
              f"{res['test_accuracy']:.4f} (chance {res['chance']:.2f})")
  print(f"wrote representation.json and t-SNE maps to {FLAGS.output} "
        f"(encoder: {source})")


def _report() -> None:
  _require("workdir")
  from audiogan_jax.eval import run_eval as wd  # pylint: disable=g-import-not-at-top
  path = wd.build_report(FLAGS.workdir, FLAGS.output, FLAGS.classifier,
                         FLAGS.num_samples,
                         FLAGS.through_audio
                         if FLAGS["through_audio"].present else None,
                         seed=FLAGS.seed)
  print(f"wrote {path}")


@common.user_errors("audiogan-eval")
def main(argv) -> None:
  """Runs one evaluation command."""
  if len(argv) != 2 or argv[1] not in COMMANDS:
    raise ValueError(
        f"give one command: {', '.join(COMMANDS)} (got "
        f"{' '.join(argv[1:]) or 'none'}); see audiogan-eval --help")
  _COMMAND[0] = argv[1]
  common.hide_accelerators_from_tensorflow()
  common.setup_logging()
  {"train-classifier": _train_classifier, "score": _score,
   "gan-train": _gan_train, "representation": _representation,
   "report": _report}[argv[1]]()


def run() -> None:
  """Console-script entry point."""
  _define_flags()
  common.run_app(main, "audiogan-eval")


if __name__ == "__main__":
  run()
