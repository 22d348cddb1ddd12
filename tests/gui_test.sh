#!/usr/bin/env bash
# The desktop app end to end under a display (Xvfb, started by scripts/test.sh): it opens a session, renders,
# writes a screenshot and exits 0 with no GL error, and the heatmap cells on screen have the colours that the
# core's P predicts (the GLSL colormap against the CPU colormap of the CLI's PNG export).
set -euo pipefail
app=${QKVLAB_APP:?set QKVLAB_APP to the qkvlab binary}
cli=${QKVLAB_CLI:?set QKVLAB_CLI to the qkvlab-cli binary}
py=/usr/bin/python3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ -z "${DISPLAY:-}" ]; then echo "no DISPLAY: run under xvfb-run (scripts/test.sh does)"; exit 1; fi

cat > "$work/session.json" <<'JSON'
{"text": "the cat sat on the mat [PAD]", "model": {"layers": 1, "heads": 2, "d_model": 16, "d_ff": 32},
 "encoder_mask": "padding", "seed": 7}
JSON
status=0
"$app" --session "$work/session.json" --screenshot "$work/shot.png" --frames 4 --panel attention \
  --layout-json "$work/layout.json" --width 1280 --height 800 2> "$work/stderr.txt" || status=$?
cat "$work/stderr.txt"
if [ "$status" -ne 0 ]; then echo "FAIL the app exited with $status"; exit 1; fi
if grep -q "GL error" "$work/stderr.txt"; then echo "FAIL GL errors"; exit 1; fi
"$cli" run --session "$work/session.json" --export "$work/npy" --export-png "$work/png" > /dev/null
"$py" "$(dirname "$0")/gui_check.py" "$work/shot.png" "$work/layout.json" "$work/npy" "$work/png"

# The default session (the shipped trained weights) on every tab, and the Train tab after 30 live steps:
# each exits 0 without GL errors or warnings about the weights.
for panel in $("$app" --help | sed -n 's/.*Open on this tab: //p' | tr -d '|'); do
  status=0
  extra=()
  if [ "$panel" = train ]; then extra=(--train-steps 30); fi
  "$app" --panel "$panel" --screenshot "$work/$panel.png" --frames 3 --width 1280 --height 800 "${extra[@]}" 2> "$work/$panel.txt" || status=$?
  if [ "$status" -ne 0 ] || grep -q "GL error\|not loaded" "$work/$panel.txt" || [ ! -s "$work/$panel.png" ]; then
    cat "$work/$panel.txt"; echo "FAIL the $panel tab on the default session"; exit 1
  fi
  echo "ok   the $panel tab renders the default session"
done

# A lesson's figures: qkvlab --lesson ID --export-png DIR writes one PNG per step and exits 0; presentation
# mode renders in Chinese.
status=0
"$app" --lesson why-scale --export-png "$work/lesson" --width 1024 --height 700 2> "$work/lesson.txt" || status=$?
count=$(ls "$work/lesson" 2>/dev/null | grep -c '^05-why-scale-[0-9]*\.png$' || true)
if [ "$status" -ne 0 ] || [ "$count" -ne 4 ]; then cat "$work/lesson.txt"; echo "FAIL lesson export wrote $count PNGs (status $status)"; exit 1; fi
echo "ok   qkvlab --lesson why-scale --export-png writes its 4 figures"
"$app" --lesson 5 --step 2 --presentation --lang zh --screenshot "$work/present.png" --frames 4 --width 1024 --height 700 2> "$work/present.txt" \
  || { cat "$work/present.txt"; echo "FAIL presentation mode"; exit 1; }
echo "ok   presentation mode in Chinese renders"
status=0
"$app" --lesson no-such-lesson --screenshot "$work/x.png" 2> "$work/bad.txt" || status=$?
if [ "$status" -ne 2 ] || ! grep -q "no lesson no-such-lesson" "$work/bad.txt"; then echo "FAIL an unknown lesson is refused with a message"; exit 1; fi
echo "ok   an unknown lesson is refused with a message"

# Every lesson opens its live state in the app (its tab, block and highlights) without errors.
for number in $(seq 1 30); do
  status=0
  "$app" --lesson "$number" --screenshot "$work/lesson-$number.png" --frames 3 --width 1024 --height 700 2> "$work/lesson-$number.txt" || status=$?
  if [ "$status" -ne 0 ] || grep -q "GL error\|lessons:" "$work/lesson-$number.txt"; then
    cat "$work/lesson-$number.txt"; echo "FAIL lesson $number does not open in the app"; exit 1
  fi
done
echo "ok   all 30 lessons open in the app"
