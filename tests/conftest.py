"""Test set-up: quiet TensorFlow, the tiny-config fixture."""

import os
import shutil
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# One XLA compilation cache for this test run, shared by the two workers and
# every command the tests start: a program compiled by one test (most of the
# suite's time is XLA compiling small training steps) is loaded, not
# recompiled, by the next. Made fresh per run and removed at its end.
_OWN_CACHE = None
if ("PYTEST_XDIST_WORKER" not in os.environ
    and "JAX_COMPILATION_CACHE_DIR" not in os.environ):
  _OWN_CACHE = tempfile.mkdtemp(prefix="audiogan_test_xla_cache_")
  os.environ["JAX_COMPILATION_CACHE_DIR"] = _OWN_CACHE
# LLVM without optimisation: the suite's time is mostly XLA compiling small
# training steps, which this cuts by about a quarter to a third, while the
# tiny steps run 2-3x slower (a net gain of about a fifth, measured on the
# tiny BigGAN and GAAE steps). Numerics are unchanged: no fast-math either
# way. Every worker and every command the tests start inherits it.
if "--xla_backend_optimization_level" not in os.environ.get("XLA_FLAGS", ""):
  os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                             " --xla_backend_optimization_level=0").strip()
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import pytest  # pylint: disable=g-import-not-at-top

from tests_helpers import tiny_config  # pylint: disable=g-import-not-at-top


@pytest.fixture
def tiny():
  """A fresh tiny supervised BigGAN config."""
  return tiny_config()


def pytest_unconfigure(config):  # pylint: disable=unused-argument
  """Removes this run's compilation cache (in the process that made it)."""
  if _OWN_CACHE:
    shutil.rmtree(_OWN_CACHE, ignore_errors=True)
