#!/usr/bin/env bash
# Heatmaps use the space they have and never leave the window (issue 9, items 6, 11, 12, 16, 24), checked through
# the app's own layout output (--layout-json: each heatmap's visible rectangle x0..y1 and its full one full_*):
# - 300 tokens at 1440×900 and 1440×700: every head is inside the window, unclipped, and larger than 150 px
#   (100 px at 700 px high); its labels are thinned (every k-th), not dropped;
# - a lesson open (its strip above the tabs): every head inside the window, unclipped;
# - 48 tokens: every head is much larger than the 99 px it had, and token labels are drawn;
# - one head: no "average of the 1 heads" view;
# - the Masks tab on the default session opens on a block whose mask hides cells, with P's masked cells marked,
#   and both heatmaps visible without scrolling in presentation mode at 1280×720 (EN and ZH).
set -euo pipefail
app=${QKVLAB_APP:?set QKVLAB_APP to the qkvlab binary}
py=/usr/bin/python3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ -z "${DISPLAY:-}" ]; then echo "no DISPLAY: run under xvfb-run"; exit 1; fi

"$py" - "$work" <<'PY'
import json, random, sys
work = sys.argv[1]
random.seed(1)
words = "the cat sat on a mat while dogs bark at birds that sing loudly near old trees and rivers".split()
for n in (48, 300):
    text = " ".join(random.choice(words) for _ in range(n))
    json.dump({"text": text, "model": {"layers": 1, "heads": 4, "d_model": 32, "d_ff": 64}, "seed": 3}, open(f"{work}/s{n}.json", "w"))
json.dump({"text": "the cat sat on the mat", "model": {"layers": 1, "heads": 1, "d_model": 16, "d_ff": 32}, "seed": 3},
          open(f"{work}/one_head.json", "w"))
PY

# run NAME WIDTH HEIGHT ARGS...: a screenshot and its layout json, failing on a non-zero exit or a GL error.
run() {
  local name=$1 w=$2 h=$3
  shift 3
  local status=0
  "$app" "$@" --screenshot "$work/$name.png" --layout-json "$work/$name.json" --frames 5 --width "$w" --height "$h" \
    2> "$work/$name.txt" || status=$?
  if [ "$status" -ne 0 ] || grep -q "GL error" "$work/$name.txt"; then cat "$work/$name.txt"; echo "FAIL $name: the app exited with $status"; exit 1; fi
}

# check NAME WIDTH HEIGHT PATTERN MIN_SIDE [EXPECTED_COUNT [scroll]]: every heatmap whose key matches PATTERN is
# inside the window, unclipped, at least MIN_SIDE px on its shorter side, and labels are drawn (thinned evenly if
# needed). With "scroll", heatmaps may continue below the fold (the panel scrolls) but never past the right edge.
check() {
  "$py" - "$work/$1.json" "$2" "$3" "$4" "$5" "${6:-0}" "$1" "${7:-}" <<'PY'
import json, re, sys
path, W, H, pattern, min_side, count, name = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4], float(sys.argv[5]), int(sys.argv[6]), sys.argv[7]
scroll = sys.argv[8] == "scroll"
entries = [e for e in json.load(open(path)) if re.fullmatch(pattern, e["key"])]
fails = []
if not entries or (count and len(entries) != count):
    fails.append(f"{len(entries)} heatmaps match {pattern}, expected {count or 'some'}")
for e in entries:
    full = (e["full_x0"], e["full_y0"], e["full_x1"], e["full_y1"])
    seen = (e["x0"], e["y0"], e["x1"], e["y1"])
    side = min(full[2] - full[0], full[3] - full[1])
    if scroll:  # only the bottom may be cut, by the fold
        full, seen = full[:3], seen[:3]
        H = float("inf")
    if any(abs(a - b) > 0.5 for a, b in zip(full, seen)):
        fails.append(f"{e['key']}: clipped: cells at {full}, visible {seen}")
    if full[0] < 0 or full[1] < 0 or full[2] > W or (not scroll and full[3] > H):
        fails.append(f"{e['key']}: drawn at {full}, outside the {W:.0f}x{H:.0f} window")
    if side < min_side:
        fails.append(f"{e['key']}: {side:.0f} px, smaller than {min_side:.0f} px")
    if e["labels_drawn"] <= 0:
        fails.append(f"{e['key']}: no token label drawn")
    # Thinned labels: every k-th of the rows and columns, so about n/k of each.
    expected = -(-e["rows"] // e["row_label_step"]) + -(-e["cols"] // e["col_label_step"])
    if abs(e["labels_drawn"] - expected) > 2:
        fails.append(f"{e['key']}: {e['labels_drawn']} labels drawn, every {e['row_label_step']}/{e['col_label_step']}-th of "
                     f"{e['rows']}x{e['cols']} is {expected}")
    print(f"     {name}: {e['key']} {side:.0f} px, labels every {e['row_label_step']}/{e['col_label_step']}, {e['labels_drawn']} drawn")
for f in fails:
    print(f"FAIL {name}: {f}")
sys.exit(1 if fails else 0)
PY
}

heads='encoder\.0\.self_attn\.head\.[0-9]+\.P'
run long 1440 900 --session "$work/s300.json" --panel attention
check long 1440 900 "$heads" 150 4
run long_short 1440 700 --session "$work/s300.json" --panel attention
check long_short 1440 700 "$heads" 100 4
echo "ok   300 tokens: every head inside the window, unclipped, labels thinned evenly"

run lesson 1440 900 --lesson 9
# The tab strip wraps onto a second row at 1440 px rather than truncate titles, so a lesson open leaves
# a little less height: 140 px still shows every cell of its 12 tokens at 12 px.
check lesson 1440 900 "$heads" 140 4
# Presentation at 1280x720 has room for one row of large-font heads: the rest scroll, but nothing runs off the
# right edge, and the heads the lesson points at (0 and 2, in the first row) are whole on screen.
run lesson_present 1280 720 --lesson 9 --presentation
check lesson_present 1280 720 "$heads" 100 4 scroll
check lesson_present 1280 720 'encoder\.0\.self_attn\.head\.[02]\.P' 100 2
echo "ok   lesson 9 open: every head inside the window"

run n48 1440 900 --session "$work/s48.json" --panel attention
check n48 1440 900 "$heads" 200 4
echo "ok   48 tokens: every head far larger than 99 px, with token labels"

run one_head 1440 900 --session "$work/one_head.json" --panel attention
check one_head 1440 900 "$heads" 300 1
if grep -q '"key": "average:' "$work/one_head.json"; then echo "FAIL one head: an average of the 1 heads is drawn"; exit 1; fi
run two_heads 1440 900 --session "$work/s48.json" --panel attention
grep -q '"key": "average:' "$work/two_heads.json" || { echo "FAIL 4 heads: their average is not drawn"; exit 1; }
echo "ok   one head: no average view"

# The default session selects decoder.1.cross_attn, which masks nothing: the Masks tab opens on the decoder's
# causal self-attention, where S_masked and P both mark the 45 masked cells of a 10-token causal mask.
masks='decoder\.1\.self_attn\.head\.0\.(S_masked|P)'
for variant in "masks 1440 900" "masks_present 1280 720 --presentation" "masks_present_zh 1280 720 --presentation --lang zh"; do
  set -- $variant
  name=$1 w=$2 h=$3
  shift 3
  run "$name" "$w" "$h" --panel masks "$@"
  check "$name" "$w" "$h" "$masks" 150 2
  "$py" - "$work/$name.json" <<'PY' || { echo "FAIL $name: masked cells are not marked in S_masked and P"; exit 1; }
import json, sys
entries = [e for e in json.load(open(sys.argv[1])) if "self_attn" in e["key"]]
sys.exit(0 if len(entries) == 2 and all(e["masked_cells"] == 45 for e in entries) else 1)
PY
done
echo "ok   the Masks tab opens on a visible mask, marks it in P, and fits 1280x720 in presentation mode"
