"""One GAAE setting's learning curve, fast: the demo's measurements.

    python launch/gaae_ablation.py NAME STEPS EVERY [key=value ...]

Trains GAAE at the demo's size (configs/demo.py's widths, batch 8, 1,000
embedded clips, 5 % labelled) with the demo's settings replaced by the
given ``key=value`` overrides (e.g. ``loss.cg_decoder=0.0``), and every
EVERY iterations prints and records:

* ``C``: C's held-out accuracy on the 200 test clips;
* ``cond``: a softmax-regression probe fitted on real training
  spectrograms (8x8-pooled; 99 % on real test clips) on 200 clips the EMA
  decoder generated from z' ~ N(0, I) for cycling labels;
* ``cond_enc``: the same with z' the style codes of 200 real test clips;
* ``zstd``/``zmean``: those style codes' spread and mean (the prior's: 1, 0);
* the last iteration's loss terms and accuracies.

Writes ``NAME.json`` (the rows) in the current folder. docs/GAAE_LEARNING.md
holds the table measured with it. A probe on the generated spectrograms,
with no evaluation classifier and no PGHI, keeps one measurement at about
5 s, so that a setting can be compared in minutes on a CPU.
"""

import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import jax  # pylint: disable=g-import-not-at-top
import jax.numpy as jnp
import numpy as np

from audiogan_jax import config as config_lib
from audiogan_jax import gans
from audiogan_jax.data import pipeline
from audiogan_jax.eval import represent
from audiogan_jax.gans import common as gan_common
from audiogan_jax.train import sharding
from audiogan_jax.train import trainer
from audiogan_jax.train.tasks import accuracy

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def pool(x):
  """[N, 256, 128, 1] spectrograms -> [N, 512] 8x8 block means."""
  x = np.asarray(x, np.float32)[..., 0]
  return x.reshape(len(x), 32, 8, 16, 8).mean((2, 4)).reshape(len(x), -1)


def main(name, steps, every, overrides):
  c = config_lib.load_config_file(os.path.join(ROOT, "configs", "demo.py"))
  for kv in overrides:
    key, value = kv.split("=", 1)
    *path, leaf = key.split(".")
    node = c
    for p in path:
      node = node[p]
    old = node[leaf]
    node[leaf] = value if isinstance(old, str) else type(old)(eval(value))  # pylint: disable=eval-used
  ds = pipeline.load_dataset(c, cache_dir=os.path.join("cache"),
                             with_test=True)
  c = trainer.resolve_config(c, ds)
  fam = gans.get_family("gaae")
  n = ds.num_classes
  probe = represent.softmax_regression(pool(ds.train.spectrograms),
                                       ds.train.true_labels, n, 300, 0.5)
  print(name, "probe on real test clips:",
        np.mean(probe(pool(ds.test.spectrograms)) == ds.test.true_labels))
  mesh = sharding.make_mesh(1)
  state = trainer.init_state(fam, c, mesh)
  step_fn = trainer.make_train_step(fam, c, mesh)
  key = jax.random.key(1)
  predict = accuracy.make_predict(fam, c)
  batches = pipeline.make_iterator(
      ds, fam.streams(c), global_batch=int(c.train.batch_size),
      steps_per_iteration=fam.steps_per_iteration(c), seed=0,
      stop_iteration=steps, use_tf=False)
  gen = jax.jit(lambda p, s, z, y: fam.generate(c, p, s, z, y))
  z_prior = jax.random.normal(jax.random.key(7), (200, int(c.model.z_dim)))
  y = jnp.arange(200) % n
  test_x = jnp.asarray(ds.test.spectrograms[:200], jnp.float32)

  def cond_accuracy(p, s, z):
    x = np.concatenate([np.asarray(gen(p, s, z[i:i + 50], y[i:i + 50]))
                        for i in range(0, 200, 50)])
    return float(np.mean(probe(pool(x)) == np.asarray(y)))

  rows, t0 = [], time.time()
  for step in range(steps):
    state, m = step_fn(state, next(batches), key)
    if (step + 1) % every:
      continue
    enc_p = {k: state.params[k] for k in fam.ENCODER}
    enc_s = {k: state.stats[k] for k in fam.ENCODER}
    acc = accuracy.held_out_accuracy(predict, enc_p, enc_s, ds.test, 100)
    p, s = gan_common.generator_variables(fam, state)
    style = fam.encode(c, enc_p, enc_s, test_x)["style"]
    m = {k: round(float(v), 3) for k, v in jax.device_get(m).items()
         if k.endswith("loss") or k.startswith("acc")}
    rows.append(dict(step=step + 1, C=acc, cond=cond_accuracy(p, s, z_prior),
                     cond_enc=cond_accuracy(p, s, style),
                     zstd=round(float(jnp.std(style)), 2),
                     zmean=round(float(jnp.mean(style)), 2),
                     seconds=round(time.time() - t0), **m))
    print(name, rows[-1], flush=True)
  with open(f"{name}.json", "w") as f:
    json.dump({"overrides": overrides, "rows": rows}, f, indent=1)


if __name__ == "__main__":
  if len(sys.argv) < 4:
    sys.exit(__doc__)
  main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:])
