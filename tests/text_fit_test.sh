#!/usr/bin/env bash
# Nothing a user must read is cut at the right edge (issue 9, items 17 and 23), checked through the app's own
# state output (--state-json: overflowing_windows lists every window whose content is wider than what it shows
# without a horizontal scrollbar). For every tab among attention, qkv, masks, positions, parameters and train:
# - 1440×900 in English and in Chinese, on the session the app opens with;
# - presentation mode at 1280×720 with lesson 5 open (large fonts, the lesson strip above the tabs);
# - 1440×900 on a session whose text is 60 words long;
# and the status bar with a message far longer than the window is not listed either (it ends in "…", the whole
# message in a tooltip). Also: the panels below never call ImGui::TextWrapped, which breaks "0.960" as "0.↵960" and
# Chinese only at spaces; they use text_wrapped (app/widgets/text_wrap.h, its line breaking tested in app_test.cpp).
set -euo pipefail
app=${QKVLAB_APP:?set QKVLAB_APP to the qkvlab binary}
py=/usr/bin/python3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ -z "${DISPLAY:-}" ]; then echo "no DISPLAY: run under xvfb-run"; exit 1; fi

"$py" - "$work" <<'PY'
import json, random, sys
work = sys.argv[1]
random.seed(2)
words = "the cat sat on a mat while dogs bark at birds that sing loudly near old trees and rivers".split()
text = " ".join(random.choice(words) for _ in range(60))
json.dump({"text": text, "model": {"layers": 1, "heads": 4, "d_model": 32, "d_ff": 64}, "seed": 3}, open(f"{work}/long.json", "w"))
# A session in a folder whose path is wider than the window: "Opened <path>" fills the status bar.
import os
deep = os.path.join(work, "a_folder_with_a_long_name_for_a_class_of_students_who_keep_their_sessions_in_nested_places",
                    "and_another_level_of_folders_so_that_the_path_is_longer_than_any_screen_is_wide")
os.makedirs(deep)
json.dump({"text": "the cat sat on the mat", "model": {"layers": 1, "heads": 2, "d_model": 16, "d_ff": 32}, "seed": 3},
          open(os.path.join(deep, "session.json"), "w"))
print(os.path.join(deep, "session.json"), file=open(f"{work}/deep_path", "w"))
PY

src=$(cd "$(dirname "$0")/.." && pwd)
wrapped=$(cd "$src" && grep -rn "ImGui::TextWrapped" app --include='*.cpp' --include='*.h' | grep -v "^app/widgets/text_wrap\." || true)
if [ -n "$wrapped" ]; then echo "$wrapped"; echo "FAIL: ImGui::TextWrapped breaks numbers; use text_wrapped"; exit 1; fi

fails=0
# run NAME WIDTH HEIGHT ARGS...: a screenshot and its state json; fails when the app fails or a window overflows.
run() {
  local name=$1 w=$2 h=$3
  shift 3
  local status=0
  "$app" "$@" --screenshot "$work/$name.png" --state-json "$work/$name.json" --frames 6 --width "$w" --height "$h" \
    2> "$work/$name.txt" || status=$?
  if [ "$status" -ne 0 ] || grep -q "GL error" "$work/$name.txt"; then cat "$work/$name.txt"; echo "FAIL $name: the app exited with $status"; fails=$((fails + 1)); return; fi
  if ! "$py" - "$work/$name.json" "$name" <<'PY'
import json, sys
state = json.load(open(sys.argv[1]))
if "overflowing_windows" not in state: sys.exit(f"FAIL {sys.argv[2]}: no overflowing_windows in the state json")
# ImGui 1.86's InputTextMultiline child always reports its frame width as content (never its text's width), a few px
# more than it shows: skip that child (the sidebar's source text box); it scrolls to the cursor as the user types.
over = [w for w in state["overflowing_windows"] if "/##source_" not in w["window"]]
for w in over:
    print(f"FAIL {sys.argv[2]}: window {w['window']!r} is {w['content_width']:.0f} px wide but shows {w['visible_width']:.0f}")
sys.exit(1 if over else 0)
PY
  then fails=$((fails + 1)); fi
}

for panel in $("$app" --help | sed -n 's/.*Open on this tab: //p' | tr -d '|'); do
  run "$panel-en" 1440 900 --panel "$panel"
  run "$panel-zh" 1440 900 --panel "$panel" --lang zh
  run "$panel-present" 1280 720 --presentation --lesson 5 --panel "$panel"
  run "$panel-present-zh" 1280 720 --presentation --lesson 5 --panel "$panel" --lang zh
  run "$panel-long" 1440 900 --session "$work/long.json" --panel "$panel"
done

# The status bar: a message wider than the window ends in "…" instead of running past the edge.
deep=$(cat "$work/deep_path")
run status-long 1440 900 --session "$deep" --panel attention
"$py" - "$work/status-long.json" <<'PY' || fails=$((fails + 1))
import json, sys
if not json.load(open(sys.argv[1]))["message"].startswith("Opened "): sys.exit("FAIL status-long: no long message to show")
PY

if [ "$fails" -ne 0 ]; then echo "$fails run(s) cut text at a window's right edge"; exit 1; fi
echo "text fits: no window is cut at its right edge"
