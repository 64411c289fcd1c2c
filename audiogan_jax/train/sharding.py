"""One device mesh with a 'data' axis: replicated state, sharded batches."""

from __future__ import annotations

from typing import Any, Mapping

import jax
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P
import numpy as np


def make_mesh(num_devices: int = 0) -> Mesh:
  """A 1-D mesh over all devices of all processes (or the first N, one host)."""
  devices = jax.devices()
  if num_devices:
    if jax.process_count() > 1:
      raise ValueError("--config.train.num_devices only applies to a single "
                       "process; leave it at 0 under jax.distributed")
    if num_devices > len(devices):
      raise ValueError(f"--config.train.num_devices={num_devices} but only "
                       f"{len(devices)} devices are visible")
    devices = devices[:num_devices]
  return Mesh(np.asarray(devices), ("data",))


def replicated(mesh: Mesh) -> NamedSharding:
  """Sharding of parameters and optimizer state: a full copy per device."""
  return NamedSharding(mesh, P())


def batch_sharding(mesh: Mesh) -> NamedSharding:
  """Sharding of [k, B, ...] iteration batches: B split over 'data'."""
  return NamedSharding(mesh, P(None, "data"))


def check_batch_size(global_batch: int, mesh: Mesh) -> None:
  """The global batch must split evenly over the devices."""
  n = mesh.devices.size
  if global_batch % n:
    raise ValueError(f"--config.train.batch_size={global_batch} is not "
                     f"divisible by the {n} devices of the mesh; use a "
                     f"multiple of {n}")


def to_global(batch: Mapping[str, np.ndarray], mesh: Mesh) -> dict[str, Any]:
  """Assembles each process's rows into global [k, B, ...] arrays."""
  sh = batch_sharding(mesh)
  out = {}
  for name, local in batch.items():
    global_shape = (local.shape[0], local.shape[1] * jax.process_count(),
                    *local.shape[2:])
    out[name] = jax.make_array_from_process_local_data(sh, local, global_shape)
  return out


def replicate(value: Any, mesh: Mesh) -> Any:
  """A host value that every process holds alike (a PRNG key, a scalar), as
  one array replicated over the mesh's devices of all processes."""
  rep = replicated(mesh)
  if jax.dtypes.issubdtype(getattr(value, "dtype", None), jax.dtypes.prng_key):
    data = np.asarray(jax.random.key_data(value))
    return jax.random.wrap_key_data(
        jax.make_array_from_process_local_data(rep, data),
        impl=jax.random.key_impl(value))
  value = np.asarray(value)
  return jax.make_array_from_process_local_data(rep, value)
