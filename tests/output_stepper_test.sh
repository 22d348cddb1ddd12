#!/usr/bin/env bash
# The Output tab draws output.probs with one labelled column per vocabulary token, for a decoder-only and an
# encoder-only session; the Layer stepper renders every wiring (Pre/Post-Norm, residual on/off) without errors.
# Sampling, top-k/top-p, generation through the KV cache and the step lists are tested in the core (model_test).
set -euo pipefail
app=${QKVLAB_APP:?set QKVLAB_APP to the qkvlab binary}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ -z "${DISPLAY:-}" ]; then echo "no DISPLAY: run under xvfb-run (scripts/test.sh does)"; exit 1; fi
fail() { echo "FAIL $*"; exit 1; }

# "the cat sat on the mat" has 5 distinct words + 3 specials = 8 columns, 6 rows.
for arch in decoder-only encoder-only; do
  printf '{"text": "the cat sat on the mat", "model": {"arch": "%s", "layers": 1, "heads": 2, "d_model": 16, "d_ff": 32}}' "$arch" > "$work/s.json"
  "$app" --session "$work/s.json" --panel output --screenshot "$work/out.png" --layout-json "$work/out.json" --frames 4 \
    --width 1440 --height 900 2> "$work/err.txt" || { cat "$work/err.txt"; fail "the Output tab ($arch)"; }
  grep -q "GL error" "$work/err.txt" && fail "GL errors on the Output tab"
  /usr/bin/python3 - "$work/out.json" "$arch" <<'PY' || fail "output.probs on the Output tab ($arch)"
import json, sys
drawn = [d for d in json.load(open(sys.argv[1])) if d["key"] == "output.probs"]
assert drawn, "output.probs is not drawn"
d = drawn[0]
assert (d["rows"], d["cols"]) == (6, 8), (d["rows"], d["cols"])
assert 0 <= d["x0"] < d["x1"] <= 1440 and 0 <= d["y0"] < d["y1"] <= 900, d
PY
  echo "ok   the Output tab draws output.probs [6 x 8] ($arch)"
done

for placement in pre post; do
  for residual in true false; do
    printf '{"text": "the cat sat", "model": {"layers": 2, "heads": 2, "d_model": 16, "d_ff": 32, "norm_placement": "%s", "residual": %s}}' \
      "$placement" "$residual" > "$work/w.json"
    "$app" --session "$work/w.json" --panel stepper --screenshot "$work/w.png" --layout-json "$work/w.json.layout" --frames 3 \
      --width 1440 --height 900 2> "$work/err.txt" || { cat "$work/err.txt"; fail "the stepper ($placement, residual $residual)"; }
    grep -q "GL error" "$work/err.txt" && fail "GL errors in the stepper"
    grep -q '"key": "encoder.0.self_attn.head.0.P"' "$work/w.json.layout" || fail "the stepper does not draw its step ($placement, residual $residual)"
  done
done
echo "ok   the stepper renders Pre/Post-Norm with and without residuals"
