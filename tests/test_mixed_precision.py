"""train.compute_dtype=bfloat16: what stays float32, and that it learns.

The learning tests run each family's short training on the synthetic
dataset in bfloat16 and hold it to the threshold its float32 run meets in
the family's own test file: the discriminator-side loss falls to a fraction
of its start (a model whose updates do nothing, or whose bf16 arithmetic
breaks, stays near 1).
"""

import json
import os

import jax
import jax.numpy as jnp
import pytest

from audiogan_jax import gans
from audiogan_jax.train import bench
from audiogan_jax.train import trainer
from tests_helpers import LEARNING
from tests_helpers import assert_learns
from tests_helpers import tiny_config
from tests_helpers import tiny_gaae_config
from tests_helpers import tiny_wavegan_config


def _eqns(jaxpr):
  """Every equation of a jaxpr and of the jaxprs nested in it."""
  jaxpr = getattr(jaxpr, "jaxpr", jaxpr)
  for eqn in jaxpr.eqns:
    yield eqn
    for v in eqn.params.values():
      for sub in (v if isinstance(v, (list, tuple)) else (v,)):
        if hasattr(sub, "eqns") or hasattr(getattr(sub, "jaxpr", None),
                                           "eqns"):
          yield from _eqns(sub)


@pytest.mark.parametrize("name,make", [
    ("biggan", tiny_config), ("gaae", tiny_gaae_config),
    ("wavegan", tiny_wavegan_config)])
def test_bfloat16_computes_in_bf16_and_keeps_state_in_float32(name, make):
  config = make()
  config.model.num_classes = 10
  config.train.compute_dtype = "bfloat16"
  family = gans.get_family(name)
  state, batch = bench.abstract_inputs(family, config)
  step = lambda s, b, k: family.train_iteration(s, b, k, config=config)
  key = jax.random.key(1)
  new_state, metrics = jax.eval_shape(step, state, batch, key)
  # Params, Adam moments, BN statistics, spectral-norm u and sigma, EMA.
  for path, leaf in jax.tree_util.tree_leaves_with_path(new_state):
    if jnp.issubdtype(leaf.dtype, jnp.floating):
      assert leaf.dtype == jnp.float32, jax.tree_util.keystr(path)
  assert all(m.dtype == jnp.float32 for m in jax.tree.leaves(metrics))
  eqns = list(_eqns(jax.make_jaxpr(step)(state, batch, key)))
  # Convolutions take bf16 operands; on a CPU WaveGAN's 1-D convs are
  # polyphase matmuls over [B, N, taps x C] copies (models/wavegan.py).
  convs = [e for e in eqns if e.primitive.name == "conv_general_dilated"
           or (e.primitive.name == "dot_general"
               and any(v.aval.ndim == 3 for v in e.invars))]
  assert convs
  bad = [e for e in convs if any(v.aval.dtype != jnp.bfloat16
                                 for v in e.invars)]
  assert not bad, f"{len(bad)} of {len(convs)} convolutions not in bf16"
  # Batch-norm statistics and losses: reductions in float32 exist.
  means = [e for e in eqns if e.primitive.name == "reduce_sum"
           and e.outvars[0].aval.dtype == jnp.float32]
  assert means


def test_unknown_compute_dtype_is_a_clear_error():
  config = tiny_config()
  config.train.compute_dtype = "float16"
  with pytest.raises(ValueError, match="compute_dtype='float16'"):
    gans.get_family("biggan").networks(config)


def _bf16_run(make, steps, workdir, **train):
  config = make()
  config.train.update(num_steps=steps, compute_dtype="bfloat16", **train)
  trainer.train_and_evaluate(config, workdir)
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    return [json.loads(line) for line in f]


# The float32 twins of these runs are the learning tests of test_training
# (BigGAN), test_guided_training (GAAE) and test_wavegan (WaveGAN): the same
# configs, iterations and thresholds (tests_helpers.LEARNING).
@pytest.mark.parametrize("name,make", [
    ("biggan", tiny_config), ("gaae", tiny_gaae_config),
    ("wavegan", tiny_wavegan_config)])
def test_bfloat16_learns_with_the_float32_threshold(name, make, tmp_path):
  rows = _bf16_run(make, LEARNING[name][0], str(tmp_path), log_every=1,
                   checkpoint_every=1000, eval_every=0, export_at_end=False)
  assert_learns(rows, name, "bfloat16")
