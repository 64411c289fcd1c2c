#!/usr/bin/env bash
# A Cloud TPU VM or pod slice: the same command on every worker, one process
# per worker (host), joined by jax.distributed.initialize() (--distributed),
# which finds the TPU topology by itself.
#   launch/tpu_pod.sh TPU_NAME ZONE configs/gaae.py /mnt/shared/runs/gaae [overrides...]
# The workdir must be visible to every worker (a Filestore/NFS mount, or a
# bucket mounted with gcsfuse at the same path on each worker).
set -euo pipefail
tpu=${1:?usage: launch/tpu_pod.sh TPU_NAME ZONE CONFIG WORKDIR [overrides...]}
zone=${2:?usage: launch/tpu_pod.sh TPU_NAME ZONE CONFIG WORKDIR [overrides...]}
config=${3:?usage: launch/tpu_pod.sh TPU_NAME ZONE CONFIG WORKDIR [overrides...]}
workdir=${4:?usage: launch/tpu_pod.sh TPU_NAME ZONE CONFIG WORKDIR [overrides...]}
shift 4
overrides="$*"
here="$(cd "$(dirname "$0")/.." && pwd)"

# 1. Copy this checkout to every worker and install it with the TPU jaxlib.
gcloud compute tpus tpu-vm scp --recurse "$here" "$tpu":~/audiogan_jax \
  --zone="$zone" --worker=all
gcloud compute tpus tpu-vm ssh "$tpu" --zone="$zone" --worker=all --command="
  set -e
  python3 -m venv ~/audiogan-venv && . ~/audiogan-venv/bin/activate
  cd ~/audiogan_jax && pip install -q -r requirements.txt -e . &&
  pip install -q 'jax[tpu]==0.10.2'
"

# 2. Start one training process per worker, all at once.
gcloud compute tpus tpu-vm ssh "$tpu" --zone="$zone" --worker=all --command="
  . ~/audiogan-venv/bin/activate && cd ~/audiogan_jax &&
  TF_CPP_MIN_LOG_LEVEL=3 audiogan-train --distributed \
    --config='$config' --workdir='$workdir' $overrides
"
