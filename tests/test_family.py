"""gans/family.py: the family contract, and the compiled-step cache key.

The trainer caches one compiled iteration per value of the family's
``step_config_keys``. Each family's iteration is traced here with a config
that records what it reads: a key read but not declared would let a cached
step run with a stale value.
"""

import types

import jax
import ml_collections
import pytest

from audiogan_jax import gans
from audiogan_jax.gans import family as family_lib
from audiogan_jax.train import bench
from tests_helpers import tiny_config
from tests_helpers import tiny_gaae_config
from tests_helpers import tiny_gansynth_config
from tests_helpers import tiny_ggan_config
from tests_helpers import tiny_wavegan_config


class _Recording:
  """A read-only view of a ConfigDict that records the dotted keys read."""

  def __init__(self, node, prefix, log):
    object.__setattr__(self, "_node", node)
    object.__setattr__(self, "_prefix", prefix)
    object.__setattr__(self, "_log", log)

  def _wrap(self, name, value):
    key = f"{self._prefix}{name}"
    if isinstance(value, ml_collections.ConfigDict):
      return _Recording(value, key + ".", self._log)
    self._log.add(key)
    return value

  def __getattr__(self, name):
    if name.startswith("__"):
      raise AttributeError(name)
    return self._wrap(name, getattr(self._node, name))

  def __getitem__(self, name):
    return self._wrap(name, self._node[name])

  def get(self, name, default=None):
    if name in self._node:
      return self._wrap(name, self._node[name])
    self._log.add(f"{self._prefix}{name}")
    return default

  def __contains__(self, name):
    self._log.add(f"{self._prefix}{name}")
    return name in self._node

  def _whole(self):
    self._log.add(self._prefix.rstrip(".") or "<all>")
    return self._node

  def to_dict(self, *a, **k):
    return self._whole().to_dict(*a, **k)

  def to_json(self, *a, **k):
    return self._whole().to_json(*a, **k)

  def keys(self):
    return self._whole().keys()

  def items(self):
    return self._whole().items()

  def __iter__(self):
    return iter(self._whole())


def _configs():
  return {"biggan": tiny_config(), "gaae": tiny_gaae_config(),
          "ggan": tiny_ggan_config(),
          "wavegan": tiny_wavegan_config("wavegan", "acgan"),
          "specgan": tiny_wavegan_config("specgan", "concat"),
          "gansynth": tiny_gansynth_config()}


def _covered(key, declared):
  return any(key == d or key.startswith(d + ".") for d in declared)


@pytest.mark.parametrize("name", sorted(_configs()))
def test_iteration_reads_only_the_declared_config_keys(name):
  config = _configs()[name]
  family = gans.get_family(name)
  if name == "specgan":   # resolve() takes the data's statistics
    import numpy as np  # pylint: disable=g-import-not-at-top
    config.model.norm_mean = np.zeros(128).tolist()
    config.model.norm_std = np.ones(128).tolist()
  if int(config.model.get("num_classes", 0)) <= 0:
    config.model.num_classes = 2     # resolve_config takes the data's
  state, batch = bench.abstract_inputs(family, config)
  log = set()
  recording = _Recording(config, "", log)
  variant = family.step_variant(config, 0)
  extra = {} if variant is None else {"variant": variant}
  jax.eval_shape(
      lambda s, b, k: family.train_iteration(s, b, k, config=recording,
                                             **extra),
      state, batch, jax.random.key(0))
  undeclared = sorted(k for k in log
                      if not _covered(k, family.step_config_keys))
  assert not undeclared, (
      f"{name}'s iteration reads {undeclared}; add them to "
      "STEP_CONFIG_KEYS in its module")


def test_cache_key_changes_with_a_declared_key_only(tiny):
  family = gans.get_family("biggan")
  key = family.step_cache_key(tiny)
  other = ml_collections.ConfigDict(tiny.to_dict())
  other.train.num_steps = 12345       # run length: the same program
  assert family.step_cache_key(other) == key
  other.train.d_steps = 3             # declared by BigGAN
  assert family.step_cache_key(other) != key
  other = ml_collections.ConfigDict(tiny.to_dict())
  other.optim.g_lr = 0.5              # a whole declared section
  assert family.step_cache_key(other) != key


def test_registration_names_a_missing_hook():
  module = types.ModuleType("audiogan_jax.gans.half_done")
  module.GENERATOR, module.ENCODER = "g", ()
  module.networks = lambda config: {}
  with pytest.raises(TypeError, match="half_done.*optimizers.*see "):
    family_lib.from_module("half_done", module)


def test_every_family_gets_the_optional_hooks_defaults():
  biggan = gans.get_family("biggan")
  assert biggan.step_variant(None, 5) is None
  assert biggan.output_kind(None) == "spectrogram"
  assert biggan.input_fields(None) == ("spectrogram", "label")
  assert gans.get_family("gansynth").step_variant is not biggan.step_variant
  assert gans.get_family("specgan").name == "specgan"
  assert (gans.get_family("specgan").module
          is gans.get_family("wavegan").module)
