"""GGAN: the Guided Generative Adversarial Neural Network (Haque et al.).

Eight networks: encoder ``e`` (E: [z, one-hot c] -> z_e), classifiers ``ce``
(Ce on z_e) and ``cx`` (Cx on F's output), generator ``g`` (the unsupervised
BigGAN generator fed z_e), the first discriminator D1 = feature trunk ``d``
(the BigGAN discriminator to its global sum pool) + head ``dh`` (D'), the
second discriminator ``d2`` (the unsupervised BigGAN discriminator), the
feature extractor ``f`` (F: trunk features -> 128) and the pair
discriminator ``df`` (Df on [trunk features, 128-d code]).

Losses (GGAN section III-C), with x^ = G(E(z, c)):

    E, Ce, G   minimise (G1 + G2 + MG) / 3 + EC + GC
               EC = CE(Ce(z_e), c), G1 = -D'(D(x^)), G2 = -D2(x^),
               GC = CE(Cx(F(D(x^))), c),
               MG = max(1, sum|D(x1) - D(x2)| / (sum|D(x^1) - D(x^2)| + eps))
    F, Cx      minimise Cl + Cg + FG
               Cl = CE(Cx(F(D(x_l))), y_l), Cg = CE(Cx(F(D(x^))), c),
               FG = -Df(F(D(x)), D(x))
    D1         minimises its hinge loss + Cl (the trunk learns to classify)
    D2         hinge
    Df         hinge with (z_e, D(x^)) real and (F(D(x)), D(x)) fake

Algorithm 1: ``train.d_steps`` (k = 2) updates of D1, D2 and Df, then one of
E/Ce/G, then one of F/Cx, each on a fresh batch: real x1 and x2 (B each, the
2m data points), labelled (x_l, y_l) (B), z for 2B with c (B) repeated so
x^1 and x^2 share their class.

Readings of the paper, written down here:

* D1, D2 and Df are updated from the same parameters in one step (their
  parameters are disjoint; Df sees the trunk's features before D1's update
  of that step, where the paper's listing updates them in turn).
* MG is computed per pair (x1_i, x2_i, x^1_i, x^2_i) with the sums over the
  trunk's features, then averaged over the batch, as Algorithm 1 averages
  every loss over i. The real features are constants.
* Every network reading trunk features (D', F, Df) receives them with the
  gradient stopped, except D1's own loss (hinge + Cl), which trains the trunk.
"""

from __future__ import annotations

from typing import Any, Mapping

import jax
import jax.numpy as jnp
import ml_collections
import optax

from audiogan_jax.gans import common
from audiogan_jax.models import biggan as nets
from audiogan_jax.models import guided
from audiogan_jax.gans import losses
from audiogan_jax.gans import state as state_lib

GANState = state_lib.GANState
Config = ml_collections.ConfigDict

GENERATOR = ("e", "g")
ENCODER = ("cx", "d", "f")
# Config keys the compiled iteration reads beyond gans/family.py's common
# ones (the compiled-step cache key).
STEP_CONFIG_KEYS = ("train.d_steps",)
GROUPS = {"disc": ("d", "d2", "df", "dh"), "gen": ("ce", "e", "g"),
          "feat": ("cx", "f")}

_C, _Z = 1, 2

compute_dtype = common.compute_dtype


def num_classes(config: Config) -> int:
  """The guided classes (always conditional)."""
  return common.guided_num_classes(config, "GGAN")


def networks(config: Config) -> dict[str, Any]:
  """The eight Flax modules by name."""
  n, ch, dt = num_classes(config), int(config.model.ch), compute_dtype(config)
  zd, dch = int(config.model.z_dim), common.d_width(config)
  att = bool(config.model.get("attention", True))
  return {
      "e": guided.ConditionalEncoder(num_classes=n, z_dim=zd, dtype=dt),
      "ce": guided.MLP((128, 128, n), dtype=dt),
      "g": nets.Generator(ch=ch, num_classes=0, attention=att,
                          min_channels=common.g_min_channels(config),
                          dtype=dt),
      "d": nets.DiscriminatorTrunk(ch=dch, attention=att, dtype=dt),
      "dh": guided.MLP((128, 128, 1), spectral_norm=True, dtype=dt),
      "d2": nets.Discriminator(ch=dch, num_classes=0, attention=att, dtype=dt),
      "f": guided.MLP((256, 256, zd), dtype=dt),
      "cx": guided.MLP((128, 128, n), dtype=dt),
      "df": guided.PairDiscriminator(dtype=dt),
  }


def optimizers(config: Config) -> dict[str, optax.GradientTransformation]:
  """Adam at ``optim.d_lr`` for D1/D2/Df, ``optim.g_lr`` for the rest."""
  g_lr, d_lr = float(config.optim.g_lr), float(config.optim.d_lr)
  return {"disc": common.adam(config, d_lr), "gen": common.adam(config, g_lr),
          "feat": common.adam(config, g_lr)}


def streams(config: Config) -> dict[str, str]:
  """Two real batches (x1, x2) from all clips, one labelled batch."""
  del config
  return {"x1": "all", "x2": "all", "l": "labelled"}


def steps_per_iteration(config: Config) -> int:
  """Fresh batches per iteration: k for the discriminators, E/Ce/G, F/Cx."""
  return int(config.train.d_steps) + 2


def network_inputs(config: Config, name: str, batch: int = 2):
  """Example inputs of one network, for initialisation and reports."""
  zd, feat = int(config.model.z_dim), 16 * common.d_width(config)
  z = jnp.zeros((batch, zd), jnp.float32)
  c = jnp.zeros((batch,), jnp.int32)
  x = jnp.zeros((batch, *nets.SPEC_SHAPE, 1), jnp.float32)
  h = jnp.zeros((batch, feat), jnp.float32)
  return {"e": (z, c), "ce": (z,), "g": (z,), "d": (x,), "dh": (h,),
          "d2": (x,), "f": (h,), "cx": (z,), "df": (h, z)}[name]


def init_state(config: Config, key: jax.Array) -> GANState:
  """Fresh parameters, optimizer states and EMA copies of E and G."""
  params, stats = common.init_networks(
      networks(config), lambda n: network_inputs(config, n), key)
  txs = optimizers(config)
  opt = {g: txs[g].init({n: params[n] for n in names})
         for g, names in GROUPS.items()}
  return GANState(step=jnp.zeros((), jnp.int32), params=params, stats=stats,
                  opt_state=opt,
                  ema_params={n: params[n] for n in GENERATOR},
                  ema_stats={n: stats[n] for n in GENERATOR})


def sample_latents(config: Config, key: jax.Array, batch: int):
  """z ~ N(0, I) and uniform conditions c."""
  z = jax.random.normal(jax.random.fold_in(key, _Z),
                        (batch, int(config.model.z_dim)), jnp.float32)
  c = jax.random.randint(jax.random.fold_in(key, _C), (batch,), 0,
                         num_classes(config))
  return z, c


def generate(config: Config, params, stats, z: jax.Array,
             y: jax.Array) -> jax.Array:
  """Spectrograms G(E(z, c)) (inference mode); params/stats hold e and g."""
  mods = networks(config)
  z_e = mods["e"].apply({"params": params["e"]}, z, y, train=False)
  return mods["g"].apply({"params": params["g"], "batch_stats": stats["g"]},
                         z_e, train=False)


def encode(config: Config, params: Mapping[str, Any],
           stats: Mapping[str, Any], x: jax.Array) -> dict[str, jax.Array]:
  """The representation F(D(x)) and Cx's logits of spectrograms x."""
  mods = networks(config)
  h = mods["d"].apply({"params": params["d"], "batch_stats": stats["d"]}, x,
                      train=False)
  rep = mods["f"].apply({"params": params["f"]}, h)
  return {"representation": rep,
          "logits": mods["cx"].apply({"params": params["cx"]}, rep)}


_apply = common.apply_network


def _latents(config: Config, key: jax.Array, b: int):
  """z for 2B samples and c for B, repeated so x^1_i and x^2_i share c_i."""
  z, _ = sample_latents(config, key, 2 * b)
  _, c = sample_latents(config, key, b)
  return z, jnp.concatenate([c, c])


def mode_divergence(d_x1: jax.Array, d_x2: jax.Array, d_g1: jax.Array,
                    d_g2: jax.Array, eps: float) -> jax.Array:
  """MG = mean_i max(1, sum|d_x1 - d_x2| / (sum|d_g1 - d_g2| + eps))."""
  real = jnp.sum(jnp.abs(d_x1 - d_x2), axis=-1)
  fake = jnp.sum(jnp.abs(d_g1 - d_g2), axis=-1)
  return jnp.mean(jnp.maximum(1.0, real / (fake + eps)))


def _fake(mods, params, stats, z, c, train: bool):
  """x^ = G(E(z, c)) with G's new batch stats; also z_e."""
  z_e = mods["e"].apply({"params": params["e"]}, z, c)
  x_hat, g_stats = _apply(mods, "g", params, stats, z_e, train=train)
  return x_hat, z_e, g_stats


def disc_losses(params, stats, batch: Mapping[str, jax.Array], key: jax.Array,
                config: Config):
  """D1 (hinge + Cl), D2 and Df hinge losses; (loss, (stats, metrics))."""
  mods = networks(config)
  sg = jax.lax.stop_gradient
  b = batch["x1_spectrogram"].shape[0]
  x = jnp.concatenate([batch["x1_spectrogram"], batch["x2_spectrogram"]])
  x_l, y_l = batch["l_spectrogram"], batch["l_label"]
  z, c = _latents(config, key, b)
  x_hat, z_e, g_stats = _fake(mods, params, stats, z, c, train=True)
  x_hat, z_e = sg(x_hat).astype(x.dtype), sg(z_e)

  feats, d_stats = _apply(mods, "d", params, stats,
                          jnp.concatenate([x, x_hat, x_l]), train=True)
  h_real, h_fake, h_l = feats[:2 * b], feats[2 * b:4 * b], feats[4 * b:]
  head, dh_stats = _apply(mods, "dh", params, stats,
                          jnp.concatenate([h_real, h_fake]), train=True)
  d1_hinge = losses.hinge_d_loss(head[:2 * b, 0], head[2 * b:, 0])
  logits_l = mods["cx"].apply({"params": params["cx"]},
                              mods["f"].apply({"params": params["f"]}, h_l))
  cl = common.cross_entropy(logits_l, y_l)

  out2, d2_stats = _apply(mods, "d2", params, stats,
                          jnp.concatenate([x, x_hat]), train=True)
  d2_loss = losses.hinge_d_loss(out2[:2 * b], out2[2 * b:])

  h_real_c, h_fake_c = sg(h_real), sg(h_fake)
  f_real = mods["f"].apply({"params": params["f"]}, h_real_c)
  pair, df_stats = _apply(
      mods, "df", params, stats, jnp.concatenate([h_fake_c, h_real_c]),
      jnp.concatenate([z_e, f_real]), train=True)
  df_loss = losses.hinge_d_loss(pair[:2 * b], pair[2 * b:])

  new_stats = {"g": g_stats, "d": d_stats, "dh": dh_stats, "d2": d2_stats,
               "df": df_stats}
  metrics = {"d1_loss": d1_hinge + cl, "d1_hinge": d1_hinge, "d1_cl": cl,
             "d2_loss": d2_loss, "df_loss": df_loss,
             "d1_real": jnp.mean(head[:2 * b]),
             "d1_fake": jnp.mean(head[2 * b:])}
  return d1_hinge + cl + d2_loss + df_loss, (new_stats, metrics)


def gen_terms(params, stats, batch: Mapping[str, jax.Array], key: jax.Array,
              config: Config):
  """EC, G1, G2, GC and MG of E/Ce/G; returns (terms, (stats, metrics))."""
  mods = networks(config)
  sg = jax.lax.stop_gradient
  x1, x2 = batch["x1_spectrogram"], batch["x2_spectrogram"]
  b = x1.shape[0]
  z, c = _latents(config, key, b)
  x_hat, z_e, g_stats = _fake(mods, params, stats, z, c, train=True)
  ec = common.cross_entropy(
      mods["ce"].apply({"params": params["ce"]}, z_e), c)
  h, _ = _apply(mods, "d", params, stats,
                jnp.concatenate([x_hat.astype(x1.dtype), x1, x2]),
                train=False)
  h_fake, h_x1, h_x2 = h[:2 * b], sg(h[2 * b:3 * b]), sg(h[3 * b:])
  g1 = -jnp.mean(_apply(mods, "dh", params, stats, h_fake, train=False)[0])
  g2 = -jnp.mean(_apply(mods, "d2", params, stats, x_hat.astype(x1.dtype),
                        train=False)[0])
  logits = mods["cx"].apply({"params": params["cx"]},
                            mods["f"].apply({"params": params["f"]}, h_fake))
  gc = common.cross_entropy(logits, c)
  mg = mode_divergence(h_x1, h_x2, h_fake[:b], h_fake[b:],
                       float(config.loss.mode_divergence_eps))
  terms = {"ec": ec, "g1": g1, "g2": g2, "gc": gc, "mg": mg}
  metrics = {"acc_generated": common.accuracy(logits, c)}
  return terms, ({"g": g_stats}, metrics)


def gen_loss(terms: Mapping[str, jax.Array]) -> jax.Array:
  """ECG = (G1 + G2 + MG) / 3 + EC + GC."""
  return (terms["g1"] + terms["g2"] + terms["mg"]) / 3.0 + terms["ec"] \
      + terms["gc"]


def feat_terms(params, stats, batch: Mapping[str, jax.Array], key: jax.Array,
               config: Config):
  """Cl, Cg and FG of F/Cx; returns (terms, (stats, metrics))."""
  mods = networks(config)
  sg = jax.lax.stop_gradient
  x, x_l, y_l = (batch["x1_spectrogram"], batch["l_spectrogram"],
                 batch["l_label"])
  b = x.shape[0]
  z, c = sample_latents(config, key, b)
  x_hat, _, g_stats = _fake(mods, params, stats, z, c, train=True)
  h, _ = _apply(mods, "d", params, stats,
                jnp.concatenate([x_l, sg(x_hat).astype(x.dtype), x]),
                train=False)
  h = sg(h)
  rep = mods["f"].apply({"params": params["f"]}, h)
  logits = mods["cx"].apply({"params": params["cx"]}, rep[:2 * b])
  cl = common.cross_entropy(logits[:b], y_l)
  cg = common.cross_entropy(logits[b:], c)
  pair, _ = _apply(mods, "df", params, stats, h[2 * b:], rep[2 * b:],
                   train=False)
  fg = -jnp.mean(pair)
  terms = {"cl": cl, "cg": cg, "fg": fg}
  metrics = {"acc_labelled": common.accuracy(logits[:b], y_l)}
  return terms, ({"g": g_stats}, metrics)


def train_iteration(state: GANState, batch: Mapping[str, jax.Array],
                    key: jax.Array, *, config: Config) -> tuple[GANState, dict]:
  """Algorithm 1: k updates of D1/D2/Df, then E/Ce/G, then F/Cx.

  ``batch`` holds ``x1_spectrogram``, ``x2_spectrogram``, ``l_spectrogram``
  and ``l_label``, each [k+2, B, ...]: a fresh batch per update.
  """
  txs = optimizers(config)
  k = int(config.train.d_steps)
  names = ("x1_spectrogram", "x2_spectrogram", "l_spectrogram", "l_label")
  steps = {n: batch[n] for n in names}
  at = lambda j: jax.tree.map(lambda a: a[j], steps)

  def update(state, group, loss_fn, kj, b):
    owned = GROUPS[group]

    def fn(p):
      return loss_fn({**state.params, **p}, state.stats, b, kj, config)

    (loss, (new_stats, m)), grads = jax.value_and_grad(fn, has_aux=True)(
        {n: state.params[n] for n in owned})
    state = state_lib.apply_updates(state, group, owned, grads, txs[group])
    state = state.replace(stats={**state.stats, **new_stats})
    return state, loss, m, state_lib.global_norm(grads)

  def disc_update(state, inputs):
    j, b = inputs
    state, _, m, norm = update(state, "disc", disc_losses,
                               jax.random.fold_in(key, j), b)
    m["disc_grad_norm"] = norm
    return state, m

  state, d_metrics = common.scan_updates(
      disc_update, state,
      (jnp.arange(k), jax.tree.map(lambda a: a[:k], steps)), config)
  metrics = jax.tree.map(lambda m: m[-1], d_metrics)

  def gen_fn(p, s, b, kj, cfg):
    terms, aux = gen_terms(p, s, b, kj, cfg)
    return gen_loss(terms), (aux[0], {**aux[1], **{
        f"{t}_loss": v for t, v in terms.items()}})

  state, loss, m, norm = update(state, "gen", gen_fn,
                                jax.random.fold_in(key, k), at(k))
  metrics.update(m, gen_loss=loss, gen_grad_norm=norm)

  def feat_fn(p, s, b, kj, cfg):
    terms, aux = feat_terms(p, s, b, kj, cfg)
    return sum(terms.values()), (aux[0], {**aux[1], **{
        f"{t}_loss": v for t, v in terms.items()}})

  state, loss, m, norm = update(state, "feat", feat_fn,
                                jax.random.fold_in(key, k + 1), at(k + 1))
  metrics.update(m, feat_loss=loss, feat_grad_norm=norm)
  state = state.replace(step=state.step + 1)
  state = state_lib.update_ema(state, float(config.train.ema_decay),
                               int(config.train.ema_start))
  return state, metrics
