#!/usr/bin/env bash
# One multi-GPU node: one process drives all its GPUs over one data-parallel
# mesh. Needs the CUDA build of jaxlib once:  pip install "jax[cuda12]==0.10.2"
#   launch/gpu_node.sh configs/gaae.py runs/gaae [overrides...]
# The global batch (--config.train.batch_size) is split over the GPUs, so it
# must be a multiple of their number.
set -euo pipefail
config=${1:?usage: launch/gpu_node.sh CONFIG WORKDIR [overrides...]}
workdir=${2:?usage: launch/gpu_node.sh CONFIG WORKDIR [overrides...]}
shift 2
# JAX owns the GPUs; tf.data runs on the host CPUs (audiogan-train hides the
# GPUs from TensorFlow). Let XLA take most of the GPU memory up front.
export XLA_PYTHON_CLIENT_MEM_FRACTION=${XLA_PYTHON_CLIENT_MEM_FRACTION:-0.9}
export TF_CPP_MIN_LOG_LEVEL=3
nvidia-smi -L || true
exec audiogan-train --config="$config" --workdir="$workdir" "$@"
