#!/usr/bin/env bash
# Rehearse a multi-host run on one machine: N processes of audiogan-train
# form one jax.distributed job over CPU devices (gloo collectives), each
# process with DEVICES_PER_PROCESS simulated devices (default 2), exactly as
# the processes of a TPU pod slice or a multi-node GPU job would.
#
#   launch/local_multiprocess.sh 2 configs/demo.py runs/rehearsal [--config.train.num_steps=20 ...]
#
# Process 0 writes to this terminal; process i > 0 to
# WORKDIR/processes/process_<i>.log. SIGTERM or SIGINT to this script is
# passed to every process: they agree on a step, save one checkpoint and
# exit 143 / 130; the same command resumes. When a process fails, the others
# are stopped and the script exits with the first failure's code.
# Environment: DEVICES_PER_PROCESS, PORT (the coordinator's, default a free
# one), HEARTBEAT_TIMEOUT (seconds, default 20), PYTHON (default python3).
set -euo pipefail
usage="usage: launch/local_multiprocess.sh N CONFIG WORKDIR [overrides...]"
n=${1:?$usage}
config=${2:?$usage}
workdir=${3:?$usage}
shift 3
if ! [[ "$n" =~ ^[1-9][0-9]*$ ]]; then
  echo "local_multiprocess.sh: N must be a positive number of processes, got '$n'" >&2
  exit 2
fi
python=${PYTHON:-python3}
devices=${DEVICES_PER_PROCESS:-2}
port=${PORT:-$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
mkdir -p "$workdir/processes"

pids=()
stop_all() { kill "-$1" "${pids[@]}" 2>/dev/null || true; }
trap 'stop_all TERM' TERM
trap 'stop_all INT' INT

for ((i = 0; i < n; i++)); do
  cmd=("$python" -m audiogan_jax.cli.train --config="$config"
       --workdir="$workdir" --distributed
       --coordinator_address="127.0.0.1:$port" --num_processes="$n"
       --process_id="$i" --heartbeat_timeout="${HEARTBEAT_TIMEOUT:-20}" "$@")
  if ((i == 0)); then
    JAX_PLATFORMS=cpu XLA_FLAGS="--xla_force_host_platform_device_count=$devices ${XLA_FLAGS:-}" \
      "${cmd[@]}" &
  else
    JAX_PLATFORMS=cpu XLA_FLAGS="--xla_force_host_platform_device_count=$devices ${XLA_FLAGS:-}" \
      "${cmd[@]}" >"$workdir/processes/process_$i.log" 2>&1 &
  fi
  pids+=($!)
done

status=0
for ((left = n; left > 0; left--)); do
  code=0
  done_pid=""
  wait -n -p done_pid || code=$?
  [[ -z "$done_pid" ]] && break   # no process left
  if ((code != 0 && status == 0)); then
    status=$code
    # 143 / 130: a stop every process agreed on; anything else: one process
    # failed and the others would wait for it until the heartbeat timeout.
    if ((code != 143 && code != 130)); then
      for ((i = 0; i < n; i++)); do [[ "${pids[$i]}" == "$done_pid" ]] && break; done
      how="exited with code $code"
      ((code > 128)) && how="was killed by signal $((code - 128))"
      echo "local_multiprocess.sh: process $i $how; stopping the others; rerun the same command to resume from the last checkpoint (logs: $workdir/processes/)" >&2
      stop_all KILL
    fi
  fi
done
exit "$status"
