"""GANSynth progressive G and D: shapes, blending, layers, paper-size counts."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from audiogan_jax.models import progressive as pg

# Tiny networks: R = 3 resolutions, 2x4 -> 8x16.
CHANNELS = (8, 8, 4)
START = (2, 4)
R = len(CHANNELS)
FULL = pg.full_shape(START, R)
Z_DIM = 16
CLASSES = 5
BATCH = 4


def _count(tree):
  return int(sum(np.prod(x.shape) for x in jax.tree.leaves(tree)))


def _nets(dtype=None):
  g = pg.Generator(CHANNELS, START, num_classes=CLASSES, dtype=dtype)
  d = pg.Discriminator(CHANNELS, START, num_classes=CLASSES, dtype=dtype)
  return g, d


def _inputs(seed=0):
  kz, ky, kx = jax.random.split(jax.random.key(seed), 3)
  z = jax.random.normal(kz, (BATCH, Z_DIM))
  pitch = jax.random.randint(ky, (BATCH,), 0, CLASSES)
  x = jax.random.uniform(kx, (BATCH, *FULL, 2), minval=-1.0, maxval=1.0)
  return z, pitch, x


@pytest.fixture(scope="module")
def tiny():
  """Tiny G and D with their parameters and a batch of inputs."""
  g, d = _nets()
  z, pitch, x = _inputs()
  gp = g.init(jax.random.key(1), z, pitch, 0.0)["params"]
  dp = d.init(jax.random.key(2), x, 0.0)["params"]
  return g, d, gp, dp, z, pitch, x


def test_full_shape_and_num_resolutions():
  assert pg.full_shape((4, 8), 7) == (256, 512)
  assert pg.full_shape((2, 16), 7) == (128, 1024)
  assert FULL == (8, 16)
  g, d = _nets()
  assert g.num_resolutions == d.num_resolutions == 3
  assert pg.Generator().num_resolutions == 7


def test_shapes_dtypes_and_one_trace_for_every_stage(tiny):
  g, d, gp, dp, z, pitch, x = tiny
  traces = {"g": 0, "d": 0}

  @jax.jit
  def run_g(params, progress):
    traces["g"] += 1
    return g.apply({"params": params}, z, pitch, progress)

  @jax.jit
  def run_d(params, images, progress):
    traces["d"] += 1
    return d.apply({"params": params}, images, progress)

  for progress in (0.0, 0.5, 1.0, 2.0):
    p = jnp.float32(progress)
    fake = run_g(gp, p)
    assert fake.shape == (BATCH, *FULL, 2) and fake.dtype == jnp.float32
    assert bool(jnp.all(jnp.isfinite(fake)))
    assert bool(jnp.all(jnp.abs(fake) <= 1.0))
    for images in (x, fake):
      score, logits = run_d(dp, images, p)
      assert score.shape == (BATCH,) and score.dtype == jnp.float32
      assert logits.shape == (BATCH, CLASSES) and logits.dtype == jnp.float32
      assert bool(jnp.all(jnp.isfinite(score)))
      assert bool(jnp.all(jnp.isfinite(logits)))
  # progress is traced: one compilation serves every stage.
  assert traces == {"g": 1, "d": 1}


def test_bfloat16_compute_keeps_float32_params_and_outputs():
  g, d = _nets(jnp.bfloat16)
  z, pitch, x = _inputs()
  gp = g.init(jax.random.key(1), z, pitch, 0.5)["params"]
  dp = d.init(jax.random.key(2), x, 0.5)["params"]
  leaves = jax.tree.leaves(gp) + jax.tree.leaves(dp)
  assert all(p.dtype == jnp.float32 for p in leaves)
  fake = g.apply({"params": gp}, z, pitch, 0.5)
  score, logits = d.apply({"params": dp}, fake, 0.5)
  assert fake.dtype == score.dtype == logits.dtype == jnp.float32
  assert bool(jnp.all(jnp.isfinite(score)))


def test_discriminator_rejects_wrong_image_size(tiny):
  _, d, _, dp, _, _, x = tiny
  with pytest.raises(ValueError, match="8, 16"):
    d.apply({"params": dp}, x[:, :4], 0.0)


def test_generator_weights_hand_checked():
  cases = {0.0: [1, 0, 0], 0.5: [0.5, 0.5, 0], 1.0: [0, 1, 0],
           1.25: [0, 0.75, 0.25], 2.0: [0, 0, 1],
           -1.0: [1, 0, 0], 3.0: [0, 0, 1]}   # clipped to [0, R - 1]
  for progress, want in cases.items():
    np.testing.assert_allclose(pg.generator_weights(progress, 3), want,
                               atol=1e-7)
  for progress in np.linspace(0.0, 6.0, 49):
    w = pg.generator_weights(progress, 7)
    assert w.shape == (7,)
    np.testing.assert_allclose(float(jnp.sum(w)), 1.0, atol=1e-6)
    assert bool(jnp.all(w >= 0)) and int(jnp.sum(w > 0)) <= 2


def test_discriminator_weights_hand_checked():
  cases = {0.0: [1, 1, 1], 0.5: [0.5, 1, 1], 1.0: [0, 1, 1],
           1.25: [0, 0.75, 1], 2.0: [0, 0, 1], 3.0: [0, 0, 1]}
  for progress, want in cases.items():
    np.testing.assert_allclose(pg.discriminator_weights(progress, 3), want,
                               atol=1e-7)
  # progress = k + t: entry resolution k + 1 reads its fromRGB only, k fades
  # from its own fromRGB (1 - t) to the block above (t); below k, only above.
  for k in range(6):
    for t in (0.0, 0.3, 0.75):
      a = np.asarray(pg.discriminator_weights(k + t, 7))
      assert a[6] == 1.0
      if k + 1 <= 6:
        assert a[k + 1] == 1.0
      np.testing.assert_allclose(a[k], 1.0 - t, atol=1e-6)
      assert np.all(a[:k] == 0.0)


def test_generator_at_stage_zero_is_block_constant(tiny):
  g, _, gp, _, z, pitch, _ = tiny
  out = np.asarray(g.apply({"params": gp}, z, pitch, 0.0))
  f = 2 ** (R - 1)
  blocks = out.reshape(BATCH, FULL[0] // f, f, FULL[1] // f, f, 2)
  assert np.array_equal(blocks, np.broadcast_to(blocks[:, :, :1, :, :1],
                                                blocks.shape))
  # Not trivially constant everywhere.
  assert np.std(blocks[:, :, 0, :, 0]) > 0


@pytest.mark.parametrize("k", range(R))
def test_generator_integer_stage_silences_other_to_rgb(tiny, k):
  g, _, gp, _, z, pitch, _ = tiny
  probe = jax.random.normal(jax.random.key(3), (BATCH, *FULL, 2))

  def loss(params):
    return jnp.sum(probe * g.apply({"params": params}, z, pitch, float(k)))

  grads = jax.grad(loss)(gp)
  for b in range(R):
    norm = sum(float(jnp.sum(jnp.abs(v)))
               for v in jax.tree.leaves(grads[f"to_rgb{b}"]))
    if b == k:
      assert norm > 0
    else:
      assert norm == 0.0, (k, b)


def test_discriminator_at_stage_zero_reads_only_the_lowest_resolution(tiny):
  _, d, _, dp, _, _, _ = tiny
  # Dyadic values: every box sum is exact, so the comparison can be exact.
  x = jnp.round(jax.random.uniform(jax.random.key(4), (BATCH, *FULL, 2),
                                   minval=-0.5, maxval=0.5) * 64) / 64
  f = 2 ** (R - 1)
  i = np.arange(FULL[0])[:, None]
  j = np.arange(FULL[1])[None, :]
  checker = np.where((i + j) % 2 == 0, 0.25, -0.25).astype(np.float32)
  # Zero mean within each f x f block, different per channel.
  delta = jnp.asarray(np.stack([checker, -checker], axis=-1))[None]
  blocks = np.asarray(delta).reshape(1, FULL[0] // f, f, FULL[1] // f, f, 2)
  assert np.all(blocks.sum(axis=(2, 4)) == 0)

  out = d.apply({"params": dp}, x, 0.0)
  moved = d.apply({"params": dp}, x + delta, 0.0)
  for a, b in zip(out, moved):
    np.testing.assert_array_equal(a, b)
  # At progress 2 the same perturbation is seen.
  assert not np.allclose(d.apply({"params": dp}, x, 2.0)[0],
                         d.apply({"params": dp}, x + delta, 2.0)[0])

  def loss(params):
    score, logits = d.apply({"params": params}, x, 0.0)
    return jnp.sum(score) + jnp.sum(logits)

  grads = jax.grad(loss)(dp)
  for b in range(R):
    norm = sum(float(jnp.sum(jnp.abs(v)))
               for v in jax.tree.leaves(grads[f"from_rgb{b}"]))
    if b == 0:
      assert norm > 0
    else:
      assert norm == 0.0, b


def test_pixel_norm_unit_mean_square():
  x = 3.0 * jax.random.normal(jax.random.key(5), (4, 3, 5, 16))
  y = pg.pixel_norm(x)
  np.testing.assert_allclose(jnp.mean(jnp.square(y), axis=-1), 1.0, rtol=1e-5)
  np.testing.assert_allclose(pg.pixel_norm(x.astype(jnp.bfloat16)).astype(
      jnp.float32), y, rtol=2e-2, atol=2e-2)


def test_minibatch_stddev_hand_computed():
  x = np.asarray(jax.random.normal(jax.random.key(6), (8, 2, 3, 5)))
  y = np.asarray(pg.minibatch_stddev(jnp.asarray(x)))
  assert y.shape == (8, 2, 3, 6)
  np.testing.assert_array_equal(y[..., :5], x)
  for start in (0, 4):   # groups of 4 consecutive examples
    group = x[start:start + 4].astype(np.float64)
    mu = group.mean(axis=0)
    std = np.sqrt(((group - mu) ** 2).mean(axis=0) + 1e-8)
    want = std.mean()
    np.testing.assert_allclose(y[start:start + 4, ..., 5], want, rtol=1e-5)
  # A batch of 2: one group of 2 (|a - b| / 2 per feature).
  pair = np.asarray(pg.minibatch_stddev(jnp.asarray(x[:2])))
  np.testing.assert_allclose(pair[..., 5],
                             np.abs(x[0] - x[1]).mean() / 2, rtol=1e-4)
  with pytest.raises(ValueError, match="multiple"):
    pg.minibatch_stddev(jnp.asarray(x[:6]))


def test_equalized_conv_scale_and_init():
  conv = pg.EqualizedConv(6, (3, 3))
  x = jax.random.normal(jax.random.key(7), (2, 5, 7, 4))
  params = conv.init(jax.random.key(8), x)["params"]
  assert conv.scale(4) == pytest.approx(math.sqrt(2.0 / (3 * 3 * 4)))
  np.testing.assert_array_equal(params["bias"], 0.0)
  params = {"kernel": params["kernel"], "bias": jnp.arange(6.0)}
  want = jax.lax.conv_general_dilated(
      x, params["kernel"] * math.sqrt(2.0 / 36), (1, 1), "SAME",
      dimension_numbers=("NHWC", "HWIO", "NHWC")) + jnp.arange(6.0)
  np.testing.assert_allclose(conv.apply({"params": params}, x), want,
                             rtol=1e-5, atol=1e-5)
  one = pg.EqualizedConv(3, (1, 1))
  assert one.scale(5) == pytest.approx(math.sqrt(2.0 / 5))


def test_equalized_dense_scale_and_init():
  dense = pg.EqualizedDense(64)
  x = jax.random.normal(jax.random.key(9), (3, 64))
  params = dense.init(jax.random.key(10), x)["params"]
  assert dense.scale(64) == pytest.approx(math.sqrt(2.0 / 64))
  np.testing.assert_array_equal(params["bias"], 0.0)
  # Stored weights are N(0, 1): 4096 draws.
  assert abs(float(jnp.std(params["kernel"])) - 1.0) < 0.05
  assert abs(float(jnp.mean(params["kernel"]))) < 0.05
  want = x @ (params["kernel"] * math.sqrt(2.0 / 64))
  np.testing.assert_allclose(dense.apply({"params": params}, x), want,
                             rtol=1e-5, atol=1e-5)


def _hand_counts(start_shape):
  """Parameter counts of the paper-size networks from the tables."""
  c = (256, 256, 256, 256, 128, 64, 32)   # lowest resolution first
  z, n, out = 256, 61, 2
  sh, sw = start_shape

  def conv(k, cin, cout):
    return k * cin * cout + cout

  # Generator: dense (z + pitch) -> sh*sw*256, 3x3 256 -> 256, then two 3x3
  # convs per further resolution, and a 1x1 toRGB at every resolution.
  g = (z + n) * sh * sw * c[0] + sh * sw * c[0]   # 318 * 8192 = 2,605,056
  g += conv(9, c[0], c[0])                        # 590,080
  for b in range(1, 7):
    g += conv(9, c[b - 1], c[b]) + conv(9, c[b], c[b])
  g += sum(conv(1, cb, out) for cb in c)          # 4 * 514 + 258 + 130 + 66
  # Written out: 2,605,056 + 590,080 + 3 * 1,180,160 (256 -> 256 -> 256)
  # + 295,040 + 147,584 (128) + 73,792 + 36,928 (64) + 18,464 + 9,248 (32)
  # + 2,510 (toRGB) = 7,319,182.
  g_written = (2_605_056 + 590_080 + 3 * 1_180_160 + 295_040 + 147_584
               + 73_792 + 36_928 + 18_464 + 9_248 + 2_510)
  assert g == g_written

  # Discriminator: 1x1 fromRGB 2 -> C_b at every resolution; per resolution
  # b > 0: 3x3 C_b -> C_b, 3x3 C_b -> C_{b-1}; at the lowest: minibatch std
  # (257), 3x3 257 -> 256, sh x sw VALID 256 -> 256; heads 256 -> 1, 256 -> 61.
  d = sum(conv(1, out, cb) for cb in c)           # 3 * 1,248 = 3,744
  for b in range(1, 7):
    d += conv(9, c[b], c[b]) + conv(9, c[b], c[b - 1])
  d += conv(9, c[0] + 1, c[0]) + conv(sh * sw, c[0], c[0])
  d += conv(1, c[0], 1) + conv(1, c[0], n)
  # Written out: 3,744 (fromRGB) + 9,248 + 18,496 (32) + 36,928 + 73,856 (64)
  # + 147,584 + 295,168 (128) + 3 * 1,180,160 (256) + 592,384 (257 -> 256)
  # + 2,097,408 (start-shape conv) + 257 + 15,677 (heads) = 6,831,230.
  d_written = (3_744 + 9_248 + 18_496 + 36_928 + 73_856 + 147_584 + 295_168
               + 3 * 1_180_160 + 592_384 + 2_097_408 + 257 + 15_677)
  assert d == d_written
  return g, d


@pytest.mark.parametrize("start_shape", [(4, 8), (2, 16)])
def test_paper_size_parameter_counts(start_shape):
  g, d = pg.Generator(start_shape=start_shape), pg.Discriminator(
      start_shape=start_shape)
  h, w = pg.full_shape(start_shape, g.num_resolutions)
  z = jax.ShapeDtypeStruct((4, 256), jnp.float32)
  pitch = jax.ShapeDtypeStruct((4,), jnp.int32)
  x = jax.ShapeDtypeStruct((4, h, w, 2), jnp.float32)
  gs = jax.eval_shape(lambda k, z, y: g.init(k, z, y, 0.0), jax.random.key(0),
                      z, pitch)
  ds = jax.eval_shape(lambda k, x: d.init(k, x, 0.0), jax.random.key(0), x)
  counts = (_count(gs), _count(ds))
  assert counts == _hand_counts(start_shape) == (7_319_182, 6_831_230)
