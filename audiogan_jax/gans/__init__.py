"""GAN families, looked up by ``config.model.family``.

Each is a module of pure functions, read into a checked
:class:`~audiogan_jax.gans.family.Family` when it is registered here.
"""

from __future__ import annotations

from audiogan_jax.gans import biggan
from audiogan_jax.gans import gaae
from audiogan_jax.gans import gansynth
from audiogan_jax.gans import ggan
from audiogan_jax.gans import wavegan
from audiogan_jax.gans.family import Family
from audiogan_jax.gans.family import from_module

FAMILIES: dict[str, Family] = {}


def register(name: str, module) -> Family:
  """Checks ``module`` against the family contract and registers it."""
  FAMILIES[name] = from_module(name, module)
  return FAMILIES[name]


for _name, _module in (("biggan", biggan), ("gaae", gaae),
                       ("gansynth", gansynth), ("ggan", ggan),
                       # WaveGAN and SpecGAN share one module; it reads
                       # model.family.
                       ("wavegan", wavegan), ("specgan", wavegan)):
  register(_name, _module)


def get_family(name: str) -> Family:
  """The family implementing ``config.model.family`` (networks, init, step)."""
  if name not in FAMILIES:
    raise ValueError(f"unknown model family {name!r} in --config.model.family; "
                     f"choose one of {sorted(FAMILIES)}")
  return FAMILIES[name]
