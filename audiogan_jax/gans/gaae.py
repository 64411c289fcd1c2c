"""GAAE: the Guided Adversarial Autoencoder (Haque, Rana, Schuller).

Five networks: encoder ``enc`` (E: x -> guided z, style z'), classifier ``cls``
(C: z -> class logits), decoder ``dec`` (the BigGAN generator with cBN, fed
z'), latent discriminator ``lat`` (L) and sample discriminator ``s`` (S, the
projection discriminator). Per batch, with unlabelled x_u, labelled (x_l, y_l),
random labels y_r ~ Cat(1/n) and z ~ N(0, I):

    (z_u, z'_u) = E(x_u),  y^_u = C(z_u),  x^_u = Dec(z'_u, y^_u),
    x^_g = Dec(z'_u, y_r)
    G = -1/2 (S(x^_u, y^_u) + S(x^_g, y_r))     L_loss = -L(z'_u)
    R = mean (x^_u - x_u)^2                     Cl = CE(C(E(x_l).z), y_l)
    Cg = CE(C(E(stop_gradient(x^_g)).z), y_r)
    EDC = alpha (w1 G + w2 lambda R) + beta (w3 Cl + w4 Cg + w5 L_loss)

S: hinge with real pairs (x_u, C(E(x_u))) and (x_l, y_l) and the fake loss
averaged over (x^_u, y^_u) and (x^_g, y_r); L: hinge with real z ~ N(0, I) and
fake z'_u. Algorithm 1: ``train.d_steps`` (k = 2) updates of S and L, then one
update of E, Dec and C, each on a fresh batch.

Readings of the paper, written down here:

* y^_u = C(z_u) is C's output, the softmax probabilities of equation (4)'s
  y^; it enters Dec (cBN gains as the probability-weighted class embeddings)
  and S (the projection) as that vector, so the reconstruction and
  generation losses reach C and E's guided head through it. This is
  ``model.predicted_label = "probabilities"`` (the default);
  ``"argmax"`` passes C's predicted class instead and C then learns from Cl
  and Cg only. Labels y_l and y_r are one-hot vectors (the same embedding
  rows as the integer labels).
* Beyond the paper, each behind a config value (configs/demo.py uses them
  for a short CPU run; configs/gaae.py keeps the paper's values):
  ``loss.cg_decoder`` (0: the paper) lets Cg's gradient flow back through
  x^_g with that weight, so the decoder learns the class of y_r from C as
  well as from S; ``model.style_norm = "batch"`` standardises z' (see
  ``guided.Encoder``).
* x_u is drawn from all training clips (p_data), labelled or not; x_l only
  from the labelled ones, and its labels are the only labels the step reads.
* The real term of S averages over the 2B real pairs (x_u and x_l batches
  together, the paper's mixed p_mdata); the fake term averages the two fake
  kinds, as equation (7).
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

GENERATOR = "dec"
ENCODER = ("enc", "cls")
# Config keys the compiled iteration reads beyond gans/family.py's common
# ones (the compiled-step cache key).
STEP_CONFIG_KEYS = ("train.d_steps",)
# Optimizer groups: E, Dec and C share one (lr 5e-5), S and L the other
# (lr 2e-4). Adam is per-parameter, so grouping S with L changes nothing.
GROUPS = {"edc": ("cls", "dec", "enc"), "disc": ("lat", "s")}

# Named random streams folded into each update's key.
_YR, _Z = 1, 2

compute_dtype = common.compute_dtype


def num_classes(config: Config) -> int:
  """The guided classes (always conditional)."""
  return common.guided_num_classes(config, "GAAE")


PREDICTED_LABELS = ("probabilities", "argmax")


def predicted_label(config: Config) -> str:
  """How y^_u = C(z_u) conditions Dec and S (see the module docstring)."""
  mode = str(config.model.get("predicted_label", "probabilities"))
  if mode not in PREDICTED_LABELS:
    raise ValueError(f"--config.model.predicted_label={mode!r}: use one of "
                     + ", ".join(PREDICTED_LABELS))
  return mode


def _label_inputs(config: Config, logits: jax.Array, *labels: jax.Array):
  """y^_u from C's logits, and the given integer labels, in one form.

  "probabilities": softmax(logits) and one-hot vectors, float32 [B, n];
  "argmax": C's class and the labels as they are, int32 [B].
  """
  if predicted_label(config) == "argmax":
    return (jnp.argmax(jax.lax.stop_gradient(logits), -1),) + labels
  n = logits.shape[-1]
  return (jax.nn.softmax(logits.astype(jnp.float32), -1),) + tuple(
      jax.nn.one_hot(y, n, dtype=jnp.float32) for y in labels)


def loss_weights(config: Config) -> dict[str, float]:
  """lambda, w1..w5, alpha, beta of the EDC loss, from ``config.loss``."""
  return {k: float(v) for k, v in config.loss.to_dict().items()}


def networks(config: Config) -> dict[str, Any]:
  """The five Flax modules by name."""
  n, ch, dt = num_classes(config), int(config.model.ch), compute_dtype(config)
  zd, dch = int(config.model.z_dim), common.d_width(config)
  att = bool(config.model.get("attention", True))
  return {
      "enc": guided.Encoder(ch=dch, z_dim=zd, attention=att,
                            style_norm=str(config.model.get("style_norm",
                                                            "none")),
                            dtype=dt),
      "cls": guided.MLP((128, n), dtype=dt),
      "dec": nets.Generator(ch=ch, num_classes=n, attention=att,
                            cbn_init=common.cbn_init(config),
                            min_channels=common.g_min_channels(config),
                            dtype=dt),
      "lat": guided.MLP((128, 128, 1), spectral_norm=True, dtype=dt),
      "s": nets.Discriminator(ch=dch, num_classes=n, attention=att, dtype=dt),
  }


def optimizers(config: Config) -> dict[str, optax.GradientTransformation]:
  """Adam for E/Dec/C (``optim.g_lr``) and for S/L (``optim.d_lr``)."""
  return {"edc": common.adam(config, float(config.optim.g_lr)),
          "disc": common.adam(config, float(config.optim.d_lr))}


def streams(config: Config) -> dict[str, str]:
  """x_u from every training clip, (x_l, y_l) from the labelled ones."""
  del config
  return {"u": "all", "l": "labelled"}


def steps_per_iteration(config: Config) -> int:
  """Fresh batches per iteration: k for S/L, one for E/Dec/C."""
  return int(config.train.d_steps) + 1


def network_inputs(config: Config, name: str, batch: int = 2):
  """Example inputs of one network, for initialisation and reports."""
  zd = int(config.model.z_dim)
  z = jnp.zeros((batch, zd), jnp.float32)
  y = jnp.zeros((batch,), jnp.int32)
  x = jnp.zeros((batch, *nets.SPEC_SHAPE, 1), jnp.float32)
  return {"enc": (x,), "cls": (z,), "dec": (z, y), "lat": (z,),
          "s": (x, y)}[name]


def init_state(config: Config, key: jax.Array) -> GANState:
  """Fresh parameters, optimizer states and the decoder's EMA copy."""
  params, stats = common.init_networks(
      networks(config), lambda n: network_inputs(config, n), key)
  txs = optimizers(config)
  opt = {g: txs[g].init({n: params[n] for n in names})
         for g, names in GROUPS.items()}
  return GANState(step=jnp.zeros((), jnp.int32), params=params, stats=stats,
                  opt_state=opt, ema_params={"dec": params["dec"]},
                  ema_stats={"dec": stats["dec"]})


def sample_latents(config: Config, key: jax.Array, batch: int):
  """Style latents z' ~ N(0, I) and uniform labels, for generation."""
  z = jax.random.normal(jax.random.fold_in(key, _Z),
                        (batch, int(config.model.z_dim)), jnp.float32)
  y = jax.random.randint(jax.random.fold_in(key, _YR), (batch,), 0,
                         num_classes(config))
  return z, y


def generate(config: Config, params, stats, z: jax.Array,
             y: jax.Array) -> jax.Array:
  """Spectrograms [B,256,128,1] from the decoder (inference mode)."""
  return networks(config)["dec"].apply(
      {"params": params, "batch_stats": stats}, z, y, train=False)


def encode(config: Config, params: Mapping[str, Any],
           stats: Mapping[str, Any], x: jax.Array) -> dict[str, jax.Array]:
  """Guided and style representations and C's logits of spectrograms x."""
  mods = networks(config)
  z, zs = mods["enc"].apply({"params": params["enc"],
                             "batch_stats": stats["enc"]}, x, train=False)
  logits = mods["cls"].apply({"params": params["cls"]}, z, train=False)
  return {"guided": z, "style": zs, "logits": logits}


_apply = common.apply_network


def sample_hinge_loss(real: jax.Array, fake_u: jax.Array,
                      fake_g: jax.Array) -> jax.Array:
  """S's hinge loss (equation 7): real pairs, fakes averaged over two kinds.

  E[relu(1 - S(real))] + 1/2 (E[relu(1 + S(x^_u, y^_u))]
  + E[relu(1 + S(x^_g, y_r))]).
  """
  f32 = lambda a: a.astype(jnp.float32)
  return (jnp.mean(jax.nn.relu(1.0 - f32(real)))
          + 0.5 * (jnp.mean(jax.nn.relu(1.0 + f32(fake_u)))
                   + jnp.mean(jax.nn.relu(1.0 + f32(fake_g)))))


def disc_losses(params, stats, batch: Mapping[str, jax.Array], key: jax.Array,
                config: Config):
  """S and L hinge losses on one batch; returns (loss, (stats, metrics)).

  Differentiated with respect to S's and L's params only; E, C and Dec are
  run to make the pairs and their outputs are constants here.
  """
  mods = networks(config)
  n, b = num_classes(config), batch["u_spectrogram"].shape[0]
  x_u, x_l, y_l = (batch["u_spectrogram"], batch["l_spectrogram"],
                   batch["l_label"])
  sg = jax.lax.stop_gradient
  (z_u, zs_u), _ = _apply(mods, "enc", params, stats, x_u, train=False)
  y_r = jax.random.randint(jax.random.fold_in(key, _YR), (b,), 0, n)
  y_hat, y_r, y_l = _label_inputs(
      config, mods["cls"].apply({"params": params["cls"]}, z_u), y_r, y_l)
  y_hat = sg(y_hat)
  fakes, dec_stats = _apply(
      mods, "dec", params, stats, jnp.concatenate([zs_u, zs_u]),
      jnp.concatenate([y_hat, y_r]), train=True)
  x = jnp.concatenate([x_u, x_l, sg(fakes).astype(x_u.dtype)])
  y = jnp.concatenate([y_hat, y_l, y_hat, y_r])
  out, s_stats = _apply(mods, "s", params, stats, x, y, train=True)
  real, fake_u, fake_g = out[:2 * b], out[2 * b:3 * b], out[3 * b:]
  s_loss = sample_hinge_loss(real, fake_u, fake_g)
  z_prior = jax.random.normal(jax.random.fold_in(key, _Z), zs_u.shape)
  lat_out, lat_stats = _apply(mods, "lat", params, stats,
                              jnp.concatenate([z_prior, sg(zs_u)]), train=True)
  l_loss = losses.hinge_d_loss(lat_out[:b, 0], lat_out[b:, 0])
  new_stats = {"s": s_stats, "lat": lat_stats, "dec": dec_stats}
  metrics = {"s_loss": s_loss, "l_loss": l_loss,
             "s_real": jnp.mean(real),
             "s_fake": 0.5 * (jnp.mean(fake_u) + jnp.mean(fake_g)),
             "l_real": jnp.mean(lat_out[:b]), "l_fake": jnp.mean(lat_out[b:])}
  return s_loss + l_loss, (new_stats, metrics)


def edc_terms(params, stats, batch: Mapping[str, jax.Array], key: jax.Array,
              config: Config):
  """The five loss terms of E, Dec and C; returns (terms, (stats, metrics)).

  ``terms`` holds ``g``, ``r``, ``cl``, ``cg``, ``l`` (unweighted); the
  EDC loss is their weighted sum (:func:`edc_loss`).
  """
  mods = networks(config)
  n, b = num_classes(config), batch["u_spectrogram"].shape[0]
  x_u, x_l, y_l = (batch["u_spectrogram"], batch["l_spectrogram"],
                   batch["l_label"])
  sg = jax.lax.stop_gradient
  y_r = jax.random.randint(jax.random.fold_in(key, _YR), (b,), 0, n)

  # E on x_u and x_l together (E has no batch statistics).
  (z, zs), enc_stats = _apply(mods, "enc", params, stats,
                              jnp.concatenate([x_u, x_l]), train=True)
  z_u, zs_u, z_l = z[:b], zs[:b], z[b:]
  logits_u = mods["cls"].apply({"params": params["cls"]}, z_u)
  y_hat, y_r_in = _label_inputs(config, logits_u, y_r)
  fakes, dec_stats = _apply(
      mods, "dec", params, stats, jnp.concatenate([zs_u, zs_u]),
      jnp.concatenate([y_hat, y_r_in]), train=True)
  x_hat_u, x_hat_g = fakes[:b], fakes[b:]

  s_out, _ = _apply(mods, "s", params, stats, fakes.astype(x_u.dtype),
                    jnp.concatenate([y_hat, y_r_in]), train=False)
  g_term = -0.5 * (jnp.mean(s_out[:b]) + jnp.mean(s_out[b:]))
  lat_out, _ = _apply(mods, "lat", params, stats, zs_u, train=False)
  l_term = -jnp.mean(lat_out)
  r_term = jnp.mean(jnp.square(x_hat_u.astype(jnp.float32)
                               - x_u.astype(jnp.float32)))
  logits_l = mods["cls"].apply({"params": params["cls"]}, z_l)
  cl_term = common.cross_entropy(logits_l, y_l)
  # x^_g is a constant for Cg: the gradient stops before the decoder
  # (the paper). loss.cg_decoder > 0 lets that much of Cg's gradient flow
  # back through x^_g = Dec(z'_u, y_r), into Dec and through z'_u into E
  # (the input's value is x^_g either way; C's gradient is unchanged).
  x_g_in = sg(x_hat_g)
  scale = cg_decoder_scale(loss_weights(config))
  if scale:
    x_g_in = x_g_in + scale * (x_hat_g - sg(x_hat_g))
  (z_g, _), _ = _apply(mods, "enc", params, stats, x_g_in.astype(x_u.dtype),
                       train=False)
  logits_g = mods["cls"].apply({"params": params["cls"]}, z_g)
  cg_term = common.cross_entropy(logits_g, y_r)
  terms = {"g": g_term, "r": r_term, "cl": cl_term, "cg": cg_term,
           "l": l_term}
  metrics = {"acc_labelled": common.accuracy(logits_l, y_l),
             "acc_generated": common.accuracy(logits_g, y_r),
             "style_mean": jnp.mean(zs_u), "style_std": jnp.std(zs_u)}
  return terms, ({"enc": enc_stats, "dec": dec_stats}, metrics)


def cg_decoder_scale(w: Mapping[str, float]) -> float:
  """How much of Cg's gradient flows back through x^_g (Dec, and E via z'_u).

  ``loss.cg_decoder`` is the weight of Cg in the decoder's loss (0, the
  paper: x^_g is detached); Cg enters EDC with weight beta * w4, so the
  gradient through x^_g is scaled by their ratio.
  """
  weight = float(w.get("cg_decoder", 0.0))
  if not weight:
    return 0.0
  if not w["beta"] * w["w4"]:
    raise ValueError("--config.loss.cg_decoder needs --config.loss.w4 > 0 "
                     "and --config.loss.beta > 0")
  return weight / (w["beta"] * w["w4"])


def edc_loss(terms: Mapping[str, jax.Array], w: Mapping[str, float]):
  """EDC = alpha (w1 G + w2 lambda R) + beta (w3 Cl + w4 Cg + w5 L)."""
  return (w["alpha"] * (w["w1"] * terms["g"]
                        + w["w2"] * w["lambda_rec"] * terms["r"])
          + w["beta"] * (w["w3"] * terms["cl"] + w["w4"] * terms["cg"]
                         + w["w5"] * terms["l"]))


def train_iteration(state: GANState, batch: Mapping[str, jax.Array],
                    key: jax.Array, *, config: Config) -> tuple[GANState, dict]:
  """Algorithm 1: k updates of S and L, then one of E, Dec and C.

  ``batch`` holds ``u_spectrogram`` [k+1, B, 256, 128, 1] and
  ``l_spectrogram`` / ``l_label`` [k+1, B, ...]: a fresh batch per update.
  """
  txs = optimizers(config)
  k = int(config.train.d_steps)
  w = loss_weights(config)
  steps = {n: batch[n] for n in ("u_spectrogram", "l_spectrogram", "l_label")}
  disc_batches = jax.tree.map(lambda a: a[:k], steps)
  edc_batch = jax.tree.map(lambda a: a[k], steps)
  names = GROUPS["disc"]

  def disc_update(state, inputs):
    j, b = inputs
    kj = jax.random.fold_in(key, j)

    def loss_fn(p):
      return disc_losses({**state.params, **p}, state.stats, b, kj, config)

    (_, (new_stats, m)), grads = jax.value_and_grad(loss_fn, has_aux=True)(
        {n: state.params[n] for n in names})
    state = state_lib.apply_updates(state, "disc", names, grads, txs["disc"])
    state = state.replace(stats={**state.stats, **new_stats})
    m["disc_grad_norm"] = state_lib.global_norm(grads)
    return state, m

  state, d_metrics = common.scan_updates(disc_update, state,
                                         (jnp.arange(k), disc_batches), config)
  metrics = jax.tree.map(lambda m: m[-1], d_metrics)

  names = GROUPS["edc"]
  ke = jax.random.fold_in(key, k)

  def edc_fn(p):
    terms, aux = edc_terms({**state.params, **p}, state.stats, edc_batch, ke,
                           config)
    return edc_loss(terms, w), (terms, aux)

  (loss, (terms, (new_stats, m))), grads = jax.value_and_grad(
      edc_fn, has_aux=True)({n: state.params[n] for n in names})
  state = state_lib.apply_updates(state, "edc", names, grads, txs["edc"])
  state = state.replace(stats={**state.stats, **new_stats},
                        step=state.step + 1)
  state = state_lib.update_ema(state, float(config.train.ema_decay),
                               int(config.train.ema_start))
  metrics.update(m)
  metrics.update({f"{t}_loss": v for t, v in terms.items()})
  metrics.update(edc_loss=loss, edc_grad_norm=state_lib.global_norm(grads))
  return state, metrics
