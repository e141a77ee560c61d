#!/bin/sh
# train_models.sh: trains the two demo models from scratch, as shipped in
# models/ (see models/README.md): generates data/ if missing, then trains the
# classifier and the detector with `featrd train` (darknet's training loop,
# OpenBLAS GEMM). Checkpoints go to $OUT; a killed run resumes when started
# again. With --install the results are copied over models/*.weights.
#   tools/train_models.sh [--install]
#   env: FEATRD_BIN (default bin/featrd), DATA (default data), OUT (default
#        build/train), SEED (default 1), OPENBLAS_NUM_THREADS (default 2)
set -eu
BIN=${FEATRD_BIN:-bin/featrd}
DATA=${DATA:-data}
OUT=${OUT:-build/train}
SEED=${SEED:-1}
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-2}
install=0
[ "${1:-}" = "--install" ] && install=1

if [ ! -s "$DATA/fmnist-det/train.list" ] || [ ! -s "$DATA/fmnist-cls/train.list" ]; then
  "$BIN" data --out "$DATA" --seed "$SEED"
fi
mkdir -p "$OUT"
start=$(date +%s)
"$BIN" train classifier --cfg models/fmnist-vgg.cfg --list "$DATA/fmnist-cls/train.list" \
  --labels "$DATA/fmnist-cls/labels.txt" --out "$OUT" --seed "$SEED" 2>>"$OUT/fmnist-vgg.log"
echo "train_models: classifier done after $(( $(date +%s) - start )) s ($OUT/fmnist-vgg.weights)"
"$BIN" train detector --cfg models/fmnist-yolo.cfg --list "$DATA/fmnist-det/train.list" \
  --out "$OUT" --seed "$SEED" >"$OUT/fmnist-yolo.region.log" 2>>"$OUT/fmnist-yolo.log"
echo "train_models: detector done after $(( $(date +%s) - start )) s ($OUT/fmnist-yolo.weights)"
if [ "$install" = 1 ]; then
  cp "$OUT/fmnist-vgg.weights" "$OUT/fmnist-yolo.weights" models/
  echo "train_models: installed models/fmnist-vgg.weights models/fmnist-yolo.weights"
fi
