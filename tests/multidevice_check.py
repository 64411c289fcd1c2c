"""Run with 8 simulated CPU devices: one iteration on 8 devices == on 1.

Invoked by test_training.py in a subprocess, because the device count must be
set before JAX starts.
"""

import os
import sys

os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "")
                           + " --xla_force_host_platform_device_count=8")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import jax  # pylint: disable=g-import-not-at-top
import numpy as np  # pylint: disable=g-import-not-at-top

from audiogan_jax import gans  # pylint: disable=g-import-not-at-top
from audiogan_jax.train import sharding  # pylint: disable=g-import-not-at-top
from audiogan_jax.train import trainer  # pylint: disable=g-import-not-at-top
from tests_helpers import tiny_config  # pylint: disable=g-import-not-at-top


def main() -> None:
  assert jax.device_count() == 8, jax.devices()
  config = tiny_config()
  config.train.batch_size = 8
  config.model.num_classes = 10
  family = gans.get_family("biggan")
  rng = np.random.default_rng(0)
  batch = {"x_spectrogram": rng.uniform(-1, 1, (2, 8, 256, 128, 1)).astype(
               np.float32),
           "x_label": rng.integers(0, 10, (2, 8)).astype(np.int32)}
  results = []
  for n in (1, 8):
    mesh = sharding.make_mesh(n)
    state = trainer.init_state(family, config, mesh)
    step = trainer.make_train_step(family, config, mesh)
    key = jax.device_put(jax.random.key(7), sharding.replicated(mesh))
    gbatch = sharding.to_global(batch, mesh)
    assert len(gbatch["x_spectrogram"].sharding.device_set) == n
    for _ in range(2):
      state, metrics = step(state, gbatch, key)
    results.append((jax.device_get(state), jax.device_get(metrics)))
  (s1, m1), (s8, m8) = results
  worst = 0.0
  for a, b in zip(jax.tree.leaves(s1), jax.tree.leaves(s8)):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-5)
    worst = max(worst, float(np.max(np.abs(a - b))) if a.size else 0.0)
  for k in m1:
    np.testing.assert_allclose(m1[k], m8[k], rtol=1e-4, atol=1e-5)
  print(f"OK 1 vs 8 devices: max abs parameter difference {worst:.2e}")


if __name__ == "__main__":
  main()
