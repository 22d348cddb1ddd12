#!/usr/bin/env bash
# The Gradients tab after its split into app/panels/gradients/ (one file per view): every view still draws.
# Lesson 6's step 3 pins row 2 of head 1: P, ∂L/∂P and ∂L/∂S side by side, then the
# Jacobian [4 × 4] below them; lesson 15 opens the layer-input gradient; the default session's tab gets its
# embedding gradient, its "why √d_k" plot and its Pre/Post-Norm plot once the workers finish. 1440×900 and
# presentation mode at 1280×720 (ZH).
set -euo pipefail
app=${QKVLAB_APP:?set QKVLAB_APP to the qkvlab binary}
py=/usr/bin/python3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ -z "${DISPLAY:-}" ]; then echo "no DISPLAY: run under xvfb-run (scripts/test.sh does)"; exit 1; fi
failures=0
check() {  # check NAME CONDITION...
  local label=$1; shift
  if "$@"; then echo "ok   $label"; else echo "FAIL $label"; failures=$((failures + 1)); fi
}
drawn() {  # drawn LAYOUT_JSON PYTHON_CONDITION: `d` maps each drawn key to its entry, W and H the window
  "$py" - "$@" <<'PY'
import json, sys
d = {e["key"]: e for e in json.load(open(sys.argv[1]))}
W, H = float(sys.argv[3]), float(sys.argv[4])
inside = lambda e: e["x1"] > e["x0"] + 20 and e["y1"] > e["y0"] + 20 and e["x0"] >= 0 and e["x1"] <= W and e["y1"] <= H
try:
    ok = eval(sys.argv[2])
except KeyError as missing:
    print("not drawn:", missing)
    ok = False
if not ok: print("drawn:", sorted(d))
sys.exit(0 if ok else 1)
PY
}

head=encoder.0.self_attn.head.1
for mode in "1440 900" "1280 720 --presentation --lang zh"; do
  set -- $mode
  w=$1 h=$2; shift 2
  "$app" --lesson 6 --step 3 "$@" --screenshot "$work/l6.png" --layout-json "$work/l6.json" --frames 8 --width "$w" --height "$h" 2> /dev/null
  check "lesson 6 step 3 at ${w}×${h}: P, ∂L/∂P and ∂L/∂S of $head on screen" \
    drawn "$work/l6.json" "all(inside(d[k]) for k in ['$head.P', 'dL/d$head.P', 'dL/d$head.S'])" "$w" "$h"
  check "... and the Jacobian of its pinned row 2, [4 × 4], below them" \
    drawn "$work/l6.json" "(e := d.get('jacobian/$head/2')) and e['rows'] == 4 and e['cols'] == 4 and e['full_y0'] > d['$head.P']['full_y1']" "$w" "$h"
done

"$app" --lesson 15 --screenshot "$work/l15.png" --layout-json "$work/l15.json" --frames 8 --width 1440 --height 900 2> /dev/null
check "lesson 15: the gradient reaching decoder.0's input is drawn on screen" \
  drawn "$work/l15.json" "inside(d['dL/ddecoder.0.input'])" 1440 900

# The default session: both sweeps finish on their workers, and their plots are laid out (below the fold).
"$app" --panel gradients --screenshot "$work/grad.png" --layout-json "$work/grad.json" --frames 400 --width 1440 --height 900 2> /dev/null
check "the default session's tab draws ∂L/∂embed.E (partly above the fold)" drawn "$work/grad.json" "d['dL/dembed.E']['x1'] > d['dL/dembed.E']['x0'] + 100 and d['dL/dembed.E']['rows'] > 0" 1440 900
check "... the why-√d_k plot" drawn "$work/grad.json" "d['plot:gradients.why-sqrt-dk']['x1'] > d['plot:gradients.why-sqrt-dk']['x0'] + 100" 1440 900
check "... and, once its worker is done, the Pre/Post-Norm plot" drawn "$work/grad.json" "d['plot:gradients.layer-norms']['x1'] > d['plot:gradients.layer-norms']['x0'] + 100" 1440 900

if [ "$failures" -ne 0 ]; then echo "$failures Gradients view check(s) failed"; exit 1; fi
echo "all Gradients view checks passed"
