#!/usr/bin/env bash
# Every highlighted tensor of every lesson step is drawn inside the window, at 1440x900 and in presentation mode
# at 1280x720, as the app's own --layout-json reports it (issue 9, item 3). Needs a display (xvfb-run).
set -euo pipefail
app=${QKVLAB_APP:?set QKVLAB_APP to the qkvlab binary}
assets=${QKVLAB_ASSETS_SRC:?set QKVLAB_ASSETS_SRC to the assets folder}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ -z "${DISPLAY:-}" ]; then echo "no DISPLAY: run under xvfb-run (scripts/test.sh does)"; exit 1; fi
/usr/bin/python3 "$(dirname "$0")/lesson_visibility_check.py" "$app" "$assets" "$work"
