#!/usr/bin/env bash
# The few-label comparison on one GPU, in under 9 minutes: GAAE (ch = 4,
# d_ch = 16, no attention, the demo's learning settings) at 5 % labels of the
# embedded dataset (2,000 clips, 100 labelled), C's held-out accuracy every
# 250 iterations, against the Simple Classifier trained on the 100 labelled
# clips alone at the same batch for as many iterations. Writes
# OUT_DIR/few_labels.json and OUT_DIR/few_labels_0.05.png (blue: C, orange:
# the Simple Classifier, dashed: chance).
#   launch/few_labels_gpu.sh OUT_DIR [extra --config.* overrides]
# CPU rehearsal of the same script at a tiny size:
#   STEPS=20 EVERY=10 MAX_SECONDS=300 launch/few_labels_gpu.sh /tmp/fl \
#     --config.model.ch=1 --config.model.d_ch=2 --config.train.batch_size=4
set -euo pipefail
out=${1:?usage: launch/few_labels_gpu.sh OUT_DIR [--config.* overrides]}
shift
mkdir -p "$out"
steps=${STEPS:-3000}
every=${EVERY:-250}
max_seconds=${MAX_SECONDS:-420}
python -m audiogan_jax.experiments.few_labels --config=configs/demo.py \
  --config.model.ch=4 --config.model.d_ch=16 --config.train.batch_size=32 \
  --config.data.synthetic.num_train=2000 --config.data.synthetic.num_test=500 \
  --fractions=0.05 --steps="$steps" --eval_every="$every" \
  --max_seconds="$max_seconds" --output="$out/few_labels.json" \
  --cache_dir="$out/cache" "$@"
