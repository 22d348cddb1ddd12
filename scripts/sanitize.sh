#!/usr/bin/env bash
# The sanitizer part of the test command (scripts/test.sh runs it after the main suite; CI with it):
#   1. clang with AddressSanitizer + UndefinedBehaviorSanitizer (every finding stops the test) and libFuzzer's coverage,
#      in build-sanitize/: the unit tests and the fuzz regression replays (not the CLI's end-to-end scripts, whose
#      memory figures a sanitizer changes);
#   2. a fuzz smoke run of every target of fuzz/ (scripts/fuzz.sh, QKVLAB_FUZZ_SECONDS each, 60 by default);
#   3. clang with ThreadSanitizer, one thread for OpenMP, in build-tsan/: the app's worker threads (tests/threads_test.cpp)
#      three times over.
# Installs clang, its sanitizer and libFuzzer runtime and its OpenMP when missing.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
install_missing "${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}" "${SANITIZE_PACKAGES[@]}"
seconds=${QKVLAB_FUZZ_SECONDS:-60}

configure_clang() {  # configure_clang DIR OPTION FLAGS...: a clang build of the core, the CLI and the tests, no GUI, no benchmarks
  local dir=$1 option=$2; shift
  # A folder configured otherwise (another compiler, without the option) is configured again from scratch.
  if [ -f "$dir/build.ninja" ] && grep -q "^${option#-D}" "$dir/CMakeCache.txt" 2>/dev/null &&
     grep -q "^CMAKE_CXX_COMPILER_ID:.*Clang\|^CMAKE_CXX_COMPILER:.*clang" "$dir/CMakeCache.txt"; then
    return 0
  fi
  rm -rf "$dir"
  CC=clang CXX=clang++ cmake -S "$ROOT" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DQKVLAB_BUILD_GUI_DEPS=OFF \
    -DQKVLAB_BUILD_BENCH=OFF "$@"
}

echo "== ASan + UBSan (clang): the unit tests and the fuzz regressions"
configure_clang "$BUILD_DIR-sanitize" -DQKVLAB_FUZZ:BOOL=ON
cmake --build "$BUILD_DIR-sanitize" --parallel "$(nproc)"
(cd "$BUILD_DIR-sanitize" && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --output-on-failure --timeout 600 --parallel "$(nproc)" -E '^cli\.')

echo "== libFuzzer smoke run: ${seconds} s per target"
"$ROOT/scripts/fuzz.sh" --build "$BUILD_DIR-sanitize" --seconds "$seconds"

echo "== TSan (clang): the app's worker threads"
configure_clang "$BUILD_DIR-tsan" -DQKVLAB_TSAN:BOOL=ON -DQKVLAB_OPENMP=OFF
cmake --build "$BUILD_DIR-tsan" --parallel "$(nproc)" --target qkvlab_thread_tests
TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" "$BUILD_DIR-tsan/qkvlab_thread_tests" --gtest_repeat=3 --gtest_brief=1
echo "== sanitizers: all green"
