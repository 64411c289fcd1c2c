"""Test set-up: quiet TensorFlow, the tiny-config fixture."""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import pytest  # pylint: disable=g-import-not-at-top

from tests_helpers import tiny_config  # pylint: disable=g-import-not-at-top


@pytest.fixture
def tiny():
  """A fresh tiny supervised BigGAN config."""
  return tiny_config()


# The longest files first: run two at a time (pytest.ini: -n 2 --dist
# loadfile), the slow ones then overlap instead of finishing last on one
# worker (longest-processing-time-first scheduling).
_SLOW_FIRST = ("test_training.py", "test_guided_training.py",
               "test_demo_report.py", "test_guided_losses.py",
               "test_wavegan.py", "test_evaluate.py", "test_classifier.py")


def pytest_collection_modifyitems(config, items):  # pylint: disable=unused-argument
  """Orders the test files slowest first (the order within a file is kept)."""
  def rank(item):
    name = os.path.basename(str(item.fspath))
    return _SLOW_FIRST.index(name) if name in _SLOW_FIRST else len(_SLOW_FIRST)
  items.sort(key=rank)
