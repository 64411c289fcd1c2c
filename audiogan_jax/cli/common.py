"""What every command does first, and how it reports a user's mistake."""

from __future__ import annotations

import functools
import os
import sys
from typing import Any, Callable, Optional

# Keep TensorFlow quiet and off the accelerators: JAX owns them.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# TensorFlow only feeds data and writes summaries here, so its oneDNN kernels
# buy nothing, and the notice they print at import can slip past the log
# level (it is written before TensorFlow's logging starts).
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")


def hide_accelerators_from_tensorflow() -> None:
  """tf.data runs on the host; TensorFlow must not grab GPU memory."""
  try:
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    tf.config.set_visible_devices([], "GPU")
  except (ImportError, RuntimeError):
    pass


class _QuietLibraries:
  """Drops INFO lines of the checkpoint/XLA libraries (they log every save)."""

  _NOISY = ("orbax", "jax/_src", "jax_array_handlers", "replica_slices",
            "signaling_client", "xla_bridge")

  def filter(self, record) -> bool:
    if record.levelno >= 30:
      return True
    return not any(n in record.pathname for n in self._NOISY)


def define_distributed_flags() -> dict[str, Any]:
  """--distributed and where the job's coordinator is (for train and bench).

  Cloud TPU pods and SLURM need only --distributed (JAX finds the rest);
  elsewhere, e.g. several processes on one machine
  (launch/local_multiprocess.sh), pass the coordinator, the process count
  and this process's id, as flags or as JAX_COORDINATOR_ADDRESS,
  JAX_NUM_PROCESSES and JAX_PROCESS_ID.
  """
  from absl import flags  # pylint: disable=g-import-not-at-top
  return {
      "distributed": flags.DEFINE_bool(
          "distributed", False,
          "Join one jax.distributed job (one process per host or per group "
          "of devices)."),
      "coordinator_address": flags.DEFINE_string(
          "coordinator_address", os.environ.get("JAX_COORDINATOR_ADDRESS"),
          "With --distributed: host:port of process 0's coordinator "
          "(default: detected on Cloud TPU and SLURM)."),
      "num_processes": flags.DEFINE_integer(
          "num_processes", _env_int("JAX_NUM_PROCESSES"),
          "With --distributed: how many processes the job has."),
      "process_id": flags.DEFINE_integer(
          "process_id", _env_int("JAX_PROCESS_ID"),
          "With --distributed: this process's index, 0 .. num_processes - 1."),
      "heartbeat_timeout": flags.DEFINE_integer(
          "heartbeat_timeout", 100,
          "With --distributed: seconds without a heartbeat after which a "
          "process counts as lost and the whole job stops."),
  }


def _env_int(name: str) -> Optional[int]:
  value = os.environ.get(name, "").strip()
  return int(value) if value.isdigit() else None


def initialize_distributed(values: dict[str, Any]) -> None:
  """jax.distributed.initialize() from :func:`define_distributed_flags`'s
  flags (nothing without --distributed). CPU devices talk through gloo, so
  a job of CPU processes (a rehearsal of a pod run) works too."""
  if not values["distributed"].value:
    return
  import jax  # pylint: disable=g-import-not-at-top
  n, pid = values["num_processes"].value, values["process_id"].value
  if (n is None) != (pid is None):
    raise ValueError("--num_processes and --process_id go together: pass "
                     "both (or neither, on Cloud TPU and SLURM)")
  if n is not None and not 0 <= pid < n:
    raise ValueError(f"--process_id={pid} must be in 0 .. "
                     f"--num_processes - 1 = {n - 1}")
  jax.config.update("jax_cpu_collectives_implementation", "gloo")
  address = values["coordinator_address"].value or None
  try:
    jax.distributed.initialize(
        coordinator_address=address, num_processes=n, process_id=pid,
        heartbeat_timeout_seconds=int(values["heartbeat_timeout"].value))
  except ValueError as e:
    if address:
      raise
    raise ValueError(
        f"--distributed found no job to join ({e}): outside Cloud TPU and "
        "SLURM pass --coordinator_address=HOST:PORT --num_processes=N "
        "--process_id=I (or JAX_COORDINATOR_ADDRESS, JAX_NUM_PROCESSES, "
        "JAX_PROCESS_ID)") from e


def exit_now(code: int, shutdown: bool = True, line: str = "") -> None:
  """Exits with ``code`` at once, for a run that saved what it keeps.

  Output is flushed, ``line`` written last to stderr, and, in a
  jax.distributed job (unless ``shutdown`` is False), every process first
  reaches the shutdown barrier (they stop at the same agreed step). Skipping
  the interpreter's teardown matters: tf.data's iterator destructor waits for
  the input pipeline's gathers in flight, which kept a stopped process alive
  8 to 25 s after its last line.
  """
  import jax  # pylint: disable=g-import-not-at-top
  from absl import logging  # pylint: disable=g-import-not-at-top
  logging.flush()
  sys.stdout.flush()
  if line:
    print(line, file=sys.stderr)
  sys.stderr.flush()
  if shutdown and jax.process_count() > 1:
    jax.distributed.shutdown()
  os._exit(code)  # pylint: disable=protected-access


LOST_PROCESS_EXIT_CODE = 1


def lost_process_exit(prog: str, e: BaseException) -> None:
  """Ends this process of a jax.distributed job whose peer is gone: one line
  and exit status 1, at once. The interpreter's teardown is skipped: its
  jax.distributed shutdown would wait for, or abort on, the lost peer."""
  why = " ".join(str(e).split())
  if len(why) > 200:
    why = why[:197] + "..."
  exit_now(LOST_PROCESS_EXIT_CODE, shutdown=False,
           line=f"{prog}: error: this job lost one of its processes ({why}); "
           "rerun the same command to resume from the last checkpoint")


def setup_logging() -> None:
  """INFO logging for audiogan_jax, warnings only from the libraries."""
  from absl import logging  # pylint: disable=g-import-not-at-top
  logging.set_verbosity(logging.INFO)
  logging.get_absl_handler().addFilter(_QuietLibraries())


def user_errors(prog: str) -> Callable:
  """Turns the errors a user can fix into one line on stderr and exit code 2.

  Set AUDIOGAN_DEBUG=1 to see the full traceback instead.
  """
  from audiogan_jax import export as export_lib  # pylint: disable=g-import-not-at-top
  from audiogan_jax import errors  # pylint: disable=g-import-not-at-top

  handled = (ValueError, FileNotFoundError, NotADirectoryError,
             PermissionError, FloatingPointError, export_lib.ExportFormatError,
             errors.CheckpointError)

  def wrap(main):
    @functools.wraps(main)
    def inner(*args, **kwargs):
      try:
        return main(*args, **kwargs)
      except handled as e:
        if os.environ.get("AUDIOGAN_DEBUG"):
          raise
        msg = str(e).strip().splitlines()[0] if str(e).strip() else repr(e)
        print(f"{prog}: error: {msg}", file=sys.stderr)
        sys.exit(2)
      except Exception as e:  # pylint: disable=broad-except
        if os.environ.get("AUDIOGAN_DEBUG") or not errors.lost_process(e):
          raise
        lost_process_exit(prog, e)
    return inner
  return wrap


def run_app(main: Callable, prog: str) -> None:
  """absl's app.run, with flag and config-override mistakes as one line."""
  from absl import app  # pylint: disable=g-import-not-at-top
  from absl import flags  # pylint: disable=g-import-not-at-top
  app.define_help_flags()  # --helpfull lists every flag of every library
  if any(a in ("-h", "--help", "--helpshort", "-?") for a in sys.argv[1:]):
    module = sys.modules[main.__module__]
    print((module.__doc__ or "").strip() + "\n")
    print(flags.FLAGS.module_help(module))
    sys.exit(0)
  try:
    remaining = flags.FLAGS(sys.argv)
    if "config" in flags.FLAGS:
      # A config file that failed to load only raises when first used.
      getattr(flags.FLAGS["config"].value, "model", None)
  except (flags.Error, AttributeError, KeyError, TypeError, ValueError,
          OSError) as e:
    if os.environ.get("AUDIOGAN_DEBUG"):
      raise
    lines = [l.strip() for l in str(e).splitlines() if l.strip()]
    text = " ".join(lines)
    if isinstance(e, AttributeError):
      key = text.strip("\"'")
      flag = next((a.split("=", 1)[0] for a in sys.argv[1:]
                   if a.startswith("--config.")
                   and key in a.split("=", 1)[0].split(".")), "")
      where = f" ({flag})" if flag else " in a --config.* override"
      text = (f"unknown config key '{key}'{where}; see the config file for "
              "the valid keys")
    elif isinstance(e, OSError) and lines:
      text = f"cannot load --config: {lines[-1]}"
    print(f"{prog}: error: {text[:300]}", file=sys.stderr)
    sys.exit(2)
  # Flags are parsed once, here; absl then only runs main.
  app.run(main, flags_parser=lambda _: remaining)
