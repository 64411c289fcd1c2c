"""audiogan-encode: representations and predicted classes of audio files.

    audiogan-encode --workdir=runs/demo --input=clips/ --output=codes.npz
    audiogan-encode --model=encoder.msgpack --input=list.txt --output=codes.npz [--batch_size=64]

Exactly one of --workdir and --model names the guided model (GAAE or GGAN):
--model an encoder file written by ``audiogan-export --what=encoder``,
--workdir a training workdir, whose ``encoder.msgpack`` is used when present
(audiogan-train writes it at the end of a run) and whose newest checkpoint is
read otherwise (no file is written).

--input is an audio file, a folder (searched recursively for .wav, .flac,
.ogg, .mp3, .aiff, .au and the other extensions libsndfile reads) or a .txt
file with one path per line (relative paths are taken from the list's
folder). Each clip is read as the training data is (mono, resampled to
16 kHz, padded or trimmed to 16384 samples), turned into its 256x128
log-magnitude spectrogram and passed through the model's encoder side in
batches of --batch_size.

The .npz holds, one row per file in input order: ``files``, the family's
representations (GAAE: ``guided`` [N,128], E's class-guided latent, and
``style`` [N,128], the style latent z'; GGAN: ``representation`` [N,128],
F(D(x))), the classifier's ``logits`` [N,classes], ``predicted`` (class
index) and ``predicted_name``; and ``class_names``.

The work is done by :mod:`audiogan_jax.encoding` (imported when the command
runs, so that ``--help`` answers without loading JAX).
"""

from __future__ import annotations

import os

from absl import app
from absl import flags

from audiogan_jax.cli import common

FLAGS = flags.FLAGS

def _define_flags() -> None:
  """Defines the flags (at run time, so other commands can import this)."""
  flags.DEFINE_string(
      "workdir", None, "A training workdir: its encoder.msgpack, else its "
      "newest checkpoint.")
  flags.DEFINE_string("model", None, "An exported encoder file "
                      "(audiogan-export --what=encoder).")
  flags.DEFINE_string(
      "input", None, "Audio file, folder of audio files (recursive), or .txt "
      "list of paths.")
  flags.DEFINE_string("output", None, "The .npz file to write.")
  flags.DEFINE_integer("batch_size", 64, "Clips per encoder batch.")
  flags.mark_flags_as_required(["input", "output"])


@common.user_errors("audiogan-encode")
def main(argv) -> None:
  """Encodes and says where."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  common.setup_logging()
  if not FLAGS.output.endswith(".npz"):
    raise ValueError(f"--output={FLAGS.output} must end in .npz")
  if bool(FLAGS.workdir) == bool(FLAGS.model):
    raise ValueError("give exactly one of --workdir=DIR (a training workdir) "
                     "or --model=FILE (an exported encoder)")
  if FLAGS.batch_size < 1:
    raise ValueError(f"--batch_size={FLAGS.batch_size} must be at least 1")
  from audiogan_jax import encoding  # pylint: disable=g-import-not-at-top
  files = encoding.list_inputs(FLAGS.input)
  model, source = encoding.load_model(FLAGS.workdir, FLAGS.model)
  result = encoding.encode_files(model, files, FLAGS.batch_size)
  os.makedirs(os.path.dirname(os.path.abspath(FLAGS.output)), exist_ok=True)
  tmp = f"{FLAGS.output[:-4]}.tmp{os.getpid()}.npz"
  np.savez(tmp, **result)
  os.replace(tmp, FLAGS.output)
  print(f"encoded {len(files)} files with {source} (step "
        f"{model['step']}) to {FLAGS.output}")


def run() -> None:
  """Console-script entry point."""
  _define_flags()
  common.run_app(main, "audiogan-encode")


if __name__ == "__main__":
  run()
