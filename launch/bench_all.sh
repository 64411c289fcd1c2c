#!/usr/bin/env bash
# audiogan-bench over every model config, paper size and a small size, in
# float32 and bfloat16; appends one JSON line per run to OUT and prints the
# Markdown table (docs/PERFORMANCE.md's tables are made this way).
#   launch/bench_all.sh OUT.jsonl [paper|small|both] [extra audiogan-bench flags]
set -euo pipefail
out=${1:?usage: launch/bench_all.sh OUT.jsonl [paper|small|both] [flags...]}
sizes=${2:-both}
shift $(( $# >= 2 ? 2 : 1 ))
# shellcheck source=launch/small_sizes.sh
source "$(dirname "$0")/small_sizes.sh"
models=${MODELS:-"biggan_unsup biggan_sup gaae gaae_guidance ggan wavegan wavegan_long specgan cwavegan_concat cwavegan_acgan gansynth"}
dtypes=${DTYPES:-"float32 bfloat16"}
for name in $models; do
  for dtype in $dtypes; do
    if [[ $sizes == paper || $sizes == both ]]; then
      audiogan-bench --config="configs/$name.py" --json --output="$out" \
        --config.train.compute_dtype="$dtype" --label=paper "$@" >/dev/null
    fi
    if [[ $sizes == small || $sizes == both ]]; then
      # shellcheck disable=SC2086
      audiogan-bench --config="configs/$name.py" --json --output="$out" \
        --config.train.compute_dtype="$dtype" --label=small ${small[$name]} "$@" >/dev/null
    fi
  done
done
audiogan-bench --table="$out"
