#!/usr/bin/env bash
# Quick start 2: install what is missing, build, and run every test through ctest (under Xvfb, which this
# script installs and starts itself, so GUI tests have a display on a headless machine), then the sanitizer part
# (scripts/sanitize.sh: ASan + UBSan unit tests, a libFuzzer smoke run of every parser, TSan over the worker
# threads). QKVLAB_SANITIZE=0 skips that part; arguments go to the main suite's ctest (e.g. -R model).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
install_missing "${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}" "${SANITIZE_PACKAGES[@]}"
build ON
# -noreset: by default Xvfb resets whenever its last client leaves, and an app of a parallel GUI test that connects
# during the reset is refused ("Failed to open display"); GUI tests start and end apps all the time.
(cd "$BUILD_DIR" && xvfb-run -a -s "-screen 0 1280x800x24 -noreset" ctest --output-on-failure --timeout 600 --parallel "$(nproc)" "$@")
if [ "${QKVLAB_SANITIZE:-1}" != 0 ]; then
  "$ROOT/scripts/sanitize.sh"
fi
