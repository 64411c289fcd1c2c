"""BigGAN networks: shapes, paper-size parameter counts, the blocks' maths."""

import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from audiogan_jax.cli import info
from audiogan_jax.models import biggan as nets
from audiogan_jax.models import layers
from audiogan_jax.gans import losses
from audiogan_jax import config as config_lib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# Paper-size (ch = 16) parameter counts, 10 classes for the supervised model.
PAPER_COUNTS = {
    "biggan_sup": {"g": 6_676_002, "d": 2_410_722},
    "biggan_unsup": {"g": 6_625_026, "d": 2_408_162},
}


@pytest.mark.parametrize("name", ["biggan_sup", "biggan_unsup"])
def test_paper_size_parameter_counts_and_shapes(name):
  cfg = config_lib.load_config_file(os.path.join(ROOT, "configs", name + ".py"))
  rep = info.network_report(cfg)
  assert {k: v["params"] for k, v in rep.items()} == PAPER_COUNTS[name]
  assert rep["g"]["output"] == [2, 256, 128, 1]
  assert rep["d"]["output"] == [2]


def test_generator_and_discriminator_forward_with_attention():
  g = nets.Generator(ch=1, num_classes=3)
  d = nets.Discriminator(ch=1, num_classes=3)
  z = jax.random.normal(jax.random.key(0), (2, 128))
  y = jnp.array([0, 2])
  vg = g.init(jax.random.key(1), z, y, train=False)
  x, _ = g.apply(vg, z, y, train=True, mutable=["batch_stats"])
  assert x.shape == (2, 256, 128, 1)
  assert float(jnp.max(jnp.abs(x))) <= 1.0
  vd = d.init(jax.random.key(2), x, y, train=False)
  out = d.apply(vd, x, y, train=False)
  assert out.shape == (2,) and np.all(np.isfinite(out))
  # The non-local blocks exist at 128x64 in both networks.
  assert "attention" in vg["params"]
  assert "attention" in vd["params"]["trunk"]


def test_nonlocal_starts_as_identity_and_mixes_positions():
  block = layers.NonLocal()
  x = jax.random.normal(jax.random.key(0), (2, 8, 4, 16))
  v = block.init(jax.random.key(1), x, train=False)
  np.testing.assert_allclose(block.apply(v, x, train=False), x, atol=1e-6)
  params = jax.tree.map(lambda a: a, v["params"])
  params["gamma"] = jnp.asarray(1.0)
  y = block.apply({**v, "params": params}, x, train=False)
  # Changing one position changes the output elsewhere (global attention).
  x2 = x.at[:, 0, 0, :].add(5.0)
  y2 = block.apply({**v, "params": params}, x2, train=False)
  assert float(jnp.abs(y2[:, 7, 3] - y[:, 7, 3]).max()) > 1e-4


def test_projection_discriminator_uses_the_label():
  d = nets.Discriminator(ch=1, num_classes=4, attention=False)
  x = jax.random.normal(jax.random.key(0), (2, 256, 128, 1))
  v = d.init(jax.random.key(1), x, jnp.array([0, 0]), train=False)
  a = d.apply(v, x, jnp.array([0, 0]), train=False)
  b = d.apply(v, x, jnp.array([3, 3]), train=False)
  assert float(jnp.abs(a - b).max()) > 1e-5


def test_conditional_batchnorm_gain_and_bias_per_class():
  bn = layers.ConditionalBatchNorm(num_classes=2)
  x = jax.random.normal(jax.random.key(0), (4, 2, 2, 3))
  y = jnp.array([0, 1, 0, 1])
  v = bn.init(jax.random.key(1), x, y, train=False)
  p = jax.tree.map(lambda a: a, v["params"])
  p["gain"]["embedding"] = jnp.array([[0.0] * 3, [1.0] * 3])  # class 1: x2
  p["bias"]["embedding"] = jnp.array([[0.0] * 3, [0.5] * 3])
  out, _ = bn.apply({**v, "params": p}, x, y, train=True,
                    mutable=["batch_stats"])
  mean = x.mean(axis=(0, 1, 2))
  std = jnp.sqrt(x.var(axis=(0, 1, 2)) + 1e-5)
  norm = (x - mean) / std
  np.testing.assert_allclose(out[0], norm[0], atol=1e-4)
  np.testing.assert_allclose(out[1], 2 * norm[1] + 0.5, atol=1e-4)


@pytest.mark.parametrize("family", ["gaae", "biggan_sup"])
def test_conditional_generator_depends_on_its_label_at_init(family):
  """BigGAN's orthogonal cBN embeddings make G class-dependent from step 0;
  the zero init ("zeros") leaves it class-blind until they grow."""
  from audiogan_jax import gans  # pylint: disable=g-import-not-at-top
  spread = {}
  for init in ("orthogonal", "zeros"):
    c = (config_lib.gaae_config() if family == "gaae"
         else config_lib.biggan_config(conditional=True))
    c.model.update(ch=1, attention=False, num_classes=10, cbn_init=init)
    fam = gans.get_family(str(c.model.family))
    st = fam.init_state(c, jax.random.key(0))
    p, b = ((st.params["dec"], st.stats["dec"]) if family == "gaae"
            else (st.params["g"], st.stats["g"]))
    z = jax.random.normal(jax.random.key(1), (6, 128))
    out = np.stack([np.asarray(fam.generate(c, p, b, z, jnp.full((6,), k)))
                    for k in range(10)])           # [label, z, ...]
    spread[init] = (float(out.std(0).mean()), float(out.std(1).mean()))
  by_label, by_z = spread["orthogonal"]
  assert by_label > 0.2 * by_z, spread   # measured 0.19 against 0.34
  assert spread["zeros"][0] < 1e-5, spread
  with pytest.raises(ValueError, match="model.cbn_init"):
    layers.cbn_initializer("normal")


def test_g_min_channels_widens_only_the_narrow_blocks():
  """model.g_min_channels floors every block's width (demo widths); 0 keeps
  the papers' ch x (16, 16, 16, 16, 16, 1)."""
  from audiogan_jax import gans  # pylint: disable=g-import-not-at-top
  c = config_lib.gaae_config()
  c.model.update(ch=1, attention=False, num_classes=10, g_min_channels=8)
  fam = gans.get_family("gaae")
  params = jax.eval_shape(lambda k: fam.init_state(c, k),
                          jax.random.key(0)).params["dec"]
  widths = [params[f"block{i}"]["conv2"]["conv"]["kernel"].shape[-1]
            for i in range(6)]
  assert widths == [16, 16, 16, 16, 16, 8], widths
  assert params["conv_out"]["conv"]["kernel"].shape[-2] == 8
  c.model.g_min_channels = -1
  with pytest.raises(ValueError, match="model.g_min_channels"):
    fam.networks(c)


def test_spectral_norm_converges_to_largest_singular_value():
  layer = layers.SNDense(5)
  x = jnp.ones((1, 7))
  v = layer.init(jax.random.key(0), x, train=False)
  stats = v["batch_stats"]
  for _ in range(50):
    _, upd = layer.apply({"params": v["params"], "batch_stats": stats}, x,
                         train=True, mutable=["batch_stats"])
    stats = upd["batch_stats"]
  kernel = v["params"]["dense"]["kernel"]
  sigma = [a for a in jax.tree.leaves(stats) if a.ndim == 0][0]
  np.testing.assert_allclose(float(sigma),
                             np.linalg.svd(np.asarray(kernel))[1][0],
                             rtol=1e-3)
  y = layer.apply({"params": v["params"], "batch_stats": stats}, x,
                  train=False)
  w_sn = kernel / np.linalg.svd(np.asarray(kernel))[1][0]
  np.testing.assert_allclose(y, x @ w_sn + v["params"]["dense"]["bias"],
                             rtol=1e-3, atol=1e-5)


def test_hinge_losses_by_hand():
  d_real = jnp.array([2.0, 0.5, -1.0])
  d_fake = jnp.array([-2.0, 0.0, 0.5])
  # relu(1-x): 0, 0.5, 2 -> 2.5/3 ; relu(1+x): 0, 1, 1.5 -> 2.5/3
  np.testing.assert_allclose(losses.hinge_d_loss(d_real, d_fake), 5.0 / 3,
                             rtol=1e-6)
  np.testing.assert_allclose(losses.hinge_g_loss(d_fake), 0.5, rtol=1e-6)


def test_simple_classifier_shapes():
  clf = nets.SimpleClassifier(num_classes=10)
  x = jnp.zeros((2, 256, 128, 1))
  v = clf.init(jax.random.key(0), x)
  logits, feats = clf.apply(v, x, return_features=True)
  assert logits.shape == (2, 10) and feats.shape == (2, 16 * 8 * 256)
