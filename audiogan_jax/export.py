"""Exported model files: msgpack with the config beside the params.

Two kinds share one layout, writer and reader:

* a generator file (``FORMAT``, ``audiogan_jax.generator``): the EMA
  generator's params and ``batch_stats`` as ``family.generate`` takes them;
  ``audiogan-generate`` reads it;
* an encoder file (``ENCODER_FORMAT``, ``audiogan_jax.encoder``): a guided
  model's encoder-side networks (``family.ENCODER``: GAAE's E and C, GGAN's
  D, F and Cx), params and ``batch_stats`` as dicts by network name, as
  ``family.encode`` takes them; ``audiogan-encode`` reads it.

Both hold the config JSON, the class names, the step and the family. No
pickle: the file is a msgpack map of plain types and arrays, read back with
``flax.serialization.msgpack_restore``, so loading one never executes code.
Every file written carries a SHA-256 of its contents (``checksum``), so a
damaged or edited file is refused with a one-line error, and loading checks
each array's shape against the network the config describes.

``export_run`` writes a run's ``generator.msgpack`` and
``encoder.msgpack`` (the library side of ``audiogan-export``; reading a
workdir's checkpoint is :func:`audiogan_jax.workdir.restore`).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from typing import Any, Optional

import flax.serialization
import jax
import ml_collections
import numpy as np

FORMAT = "audiogan_jax.generator"
ENCODER_FORMAT = "audiogan_jax.encoder"
VERSION = 2      # 2: files carry a checksum; 1 (no checksum) still reads
CHECKSUM_SINCE = 2

GENERATOR_FILE = "generator.msgpack"
ENCODER_FILE = "encoder.msgpack"

# File kind -> the word used in messages and in audiogan-export --what.
_WHAT = {FORMAT: "generator", ENCODER_FORMAT: "encoder"}


class ExportFormatError(ValueError):
  """A file that is not a readable exported model of the expected kind."""


def _write(path: str, kind: str, config: ml_collections.ConfigDict,
           params: Any, stats: Any, class_names: tuple[str, ...],
           step: int) -> None:
  """Writes one exported file atomically (temporary file, then rename)."""
  payload = {
      "format": kind, "version": VERSION,
      "family": str(config.model.family), "config": config.to_json(),
      "class_names": [str(c) for c in class_names], "step": int(step),
      "params": jax.device_get(params), "batch_stats": jax.device_get(stats),
  }
  write_msgpack(path, payload)


def json_default(value: Any) -> Any:
  """``json.dumps`` fallback: numpy scalars and arrays as numbers and lists."""
  if isinstance(value, np.generic):
    return value.item()
  if isinstance(value, np.ndarray):
    return value.tolist()
  return str(value)


def checksum(tree: Any) -> str:
  """SHA-256 of a payload's contents (every key but ``checksum``).

  Walks maps in sorted key order and hashes each value's type, and each
  array's dtype, shape and bytes, so the digest does not depend on how
  msgpack laid the file out.
  """
  h = hashlib.sha256()

  def walk(x):
    if isinstance(x, dict):
      h.update(b"{")
      for k in sorted(x, key=str):
        if k == "checksum":
          continue
        h.update(repr(str(k)).encode())
        walk(x[k])
      h.update(b"}")
    elif isinstance(x, (list, tuple)):
      h.update(b"[")
      for v in x:
        walk(v)
      h.update(b"]")
    elif isinstance(x, (np.ndarray, np.generic)) or hasattr(x, "__array__"):
      a = np.ascontiguousarray(np.asarray(x))
      h.update(f"a{a.dtype.str}{a.shape}".encode())
      h.update(a.tobytes())
    else:
      h.update(f"{type(x).__name__}:{x!r}".encode())

  walk(tree)
  return h.hexdigest()


def write_msgpack(path: str, payload: Any) -> None:
  """Writes ``payload`` as msgpack atomically (temporary file, then rename).

  A dict payload gets a ``checksum`` entry (:func:`checksum`).
  """
  if isinstance(payload, dict):
    payload = {**payload, "checksum": checksum(payload)}
  data = flax.serialization.msgpack_serialize(payload)
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  tmp = f"{path}.tmp{os.getpid()}"
  with open(tmp, "wb") as f:
    f.write(data)
  os.replace(tmp, path)


def read_msgpack(path: str, what: str, error: type[Exception],
                 hint: str = "") -> Any:
  """The msgpack payload of ``path``, or ``error`` with a one-line message.

  ``what`` names the kind of file in messages and ``hint`` (e.g. "; export
  one with ...") follows the not-msgpack message. Never executes code from
  the file.
  """
  try:
    with open(path, "rb") as f:
      data = f.read()
  except OSError as e:
    raise error(f"cannot read {what} file {path!r}: {e.strerror}") from None
  try:
    payload = flax.serialization.msgpack_restore(data)
  except Exception:  # msgpack raises several unrelated types on bad bytes
    raise error(f"{path!r} is not an audiogan_jax {what} file (not msgpack "
                f"or truncated){hint}") from None
  if isinstance(payload, dict):
    stored = payload.get("checksum")
    version = payload.get("version", -1)
    if stored is None and isinstance(version, int) and (
        version >= CHECKSUM_SINCE):
      raise error(f"{path!r} is a damaged audiogan_jax {what} file (its "
                  f"checksum is missing){hint}")
    if stored is not None and stored != checksum(payload):
      raise error(f"{path!r} is a damaged or modified audiogan_jax {what} "
                  f"file (its contents do not match its checksum){hint}")
  return payload


def _read(path: str, kind: str) -> dict[str, Any]:
  """Reads one exported file of ``kind``; ExportFormatError otherwise."""
  what = _WHAT[kind]
  payload = read_msgpack(path, what, ExportFormatError,
                         f"; export one with audiogan-export --what={what}")
  found = payload.get("format") if isinstance(payload, dict) else None
  if found != kind:
    if found in _WHAT:
      raise ExportFormatError(
          f"{path!r} is not an audiogan_jax {what} file: it is an "
          f"audiogan_jax {_WHAT[found]} file; export the {what} with "
          f"audiogan-export --what={what}")
    raise ExportFormatError(
        f"{path!r} is not an audiogan_jax {what} file; export one with "
        f"audiogan-export --what={what}")
  if int(payload.get("version", -1)) > VERSION:
    raise ExportFormatError(
        f"{path!r} has format version {payload['version']}, newer than this "
        f"audiogan_jax reads ({VERSION}); upgrade audiogan_jax")
  try:
    config = ml_collections.ConfigDict(json.loads(payload["config"]))
    to_np = lambda t: jax.tree.map(np.asarray, t)
    model = {"config": config, "params": to_np(payload["params"]),
             "batch_stats": to_np(payload["batch_stats"]),
             "class_names": tuple(payload.get("class_names", ())),
             "step": int(payload.get("step", -1))}
  except (KeyError, TypeError, ValueError, AttributeError):
    raise ExportFormatError(
        f"{path!r} is a damaged audiogan_jax {what} file (missing or bad "
        f"config or params); export it again with audiogan-export "
        f"--what={what}") from None
  return model


def abstract_state(family, config: ml_collections.ConfigDict) -> Any:
  """Shape/dtype structs of ``family.init_state(config, key)``, no compute."""
  return jax.eval_shape(lambda k: family.init_state(config, k),
                        jax.random.key(0))


def _shapes(tree: Any) -> dict[str, tuple[int, ...]]:
  """{key path: shape} of every array of ``tree``."""
  return {jax.tree_util.keystr(k): tuple(np.shape(v)) for k, v in
          jax.tree_util.tree_flatten_with_path(tree)[0]}


@functools.lru_cache(maxsize=16)
def _expected_shapes(what: str, config_json: str) -> tuple[dict, dict]:
  """{path: shape} of the params and stats the config's networks have."""
  from audiogan_jax import gans  # pylint: disable=g-import-not-at-top
  from audiogan_jax.gans import common as gan_common  # pylint: disable=g-import-not-at-top
  config = ml_collections.ConfigDict(json.loads(config_json))
  family = gans.get_family(str(config.model.family))
  state = abstract_state(family, config)
  if what == "generator":
    params, stats = gan_common.generator_variables(family, state)
  else:
    params, stats = encoder_variables(family, state)
  return _shapes(params), _shapes(stats)


def _check_shapes(path: str, what: str, model: dict[str, Any]) -> None:
  """The file's arrays have the shapes of the networks its config builds."""
  try:
    want_p, want_s = _expected_shapes(what, model["config"].to_json())
  except Exception as e:  # pylint: disable=broad-except
    # An unknown family, missing or impossible settings: whatever the model
    # code raises for them.
    reason = (str(e).strip().splitlines() or [type(e).__name__])[0]
    raise ExportFormatError(f"{path!r}: its config cannot build a model "
                            f"({reason}); export it again") from None
  for name, have_tree, want in (("params", model["params"], want_p),
                                ("batch_stats", model["batch_stats"], want_s)):
    have = _shapes(have_tree)
    for key in sorted(set(want) | set(have)):
      if have.get(key) != want.get(key):
        raise ExportFormatError(
            f"{path!r} does not match the model its config describes: "
            f"{name}{key} is {have.get(key, 'missing')}, the network needs "
            f"{want.get(key, 'nothing there')}; export it again with "
            f"audiogan-export --what={what}")


def save_generator(path: str, config: ml_collections.ConfigDict, params: Any,
                   stats: Any, class_names: tuple[str, ...] = (),
                   step: int = -1) -> None:
  """Writes a generator's params and batch stats with its config.

  Args:
    path: The file to write (its folder is created).
    config: The resolved run config (``model.num_classes`` filled in).
    params: The generator's params as ``family.generate`` takes them.
    stats: Its ``batch_stats``, likewise.
    class_names: The dataset's class names, in label order.
    step: The training step the weights come from.
  """
  _write(path, FORMAT, config, params, stats, class_names, step)


def load_generator(path: str) -> dict[str, Any]:
  """Reads an exported generator.

  Args:
    path: A file written by :func:`save_generator`.

  Returns:
    ``{"config", "params", "batch_stats", "class_names", "step"}`` with the
    arrays as numpy arrays.

  Raises:
    ExportFormatError: unreadable, damaged, not a generator file, too new,
      or arrays that do not fit the network its config describes.
  """
  model = _read(path, FORMAT)
  _check_shapes(path, "generator", model)
  return model


def save_encoder(path: str, config: ml_collections.ConfigDict,
                 params: dict[str, Any], stats: dict[str, Any],
                 class_names: tuple[str, ...] = (), step: int = -1) -> None:
  """Writes a guided model's encoder-side networks with its config.

  Args:
    path: The file to write (its folder is created).
    config: The resolved run config.
    params: Params of the family's ``ENCODER`` networks, by network name.
    stats: Their ``batch_stats``, by network name.
    class_names: The dataset's class names, in label order.
    step: The training step the weights come from.
  """
  if set(params) != set(stats):
    raise ValueError(f"encoder params ({sorted(params)}) and batch_stats "
                     f"({sorted(stats)}) name different networks")
  _write(path, ENCODER_FORMAT, config, dict(params), dict(stats), class_names,
         step)


def load_encoder(path: str) -> dict[str, Any]:
  """Reads an exported encoder (same dict as :func:`load_generator`).

  Raises:
    ExportFormatError: unreadable, not an encoder file (a generator file
      included), too new, or missing networks the family encodes with.
  """
  model = _read(path, ENCODER_FORMAT)
  from audiogan_jax import gans  # pylint: disable=g-import-not-at-top
  name = str(model["config"].model.family)
  family = gans.get_family(name)
  missing = [n for n in family.ENCODER if n not in model["params"]]
  if not family.ENCODER or missing:
    raise ExportFormatError(
        f"{path!r} does not hold the {name} network(s) that encoding needs "
        f"({', '.join(family.ENCODER) or 'a ' + name + ' model has none'}); "
        "export it again with audiogan-export --what=encoder")
  _check_shapes(path, "encoder", model)
  return model


def encoder_variables(family, state) -> tuple[dict[str, Any], dict[str, Any]]:
  """Params and stats of ``family.ENCODER`` (trained, not EMA), by name.

  Raises:
    ValueError: the family has no encoder (BigGAN).
  """
  if not family.ENCODER:
    raise ValueError(f"a {family.name} model has no "
                     "encoder or classifier; use --what=generator")
  return ({n: state.params[n] for n in family.ENCODER},
          {n: state.stats[n] for n in family.ENCODER})


def model_from_state(what: str, family, config: ml_collections.ConfigDict,
                     state, class_names: tuple[str, ...] = (),
                     step: Optional[int] = None) -> dict[str, Any]:
  """What :func:`load_generator` / :func:`load_encoder` would return.

  The in-memory equivalent of exporting ``state`` and reading the file back,
  for commands that work from a checkpoint without writing a file.

  Args:
    what: ``"generator"`` (the EMA generator) or ``"encoder"``.
    family: The GAN family module.
    config: The resolved run config.
    state: A ``GANState``.
    class_names: The dataset's class names.
    step: The step to record (default: ``state.step``).
  """
  from audiogan_jax.gans import common as gan_common  # pylint: disable=g-import-not-at-top
  if what == "generator":
    params, stats = gan_common.generator_variables(family, state)
  elif what == "encoder":
    params, stats = encoder_variables(family, state)
  else:
    raise ValueError(f"what={what!r}: choose 'generator' or 'encoder'")
  to_np = lambda t: jax.tree.map(np.asarray, jax.device_get(t))
  if step is None:
    step = int(jax.device_get(state.step))
  return {"config": config, "params": to_np(params),
          "batch_stats": to_np(stats),
          "class_names": tuple(str(c) for c in class_names),
          "step": int(step)}


def save_model(path: str, what: str, model: dict[str, Any]) -> None:
  """Writes a dict of :func:`model_from_state` as a ``what`` file."""
  save = save_generator if what == "generator" else save_encoder
  save(path, model["config"], model["params"], model["batch_stats"],
       model["class_names"], model["step"])


def export_run(directory: str, family, config: ml_collections.ConfigDict,
               state, class_names: tuple[str, ...], step: int) -> list[str]:
  """Writes a run's exported files into ``directory``.

  ``generator.msgpack`` (the EMA generator) always, and ``encoder.msgpack``
  (the trained ``family.ENCODER`` networks) when the family has an encoder.

  Args:
    directory: Where to write (created if needed); usually the workdir.
    family: The GAN family module.
    config: The resolved run config.
    state: The final ``GANState``.
    class_names: The dataset's class names.
    step: The step of ``state``.

  Returns:
    The paths written.
  """
  paths = []
  for what, name in (("generator", GENERATOR_FILE), ("encoder", ENCODER_FILE)):
    if what == "encoder" and not family.ENCODER:
      continue
    path = os.path.join(directory, name)
    save_model(path, what,
               model_from_state(what, family, config, state, class_names,
                                step))
    paths.append(path)
  return paths
