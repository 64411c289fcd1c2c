"""The contract a GAN family implements, checked when it is registered.

A family is a module (``gans/biggan.py``, ``gans/gaae.py``, ...) of pure
functions of the run config. :func:`from_module` reads it into a
:class:`Family`: the required hooks must be there and callable (a missing
one is a ``TypeError`` naming it, at import), the optional ones get the
defaults below, and nothing else in the package looks hooks up by name.

Adding a model: docs/MODELS.md, "Adding a model".
"""

from __future__ import annotations

import dataclasses
import types
from typing import Any, Callable, Mapping

import jax
import ml_collections

Config = ml_collections.ConfigDict

# What the trainer feeds a family that does not say (see ``input_fields``).
SPECTROGRAM_FIELDS = ("spectrogram", "label")

# What every family's compiled iteration reads of the config, whatever the
# family (gans/common.py: mixed precision, the unrolled critic updates, the
# EMA of the generator): with the family's own ``STEP_CONFIG_KEYS`` this is
# the compiled-step cache key (trainer.make_train_step). A test traces every
# family's iteration and checks it reads nothing else.
COMMON_STEP_CONFIG_KEYS = ("model", "optim", "loss", "train.compute_dtype",
                           "train.unroll_d_steps", "train.ema_decay",
                           "train.ema_start")

REQUIRED = ("networks", "optimizers", "num_classes", "streams",
            "steps_per_iteration", "network_inputs", "init_state",
            "sample_latents", "generate", "train_iteration", "encode")


def _none(config: Config, *args) -> None:  # pylint: disable=unused-argument
  return None


def _spectrogram(config: Config) -> str:  # pylint: disable=unused-argument
  return "spectrogram"


def _spectrogram_fields(config: Config) -> tuple[str, ...]:  # pylint: disable=unused-argument
  return SPECTROGRAM_FIELDS


def _unchanged(config: Config, dataset) -> Config:  # pylint: disable=unused-argument
  return config


@dataclasses.dataclass(eq=False)
class Family:
  """One GAN family's hooks (pure functions of the config).

  Required:
    networks(config) -> {name: flax module}
    optimizers(config) -> {group: optax transformation}
    num_classes(config) -> int (0: unconditional)
    streams(config) -> {stream: split}: the batches one iteration reads
    steps_per_iteration(config) -> int: batches per stream per iteration
    network_inputs(config, name, batch) -> example inputs of a network
    init_state(config, key) -> GANState
    sample_latents(config, key, batch) -> (z, y or None)
    generate(config, params, stats, z, y) -> outputs (see output_kind)
    train_iteration(state, batch, key, *, config[, variant]) ->
      (state, metrics)
    encode(config, params, stats, x) -> {name: array}, with ``logits``
      (the guided models; others raise)
  Optional (default):
    resolve(config, dataset) -> config: values read from the data (as is)
    step_variant(config, step) -> hashable static variant of the compiled
      iteration, e.g. GANSynth's growth stage (None)
    output_kind(config) -> "spectrogram" | "waveform" | "specgan" |
      "ifspec" ("spectrogram")
    input_fields(config) -> batch fields read (spectrogram, label)
    to_waveforms(config, outputs) -> waves, for "ifspec" outputs (None)
    normalisation(config) -> (mean, std), for "specgan" outputs (None)
  Data:
    GENERATOR: the network(s) ``generate`` takes, by name
    ENCODER: the encoder-side networks (E and C; D, F and Cx), () if none
    STEP_CONFIG_KEYS: dotted config keys (or whole sections) the compiled
      iteration reads beyond COMMON_STEP_CONFIG_KEYS
  """
  name: str
  module: types.ModuleType
  networks: Callable[..., Mapping[str, Any]]
  optimizers: Callable[..., Mapping[str, Any]]
  num_classes: Callable[[Config], int]
  streams: Callable[[Config], Mapping[str, str]]
  steps_per_iteration: Callable[[Config], int]
  network_inputs: Callable[..., Any]
  init_state: Callable[[Config, jax.Array], Any]
  sample_latents: Callable[..., Any]
  generate: Callable[..., Any]
  train_iteration: Callable[..., Any]
  encode: Callable[..., Any]
  GENERATOR: Any
  ENCODER: tuple[str, ...]
  STEP_CONFIG_KEYS: tuple[str, ...]
  resolve: Callable[[Config, Any], Config] = _unchanged
  step_variant: Callable[[Config, int], Any] = _none
  output_kind: Callable[[Config], str] = _spectrogram
  input_fields: Callable[[Config], tuple[str, ...]] = _spectrogram_fields
  to_waveforms: Callable[..., Any] = _none
  normalisation: Callable[..., Any] = _none

  @property
  def step_config_keys(self) -> tuple[str, ...]:
    """Every config key (or section) the compiled iteration reads."""
    return COMMON_STEP_CONFIG_KEYS + tuple(self.STEP_CONFIG_KEYS)

  def step_cache_key(self, config: Config) -> tuple[str, ...]:
    """The values of :attr:`step_config_keys` in ``config``, as JSON."""
    out = [self.module.__name__]
    for dotted in self.step_config_keys:
      node: Any = config
      for part in dotted.split("."):
        node = node.get(part) if hasattr(node, "get") else None
      out.append(node.to_json(sort_keys=True) if hasattr(node, "to_json")
                 else repr(node))
    return tuple(out)


_OPTIONAL = tuple(f.name for f in dataclasses.fields(Family)
                  if f.default is not dataclasses.MISSING)


def from_module(name: str, module: types.ModuleType) -> Family:
  """Checks ``module`` against the contract and returns its :class:`Family`.

  Raises:
    TypeError: a required hook or data attribute is missing or not callable.
  """
  missing = [h for h in REQUIRED if not callable(getattr(module, h, None))]
  missing += [a for a in ("GENERATOR", "ENCODER")
              if not hasattr(module, a)]
  if missing:
    raise TypeError(f"GAN family {name!r} ({module.__name__}) lacks "
                    f"{', '.join(missing)}: see audiogan_jax/gans/family.py")
  hooks = {h: getattr(module, h) for h in REQUIRED}
  hooks.update({h: getattr(module, h) for h in _OPTIONAL
                if callable(getattr(module, h, None))})
  return Family(name=name, module=module, GENERATOR=module.GENERATOR,
                ENCODER=tuple(module.ENCODER),
                STEP_CONFIG_KEYS=tuple(getattr(module, "STEP_CONFIG_KEYS",
                                               ())),
                **hooks)
