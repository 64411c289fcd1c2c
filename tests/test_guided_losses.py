"""GAAE and GGAN losses against hand computations; stop-gradients; label flow."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from audiogan_jax import config as config_lib
from audiogan_jax.gans import gaae
from audiogan_jax.gans import ggan
from audiogan_jax.gans import losses
from tests_helpers import tiny_gaae_config
from tests_helpers import tiny_ggan_config

B = 2


def _tiny(config):
  config.model.num_classes = 3
  return config


def _batch(names, seed=0, k=None):
  rng = np.random.default_rng(seed)
  shape = (B,) if k is None else (k, B)
  out = {}
  for n in names:
    out[f"{n}_spectrogram"] = jnp.asarray(
        rng.uniform(-1, 1, (*shape, 256, 128, 1)), jnp.float32)
    out[f"{n}_label"] = jnp.asarray(rng.integers(0, 3, shape), jnp.int32)
  return out


def _norms(tree):
  return {n: float(jnp.sqrt(sum(jnp.sum(jnp.square(x))
                                for x in jax.tree.leaves(t))))
          for n, t in tree.items()}


def test_hinge_values():
  real = jnp.array([0.5, 2.0])
  fake = jnp.array([-2.0, 0.5])
  # mean(relu(1 - [0.5, 2])) + mean(relu(1 + [-2, 0.5])) = 0.25 + 0.75
  assert float(losses.hinge_d_loss(real, fake)) == pytest.approx(1.0)
  assert float(losses.hinge_g_loss(fake)) == pytest.approx(0.75)


def test_gaae_sample_hinge_averages_the_two_fake_kinds():
  real = jnp.array([0.0, 3.0, -1.0, 1.0])   # relu(1 - r): 1, 0, 2, 0 -> 0.75
  fake_u = jnp.array([0.0, -3.0])           # relu(1 + f): 1, 0 -> 0.5
  fake_g = jnp.array([1.0, 2.0])            # 2, 3 -> 2.5
  want = 0.75 + 0.5 * (0.5 + 2.5)
  assert float(gaae.sample_hinge_loss(real, fake_u, fake_g)) == \
      pytest.approx(want)


def test_gaae_edc_weighting_at_paper_values():
  w = gaae.loss_weights(config_lib.gaae_config())
  assert w == {"lambda_rec": 20.0, "w1": 0.6, "w2": 0.4, "w3": 0.25,
               "w4": 0.25, "w5": 0.5, "alpha": 0.5, "beta": 0.5,
               "cg_decoder": 0.0}   # 0: x^_g detached for Cg (the paper)
  terms = {"g": 1.0, "r": 0.5, "cl": 2.0, "cg": 3.0, "l": -1.0}
  # 0.5 (0.6 * 1 + 0.4 * 20 * 0.5) + 0.5 (0.25 * 2 + 0.25 * 3 + 0.5 * -1)
  assert float(gaae.edc_loss(terms, w)) == pytest.approx(2.3 + 0.375)


def test_ggan_mode_divergence_ratio():
  d_x1 = jnp.array([[1.0, 2.0], [1.0, 0.0]])
  d_x2 = jnp.array([[0.0, 0.0], [0.0, 0.0]])
  d_g1 = jnp.array([[0.5, 0.0], [4.0, 4.0]])
  d_g2 = jnp.array([[0.0, 0.0], [0.0, 0.0]])
  eps = 1e-4
  # pair 0: 3 / (0.5 + eps) > 1; pair 1: 1 / (8 + eps) < 1 -> 1
  want = 0.5 * (3.0 / (0.5 + eps) + 1.0)
  got = ggan.mode_divergence(d_x1, d_x2, d_g1, d_g2, eps)
  assert float(got) == pytest.approx(want, rel=1e-6)
  # collapsed generator: identical samples give the full ratio / eps
  same = ggan.mode_divergence(d_x1[:1], d_x2[:1], d_g2[:1], d_g2[:1], eps)
  assert float(same) == pytest.approx(3.0 / eps)


def test_ggan_total_losses():
  terms = {"ec": 1.0, "g1": 0.3, "g2": 0.6, "gc": 2.0, "mg": 1.5}
  assert float(ggan.gen_loss(terms)) == pytest.approx(0.8 + 1.0 + 2.0)


@pytest.fixture(scope="module")
def gaae_setup():
  config = _tiny(tiny_gaae_config())
  state = jax.jit(lambda k: gaae.init_state(config, k))(jax.random.key(0))
  return config, state


def test_gaae_cg_does_not_reach_the_decoder(gaae_setup):
  config, state = gaae_setup
  batch = _batch(("u", "l"))
  key = jax.random.key(3)

  def term(params, name):
    terms, _ = gaae.edc_terms(params, state.stats, batch, key, config)
    return terms[name]

  grads = {t: jax.jit(jax.grad(lambda p, t=t: term(p, t)))(state.params)
           for t in ("cg", "g", "cl")}
  cg = _norms(grads["cg"])
  assert cg["dec"] == 0.0          # x^_g is a constant for Cg
  assert cg["enc"] > 0 and cg["cls"] > 0
  assert _norms(grads["g"])["dec"] > 0   # the decoder does learn from G
  assert cg["s"] == 0.0 and cg["lat"] == 0.0


def test_gaae_cg_decoder_lets_cg_reach_the_decoder(gaae_setup):
  """loss.cg_decoder > 0: Cg's gradient flows back through x^_g = Dec(z'_u,
  y_r) (into Dec, and through z'_u into E) in proportion to the weight; C's
  gradient is the paper's detached Cg's (with y^_u as C's class: as
  probabilities, the decoder's batch statistics couple x^_g to y^_u)."""
  config, state = gaae_setup
  config = config.copy_and_resolve_references()
  config.model.predicted_label = "argmax"
  batch = _batch(("u", "l"))
  key = jax.random.key(3)
  grads = {}
  for weight in (0.0, 0.5, 1.0):
    c = config.copy_and_resolve_references()
    c.loss.cg_decoder = weight
    w = gaae.loss_weights(c)
    grads[weight] = jax.jit(jax.grad(lambda p, c=c, w=w: gaae.edc_loss(
        gaae.edc_terms(p, state.stats, batch, key, c)[0], w)))(state.params)
  for weight in (0.5, 1.0):
    np.testing.assert_allclose(_norms(grads[weight])["cls"],
                               _norms(grads[0.0])["cls"], rtol=1e-5)
  for net in ("dec", "enc"):
    extra = {w: _norms({"d": jax.tree.map(lambda a, b: a - b, grads[w][net],
                                          grads[0.0][net])})["d"]
             for w in (0.5, 1.0)}
    assert extra[1.0] > 0, net
    np.testing.assert_allclose(extra[1.0], 2 * extra[0.5], rtol=1e-3)
  c = config.copy_and_resolve_references()
  c.loss.update(cg_decoder=1.0, w4=0.0)
  with pytest.raises(ValueError, match="loss.cg_decoder"):
    gaae.cg_decoder_scale(gaae.loss_weights(c))


@pytest.mark.parametrize("mode", ["probabilities", "argmax"])
def test_gaae_predicted_label_carries_gradient_only_as_probabilities(
    gaae_setup, mode):
  """R and G reach C through y^_u = softmax(C(z_u)); argmax cuts that path.

  The decoder's cBN class embeddings are set to random values first: a
  decoder that is class-conditional whatever its init.
  """
  config, state = gaae_setup
  config = config.copy_and_resolve_references()
  config.model.predicted_label = mode
  batch = _batch(("u", "l"))
  key = jax.random.key(3)
  rng = np.random.default_rng(0)
  dec = jax.tree_util.tree_map_with_path(
      lambda path, x: (jnp.asarray(rng.normal(0, 0.5, x.shape), x.dtype)
                       if any(getattr(k, "key", None) in ("gain", "bias")
                              for k in path) else x),
      state.params["dec"])
  params = {**state.params, "dec": dec}
  grads = {t: _norms(jax.jit(jax.grad(lambda p, t=t: gaae.edc_terms(
      p, state.stats, batch, key, config)[0][t]))(params))
           for t in ("r", "g")}
  for t in ("r", "g"):
    assert grads[t]["dec"] > 0
    if mode == "probabilities":
      assert grads[t]["cls"] > 0, t
    else:
      assert grads[t]["cls"] == 0.0, t


def test_gaae_rejects_an_unknown_predicted_label_mode(gaae_setup):
  config, _ = gaae_setup
  config = config.copy_and_resolve_references()
  config.model.predicted_label = "soft"
  with pytest.raises(ValueError, match="model.predicted_label"):
    gaae.predicted_label(config)


def test_class_embedding_takes_labels_or_probabilities():
  from audiogan_jax.models import layers  # pylint: disable=g-import-not-at-top
  emb = layers.ClassEmbed(3, 4)
  y = jnp.array([0, 2, 1])
  v = emb.init(jax.random.key(0), y)
  table = v["params"]["embedding"]
  np.testing.assert_allclose(emb.apply(v, jax.nn.one_hot(y, 3)),
                             emb.apply(v, y), rtol=1e-6)
  p = jnp.array([[0.5, 0.25, 0.25]])
  np.testing.assert_allclose(emb.apply(v, p)[0],
                             0.5 * table[0] + 0.25 * (table[1] + table[2]),
                             rtol=1e-5)
  with pytest.raises(ValueError, match="3 classes"):
    emb.apply(v, jnp.ones((1, 2)))


def test_gaae_labelled_loss_sees_only_the_labelled_batch(gaae_setup):
  config, state = gaae_setup
  key = jax.random.key(4)
  batch = _batch(("u", "l"))

  def cl(u, l, y):
    b = {**batch, "u_spectrogram": u, "l_spectrogram": l, "l_label": y}
    return gaae.edc_terms(state.params, state.stats, b, key, config)[0]["cl"]

  g_u, g_l = jax.jit(jax.grad(cl, argnums=(0, 1)))(
      batch["u_spectrogram"], batch["l_spectrogram"], batch["l_label"])
  assert float(jnp.max(jnp.abs(g_u))) == 0.0
  assert float(jnp.max(jnp.abs(g_l))) > 0.0
  # the unlabelled batch's labels are never read
  other = dict(batch, u_label=jnp.full((B,), 99, jnp.int32))
  t1 = gaae.edc_terms(state.params, state.stats, batch, key, config)[0]
  t2 = gaae.edc_terms(state.params, state.stats, other, key, config)[0]
  assert all(float(t1[n]) == float(t2[n]) for n in t1)


def test_gaae_discriminator_step_trains_only_s_and_l(gaae_setup):
  config, state = gaae_setup
  batch = _batch(("u", "l"))
  grads = jax.jit(jax.grad(lambda p: gaae.disc_losses(
      p, state.stats, batch, jax.random.key(5), config)[0]))(state.params)
  n = _norms(grads)
  assert n["s"] > 0 and n["lat"] > 0
  assert n["enc"] == n["dec"] == n["cls"] == 0.0


def test_gaae_iteration_uses_a_fresh_batch_per_update(gaae_setup):
  config, state = gaae_setup
  k = gaae.steps_per_iteration(config)
  assert k == int(config.train.d_steps) + 1
  batch = _batch(("u", "l"), k=k)
  new, metrics = jax.jit(lambda s, b: gaae.train_iteration(
      s, b, jax.random.key(1), config=config))(state, batch)
  assert int(new.step) == 1
  assert all(np.isfinite(float(v)) for v in metrics.values())
  for name in ("enc", "cls", "dec", "s", "lat"):
    before = jax.tree.leaves(state.params[name])
    after = jax.tree.leaves(new.params[name])
    assert any(not np.array_equal(a, b) for a, b in zip(before, after)), name


@pytest.fixture(scope="module")
def ggan_setup():
  config = _tiny(tiny_ggan_config())
  state = jax.jit(lambda k: ggan.init_state(config, k))(jax.random.key(0))
  return config, state


def test_ggan_update_groups_own_their_gradients(ggan_setup):
  config, state = ggan_setup
  batch = _batch(("x1", "x2", "l"))
  key = jax.random.key(2)
  disc = _norms(jax.jit(jax.grad(lambda p: ggan.disc_losses(
      p, state.stats, batch, key, config)[0]))(state.params))
  assert all(disc[n] > 0 for n in ("d", "dh", "d2", "df"))
  # fakes are constants here (F and Cx see gradients through D1's Cl term,
  # but belong to another update group and are not changed by this update)
  assert all(disc[n] == 0.0 for n in ("e", "ce", "g"))

  gen = _norms(jax.jit(jax.grad(lambda p: ggan.gen_loss(ggan.gen_terms(
      p, state.stats, batch, key, config)[0])))(state.params))
  assert all(gen[n] > 0 for n in ("e", "ce", "g"))

  feat = jax.jit(jax.grad(lambda p: sum(ggan.feat_terms(
      p, state.stats, batch, key, config)[0].values())))(state.params)
  feat = _norms(feat)
  assert feat["f"] > 0 and feat["cx"] > 0
  # generated samples and trunk features are constants for F and Cx
  assert feat["g"] == feat["e"] == feat["d"] == 0.0


def test_ggan_trunk_learns_from_labelled_classification(ggan_setup):
  config, state = ggan_setup
  batch = _batch(("x1", "x2", "l"))
  key = jax.random.key(6)

  def cl_only(p):
    return ggan.disc_losses(p, state.stats, batch, key, config)[1][1]["d1_cl"]

  g = _norms(jax.jit(jax.grad(cl_only))(state.params))
  assert g["d"] > 0 and g["dh"] == 0.0 and g["df"] == 0.0
