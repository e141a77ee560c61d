#!/usr/bin/env bash
# make run: the built-in demo (placeholder until the demo models and runner land).
set -euo pipefail
cd "$(dirname "$0")/.."
bin/featrd version
