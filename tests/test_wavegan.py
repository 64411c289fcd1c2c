"""WaveGAN, SpecGAN and conditional WaveGAN: networks, losses, short runs."""

import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from audiogan_jax import config as config_lib
from audiogan_jax import export as export_lib
from audiogan_jax import gans
from audiogan_jax.audio import specgan_repr
from audiogan_jax import generation
from audiogan_jax.models import wavegan as nets
from audiogan_jax.gans import losses
from audiogan_jax.gans import state as state_lib
from audiogan_jax.train import trainer
from tests_helpers import LEARNING
from tests_helpers import assert_learns
from tests_helpers import tiny_wavegan_config


def _counts(config):
  family = gans.get_family(str(config.model.family))
  with config.unlocked():
    if int(config.model.num_classes) <= 0:
      config.model.num_classes = 10
  shapes = jax.eval_shape(lambda k: family.init_state(config, k),
                          jax.random.key(0))
  return {n: state_lib.count_params(p) for n, p in shapes.params.items()}


@pytest.mark.parametrize("family,g_published,d_published", [
    ("wavegan", 19.1e6, 17.4e6), ("specgan", 19.0e6, 17.4e6)])
def test_paper_size_parameter_counts(family, g_published, d_published):
  counts = _counts(config_lib.wavegan_config(family))
  assert counts == {"g": 19_065_345, "d": 17_427_969}
  assert abs(counts["g"] / g_published - 1) < 0.01
  assert abs(counts["d"] / d_published - 1) < 0.01


def test_paper_configs_load_with_paper_settings():
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  for name, cond in (("wavegan", "none"), ("specgan", "none"),
                     ("cwavegan_concat", "concat"),
                     ("cwavegan_acgan", "acgan")):
    c = config_lib.load_config_file(os.path.join(root, "configs",
                                                 f"{name}.py"))
    assert c.model.d == 64 and c.model.c == 1 and c.model.z_dim == 100
    assert c.model.conditioning == cond
    assert c.train.batch_size == 64
    assert c.optim.g_lr == c.optim.d_lr == 1e-4
    assert (c.optim.b1, c.optim.b2) == (0.5, 0.9)
    if cond != "acgan":
      assert c.train.d_steps == 5 and c.loss.gp_weight == 10.0
  long = config_lib.load_config_file(os.path.join(root, "configs",
                                                  "wavegan_long.py"))
  assert long.data.num_samples == 65536


def test_conditioning_adds_label_planes_to_g_and_d():
  base = _counts(config_lib.wavegan_config("wavegan"))
  concat = _counts(config_lib.wavegan_config("wavegan", "concat"))
  acgan = _counts(config_lib.wavegan_config("wavegan", "acgan"))
  n, d = 10, 64
  # G's first transposed conv sees 16d + n channels; D's first conv 1 + n.
  assert concat["g"] - base["g"] == 25 * n * 8 * d
  assert concat["d"] - base["d"] == 25 * n * d
  # ACGAN: G as concat; D has no label input but a class head.
  assert acgan["g"] == concat["g"]
  assert acgan["d"] - base["d"] == 256 * d * n + n


def test_long_clips_add_one_stride_four_layer():
  c = config_lib.wavegan_config("wavegan", num_samples=65536)
  c.model.d = 2
  family = gans.get_family("wavegan")
  state = family.init_state(c, jax.random.key(0))
  assert len([k for k in state.params["g"] if k.startswith("up")]) == 6
  assert len([k for k in state.params["d"] if k.startswith("down")]) == 6
  z, _ = family.sample_latents(c, jax.random.key(1), 2)
  wave = family.generate(c, state.params["g"], state.stats["g"], z, None)
  assert wave.shape == (2, 65536)
  assert float(jnp.max(jnp.abs(wave))) <= 1.0
  with pytest.raises(ValueError, match="num_samples=32768"):
    nets.num_layers(32768)


def _reflect_shift(row, k):
  """numpy reference: row [T, C] shifted right by k, reflection at edges."""
  t = row.shape[0]
  idx = np.arange(t) - k
  idx = np.where(idx < 0, -idx, idx)
  idx = np.where(idx >= t, 2 * (t - 1) - idx, idx)
  return row[idx]


def test_phase_shuffle_shifts_each_example_within_n_with_reflection():
  n = 2
  x = np.asarray(jax.random.normal(jax.random.key(0), (64, 40, 3)))
  out = np.asarray(nets.phase_shuffle(jnp.asarray(x), jax.random.key(1), n))
  found = []
  for i in range(len(x)):
    ks = [k for k in range(-n, n + 1)
          if np.allclose(out[i], _reflect_shift(x[i], k))]
    assert len(ks) == 1, f"example {i} is not a reflected shift in [-2, 2]"
    found.append(ks[0])
  # Every shift in [-n, n] is drawn, and not one shift for the whole batch.
  assert sorted(set(found)) == list(range(-n, n + 1))


@pytest.mark.parametrize("transpose", [False, True])
@pytest.mark.parametrize("length,c_in,c_out", [(16, 8, 4), (64, 1, 3),
                                               (1024, 2, 1)])
def test_polyphase_conv_matches_flax_conv(transpose, length, c_in, c_out):
  """Same parameters (names, shapes, init) and the same outputs and input
  gradients as nn.Conv / nn.ConvTranspose (kernel 25, stride 4, SAME)."""
  import flax.linen as nn  # pylint: disable=g-import-not-at-top
  x = jax.random.normal(jax.random.key(0), (2, length, c_in))
  ref = (nn.ConvTranspose if transpose else nn.Conv)(
      c_out, (25,), strides=(4,), padding="SAME")
  params = ref.init(jax.random.key(1), x)
  for impl in ("polyphase", "xla"):
    layer = nets.Conv1D(c_out, transpose=transpose, impl=impl)
    own = layer.init(jax.random.key(1), x)
    jax.tree.map(np.testing.assert_array_equal, own, params)
    np.testing.assert_allclose(np.asarray(layer.apply(params, x)),
                               np.asarray(ref.apply(params, x)),
                               atol=1e-5, rtol=1e-5)
    def loss(x, m):
      return jnp.sum(jnp.sin(m.apply(params, x)))
    np.testing.assert_allclose(np.asarray(jax.grad(loss)(x, layer)),
                               np.asarray(jax.grad(loss)(x, ref)),
                               atol=1e-5, rtol=1e-5)


def test_conv1d_impls_give_the_same_wavegan_and_gradient_penalty():
  """The whole critic and its gradient penalty (a double backward) agree."""
  key = jax.random.key(0)
  x = jax.random.normal(key, (2, 16384, 1))
  d = {impl: nets.Discriminator(d=2, conv1d=impl)
       for impl in ("polyphase", "xla")}
  params = d["xla"].init(key, x)
  def gp(x, m):
    grad = jax.grad(lambda x: jnp.sum(m.apply(params, x)))(x)
    return jnp.sum((jnp.sqrt(jnp.sum(grad ** 2, axis=(1, 2))) - 1) ** 2)
  for f in (lambda x, m: m.apply(params, x), jax.grad(gp)):
    np.testing.assert_allclose(np.asarray(f(x, d["polyphase"])),
                               np.asarray(f(x, d["xla"])),
                               atol=1e-4, rtol=1e-4)
  with pytest.raises(ValueError, match="model.conv1d"):
    nets.conv1d_impl("fast")


def test_phase_shuffle_zero_is_identity():
  x = jax.random.normal(jax.random.key(0), (4, 40, 3))
  np.testing.assert_array_equal(
      np.asarray(nets.phase_shuffle(x, jax.random.key(1), 0)), np.asarray(x))


def test_discriminator_without_key_does_not_shuffle():
  d = nets.Discriminator(d=2, phase_shuffle=2)
  x = jax.random.normal(jax.random.key(0), (3, 16384, 1))
  params = d.init(jax.random.key(1), x)
  a = d.apply(params, x)
  b = d.apply(params, x, shuffle_key=jax.random.key(2))
  c = d.apply(params, x, shuffle_key=jax.random.key(2))
  np.testing.assert_array_equal(np.asarray(b), np.asarray(c))
  assert not np.allclose(np.asarray(a), np.asarray(b))


def test_gradient_penalty_of_a_linear_critic():
  w = jnp.array([0.5, -2.0, 1.0, 0.25], jnp.float32)
  real = jax.random.normal(jax.random.key(0), (5, 4))
  fake = jax.random.normal(jax.random.key(1), (5, 4))
  gp = losses.gradient_penalty(lambda x: x @ w + 3.0, real, fake,
                               jax.random.key(2))
  # The gradient of w.x + b is w at every interpolate.
  expected = (np.sqrt(np.sum(np.square(np.asarray(w, np.float64)))) - 1) ** 2
  np.testing.assert_allclose(float(gp), expected, rtol=1e-6)


def test_gradient_penalty_uses_random_interpolates():
  real = np.asarray(jax.random.normal(jax.random.key(0), (6, 2, 3)))
  fake = np.asarray(jax.random.normal(jax.random.key(1), (6, 2, 3)))
  key = jax.random.key(7)
  critic = lambda x: 0.5 * jnp.sum(jnp.square(x), axis=(1, 2))
  gp = losses.gradient_penalty(critic, jnp.asarray(real), jnp.asarray(fake),
                               key)
  # grad of 0.5 |x|^2 is x: the penalty is mean (|x~| - 1)^2 on the
  # interpolates x~ = eps x + (1 - eps) G(z), one eps ~ U[0, 1] per example.
  eps = np.asarray(jax.random.uniform(key, (6, 1, 1)), np.float64)
  mixed = eps * real + (1 - eps) * fake
  norms = np.sqrt(np.sum(mixed ** 2, axis=(1, 2)))
  np.testing.assert_allclose(float(gp), np.mean((norms - 1) ** 2), rtol=1e-5)
  assert 0.0 < eps.min() and eps.max() < 1.0 and np.ptp(eps) > 0.1


def test_gradient_penalty_is_float32_under_bfloat16():
  w = jnp.array([0.5, -2.0, 1.0, 0.25], jnp.bfloat16)
  real = jax.random.normal(jax.random.key(0), (5, 4)).astype(jnp.bfloat16)
  gp = losses.gradient_penalty(lambda x: x.astype(jnp.bfloat16) @ w, real,
                               real, jax.random.key(2))
  assert gp.dtype == jnp.float32


def test_sigmoid_cross_entropy_matches_formula():
  x = jnp.array([-30.0, -1.0, 0.0, 2.0, 40.0])
  xs = np.asarray(x, np.float64)
  log_p = -np.logaddexp(0.0, -xs)          # log sigmoid(x)
  log_1mp = -np.logaddexp(0.0, xs)         # log (1 - sigmoid(x))
  for t in (0.0, 0.9, 1.0):
    ref = np.mean(-t * log_p - (1 - t) * log_1mp)
    np.testing.assert_allclose(float(losses.sigmoid_cross_entropy(x, t)), ref,
                               rtol=1e-5)


def test_specgan_stft_inverts_and_normalisation_round_trips():
  rng = np.random.default_rng(0)
  wave = rng.uniform(-0.5, 0.5, (2, 16384)).astype(np.float32)
  coeffs = specgan_repr.stft(wave)
  assert coeffs.shape == (2, 129, 128)
  np.testing.assert_allclose(np.asarray(specgan_repr.istft(coeffs)), wave,
                             atol=1e-5)
  mean, std = specgan_repr.dataset_statistics(wave, chunk=4)
  lm = np.asarray(specgan_repr.log_magnitude(wave), np.float64)
  np.testing.assert_allclose(mean, lm.mean(axis=(0, 2)), rtol=1e-4)
  np.testing.assert_allclose(std, lm.std(axis=(0, 2)), rtol=1e-3)
  spec = specgan_repr.waveform_to_spec(wave, mean, std)
  assert spec.shape == (2, 128, 128, 1)
  assert float(jnp.min(spec)) >= -1 and float(jnp.max(spec)) <= 1
  # Inside the clip range the magnitude comes back exactly.
  mag = np.asarray(specgan_repr.spec_to_magnitude(spec, mean, std))[:, :128]
  inside = np.abs(np.asarray(spec)[..., 0]) < 0.999
  ref = np.abs(np.asarray(coeffs))[:, :128]
  np.testing.assert_allclose(mag[inside], ref[inside], rtol=1e-3, atol=1e-5)


def test_specgan_griffin_lim_recovers_a_tone():
  t = np.arange(16384) / 16000
  wave = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None]
  mag = jnp.abs(specgan_repr.stft(wave))
  back = np.asarray(specgan_repr.griffin_lim(mag, jax.random.key(0), 64))
  err = np.linalg.norm(np.abs(np.asarray(specgan_repr.stft(back))) - mag)
  assert err / np.linalg.norm(mag) < 0.1   # spectral convergence


@pytest.mark.parametrize("family,conditioning,num_samples", [
    ("wavegan", "none", 16384), ("specgan", "none", 16384),
    ("wavegan", "concat", 16384), ("wavegan", "acgan", 16384),
    ("wavegan", "none", 65536)])
def test_short_run_is_finite_and_exports(tmp_path, family, conditioning,
                                         num_samples):
  config = tiny_wavegan_config(family, conditioning, num_samples)
  # WaveGAN at 16384 samples runs long enough for its learning test.
  learn = (family, conditioning, num_samples) == ("wavegan", "none", 16384)
  n = LEARNING["wavegan"][0] if learn else 3
  config.train.update(num_steps=n, sample_every=n, checkpoint_every=n)
  workdir = str(tmp_path / "run")
  state = trainer.train_and_evaluate(config, workdir)
  assert int(state.step) == n
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    rows = [json.loads(line) for line in f]
  assert [r["step"] for r in rows] == list(range(1, n + 1))
  if learn:
    # The critic learns (test_mixed_precision: bfloat16, same threshold).
    assert_learns(rows, "wavegan")
  keys = ["train/d_loss", "train/g_loss"] + (
      ["train/gp"] if conditioning != "acgan" else ["train/d_cls"])
  for r in rows:
    for k in keys:
      assert np.isfinite(r[k]), (k, r)
  samples = os.path.join(workdir, "samples", f"step_{n:07d}")
  assert {"spectrograms.png", "waveforms.png"} <= set(os.listdir(samples))
  model = export_lib.load_generator(os.path.join(workdir,
                                                 "generator.msgpack"))
  if family == "specgan":
    assert len(model["config"].model.norm_mean) == 128
  out = str(tmp_path / "gen")
  label = 1 if conditioning != "none" else None
  paths = generation.generate_files(
      os.path.join(workdir, "generator.msgpack"), 3, out, label=label)
  assert len(paths) == 3
  import soundfile as sf  # pylint: disable=g-import-not-at-top
  audio, rate = sf.read(paths[0])
  assert rate == 16000 and audio.shape == (num_samples,)
  assert np.all(np.isfinite(audio)) and np.max(np.abs(audio)) <= 1.0
  if label is not None:
    assert all(p.endswith(f"_{model['class_names'][1]}.wav") for p in paths)
  assert {"spectrograms.png", "waveforms.png"} <= set(os.listdir(out))


def test_spectrogram_models_reject_long_clips(tmp_path):
  from tests_helpers import tiny_config  # pylint: disable=g-import-not-at-top
  config = tiny_config()
  config.data.num_samples = 65536
  with pytest.raises(ValueError, match="num_samples=65536"):
    trainer.train_and_evaluate(config, str(tmp_path))


@pytest.mark.parametrize("conditioning", ["concat", "acgan"])
def test_label_reaches_generator_and_concat_critic(conditioning):
  c = config_lib.wavegan_config("wavegan", conditioning)
  c.model.d = 2
  c.model.num_classes = 3
  family = gans.get_family("wavegan")
  state = family.init_state(c, jax.random.key(0))
  z, _ = family.sample_latents(c, jax.random.key(1), 2)
  outs = [np.asarray(family.generate(c, state.params["g"], state.stats["g"],
                                     z, jnp.full((2,), k, jnp.int32)))
          for k in range(3)]
  assert not np.allclose(outs[0], outs[1]) and not np.allclose(outs[1],
                                                               outs[2])
  d = family.networks(c)["d"]
  x = jnp.asarray(outs[0])[..., None]
  y0, y1 = jnp.zeros((2,), jnp.int32), jnp.ones((2,), jnp.int32)
  a = d.apply({"params": state.params["d"]}, x, y0)
  b = d.apply({"params": state.params["d"]}, x, y1)
  if conditioning == "concat":
    assert not np.allclose(np.asarray(a), np.asarray(b))
  else:  # ACGAN's D never sees the label: two heads, same for any y.
    assert a[1].shape == (2, 3)
    np.testing.assert_array_equal(np.asarray(a[0]), np.asarray(b[0]))

