#!/usr/bin/env bash
# Quick start 1: install what is missing, build, and launch the QKV Lab desktop app (extra arguments go to it,
# e.g. --session FILE.json). `build/qkvlab-cli --help` is the command-line tool.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
install_missing "${BUILD_PACKAGES[@]}"
build OFF
exec "$BUILD_DIR/qkvlab" "$@"
