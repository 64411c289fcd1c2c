"""Orbax checkpoints of the GAN state plus a JSON record of the run.

Saves are asynchronous and atomic (Orbax writes a temporary folder and
renames it when complete), so a run killed mid-save keeps its older
checkpoints. A checkpoint that is there but cannot be read (a truncated or
damaged file) is moved aside to ``<directory>_unreadable/`` and the run
resumes from the one before it. A save that fails (disk full, permission)
raises :class:`CheckpointError` with one line naming the folder and the
checkpoints that are intact.
"""

from __future__ import annotations

import os
import shutil
import time
from typing import Any, Optional

from absl import logging
import orbax.checkpoint as ocp

from audiogan_jax.errors import CheckpointError  # pylint: disable=unused-import
from audiogan_jax.errors import lost_process


def _reason(e: BaseException) -> str:
  text = " ".join(str(e).split()) or type(e).__name__
  return text[:200]


class Checkpointer:
  """Saves every N steps and at the end, keeps the last K, resumes the newest."""

  def __init__(self, directory: str, max_to_keep: int = 3):
    self.directory = os.path.abspath(directory)
    self.max_to_keep = max_to_keep
    self._pending = -1
    self.manager = self._open()

  def _open(self) -> ocp.CheckpointManager:
    return ocp.CheckpointManager(
        self.directory,
        options=ocp.CheckpointManagerOptions(max_to_keep=self.max_to_keep,
                                             create=True))

  def latest_step(self) -> Optional[int]:
    """The newest finished checkpoint's step, or None."""
    return self.manager.latest_step()

  def all_steps(self) -> list[int]:
    """Every finished checkpoint's step, oldest first."""
    return sorted(self.manager.all_steps())

  def restore(self, abstract_state: Any,
              step: Optional[int] = None) -> tuple[Any, dict]:
    """Restores (state, meta) from ``step`` (default: the newest)."""
    step = self.manager.latest_step() if step is None else step
    out = self.manager.restore(
        step, args=ocp.args.Composite(
            state=ocp.args.StandardRestore(abstract_state),
            meta=ocp.args.JsonRestore()))
    return out["state"], dict(out["meta"] or {})

  def restore_newest_readable(self, abstract_state: Any
                              ) -> tuple[Any, dict, int]:
    """(state, meta, step) of the newest checkpoint that can be read.

    Unreadable newer ones are moved to ``<directory>_unreadable/`` with a
    warning, so later saves at those steps are not skipped and nothing is
    deleted.
    """
    failures = []
    for step in reversed(self.all_steps()):
      try:
        state, meta = self.restore(abstract_state, step)
      except Exception as e:  # pylint: disable=broad-except
        # Orbax and tensorstore raise many types for damaged files.
        failures.append(f"step {step}: {_reason(e)}")
        moved = self._move_aside(step)
        logging.warning(
            "checkpoint step %d in %s cannot be read (%s); moved it to %s and "
            "trying the one before", step, self.directory, _reason(e), moved)
        continue
      if failures:
        logging.warning("resuming from checkpoint step %d: the newer ones "
                        "were unreadable", step)
      return state, meta, step
    raise CheckpointError(
        f"no checkpoint in {self.directory} can be read ({'; '.join(failures)}"
        "); move the folder away to start afresh")

  def _move_aside(self, step: int) -> str:
    """Moves a step's folder out of the manager's directory; its new path."""
    src = os.path.join(self.directory, str(step))
    dest_root = self.directory.rstrip(os.sep) + "_unreadable"
    os.makedirs(dest_root, exist_ok=True)
    dest = os.path.join(dest_root, f"{step}-{time.strftime('%Y%m%d-%H%M%S')}")
    if os.path.exists(src):
      shutil.move(src, dest)
    self.manager.close()
    self.manager = self._open()
    return dest

  def _error(self, step: int, e: BaseException) -> CheckpointError:
    try:
      kept = ", ".join(str(s) for s in self.all_steps()) or "none"
    except Exception:  # pylint: disable=broad-except
      kept = "unknown"
    return CheckpointError(
        f"cannot write checkpoint step {step} to {self.directory}: "
        f"{_reason(e)}; free disk space or fix the folder's permissions, "
        f"then rerun to resume (intact checkpoints: {kept})")

  def save(self, step: int, state: Any, meta: dict, force: bool = False) -> bool:
    """Saves asynchronously; returns False when the step already exists.

    Raises CheckpointError when this save, or the previous asynchronous one,
    failed.
    """
    if step in self.manager.all_steps():
      return False
    self.wait()  # a failure of the previous save is reported as such
    self._pending = step
    try:
      return self.manager.save(
          step, args=ocp.args.Composite(state=ocp.args.StandardSave(state),
                                        meta=ocp.args.JsonSave(meta)),
          force=force)
    except (OSError, ValueError, RuntimeError) as e:
      if lost_process(e):
        raise
      raise self._error(step, e) from e

  def wait(self) -> None:
    """Waits for a pending save; CheckpointError if it failed."""
    try:
      self.manager.wait_until_finished()
    except (OSError, ValueError, RuntimeError) as e:
      if lost_process(e):
        raise
      raise self._error(self._pending, e) from e

  def close(self) -> None:
    """Waits for pending saves and releases the manager."""
    try:
      self.wait()
    finally:
      self.manager.close()
