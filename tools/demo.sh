#!/usr/bin/env bash
# make run: the built-in demo. Generates the Fashion-MNIST demo data when
# data/ lacks it, runs configs/demo.yaml (the ICIP 2018 experiment on the demo
# detector; resumes if interrupted) and plots results/demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${FEATRD:-bin/featrd}
if [ ! -f data/fmnist-det/test.list ]; then
  echo "demo: generating data/ (featrd data, about a minute)" >&2
  "$BIN" data --out data
fi
if [ ! -f models/fmnist-yolo.weights ]; then
  echo "demo: models/fmnist-yolo.weights is missing: train it with 'make train-models'" \
       "(docs/demo.md) or restore it from git" >&2
  exit 2
fi
"$BIN" run configs/demo.yaml "$@"
"$BIN" plot results/demo
echo "demo: results in results/demo/ (points.csv, bd.csv, rd_map07.png, manifest.yaml)" >&2
cat results/demo/bd.csv
