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
