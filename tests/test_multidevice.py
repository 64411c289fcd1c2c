"""Data parallelism: one iteration on 8 simulated CPU devices equals one device.

Its own file so that the subprocess runs beside the other training tests.
"""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "JAX_PLATFORMS": "cpu"}


def test_eight_simulated_devices_match_one():
  proc = subprocess.run([sys.executable,
                         os.path.join(ROOT, "tests", "multidevice_check.py")],
                        capture_output=True, text=True, env=ENV, timeout=900)
  assert proc.returncode == 0, proc.stdout + proc.stderr
  assert "OK 1 vs 8 devices" in proc.stdout
