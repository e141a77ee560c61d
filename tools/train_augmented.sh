#!/usr/bin/env bash
# Compression-augmented fine-tuning of the demo detector (seed 001 §3.3,
# Table 1 "re-trained weights"): 800 batches from models/fmnist-yolo.weights
# at fmnist-yolo-aug.cfg's constant lr 0.0002, the max_7 feature of each
# training scene coded (probability 0.5; otherwise left as it is, the
# paper's "Lossless") with the sweep's path (8-bit Q-layer, tile packing,
# HEVC) at QP 22, 27, 32, 37, 42 or 47, straight-through backward. A
# control fine-tunes the same 800 batches without coding (probability 0), so
# the comparison separates the augmentation from the extra training.
# Writes models/fmnist-yolo-aug.weights and models/fmnist-yolo-ft.weights;
# resumable (checkpoints in build/train-aug*). Needs data/ (featrd data).
# Arguments: the arms to train (default: aug ft).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${FEATRD_BIN:-bin/featrd}
[ -f data/fmnist-det/train.list ] || "$BIN" data --out data
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
for arm in ${@:-aug ft}; do
  prob=0.5; [ "$arm" = ft ] && prob=0
  start=$(date +%s)
  "$BIN" train detector --cfg models/fmnist-yolo-aug.cfg --list data/fmnist-det/train.list \
      --weights models/fmnist-yolo.weights --fine-tune --seed 11 --out "build/train-$arm" \
      --augment max_7 --augment-qp 22,27,32,37,42,47 --augment-prob "$prob" --save-every 50 --quiet
  cp "build/train-$arm/fmnist-yolo-aug.weights" "models/fmnist-yolo-$arm.weights"
  echo "train_augmented: $arm (probability $prob): $(( $(date +%s) - start )) s" >&2
done
