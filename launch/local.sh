#!/usr/bin/env bash
# One process on this machine, every local device (CPU, one or more GPUs).
#   launch/local.sh configs/demo.py runs/demo [--config.train.num_steps=300 ...]
set -euo pipefail
config=${1:?usage: launch/local.sh CONFIG WORKDIR [overrides...]}
workdir=${2:?usage: launch/local.sh CONFIG WORKDIR [overrides...]}
shift 2
exec audiogan-train --config="$config" --workdir="$workdir" "$@"
