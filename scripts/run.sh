#!/usr/bin/env bash
# Quick start 1: install what is missing, build, and launch QKV Lab (extra arguments go to the program).
# Until the desktop app lands this is the command-line demo; `build/qkvlab-cli --help` lists the rest.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
install_missing "${BUILD_PACKAGES[@]}"
build OFF
if [ $# -eq 0 ]; then set -- demo; fi
exec "$BUILD_DIR/qkvlab-cli" "$@"
