#!/usr/bin/env bash
# train_invert.sh: the demo's image decoders (issue 24, seed 003): for each of
# the demo detector's splits max_5 and max_7, `featrd invert train` trains
# models/fmnist-yolo-inv-<split>.cfg (3x3 convs and 2x2 stride-2
# deconvolutions, L2 loss) for its 800 batches of 16 scenes drawn from the
# 4000 training scenes, on the split's feature of models/fmnist-yolo.weights,
# coded with probability 0.5 by the sweep's own path (8-bit Q-layer, tile
# packing, HEVC at QP 22..47) so the decoder learns to undo coding noise.
# Writes models/fmnist-yolo-inv-<split>.weights; resumable (checkpoints in
# build/invert). Needs data/ (featrd data). Arguments: the splits (default
# max_5 max_7), trained one after the other (or run two at once, one each).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${FEATRD_BIN:-bin/featrd}
OUT=${OUT:-build/invert}
[ -f data/fmnist-det/train.list ] || "$BIN" data --out data
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
mkdir -p "$OUT"
for split in ${@:-max_5 max_7}; do
  start=$(date +%s)
  "$BIN" invert train --cfg models/fmnist-yolo.cfg --weights models/fmnist-yolo.weights \
      --split "$split" --list data/fmnist-det/train.list --out "$OUT" \
      --code-qp 22,27,32,37,42,47 --code-prob 0.5 2>"$OUT/$split.log"
  tail -n 2 "$OUT/$split.log" >&2
  cp "$OUT/fmnist-yolo-inv-$split.weights" models/
  echo "train_invert: $split: $(( $(date +%s) - start )) s" >&2
done
