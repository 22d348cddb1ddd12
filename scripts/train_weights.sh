#!/usr/bin/env bash
# Regenerates the trained weights shipped in assets/weights/ with the project's own trainer and a fixed seed.
#   ./scripts/train_weights.sh [build-dir]     (about a minute on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build}"
cli="$build/qkvlab-cli"
[ -x "$cli" ] || { echo "build first: $cli is missing (./scripts/test.sh builds it)" >&2; exit 1; }
mkdir -p assets/weights
# Reverse a string of 3-10 lowercase letters: the default model of the app (its cross-attention is an anti-diagonal).
"$cli" train --task reverse --alphabet 26 --min-len 3 --max-len-train 10 --steps 3000 --seed 42 --log-every 500 \
  --out assets/weights/reverse.safetensors
