"""GANSynth: the paper config, the growth schedule, a tiny run through every
stage, export and generation by pitch."""

import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from audiogan_jax import export as export_lib
from audiogan_jax import gans
from audiogan_jax import generation
from audiogan_jax.config import gansynth_config
from audiogan_jax.gans import gansynth
from audiogan_jax.gans import state as state_lib
from audiogan_jax.train import trainer
from tests_helpers import fit_softmax
from tests_helpers import tiny_gansynth_config


def test_paper_config_sizes_and_settings():
  c = gansynth_config()
  assert gans.get_family("gansynth").module is gansynth
  assert gansynth.representation(c).shape == (256, 512, 2)
  shapes = jax.eval_shape(lambda k: gansynth.init_state(c, k),
                          jax.random.key(0))
  # The report's tables (models/progressive.py; tests/test_progressive.py
  # derives them layer by layer).
  assert state_lib.count_params(shapes.params["g"]) == 7_319_182
  assert state_lib.count_params(shapes.params["d"]) == 6_831_230
  assert (c.optim.g_lr, c.optim.d_lr, c.optim.b1, c.optim.b2) == (
      8e-4, 8e-4, 0.0, 0.99)
  assert c.train.batch_size == 8 and c.train.d_steps == 1
  assert (c.model.z_dim, c.model.num_classes) == (256, 61)
  assert tuple(c.model.channels) == (256, 256, 256, 256, 128, 64, 32)
  assert (c.loss.gp_weight, c.loss.drift_weight, c.loss.d_ac_weight,
          c.loss.g_ac_weight) == (10.0, 0.001, 10.0, 10.0)
  # Seven stages of 800k images at batch 8, stable and in transition.
  assert c.model.stable_steps * 8 == c.model.transition_steps * 8 == 800_000
  assert c.data.label == "pitch" and c.data.num_samples == 65536


def test_growth_schedule():
  c = tiny_gansynth_config()
  c.model.update(stable_steps=3, transition_steps=2)   # R = 4
  got = [float(gansynth.progress_at(c, s)) for s in range(20)]
  want = [0, 0, 0,  0, 0.5,  1, 1, 1,  1, 1.5,  2, 2, 2,  2, 2.5,
          3, 3, 3, 3, 3]
  np.testing.assert_allclose(got, want)
  assert gansynth.schedule(c) == [(0, 0.0), (3, 0.0), (5, 1.0), (8, 1.0),
                                  (10, 2.0), (13, 2.0), (15, 3.0)]
  stages = [gansynth.stage_at(c, s) for s in range(20)]
  assert stages == [int(np.ceil(p)) for p in want]
  c.model.update(stable_steps=2, transition_steps=0)   # jumps, no fade-in
  np.testing.assert_allclose(
      [float(gansynth.progress_at(c, s)) for s in range(10)],
      [0, 0, 1, 1, 2, 2, 3, 3, 3, 3])
  assert [gansynth.stage_at(c, s) for s in range(10)] == [
      0, 0, 1, 1, 2, 2, 3, 3, 3, 3]
  c.model.update(stable_steps=0, transition_steps=0)   # no growing
  assert float(gansynth.progress_at(c, 0)) == 3.0
  assert gansynth.stage_at(c, 0) == 3
  c.model.stable_steps = -1
  with pytest.raises(ValueError, match="stable_steps"):
    gansynth.progress_at(c, 0)


def test_start_shape_must_grow_to_the_image():
  c = tiny_gansynth_config()
  c.model.num_classes = 4
  c.model.start_shape = (8, 8)
  with pytest.raises(ValueError, match="start_shape"):
    gansynth.networks(c)


def test_generator_renders_at_the_progress_of_its_step():
  """The step stored with G sets its resolution: at step 0 the image is made
  of the lowest resolution's 8x8 blocks, once grown it is not."""
  c = tiny_gansynth_config()
  c.model.num_classes = 4
  state = gansynth.init_state(c, jax.random.key(0))
  z, y = gansynth.sample_latents(c, jax.random.key(1), 2)
  params, stats = state.params["g"], state.stats["g"]
  assert int(stats["step"]) == 0
  low = np.asarray(gansynth.generate(c, params, stats, z, y))
  blocks = low.reshape(2, 16, 8, 16, 8, 2)
  np.testing.assert_array_equal(
      blocks, np.broadcast_to(blocks[:, :, :1, :, :1], blocks.shape))
  grown = {**stats, "step": jnp.asarray(100, jnp.int32)}
  full = np.asarray(gansynth.generate(c, params, grown, z, y))
  assert np.abs(full.reshape(blocks.shape)
                - full.reshape(blocks.shape)[:, :, :1, :, :1]).max() > 1e-3


def test_staged_step_matches_the_whole_model():
  """The step compiled for a stage (the blocks above it skipped) updates
  the parameters as the step that computes every block does."""
  import functools  # pylint: disable=g-import-not-at-top
  c = tiny_gansynth_config()
  c.model.num_classes = 4
  state = gansynth.init_state(c, jax.random.key(0))
  rng = np.random.default_rng(0)
  batch = {"x_waveform": jnp.asarray(
      0.3 * rng.standard_normal((1, 4, 16384)), jnp.float32),
           "x_label": jnp.asarray([[0, 1, 2, 3]], jnp.int32)}
  for step in (3,):   # progress 0.5: stage 1 of 0..3, fading in
    st = state.replace(step=jnp.asarray(step, state.step.dtype))
    stage = gansynth.stage_at(c, step)
    assert stage == 1
    out = {}
    for variant in (stage, None):
      fn = jax.jit(functools.partial(gansynth.train_iteration, config=c,
                                     variant=variant))
      out[variant] = fn(st, batch, jax.random.key(1))
    (a, ma), (b, mb) = out[stage], out[None]
    for x, y in zip(jax.tree.leaves(a.params), jax.tree.leaves(b.params)):
      np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-4,
                                 atol=1e-5)
    for k in ("d_loss", "g_loss", "gp"):
      np.testing.assert_allclose(float(ma[k]), float(mb[k]), rtol=1e-4,
                                 atol=1e-5)
    # The blocks above the stage got no update in either form.
    top = f"block{stage + 1}_conv0"
    np.testing.assert_array_equal(np.asarray(a.params["g"][top]["kernel"]),
                                  np.asarray(st.params["g"][top]["kernel"]))


def _pitch_config():
  """Two synthetic pitches (MIDI 36 and 72), 2048-sample notes, IF-Mel
  images growing from 8 x 16 to 32 x 64 over three resolutions (stage 1
  fades in from iteration 50, stage 2 from 150; full size from 200)."""
  c = tiny_gansynth_config("36,72")
  c.data.num_samples = 2048
  c.data.synthetic.update(num_train=256, num_test=64)
  c.model.update(n_fft=128, hop=64, start_shape=(8, 16),
                 channels=(32, 32, 16), stable_steps=50, transition_steps=50)
  n = 600
  c.train.update(num_steps=n, checkpoint_every=n, sample_every=n,
                 log_every=10, ema_decay=0.99)
  return c


@pytest.fixture(scope="module")
def grown(tmp_path_factory):
  """One 600-iteration run through every stage, shared by the tests below."""
  c = _pitch_config()
  workdir = str(tmp_path_factory.mktemp("gansynth") / "run")
  state = trainer.train_and_evaluate(c, workdir)
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    rows = [json.loads(line) for line in f]
  return dict(config=c, workdir=workdir, state=state, rows=rows,
              n=int(c.train.num_steps))


def test_stage_transitions_keep_training_finite(grown):
  """Every stage and fade-in ran (the trainer checks every parameter and
  metric for NaN/Inf every 10 iterations and would have stopped)."""
  rows, c, n = grown["rows"], grown["config"], grown["n"]
  assert [r["step"] for r in rows] == list(range(10, n + 1, 10))
  # Row at step s logs iteration s - 1's progress: 0, fade-ins, the full 2.
  progress = [r["train/progress"] for r in rows]
  np.testing.assert_allclose(
      progress, [float(gansynth.progress_at(c, r["step"] - 1)) for r in rows],
      rtol=1e-6)
  assert progress[0] == 0.0 and progress[-1] == 2.0
  assert any(0 < p < 1 for p in progress) and any(1 < p < 2 for p in progress)
  for r in rows:
    for k in ("d_loss", "g_loss", "gp", "d_ac", "g_ac", "drift"):
      assert np.isfinite(r[f"train/{k}"]), (k, r)
  assert int(grown["state"].stats["g"]["step"]) == n
  samples = os.path.join(grown["workdir"], "samples", f"step_{n:07d}")
  assert {"spectrograms.png", "waveforms.png"} <= set(os.listdir(samples))


def test_export_and_generate_by_pitch(grown, tmp_path):
  path = os.path.join(grown["workdir"], "generator.msgpack")
  model = export_lib.load_generator(path)
  assert model["class_names"] == ("36", "72")
  assert int(model["batch_stats"]["step"]) == grown["n"]
  out = str(tmp_path / "c5")
  paths = generation.generate_files(path, 3, out, pitch=72, seed=2)
  assert len(paths) == 3 and all(p.endswith("_72.wav") for p in paths)
  import soundfile as sf  # pylint: disable=g-import-not-at-top
  audio, rate = sf.read(paths[0])
  assert rate == 16000 and audio.shape == (2048,)
  assert np.all(np.isfinite(audio)) and np.max(np.abs(audio)) <= 1.0
  assert {"spectrograms.png", "waveforms.png"} <= set(os.listdir(out))
  # The same sounds as --label with that pitch's index.
  a, _, _ = generation.generate_spectrograms(path, 2, pitch=72, seed=2)
  b, _, _ = generation.generate_spectrograms(path, 2, label=1, seed=2)
  np.testing.assert_array_equal(a, b)
  assert a.shape == (2, 32, 64, 2)


@pytest.mark.parametrize("kwargs,message", [
    (dict(pitch=60), r"--pitch=60 is not among the pitches .* \(36..72\)"),
    (dict(pitch=72, label=1), "--pitch and --label exclude each other"),
])
def test_pitch_errors_are_one_line(grown, kwargs, message):
  path = os.path.join(grown["workdir"], "generator.msgpack")
  with pytest.raises(ValueError, match=message):
    generation.generate_spectrograms(path, 1, **kwargs)


def test_pitch_needs_a_generator_of_pitches(grown):
  model = export_lib.load_generator(
      os.path.join(grown["workdir"], "generator.msgpack"))
  model = {**model, "class_names": ("ba", "di")}
  with pytest.raises(ValueError, match="are not pitches"):
    generation.generate_spectrograms(model, 1, pitch=72)


def _spectrum(images):
  """The time-averaged magnitude channel of IF-Mel images: [N, bins]."""
  return np.asarray(images, np.float64)[..., 0].mean(axis=1)


def test_generated_pitch_is_recovered(grown):
  """After the 600 iterations of ``grown``, a classifier fitted on real
  notes (softmax regression on the time-averaged mel magnitude, where the
  harmonics' spacing gives the pitch away) names the pitch G was asked for
  in 256 generated notes. Chance is 50 %, and a G that ignores the pitch
  reaches 62 % with probability under 1e-4. It is scored on the generated
  images and on the images of the audio they decode to. Measured: 73-78 %
  on images, 79-88 % on audio (two seeds).
  """
  from audiogan_jax.audio import ifspec  # pylint: disable=g-import-not-at-top
  from audiogan_jax.data import pipeline  # pylint: disable=g-import-not-at-top
  c, state = grown["config"], grown["state"]
  data = pipeline.load_dataset(c, with_test=True, spectrograms=False)
  config = trainer.resolve_config(c, data)
  rep = gansynth.representation(config)
  predict = fit_softmax(_spectrum(ifspec.encode(rep, data.train.waveforms)),
                        data.train.labels, 2, steps=300)
  real = np.mean(predict(_spectrum(ifspec.encode(rep, data.test.waveforms)))
                 == data.test.true_labels)
  assert real > 0.95, real
  z, _ = gansynth.sample_latents(config, jax.random.key(7), 256)
  y = np.arange(256) % 2
  images = gansynth.generate(config, state.ema_params["g"],
                             state.ema_stats["g"], z, jnp.asarray(y))
  on_images = np.mean(predict(_spectrum(images)) == y)
  audio = gansynth.to_waveforms(config, images)
  on_audio = np.mean(predict(_spectrum(ifspec.encode(rep, audio))) == y)
  print(f"pitch recovered: {on_images:.0%} of images, {on_audio:.0%} of "
        "decoded clips")
  assert on_images > 0.62, on_images
  assert on_audio > 0.7, on_audio


def test_demo_config_grows_to_full_size_before_it_ends():
  from audiogan_jax import config as config_lib  # pylint: disable=g-import-not-at-top
  c = config_lib.load_config_file(os.path.join(
      os.path.dirname(__file__), "..", "configs", "gansynth_demo.py"))
  c.model.num_classes = 3   # what the three synthetic pitches resolve to
  assert gansynth.representation(c).shape == (128, 128, 2)
  shapes = jax.eval_shape(lambda k: gansynth.init_state(c, k),
                          jax.random.key(0))
  assert state_lib.count_params(shapes.params["g"]) > 0
  full = gansynth.schedule(c)[-1][0]
  assert float(gansynth.progress_at(c, full)) == 4.0
  assert full < c.train.num_steps


def test_bench_counts_the_step_of_each_stage():
  from audiogan_jax.train import bench  # pylint: disable=g-import-not-at-top

  def config():
    c = tiny_gansynth_config()
    c.model.num_classes = 4
    c.train.num_steps = 20
    return c

  low = bench.count_flops(config(), iteration=0)
  full = bench.count_flops(config())   # the last iteration: stage 3
  assert (low["variant"], full["variant"]) == (0, 3)
  assert full["iteration"] == 19
  # 16x16 against 128x128 images: most of the work is skipped at stage 0.
  assert low["flops_per_iter"] < full["flops_per_iter"] / 4
  with pytest.raises(ValueError, match=r"--iteration=20 is past the run"):
    bench.count_flops(config(), iteration=20)


def test_report_compares_with_the_published_nsynth_pitch_scores():
  from audiogan_jax.eval import run_eval  # pylint: disable=g-import-not-at-top
  real = {"is_mean": 5.0, "is_std": 0.1, "num": 10}
  score = {"family": "gansynth", "step": 7, "num_samples": 10,
           "input": "inverse STFT -> waveform -> spectrogram",
           "classifier": "classifier.msgpack",
           "classifier_test_accuracy": 1.0, "samples_per_sec": 3.0,
           "device": "cpu",
           "model": {"is_mean": 2.0, "is_std": 0.1, "fid_train": 9.0,
                     "fid_test": 9.5},
           "real": {"train": real, "test": real, "fid_train_test": 1.0}}
  tables = {t.title: t for t in run_eval._score_tables(score)}  # pylint: disable=protected-access
  nsynth = [t for n, t in tables.items() if "NSynth" in n]
  assert len(nsynth) == 1 and not any("S09" in n for n in tables)
  assert ["GANSynth IF-Mel (Engel et al.)", 38.1] in nsynth[0].rows
