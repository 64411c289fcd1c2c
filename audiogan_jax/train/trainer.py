"""The training loop shared by every GAN family: ``train_and_evaluate``."""

from __future__ import annotations

import collections
import contextlib
import functools
import itertools
import os
import signal
import threading
import time
from typing import Any, Iterator, Optional

from absl import logging
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from audiogan_jax import checkpoint as ckpt_lib
from audiogan_jax import errors
from audiogan_jax import gans
from audiogan_jax import media
from audiogan_jax import workdir as workdir_lib
from audiogan_jax.data import pipeline
from audiogan_jax.train import sharding
from audiogan_jax.train import tasks
from audiogan_jax.train import writer as writer_lib

Config = ml_collections.ConfigDict

def resolve_config(config: Config, dataset: pipeline.Dataset,
                   family=None) -> Config:
  """Fills values that come from the data (classes, the family's own)."""
  config = ml_collections.ConfigDict(config.to_dict())
  if family is not None:
    config = family.resolve(config, dataset)
  n = int(config.model.get("num_classes", -1))
  if n <= 0:
    config.model.num_classes = dataset.num_classes
  elif config.model.get("conditional", False) and n != dataset.num_classes:
    raise ValueError(
        f"--config.model.num_classes={n} but the dataset has "
        f"{dataset.num_classes} classes ({', '.join(dataset.class_names)}); "
        "set it to -1 to take the dataset's count")
  return config


def resolve_batch_size(config: Config, mesh) -> Config:
  """Sets the global batch from ``train.per_device_batch_size`` if given.

  ``train.batch_size`` is the global batch, split over every device of the
  mesh; ``train.per_device_batch_size`` > 0 instead fixes each device's
  share, and the global batch follows the number of devices.
  """
  per = int(config.train.get("per_device_batch_size", 0) or 0)
  n = int(mesh.devices.size)
  if per < 0:
    raise ValueError(f"--config.train.per_device_batch_size={per}: use a "
                     "positive number, or 0 to take train.batch_size")
  if per:
    config = ml_collections.ConfigDict(config.to_dict())
    config.train.batch_size = per * n
  sharding.check_batch_size(int(config.train.batch_size), mesh)
  return config


def prefetch_to_mesh(iterator, mesh, size: int = 2):
  """Yields global device batches, the next ``size`` already transferred.

  The copy to the devices is asynchronous, so while one iteration runs the
  following batches are on their way (``size`` = 0: no prefetch).
  """
  queue = collections.deque()

  def fill(n):
    for host_batch in itertools.islice(iterator, n):
      queue.append(sharding.to_global(host_batch, mesh))

  fill(max(size, 1))
  while queue:
    yield queue.popleft()
    fill(1)


_STEP_CACHE: dict = {}

# The train step's metric that says every loss and parameter is finite; a
# NaN or Inf gradient reaches the parameters through Adam, so this catches
# those too. Not logged.
FINITE = "all_finite"


def all_finite(*trees) -> jax.Array:
  """Whether every floating-point value in ``trees`` is finite (a bool)."""
  leaves = [jnp.all(jnp.isfinite(x)) for t in trees
            for x in jax.tree.leaves(t)
            if jnp.issubdtype(jnp.asarray(x).dtype, jnp.floating)]
  return jnp.all(jnp.stack(leaves)) if leaves else jnp.bool_(True)


def step_variant(family, config: Config, step: int):
  """The static variant of the train step at iteration ``step``: the
  family's ``step_variant`` (GANSynth: its growth stage), or None."""
  return family.step_variant(config, step)


def make_train_step(family, config: Config, mesh):
  """The jitted iteration ``(state, batch, base_key) -> (state, metrics)``.

  Cached per (family, config, devices) so a second run in the same process
  (tests, notebooks) reuses the compiled step.
  """
  # Only what the step computes with (the family's declared
  # ``step_config_keys``; shapes are jit's own key): run length, logging and
  # data paths do not change the compiled program.
  cache_key = (family.step_cache_key(config),
               tuple(d.id for d in mesh.devices.flat))
  if cache_key in _STEP_CACHE:
    return _STEP_CACHE[cache_key]
  rep, bsh = sharding.replicated(mesh), sharding.batch_sharding(mesh)

  def step(state, batch, base_key, variant=None):
    key = jax.random.fold_in(base_key, state.step)
    extra = {} if variant is None else {"variant": variant}
    state, metrics = family.train_iteration(state, batch, key, config=config,
                                            **extra)
    return state, {**metrics, FINITE: all_finite(metrics, state.params)}

  # ``variant`` (static; see step_variant) selects one of the family's
  # compiled forms, e.g. GANSynth's growth stage; None is the whole model.
  fn = jax.jit(step, in_shardings=(rep, bsh, rep), out_shardings=(rep, rep),
               static_argnums=(3,), donate_argnums=(0,))
  _STEP_CACHE[cache_key] = fn
  return fn


def _init_fn(family, config: Config, mesh):
  """The jitted initialisation and its key (``train.seed``)."""
  fn = jax.jit(functools.partial(family.init_state, config),
               out_shardings=sharding.replicated(mesh))
  return fn, jax.random.key(int(config.train.seed))


def init_state(family, config: Config, mesh):
  """Initialises the state directly in its replicated sharding.

  The initialisation runs once and takes milliseconds, but its program is
  large (an initialiser per parameter: about 2,800 small kernels for a
  ch = 1 GAAE): on CPU it is compiled without LLVM's optimisation, which
  takes 16 s instead of 26 s there. The values are the same.
  """
  fn, key = _init_fn(family, config, mesh)
  key = sharding.replicate(key, mesh)
  lowered = fn.lower(key)
  options = ({"xla_backend_optimization_level": 0}
             if jax.default_backend() == "cpu" else None)
  return lowered.compile(compiler_options=options)(key)


def abstract_state(family, config: Config, mesh):
  """The state's shapes, dtypes and shardings, without computing it (the
  restore target when a checkpoint exists)."""
  return jax.eval_shape(*_init_fn(family, config, mesh))


class TrainingInterrupted(Exception):
  """SIGTERM or SIGINT stopped training after a checkpoint was saved."""

  def __init__(self, signum: int, step: int, directory: str):
    self.signum, self.step = signum, step
    name = signal.Signals(signum).name
    super().__init__(f"stopped by {name} at step {step}; the checkpoint is "
                     f"saved in {directory}: rerun the same command to resume")


class NonFiniteError(FloatingPointError):
  """A loss or parameter became NaN or Inf."""


class _StopSignals:
  """SIGTERM / SIGINT ask the loop to checkpoint and stop (preemption).

  A second SIGINT stops at once (KeyboardInterrupt). Handlers are only
  installed from the main thread, and the previous ones come back on exit.
  """

  SIGNALS = (signal.SIGTERM, signal.SIGINT)

  def __init__(self):
    self.signum: Optional[int] = None
    self._previous: dict = {}

  def __enter__(self):
    if threading.current_thread() is threading.main_thread():
      for s in self.SIGNALS:
        self._previous[s] = signal.signal(s, self._handle)
    return self

  def _handle(self, signum, frame):  # pylint: disable=unused-argument
    if self.signum is not None and signum == signal.SIGINT:
      raise KeyboardInterrupt
    self.signum = signum
    logging.warning("received %s: saving a checkpoint after this iteration, "
                    "then stopping (SIGINT again stops at once)",
                    signal.Signals(signum).name)

  def __exit__(self, *exc):
    for s, h in self._previous.items():
      signal.signal(s, h)
    self._previous.clear()
    return False

  def agreed(self) -> Optional[int]:
    """The signal, if any process got one (every process must call this)."""
    if jax.process_count() == 1:
      return self.signum
    from jax.experimental import multihost_utils  # pylint: disable=g-import-not-at-top
    got = multihost_utils.process_allgather(np.int32(self.signum or 0))
    return int(np.max(got)) or None


@contextlib.contextmanager
def _closed_on_error(ckpt: ckpt_lib.Checkpointer) -> Iterator[None]:
  """On an error, lets pending saves finish (they were of good states);
  not when a process of the job is lost, whose part of them never comes."""
  try:
    yield
  except BaseException as e:
    if isinstance(e, Exception) and errors.lost_process(e):
      raise
    try:
      ckpt.close()
    except Exception as e:  # pylint: disable=broad-except
      logging.error("while stopping: %s", e)
    raise


def rng_streams(config: Config, rollbacks: int) -> tuple[int, Any]:
  """(data seed, base key) for ``train.rng_offset`` + automatic rollbacks.

  Offset 0 gives the run's own numbers; any other offset different batch
  order and different noise, the same initial state.
  """
  seed = int(config.train.seed)
  offset = int(config.train.get("rng_offset", 0)) + int(rollbacks)
  key = jax.random.key(seed + 1)
  if offset == 0:
    return seed, key
  return seed + 1_000_003 * offset, jax.random.fold_in(key, offset)


def _open_run(config: Config, workdir: str, overwrite: bool):
  """The mesh, data and resolved config of a run about to train; checks the
  workdir against the config and writes its records."""
  os.makedirs(workdir, exist_ok=True)
  family = gans.get_family(str(config.model.family))
  mesh = sharding.make_mesh(int(config.train.get("num_devices", 0)))
  config = resolve_batch_size(config, mesh)
  logging.info("devices: %d x %s, processes: %d", mesh.devices.size,
               jax.devices()[0].device_kind, jax.process_count())
  fields = media.input_fields(family, config)
  if ("spectrogram" in fields
      and int(config.data.get("num_samples", 16384)) != 16384):
    raise ValueError(f"--config.data.num_samples={config.data.num_samples}: "
                     f"{config.model.family} models 256x128 spectrograms of "
                     "16384-sample clips; use 16384")
  dataset = pipeline.load_dataset(
      config, cache_dir=workdir_lib.cache_dir(config, workdir),
      with_test=bool(tasks.eval_every(config, family) and family.ENCODER),
      spectrograms="spectrogram" in fields)
  logging.info("data: %s", dataset.summary())
  config = resolve_config(config, dataset, family)
  workdir_lib.check(workdir, config, overwrite)
  workdir_lib.write_records(workdir, config, dataset)
  return family, mesh, config, dataset


def _batches(family, config: Config, dataset, mesh, first: int,
             rollbacks: int):
  """The device batches from iteration ``first`` on, and the base key, for
  this many rollbacks (each one draws other batches and other noise)."""
  tc = config.train
  data_seed, key = rng_streams(config, rollbacks)
  it = prefetch_to_mesh(
      pipeline.make_iterator(
          dataset, family.streams(config), global_batch=int(tc.batch_size),
          steps_per_iteration=family.steps_per_iteration(config),
          seed=data_seed, start_iteration=first,
          stop_iteration=int(tc.num_steps),
          fields=media.input_fields(family, config)),
      mesh, int(tc.get("prefetch_to_device", 2)))
  return it, sharding.replicate(key, mesh)


def _save(ckpt, state, step: int, config: Config, rollbacks: int,
          force: bool = False) -> None:
  ckpt.save(step, state, {"step": step, "data_position": step,
                          "model": str(config.model.family),
                          "rollbacks": rollbacks,
                          "rng_offset": int(config.train.get("rng_offset", 0))},
            force=force)


def _first_non_finite(pending: list) -> Optional[int]:
  """The first iteration in ``pending`` whose state is not finite (reading
  the flags waits for the device); empties ``pending``."""
  flags = jax.device_get([f for _, f in pending])
  steps = [d for d, _ in pending]
  pending.clear()
  bad = [d for d, ok in zip(steps, flags) if not bool(ok)]
  return bad[0] if bad else None


def _roll_back(ckpt, bad: int, rollbacks: int, family, config: Config, mesh,
               target):
  """The last good state and its step after a NaN/Inf at ``bad``, or
  :class:`NonFiniteError` once ``train.nonfinite_rollbacks`` are used up."""
  tc = config.train
  ckpt.wait()
  good = ckpt.latest_step()
  what = (f"checkpoint step {good} in {ckpt.directory}" if good is not None
          else "initial state (no checkpoint yet)")
  if rollbacks >= int(tc.get("nonfinite_rollbacks", 0)):
    hint = (f"rerun with --config.train.rng_offset="
            f"{int(tc.get('rng_offset', 0)) + rollbacks + 1} to continue "
            "from it with other random numbers (or "
            "--config.train.nonfinite_rollbacks=N to do so automatically), "
            "or lower the learning rates")
    raise NonFiniteError(f"a loss or parameter became NaN/Inf at step {bad}; "
                         f"the last good {what} is kept: {hint}")
  if good is None:
    state, step = init_state(family, config, mesh), 0
  else:
    state, _, step = ckpt.restore_newest_readable(target)
  logging.warning("a loss or parameter became NaN/Inf at step %d: rolled "
                  "back to step %d with other random numbers (rollback %d of "
                  "%d)", bad, step, rollbacks + 1,
                  int(tc.get("nonfinite_rollbacks", 0)))
  return state, step


def train_and_evaluate(config: Config, workdir: str,
                       overwrite: bool = False) -> Any:
  """Trains the model the config names in ``workdir``; resumes if possible.

  Resumes from the newest readable checkpoint. A workdir holding another
  run's checkpoints is refused unless ``overwrite``. The periodic work
  (samples, evaluation, scores) and the work at the end (exports, curves,
  report) are the tasks of ``train/tasks``. Raises
  :class:`TrainingInterrupted` after SIGTERM/SIGINT (a checkpoint saved),
  :class:`NonFiniteError` when a loss or parameter stops being finite and
  ``train.nonfinite_rollbacks`` are used up (the last good checkpoint kept).
  """
  workdir = os.path.abspath(workdir)
  family, mesh, config, dataset = _open_run(config, workdir, overwrite)
  tc = config.train
  target = abstract_state(family, config, mesh)
  ckpt = workdir_lib.checkpointer(workdir, int(tc.keep_checkpoints))
  rollbacks = 0
  if ckpt.latest_step() is not None:
    state, meta, _ = ckpt.restore_newest_readable(target)
    rollbacks = int(meta.get("rollbacks", 0))
    logging.info("resumed from checkpoint at step %d", int(state.step))
  else:
    state = init_state(family, config, mesh)
  start, num_steps = int(jax.device_get(state.step)), int(tc.num_steps)
  writer = writer_lib.MetricWriter(workdir)
  periodic = tasks.from_config(tasks.Run(
      config, family, workdir, dataset, writer,
      workdir_lib.cache_dir(config, workdir), start))
  train_step = make_train_step(family, config, mesh)
  examples_per_iter = (int(tc.batch_size) * family.steps_per_iteration(config)
                       * len(family.streams(config)))
  check_every = max(1, int(tc.get("check_finite_every", 10)))
  multi = jax.process_count() > 1
  # Iterations whose finiteness flag has not been read yet: reading forces
  # the host to wait for the device, so it happens every check_every
  # iterations and before anything uses the state (checkpoint, tasks,
  # logging).
  pending: list = []
  if start >= num_steps:
    logging.info("already trained for %d steps (train.num_steps=%d)", start,
                 num_steps)
  else:
    with _StopSignals() as stop, _closed_on_error(ckpt):
      it, base_key = _batches(family, config, dataset, mesh, start, rollbacks)
      progress = writer_lib.Progress(num_steps, start)
      t_compile = time.perf_counter()
      step = first = start
      last_variant = step_variant(family, config, start)
      while step < num_steps:
        batch = next(it)
        variant = step_variant(family, config, step)
        if variant != last_variant and step != first:
          logging.info("iteration %d: the step's variant is now %s (compiled "
                       "once)", step, variant)
        last_variant = variant
        state, metrics = train_step(state, batch, base_key, variant)
        metrics = dict(metrics)
        done = step + 1
        pending.append((done, metrics.pop(FINITE)))
        if step == first:
          jax.block_until_ready(metrics)
          logging.info("first iteration (with compilation) took %.1fs",
                       time.perf_counter() - t_compile)
          progress = writer_lib.Progress(num_steps, done)
        do_log = done % int(tc.log_every) == 0 or done == num_steps
        due = [t for t in periodic if t.due(done, num_steps)]
        do_save = done % int(tc.checkpoint_every) == 0 or done == num_steps
        check = done % check_every == 0
        signum = (stop.agreed() if check else None) if multi else stop.signum
        if check or do_log or due or do_save or signum:
          bad = _first_non_finite(pending)
          if bad is not None:
            state, step = _roll_back(ckpt, bad, rollbacks, family, config,
                                     mesh, target)
            rollbacks += 1
            it, base_key = _batches(family, config, dataset, mesh, step,
                                    rollbacks)
            first = step
            continue
        if do_log:
          values = {f"train/{n}": float(v)
                    for n, v in jax.device_get(metrics).items()}
          writer.scalars(done, {**values, **progress.update(
              done, examples_per_iter, values)})
        for task in due:
          task(state, done)
        if do_save:
          _save(ckpt, state, done, config, rollbacks)
        step = done
        if signum:
          _save(ckpt, state, done, config, rollbacks, force=True)
          ckpt.wait()
          writer.close()
          raise TrainingInterrupted(signum, done, ckpt.directory)
      progress.close()
  final = int(jax.device_get(state.step))
  _save(ckpt, state, final, config, rollbacks)
  ckpt.close()
  try:
    for task in periodic:
      task.finish(state, final)
  finally:
    writer.close()
  return state
