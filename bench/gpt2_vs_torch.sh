#!/usr/bin/env bash
# Builds qkvlab-cli (Release) if needed, then runs bench/gpt2_vs_torch.py with Debian's Python (where python3-torch
# lives; a pyenv python3 earlier on PATH would not see it). Arguments go to the script, e.g. --quick, --no-torch.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${QKVLAB_BUILD_DIR:-$root/build}"
if [[ ! -x "$build/qkvlab-cli" ]]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release
  cmake --build "$build" --target qkvlab-cli
fi
exec /usr/bin/python3 "$root/bench/gpt2_vs_torch.py" --cli "$build/qkvlab-cli" "$@"
