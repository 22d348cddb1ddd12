#!/usr/bin/env bash
# Benchmarks: install what is missing, build the Release targets they need, run one.
#   scripts/bench.sh gpt2 [--quick|--no-torch|--reps N …]   qkvlab-cli vs PyTorch at GPT-2-small shape (issue 10's targets)
#   scripts/bench.sh seed                                   seeding GPT-2 small's 85 M weights, before vs after
#   scripts/bench.sh forward                                core::run in-process (Google Benchmark)
#   scripts/bench.sh pretrained [--benchmark_filter=…]      a GPT-2-small checkpoint: open, forward at 1,024 tokens
#                                                           (QKVLAB_BENCH_XL=1: GPT-2 XL's load and memory too)
# PyTorch is optional (Debian: apt-get install python3-torch); without it the gpt2 table skips the ratios.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
what=${1:-gpt2}
shift || true
install_missing "${BUILD_PACKAGES[@]}" libbenchmark-dev python3
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DQKVLAB_BUILD_BENCH=ON
else
  cmake "$BUILD_DIR" -DQKVLAB_BUILD_BENCH=ON >/dev/null
fi
case "$what" in
  gpt2)
    cmake --build "$BUILD_DIR" --target qkvlab-cli
    QKVLAB_BUILD_DIR="$BUILD_DIR" exec bash "$ROOT/bench/gpt2_vs_torch.sh" "$@" ;;
  seed)
    cmake --build "$BUILD_DIR" --target qkvlab_rng_bench
    exec "$BUILD_DIR/qkvlab_rng_bench" "$@" ;;
  forward)
    cmake --build "$BUILD_DIR" --target qkvlab_bench
    exec "$BUILD_DIR/qkvlab_bench" "$@" ;;
  pretrained)
    cmake --build "$BUILD_DIR" --target qkvlab_pretrained_bench
    export QKVLAB_BENCH_DIR=${QKVLAB_BENCH_DIR:-$BUILD_DIR/bench-models}  # the GPT-2-shaped folders, written once
    exec "$BUILD_DIR/qkvlab_pretrained_bench" "$@" ;;
  *)
    echo "scripts/bench.sh: no benchmark named '$what'; one of: gpt2, seed, forward, pretrained" >&2
    exit 2 ;;
esac
