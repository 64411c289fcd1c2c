"""GAN families, looked up by ``config.model.family``."""

from __future__ import annotations

import types

from audiogan_jax.gans import biggan
from audiogan_jax.gans import gaae
from audiogan_jax.gans import gansynth
from audiogan_jax.gans import ggan
from audiogan_jax.gans import wavegan

# WaveGAN and SpecGAN share one module; it reads model.family.
FAMILIES: dict[str, types.ModuleType] = {
    "biggan": biggan, "gaae": gaae, "gansynth": gansynth, "ggan": ggan,
    "wavegan": wavegan, "specgan": wavegan}


def get_family(name: str) -> types.ModuleType:
  """The module implementing one GAN family (networks, init, train step)."""
  if name not in FAMILIES:
    raise ValueError(f"unknown model family {name!r} in --config.model.family; "
                     f"choose one of {sorted(FAMILIES)}")
  return FAMILIES[name]
