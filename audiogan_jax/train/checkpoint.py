"""Orbax checkpoints of the GAN state plus a JSON record of the run."""

from __future__ import annotations

import os
from typing import Any, Optional

import jax
import orbax.checkpoint as ocp


def abstract_like(tree: Any) -> Any:
  """Shape/dtype/sharding structs of a pytree of arrays (the restore target)."""
  return jax.tree.map(
      lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype,
                                     sharding=getattr(x, "sharding", None)),
      tree)


class Checkpointer:
  """Saves every N steps and at the end, keeps the last K, resumes the newest."""

  def __init__(self, directory: str, max_to_keep: int = 3):
    self.directory = os.path.abspath(directory)
    self.manager = ocp.CheckpointManager(
        self.directory,
        options=ocp.CheckpointManagerOptions(max_to_keep=max_to_keep,
                                             create=True))

  def latest_step(self) -> Optional[int]:
    """The newest finished checkpoint's step, or None."""
    return self.manager.latest_step()

  def restore(self, abstract_state: Any,
              step: Optional[int] = None) -> tuple[Any, dict]:
    """Restores (state, meta) from ``step`` (default: the newest)."""
    step = self.manager.latest_step() if step is None else step
    out = self.manager.restore(
        step, args=ocp.args.Composite(
            state=ocp.args.StandardRestore(abstract_state),
            meta=ocp.args.JsonRestore()))
    return out["state"], dict(out["meta"] or {})

  def save(self, step: int, state: Any, meta: dict, force: bool = False) -> bool:
    """Saves asynchronously; returns False when the step already exists."""
    if step in self.manager.all_steps():
      return False
    return self.manager.save(
        step, args=ocp.args.Composite(state=ocp.args.StandardSave(state),
                                      meta=ocp.args.JsonSave(meta)),
        force=force)

  def close(self) -> None:
    """Waits for pending saves and releases the manager."""
    self.manager.wait_until_finished()
    self.manager.close()
