#!/usr/bin/env bash
# One accelerator, one call: audiogan-bench for the paper configs (GAAE, GGAN,
# supervised BigGAN, WaveGAN, SpecGAN, conditional WaveGAN, GANSynth's last
# stage) in bfloat16 and float32 at the papers' batches. Writes OUT_DIR/
# bench.jsonl (one JSON row per run), OUT_DIR/bench.md (the Markdown table of
# docs/PERFORMANCE.md), one log per run and OUT_DIR/failed.txt (runs that
# failed, e.g. out of memory, with their last log line).
#
#   launch/device_bench.sh OUT_DIR [extra audiogan-bench flags]
#
# BUDGET_S (default 420) bounds the whole script: a run that would start
# with under 30 s left is skipped and listed in failed.txt, so the table
# comes back within the budget. SIZE=small runs the CPU-sized widths of
# launch/bench_all.sh instead (a rehearsal on a laptop); MODELS and DTYPES
# narrow the lists. The spectrograms are computed once (OUT_DIR/cache) and
# shared by the runs.
set -uo pipefail
out=${1:?usage: launch/device_bench.sh OUT_DIR [audiogan-bench flags...]}
shift
mkdir -p "$out/logs"
rows="$out/bench.jsonl"
: >"$out/failed.txt"
budget=${BUDGET_S:-420}
start=$SECONDS
# shellcheck source=launch/small_sizes.sh
source "$(dirname "$0")/small_sizes.sh"
models=${MODELS:-"gaae ggan biggan_sup wavegan specgan cwavegan_concat gansynth"}
dtypes=${DTYPES:-"bfloat16 float32"}
size=${SIZE:-paper}
for name in $models; do
  for dtype in $dtypes; do
    left=$(( budget - (SECONDS - start) ))
    if (( left < 30 )); then
      echo "$name $dtype: skipped, ${left}s of the ${budget}s budget left" | tee -a "$out/failed.txt"
      continue
    fi
    extra=()
    [[ $size == small ]] && read -r -a extra <<<"${small[$name]}"
    log="$out/logs/$name.$dtype.log"
    echo "$name $dtype ($size) ..."
    if ! timeout "$left" audiogan-bench --config="configs/$name.py" --json \
        --output="$rows" --label="$size" --config.train.compute_dtype="$dtype" \
        --cache_dir="$out/cache" "${extra[@]}" "$@" >"$log" 2>&1; then
      echo "$name $dtype: failed: $(grep -v '^\s*$' "$log" | tail -n 1 | cut -c1-300)" \
        | tee -a "$out/failed.txt"
    fi
  done
done
if [[ -s $rows ]]; then
  audiogan-bench --table="$rows" >"$out/bench.md"
  cat "$out/bench.md"
fi
echo "$(( SECONDS - start )) s; rows: $rows; failures: $(wc -l <"$out/failed.txt")"
