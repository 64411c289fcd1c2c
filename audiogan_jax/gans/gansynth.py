"""GANSynth: a progressive GAN on IF-Mel images of pitched notes.

Engel et al. (2019; SPEC section 6, report 004 section 2.1.5). G maps
concat(z ~ N(0, I)^256, one-hot pitch) to a [time, frequency, 2] image
(log magnitude, instantaneous frequency; ``audio/ifspec.py``); D scores
real/fake and classifies the pitch (``models/progressive.py``). Losses, as
GANSynth's (Progressive GAN's WGAN-GP plus an auxiliary classifier):

    D: E[D(G(z, p))] - E[D(x)] + 10 GP + 0.001 E[D(x)^2]
       + 10 (CE(C(x), p_x) + CE(C(G(z, p)), p))
    G: -E[D(G(z, p))] + 10 CE(C(G(z, p)), p)

with the gradient penalty on random interpolates of real and generated
images (target norm 1), one D update per G update, Adam 8e-4 with betas
(0, 0.99), batch 8. The generator's pitches are drawn from the real batch's,
so G learns the data's pitch distribution (GANSynth samples pitches from the
training set's histogram).

Progressive growing: ``progress`` rises from 0 (the lowest of R
resolutions) to R - 1 (the full image) as training goes on, in stages of
``model.stable_steps`` iterations at a fixed resolution, each after the
first preceded by ``model.transition_steps`` iterations in which the next
resolution fades in linearly (``progress_at``). The networks blend by
``progress`` (traced) and compute only up to the resolution that counts,
``stage_at(step)`` (static): the trainer compiles one step per resolution,
each serving a fade-in and the stable stage after it, so the early stages
cost only their own FLOPs. The step that set the generator's progress is stored in its
``batch_stats`` (``stats["g"]["step"]``), so a sample, a checkpoint or an
exported generator always renders at the resolution it was trained to; an
integer, so the EMA copy carries it unchanged.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from audiogan_jax.audio import ifspec
from audiogan_jax.gans import common
from audiogan_jax.models import progressive as nets
from audiogan_jax.gans import losses
from audiogan_jax.gans import state as state_lib

GANState = state_lib.GANState
Config = ml_collections.ConfigDict

GENERATOR = "g"
ENCODER: tuple[str, ...] = ()
# Config keys the compiled iteration reads beyond gans/family.py's common
# ones (the compiled-step cache key).
STEP_CONFIG_KEYS = ("data.num_samples",)
OUTPUT_KIND = "ifspec"

# Named random streams, folded into each update's key.
_Z, _GP, _GZ = 1, 2, 3


def representation(config: Config) -> ifspec.Representation:
  """The image representation (IF-Mel or IF) of the config."""
  return ifspec.from_config(config)


def num_classes(config: Config) -> int:
  """Pitch classes (61 for NSynth's pitches 24-84)."""
  n = int(config.model.num_classes)
  if n <= 0:
    raise ValueError("GANSynth needs the number of pitches: set "
                     "--config.model.num_classes or train on labelled notes "
                     "(--config.data.label=pitch)")
  return n


def num_resolutions(config: Config) -> int:
  return len(tuple(config.model.channels))


def _check_shape(config: Config) -> None:
  rep = representation(config)
  r = num_resolutions(config)
  start = tuple(int(v) for v in config.model.start_shape)
  full = (start[0] * 2 ** (r - 1), start[1] * 2 ** (r - 1))
  if full != rep.shape[:2]:
    raise ValueError(
        f"--config.model.start_shape={start} with {r} resolutions grows to "
        f"{full}, but the {rep.name} images of {rep.num_samples}-sample clips "
        f"(n_fft {rep.n_fft}, hop {rep.hop}) are {rep.shape[:2]}; set "
        "start_shape to the image shape divided by 2^(resolutions - 1)")


def output_kind(config: Config) -> str:
  del config
  return OUTPUT_KIND


def input_fields(config: Config) -> tuple[str, ...]:
  """Clips and pitches; the STFT runs on the device."""
  del config
  return ("waveform", "label")


def networks(config: Config) -> dict[str, Any]:
  """G and D of the config."""
  _check_shape(config)
  m, dt = config.model, common.compute_dtype(config)
  kw = dict(channels=tuple(int(c) for c in m.channels),
            start_shape=tuple(int(v) for v in m.start_shape),
            num_classes=num_classes(config), dtype=dt)
  return {"g": nets.Generator(**kw), "d": nets.Discriminator(**kw)}


def optimizers(config: Config) -> dict[str, optax.GradientTransformation]:
  return {"g": common.adam(config, float(config.optim.g_lr)),
          "d": common.adam(config, float(config.optim.d_lr))}


def streams(config: Config) -> dict[str, str]:
  """Every training note, with its pitch."""
  del config
  return {"x": "labelled"}


def steps_per_iteration(config: Config) -> int:
  del config
  return 1


def _stages(config: Config) -> tuple[int, int, float]:
  stable = int(config.model.stable_steps)
  trans = int(config.model.transition_steps)
  if stable < 0 or trans < 0:
    raise ValueError("--config.model.stable_steps and transition_steps must "
                     "be >= 0")
  return stable, trans, float(num_resolutions(config) - 1)


def progress_at(config: Config, step) -> jax.Array:
  """The growth stage at iteration ``step``: a float in [0, R - 1].

  ``stable_steps`` at progress 0, then for each further resolution
  ``transition_steps`` fading it in (progress rising linearly by one) and
  ``stable_steps`` at it. ``stable_steps = 0`` and ``transition_steps = 0``
  train the full resolution from the start (no growing).
  """
  stable, trans, top = _stages(config)
  if stable + trans == 0:
    return jnp.asarray(top, jnp.float32)
  s = jnp.asarray(step, jnp.float32)
  period = float(stable + trans)
  after = jnp.maximum(s - stable, 0.0)
  k = jnp.floor(after / period)
  within = after - k * period
  frac = jnp.clip(within / trans, 0.0, 1.0) if trans else 1.0
  p = jnp.where(s < stable, 0.0, k + frac)
  return jnp.minimum(p, top).astype(jnp.float32)


def stage_at(config: Config, step: int) -> int:
  """The highest resolution that counts at iteration ``step``:
  ceil(progress_at(step)), computed on the host in integers.

  Training compiles one step per value (``top`` of the networks), so the
  low-resolution stages skip the blocks above them.
  """
  stable, trans, top = _stages(config)
  step = int(step)
  if stable + trans == 0:
    return int(top)
  if step < stable:
    return 0
  k, within = divmod(step - stable, stable + trans)
  return int(min(k + (1 if within > 0 or not trans else 0), top))


def step_variant(config: Config, step: int) -> int:
  """What the trainer compiles one step for: the stage (``stage_at``)."""
  return stage_at(config, step)


def schedule(config: Config) -> list[tuple[int, float]]:
  """(first iteration, progress) where each stage and fade-in begins."""
  stable = int(config.model.stable_steps)
  trans = int(config.model.transition_steps)
  out, step = [(0, 0.0)], stable
  for k in range(1, num_resolutions(config)):
    if trans:
      out.append((step, k - 1.0))
    out.append((step + trans, float(k)))
    step += trans + stable
  return out


def network_inputs(config: Config, name: str, batch: int = 2):
  """Example inputs of one network, for initialisation and reports."""
  z = jnp.zeros((batch, int(config.model.z_dim)), jnp.float32)
  y = jnp.zeros((batch,), jnp.int32)
  x = jnp.zeros((batch, *representation(config).shape), jnp.float32)
  p = jnp.zeros((), jnp.float32)
  return {"g": (z, y, p), "d": (x, p)}[name]


def _with_step(stats: Mapping[str, Any], step) -> dict[str, Any]:
  return {**stats, "step": jnp.asarray(step, jnp.int32)}


def init_state(config: Config, key: jax.Array) -> GANState:
  """Fresh parameters, optimizer states and G's EMA copy (at progress 0)."""
  params, stats = common.init_networks(
      networks(config), lambda n: network_inputs(config, n), key)
  stats = {**stats, "g": _with_step(stats["g"], 0)}
  return common.new_state(params, stats, optimizers(config),
                          {"g": ("g",), "d": ("d",)}, ("g",))


def sample_latents(config: Config, key: jax.Array, batch: int):
  """z ~ N(0, I)^z_dim and uniformly drawn pitches."""
  z = jax.random.normal(jax.random.fold_in(key, _Z),
                        (batch, int(config.model.z_dim)), jnp.float32)
  y = jax.random.randint(jax.random.fold_in(key, _GZ), (batch,), 0,
                         num_classes(config))
  return z, y


def _g_apply(config: Config, params, stats, z, y, progress):
  variables = {"params": params}
  rest = {k: v for k, v in stats.items() if k != "step"}
  if rest:
    variables["batch_stats"] = rest
  return networks(config)["g"].apply(variables, z, y, progress, train=False)


def generate(config: Config, params, stats, z: jax.Array,
             y: jax.Array) -> jax.Array:
  """Images [B, frames, bins, 2] in [-1, 1], at the progress G reached."""
  if "step" in stats:
    progress = progress_at(config, stats["step"])
  else:
    progress = jnp.asarray(num_resolutions(config) - 1, jnp.float32)
  return _g_apply(config, params, stats, z, y, progress)


def to_waveforms(config: Config, images) -> np.ndarray:
  """Generated images -> clips [B, num_samples] (the exact inverse STFT)."""
  return np.asarray(ifspec.decode(representation(config), images))


def real_inputs(config: Config, waves: jax.Array) -> jax.Array:
  """Clips [B, T] -> D's input images [B, frames, bins, 2]."""
  return ifspec.encode(representation(config), waves)


def train_iteration(state: GANState, batch: Mapping[str, jax.Array],
                    key: jax.Array, *, config: Config,
                    variant: Optional[int] = None) -> tuple[GANState, dict]:
  """One D update and one G update at the current progress.

  ``batch["x_waveform"]`` is [1, B, T] and ``batch["x_label"]`` [1, B].
  ``variant`` (static) is ``stage_at(config, state.step)``: the networks
  skip the resolutions above it. None computes every resolution (the same
  values, at the full resolution's cost).
  """
  mods, txs = networks(config), optimizers(config)
  g, d = mods["g"], mods["d"]
  lo = config.loss
  gp_w, drift_w = float(lo.gp_weight), float(lo.drift_weight)
  d_ac, g_ac = float(lo.d_ac_weight), float(lo.g_ac_weight)
  waves, pitch = batch["x_waveform"][0], batch["x_label"][0]
  b = waves.shape[0]
  progress = progress_at(config, state.step)
  real = real_inputs(config, waves).astype(common.compute_dtype(config))

  def gen(gp_, z, y):
    return g.apply({"params": gp_}, z, y, progress, train=True, top=variant)

  def critic(dp, x):
    return d.apply({"params": dp}, x, progress, train=True, top=variant)

  kd = jax.random.fold_in(key, 0)
  z = jax.random.normal(jax.random.fold_in(kd, _Z),
                        (b, int(config.model.z_dim)), jnp.float32)
  fake = jax.lax.stop_gradient(gen(state.params["g"], z, pitch)).astype(
      real.dtype)

  def d_loss_fn(dp):
    score, logits = critic(dp, jnp.concatenate([real, fake]))
    s_real, s_fake = score[:b], score[b:]
    wd = losses.wasserstein_d_loss(s_real, s_fake)
    gp = losses.gradient_penalty(lambda x: critic(dp, x)[0], real, fake,
                                 jax.random.fold_in(kd, _GP))
    drift = jnp.mean(jnp.square(s_real.astype(jnp.float32)))
    ac = (common.cross_entropy(logits[:b], pitch)
          + common.cross_entropy(logits[b:], pitch))
    loss = wd + gp_w * gp + drift_w * drift + d_ac * ac
    return loss, {"wasserstein": -wd, "gp": gp, "drift": drift, "d_ac": ac,
                  "d_real": jnp.mean(s_real), "d_fake": jnp.mean(s_fake),
                  "acc_real": common.accuracy(logits[:b], pitch),
                  "acc_fake": common.accuracy(logits[b:], pitch)}

  (d_loss, metrics), grads = jax.value_and_grad(d_loss_fn, has_aux=True)(
      state.params["d"])
  state = state_lib.apply_updates(state, "d", ("d",), {"d": grads}, txs["d"])
  metrics.update(d_loss=d_loss, d_grad_norm=state_lib.global_norm(grads))

  kg = jax.random.fold_in(key, 1)
  zg = jax.random.normal(jax.random.fold_in(kg, _Z),
                         (b, int(config.model.z_dim)), jnp.float32)

  def g_loss_fn(gp_):
    score, logits = critic(state.params["d"], gen(gp_, zg, pitch))
    ac = common.cross_entropy(logits, pitch)
    return losses.wasserstein_g_loss(score) + g_ac * ac, ac

  (g_loss, g_ac_loss), grads = jax.value_and_grad(g_loss_fn, has_aux=True)(
      state.params["g"])
  state = state_lib.apply_updates(state, "g", ("g",), {"g": grads}, txs["g"])
  step = state.step + 1
  stats = {**state.stats, "g": _with_step(state.stats["g"], step)}
  state = state.replace(step=step, stats=stats)
  state = state_lib.update_ema(state, float(config.train.ema_decay),
                               int(config.train.ema_start))
  metrics.update(g_loss=g_loss, g_ac=g_ac_loss, progress=progress,
                 g_grad_norm=state_lib.global_norm(grads))
  return state, metrics


def encode(config: Config, params, stats, x):
  """GANSynth has no encoder (``ENCODER`` is empty)."""
  raise ValueError("a GANSynth run has no encoder or classifier to encode "
                   "with; train a guided model (configs/gaae.py or "
                   "configs/ggan.py)")
