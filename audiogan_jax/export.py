"""Exported generator files: msgpack with the config beside the params.

No pickle: the file is a msgpack map of plain types and arrays, read back with
``flax.serialization.msgpack_restore``, so loading one never executes code.
"""

from __future__ import annotations

import json
import os
from typing import Any

import flax.serialization
import jax
import ml_collections
import numpy as np

FORMAT = "audiogan_jax.generator"
VERSION = 1


class ExportFormatError(ValueError):
  """A file that is not a readable exported generator."""


def save_generator(path: str, config: ml_collections.ConfigDict, params: Any,
                   stats: Any, class_names: tuple[str, ...] = (),
                   step: int = -1) -> None:
  """Writes the generator's params and batch stats with its config."""
  payload = {
      "format": FORMAT, "version": VERSION,
      "family": str(config.model.family), "config": config.to_json(),
      "class_names": list(class_names), "step": int(step),
      "params": jax.device_get(params), "batch_stats": jax.device_get(stats),
  }
  data = flax.serialization.msgpack_serialize(payload)
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  tmp = f"{path}.tmp{os.getpid()}"
  with open(tmp, "wb") as f:
    f.write(data)
  os.replace(tmp, path)


def load_generator(path: str) -> dict[str, Any]:
  """Reads an exported generator: config, params, batch_stats, class names."""
  try:
    with open(path, "rb") as f:
      data = f.read()
  except OSError as e:
    raise ExportFormatError(f"cannot read generator file {path!r}: "
                            f"{e.strerror}") from None
  try:
    payload = flax.serialization.msgpack_restore(data)
  except Exception:  # msgpack raises several unrelated types on bad bytes
    raise ExportFormatError(
        f"{path!r} is not an audiogan_jax generator file (not msgpack or "
        "truncated); export one with audiogan-export") from None
  if not isinstance(payload, dict) or payload.get("format") != FORMAT:
    raise ExportFormatError(f"{path!r} is not an audiogan_jax generator file; "
                            "export one with audiogan-export")
  if int(payload.get("version", -1)) > VERSION:
    raise ExportFormatError(
        f"{path!r} has format version {payload['version']}, newer than this "
        f"audiogan_jax reads ({VERSION}); upgrade audiogan_jax")
  config = ml_collections.ConfigDict(json.loads(payload["config"]))
  to_np = lambda t: jax.tree.map(np.asarray, t)
  return {"config": config, "params": to_np(payload["params"]),
          "batch_stats": to_np(payload["batch_stats"]),
          "class_names": tuple(payload.get("class_names", ())),
          "step": int(payload.get("step", -1))}
