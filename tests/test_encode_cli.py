"""Exported files, audiogan-export --what, audiogan-encode, --interpolate.

The GAAE workdir here is the initial state saved as audiogan-train leaves a
run (config.json, run.json, an Orbax checkpoint at step 4): what these
commands read does not depend on training, and skipping it keeps the module
to one network initialisation. Trained runs of both guided families go
through the same functions in test_guided_training.py.
"""

import json
import os
import shutil
import subprocess
import sys
from typing import Any, NamedTuple

import jax
import numpy as np
import pytest
import soundfile as sf

from audiogan_jax import export as export_lib
from audiogan_jax import encoding
from audiogan_jax import gans
from audiogan_jax import generation
from audiogan_jax.cli import export as export_cli
from audiogan_jax.data import synthetic
from audiogan_jax import checkpoint as ckpt_lib
from tests_helpers import tiny_config
from tests_helpers import tiny_gaae_config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "JAX_PLATFORMS": "cpu"}
STEP = 4


class Run(NamedTuple):
  workdir: str        # config.json, run.json, checkpoints/4; no exports
  exported: str       # export_run's generator.msgpack and encoder.msgpack
  paths: list         # what export_run returned
  config: Any
  state: Any
  class_names: tuple
  clips: list         # three audio files under clips/ (one in a subfolder)


def _cli(module, *args):
  return subprocess.run(
      [sys.executable, "-m", f"audiogan_jax.cli.{module}", *args],
      capture_output=True, text=True, env=ENV, cwd=ROOT, timeout=600,
      check=False)


def _one_line_error(proc, *fragments):
  assert proc.returncode == 2, proc.stdout + proc.stderr
  lines = proc.stderr.strip().splitlines()
  assert len(lines) == 1, proc.stderr
  for fragment in fragments:
    assert fragment in lines[0], lines[0]


def _write_clips(directory):
  """Three synthetic clips: 16 kHz WAV, stereo FLAC in a subfolder, 8 kHz."""
  waves = synthetic.generate(3, seed=5, num_classes=10, stream=2).waveforms
  os.makedirs(os.path.join(directory, "sub"))
  paths = [os.path.join(directory, "a.wav"),
           os.path.join(directory, "b.wav"),
           os.path.join(directory, "sub", "c.flac")]
  sf.write(paths[0], waves[0], 16000)
  sf.write(paths[1], waves[1][::2], 8000)          # resampled on reading
  sf.write(paths[2], np.stack([waves[2], -waves[2]], 1), 16000)
  with open(os.path.join(directory, "notes.md"), "w") as f:
    f.write("not audio, skipped\n")
  return paths


def _random_state(family, config):
  """A GANState of random weights with the family's shapes, at step STEP.

  Filled from ``eval_shape`` in numpy: compiling the real initialisation of
  five networks costs 30 s on two CPU cores, and what is tested here reads
  the weights without caring where they came from.
  """
  rng = np.random.default_rng(0)

  def fill(path, leaf):
    name = jax.tree_util.keystr(path[-1:])
    if leaf.dtype.kind != "f":
      return np.zeros(leaf.shape, leaf.dtype)
    if any(k in name for k in ("'var'", "sigma", "'scale'")):
      return np.ones(leaf.shape, leaf.dtype)
    if "'mean'" in name:
      return np.zeros(leaf.shape, leaf.dtype)
    fan_in = int(np.prod(leaf.shape[:-1])) if len(leaf.shape) > 1 else 10
    return (rng.standard_normal(leaf.shape) / np.sqrt(fan_in)).astype(
        leaf.dtype)

  shapes = jax.eval_shape(lambda k: family.init_state(config, k),
                          jax.random.key(0))
  state = jax.tree_util.tree_map_with_path(fill, shapes)
  return state.replace(step=np.asarray(STEP, np.int32))


@pytest.fixture(scope="module")
def run(tmp_path_factory):
  config = tiny_gaae_config()
  config.model.num_classes = 10
  family = gans.get_family("gaae")
  names = synthetic.class_names(10)
  state = _random_state(family, config)
  workdir = str(tmp_path_factory.mktemp("gaae"))
  with open(os.path.join(workdir, "config.json"), "w") as f:
    f.write(config.to_json(indent=2))
  with open(os.path.join(workdir, "run.json"), "w") as f:
    json.dump({"class_names": list(names)}, f)
  ckpt = ckpt_lib.Checkpointer(os.path.join(workdir, "checkpoints"))
  ckpt.save(STEP, state, {"step": STEP})
  ckpt.close()
  exported = str(tmp_path_factory.mktemp("exported"))
  paths = export_lib.export_run(exported, family, config, state, names, STEP)
  clips = _write_clips(str(tmp_path_factory.mktemp("audio") / "clips"))
  return Run(workdir, exported, paths, config, jax.device_get(state), names,
             clips)


@pytest.fixture(scope="module")
def biggan_workdir(tmp_path_factory):
  """A supervised BigGAN workdir as far as the commands read it first."""
  config = tiny_config()
  config.model.num_classes = 10
  workdir = str(tmp_path_factory.mktemp("biggan"))
  with open(os.path.join(workdir, "config.json"), "w") as f:
    f.write(config.to_json(indent=2))
  return workdir, config


def _encoded(run):
  return encoding.encode_files(os.path.join(run.exported, "encoder.msgpack"),
                             encoding.list_inputs(os.path.dirname(
                                 run.clips[0])), batch_size=2)


def test_export_run_writes_the_generator_and_the_encoder(run):
  gen_path = os.path.join(run.exported, "generator.msgpack")
  enc_path = os.path.join(run.exported, "encoder.msgpack")
  assert run.paths == [gen_path, enc_path]
  gen = export_lib.load_generator(gen_path)
  enc = export_lib.load_encoder(enc_path)
  for m in (gen, enc):
    assert m["step"] == STEP and m["class_names"] == run.class_names
    assert str(m["config"].model.family) == "gaae"
  assert set(enc["params"]) == set(enc["batch_stats"]) == {"enc", "cls"}
  for name in ("enc", "cls"):     # the trained weights, not an EMA copy
    for a, b in zip(jax.tree.leaves(enc["params"][name]),
                    jax.tree.leaves(run.state.params[name])):
      np.testing.assert_array_equal(a, b)
  for a, b in zip(jax.tree.leaves(gen["params"]),
                  jax.tree.leaves(run.state.ema_params["dec"])):
    np.testing.assert_array_equal(a, b)
  with pytest.raises(export_lib.ExportFormatError,
                     match="it is an audiogan_jax encoder file"):
    export_lib.load_generator(enc_path)
  with pytest.raises(export_lib.ExportFormatError,
                     match="it is an audiogan_jax generator file"):
    export_lib.load_encoder(gen_path)


def test_export_run_of_a_model_without_encoder_writes_only_the_generator(
    biggan_workdir, tmp_path):
  _, config = biggan_workdir
  family = gans.get_family("biggan")
  state = _random_state(family, config)
  paths = export_lib.export_run(str(tmp_path), family, config, state, (), 2)
  assert paths == [str(tmp_path / "generator.msgpack")]
  assert export_lib.load_generator(paths[0])["step"] == 2


def test_export_workdir_encoder_and_generator_match_export_run(run,
                                                               tmp_path):
  for what in ("encoder", "generator"):
    out = str(tmp_path / f"{what}.msgpack")
    assert export_cli.export_workdir(run.workdir, out, what=what) == STEP
    load = getattr(export_lib, f"load_{what}")
    a, b = load(out), load(os.path.join(run.exported, f"{what}.msgpack"))
    assert a["class_names"] == b["class_names"] and a["step"] == b["step"]
    for x, y in zip(jax.tree.leaves((a["params"], a["batch_stats"])),
                    jax.tree.leaves((b["params"], b["batch_stats"]))):
      np.testing.assert_array_equal(x, y)
  with pytest.raises(ValueError, match="--step=3 has no checkpoint"):
    export_cli.export_workdir(run.workdir, str(tmp_path / "x"), step=3)


def test_encode_a_folder(run):
  out = _encoded(run)
  assert list(out["files"]) == sorted(run.clips)   # recursive, audio only
  assert out["guided"].shape == out["style"].shape == (3, 128)
  assert out["logits"].shape == (3, 10)
  for k in ("guided", "style", "logits"):
    assert np.all(np.isfinite(out[k])), k
  assert out["predicted"].dtype.kind == "i"
  assert np.all((out["predicted"] >= 0) & (out["predicted"] < 10))
  np.testing.assert_array_equal(out["predicted"],
                                np.argmax(out["logits"], -1))
  assert list(out["class_names"]) == list(run.class_names)
  assert list(out["predicted_name"]) == [run.class_names[p]
                                         for p in out["predicted"]]
  # Different clips, different codes.
  assert np.abs(out["guided"][0] - out["guided"][1]).max() > 1e-6
  again = _encoded(run)
  for k in out:
    np.testing.assert_array_equal(again[k], out[k])


def test_workdir_checkpoint_gives_the_exported_encoder(run, tmp_path):
  model, source = encoding.load_model(workdir=run.workdir)
  assert "checkpoint" in source and model["step"] == STEP
  from_ckpt = encoding.encode_files(model, run.clips, batch_size=2)
  from_file = encoding.encode_files(
      os.path.join(run.exported, "encoder.msgpack"), run.clips, batch_size=2)
  for k in from_file:
    np.testing.assert_array_equal(from_ckpt[k], from_file[k])
  # A workdir's own encoder.msgpack is preferred to its checkpoints.
  shutil.copy(os.path.join(run.exported, "encoder.msgpack"), tmp_path)
  _, source = encoding.load_model(workdir=str(tmp_path))
  assert source == str(tmp_path / "encoder.msgpack")


def test_list_inputs_reads_a_text_list_relative_to_its_folder(run, tmp_path):
  listing = tmp_path / "list.txt"
  rel = [os.path.relpath(p, tmp_path) for p in run.clips[::-1]]
  listing.write_text("\n".join(rel) + "\n\n")
  assert encoding.list_inputs(str(listing)) == run.clips[::-1]
  listing.write_text("missing.wav\n")
  with pytest.raises(FileNotFoundError, match="lists 1 missing file"):
    encoding.list_inputs(str(listing))
  with pytest.raises(FileNotFoundError, match="no audio files"):
    encoding.list_inputs(str(tmp_path))


def test_encode_command_writes_the_npz(run, tmp_path):
  listing = tmp_path / "list.txt"
  listing.write_text("\n".join(run.clips) + "\n")
  out = tmp_path / "codes.npz"
  proc = _cli("encode", f"--model={run.exported}/encoder.msgpack",
              f"--input={listing}", f"--output={out}", "--batch_size=2")
  assert proc.returncode == 0, proc.stderr
  assert "encoded 3 files" in proc.stdout
  expected = encoding.encode_files(
      os.path.join(run.exported, "encoder.msgpack"), run.clips, batch_size=2)
  with np.load(out) as data:
    assert set(data.files) == {"files", "guided", "style", "logits",
                               "predicted", "predicted_name", "class_names"}
    for k in expected:
      if expected[k].dtype.kind == "f":
        np.testing.assert_allclose(data[k], expected[k], atol=1e-5)
      else:
        np.testing.assert_array_equal(data[k], expected[k])


@pytest.mark.parametrize("case", ["generator_file", "both", "neither",
                                  "not_npz", "no_audio", "bad_audio",
                                  "biggan"])
def test_encode_mistakes_are_one_line_errors(case, run, biggan_workdir,
                                             tmp_path):
  clips = os.path.dirname(run.clips[0])
  model = f"--model={run.exported}/encoder.msgpack"
  out = f"--output={tmp_path}/codes.npz"
  args, fragments = {
      "generator_file": (
          [f"--model={run.exported}/generator.msgpack", f"--input={clips}",
           out], ["is not an audiogan_jax encoder file",
                  "audiogan-export --what=encoder"]),
      "both": ([model, f"--workdir={run.workdir}", f"--input={clips}", out],
               ["exactly one of --workdir"]),
      "neither": ([f"--input={clips}", out], ["exactly one of --workdir"]),
      "not_npz": ([model, f"--input={clips}",
                   f"--output={tmp_path}/codes.csv"], ["must end in .npz"]),
      "no_audio": ([model, f"--input={tmp_path}", out], ["no audio files"]),
      "bad_audio": ([model, f"--input={tmp_path}/broken.wav", out],
                    ["cannot read audio file", "broken.wav"]),
      "biggan": ([f"--workdir={biggan_workdir[0]}", f"--input={clips}", out],
                 ["biggan model, which has no encoder"]),
  }[case]
  (tmp_path / "broken.wav").write_bytes(b"RIFF not really a wave file")
  if case == "no_audio":
    os.remove(tmp_path / "broken.wav")
  _one_line_error(_cli("encode", *args), *fragments)
  assert not (tmp_path / "codes.npz").exists()


def test_export_encoder_of_a_biggan_run_is_a_one_line_error(biggan_workdir,
                                                            tmp_path):
  workdir, _ = biggan_workdir
  with pytest.raises(ValueError, match="has no encoder"):
    export_cli.export_workdir(workdir, str(tmp_path / "e.msgpack"),
                              what="encoder")
  _one_line_error(_cli("export", f"--workdir={workdir}", "--what=encoder",
                       f"--output={tmp_path}/e.msgpack"),
                  "biggan model, which has no encoder",
                  "--what=generator")


def test_interpolation_writes_steps_whose_ends_are_the_seeds_samples(
    run, tmp_path):
  gen = os.path.join(run.exported, "generator.msgpack")
  out = tmp_path / "interp"
  paths = generation.generate_files(gen, 0, str(out), label=1, seed=3,
                                  interpolate=5)
  assert [os.path.basename(p) for p in paths] == [
      f"interp_{i:03d}.wav" for i in range(5)]
  assert sorted(os.listdir(out)) == sorted(
      [os.path.basename(p) for p in paths] + ["spectrograms.png", "waveforms.png"])
  wave, rate = sf.read(paths[0])
  assert rate == 16000 and wave.shape == (16384,)
  specs, labels, _ = generation.generate_spectrograms(gen, label=1, seed=3,
                                                    interpolate=5)
  assert specs.shape == (5, 256, 128, 1) and list(labels) == [1] * 5
  first, _, _ = generation.generate_spectrograms(gen, 1, label=1, seed=3)
  last, _, _ = generation.generate_spectrograms(gen, 1, label=1, seed=4)
  np.testing.assert_allclose(specs[0], first[0], atol=1e-5)
  np.testing.assert_allclose(specs[-1], last[0], atol=1e-5)
  assert np.abs(specs[2] - specs[0]).max() > 1e-4   # it moves
  other, _, _ = generation.generate_spectrograms(gen, label=1, seed=3, seed2=9,
                                               interpolate=5)
  np.testing.assert_allclose(other[0], specs[0], atol=1e-5)
  nine, _, _ = generation.generate_spectrograms(gen, 1, label=1, seed=9)
  np.testing.assert_allclose(other[-1], nine[0], atol=1e-5)


def test_interpolation_mistakes(run, tmp_path):
  gen = os.path.join(run.exported, "generator.msgpack")
  with pytest.raises(ValueError, match="--label=10 is out of range"):
    generation.generate_spectrograms(gen, label=10, interpolate=5)
  with pytest.raises(ValueError, match="--interpolate needs --label=K"):
    generation.generate_spectrograms(gen, interpolate=5)
  with pytest.raises(ValueError, match="must be at least 2"):
    generation.generate_spectrograms(gen, label=0, interpolate=1)
  _one_line_error(_cli("generate", f"--generator={gen}", "--interpolate=5",
                       "--label=10", f"--output={tmp_path}"),
                  "--label=10 is out of range")
  _one_line_error(_cli("generate", f"--generator={gen}", "--interpolate=5",
                       "--label=1", "--num=3", f"--output={tmp_path}"),
                  "--num and --interpolate exclude each other")
  assert not os.listdir(tmp_path)
