#!/usr/bin/env bash
# The app's shell under a display (Xvfb, started by scripts/test.sh): every character the app can show has a
# glyph; the shortcuts do what the menus say; fast key taps are never lost; the tab strip never truncates a
# title; the first frame is complete; opening a session closes the lesson; a number field takes typing and
# explains a refusal under itself; the idle app sleeps.
set -euo pipefail
app=${QKVLAB_APP:?set QKVLAB_APP to the qkvlab binary}
src=${QKVLAB_SOURCE:?set QKVLAB_SOURCE to the source tree}
py=/usr/bin/python3
work=$(mktemp -d)
xvfb=
trap 'if [ -n "$xvfb" ]; then kill "$xvfb" 2>/dev/null || true; fi; rm -rf "$work"' EXIT
if [ -z "${DISPLAY:-}" ]; then echo "no DISPLAY: run under xvfb-run (scripts/test.sh does)"; exit 1; fi
export XDG_CONFIG_HOME=$work/config QKVLAB_NATIVE_DIALOG=0
fail() { echo "FAIL $*"; exit 1; }
# state FILE EXPR: evaluates a Python expression over the --state-json object j.
state() { "$py" -c "import json,sys; j=json.load(open(sys.argv[1])); sys.exit(0 if ($2) else 1)" "$1" || { "$py" -m json.tool "$1" | head -60; fail "$3"; }; }
shot() { "$app" --screenshot "$work/shot.png" --state-json "$work/state.json" "$@" 2> "$work/stderr.txt" || { cat "$work/stderr.txt"; fail "qkvlab $*"; }; }

# 1. Glyphs: every non-ASCII character of the app's text (UI literals in app/ and core/, lessons, UI strings)
#    is in the font atlas; a character no installed font has is reported (the check can fail).
mapfile -t text_files < <(cd "$src" && git ls-files 'app/*.cpp' 'app/*.h' 'core/*.cpp' 'core/*.h' 'assets/*.json' 2>/dev/null \
  || find app core assets -name '*.cpp' -o -name '*.h' -o -name '*.json')
( cd "$src" && "$app" --check-glyphs "${text_files[@]}" ) > "$work/glyphs.txt" || { cat "$work/glyphs.txt"; fail "characters without a glyph"; }
echo "ok   $(tail -1 "$work/glyphs.txt")"
printf 'Linear B ideogram: \xf0\x90\x82\x80, Ogham: \xe1\x9a\x9b\n' > "$work/rare.txt"
if "$app" --check-glyphs "$work/rare.txt" > "$work/rare-out.txt"; then fail "--check-glyphs accepted characters no font has"; fi
grep -q "U+169B" "$work/rare-out.txt" || fail "--check-glyphs did not name the missing character"
echo "ok   a character no font has is reported"

# 2. The first frame is complete, and no tab title is truncated: at 1440×900 in both languages and in
#    presentation mode at 1280×720 every tab is drawn inside the window and at least as wide as its title.
tabs=$("$app" --help | sed -n 's/.*Open on this tab: //p' | tr -d '|' | wc -w)
for args in "--width 1440 --height 900" "--width 1440 --height 900 --lang zh" "--width 1280 --height 720 --presentation --lesson 5"; do
  # shellcheck disable=SC2086
  shot --frames 1 $args
  state "$work/state.json" "len(j['tabs_drawn']) == $tabs and all(t['x1'] <= j['window']['width'] and t['x1'] - t['x0'] >= t['text_width'] for t in j['tabs_drawn'])" \
    "tab strip at $args: a tab missing, outside the window or narrower than its title"
done
echo "ok   the first frame draws all $tabs tabs, none truncated, in both languages and in presentation mode"

# 3. Fast taps (a clicker's PageDown, quick arrows: press and release between two frames) are never lost.
shot --lesson 5 --keys PageDown,PageDown,PageDown --frames 10
state "$work/state.json" "j['lesson_step'] == 3" "three quick PageDown taps did not reach step 3"
shot --lesson 5 --presentation --keys Right,Right --frames 8 --width 1280 --height 720
state "$work/state.json" "j['lesson_step'] == 2" "two quick → taps in presentation mode did not reach step 2"
echo "ok   quick key taps are all seen"

# 4. Shortcuts: Ctrl+O opens the file browser; Ctrl+S on a new session asks where (Save as); Ctrl+S on a
#    session with a file saves it; Ctrl+N closes the open lesson and drops its pinned row.
mkdir -p "$work/sessions"
echo '{"text": "the cat sat", "model": {"layers": 1, "heads": 2}}' > "$work/sessions/mine.json"
(cd "$work/sessions" && shot --keys Ctrl+O --frames 5)
state "$work/state.json" "j['dialog'] == 'Open session' and j['dialog_entries'] >= 2" "Ctrl+O did not open the file browser on the session folder"
shot --keys Ctrl+S --frames 5
state "$work/state.json" "j['dialog'] == 'Save session as'" "Ctrl+S on a session without a file did not ask where to save"
shot --session "$work/sessions/mine.json" --keys Ctrl+S --frames 5
state "$work/state.json" "j['message'].startswith('Saved ') and j['dialog'] == ''" "Ctrl+S did not save a session that has a file"
grep -q '"score_scale"' "$work/sessions/mine.json" || fail "Ctrl+S did not write the whole session to its file"
shot --lesson 6 --keys Ctrl+N --frames 6
state "$work/state.json" "j['lesson'] is None and j['highlights'] == 0 and j['pinned_row'] == -1" "Ctrl+N left the lesson strip or the pinned row of the old session"
echo "ok   Ctrl+O, Ctrl+S (save as when new, save when it has a file), Ctrl+N closes the lesson"

# 5. A sidebar number takes typing after one click; a refused value is explained right under its field.
echo '{"text": "the cat sat", "model": {"layers": 1, "heads": 4, "d_model": 32}}' > "$work/four.json"
shot --session "$work/four.json" --click d_model --type 64 --frames 8
state "$work/state.json" "j['model']['d_model'] == 64 and j['error'] is None" "clicking d_model and typing 64 did not set d_model = 64"
shot --session "$work/four.json" --click d_model --type 30 --frames 8
state "$work/state.json" \
  "j['model']['d_model'] == 30 and j['error'] and any(w['label'] == 'error: d_model' and 0 <= w['y0'] - next(v['y1'] for v in j['widgets'] if v['label'] == 'd_model') < 30 for w in j['widgets'])" \
  "d_model = 30 with 4 heads was not explained under the d_model field"
echo "ok   d_model takes typing; a refusal is shown under the field"

# 6. Idle: with nothing changing, the app sleeps (below 10% of a core; it used to redraw at about 65%).
# On an X server of its own: other GUI tests run in parallel on the shared display, and their windows appearing
# over this one are real events (exposure, focus) that it must redraw for.
Xvfb -displayfd 3 -screen 0 1280x800x24 -nolisten tcp 3> "$work/display" 2> /dev/null &
xvfb=$!
for _ in $(seq 50); do [ -s "$work/display" ] && break; sleep 0.1; done
DISPLAY=":$(cat "$work/display")" "$app" --width 1280 --height 800 > /dev/null 2>&1 &
pid=$!
sleep 8  # start-up, the first frames and the labs' first jobs, on a machine that may be busy with other tests
ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
t0=$(ticks); sleep 4; t1=$(ticks)
kill "$pid"; wait "$pid" 2>/dev/null || true
kill "$xvfb"; wait "$xvfb" 2>/dev/null || true; xvfb=
hz=$(getconf CLK_TCK)
"$py" -c "import sys; cpu = ($t1 - $t0) / $hz / 4; print(f'idle CPU {cpu:.1%} of a core'); sys.exit(0 if cpu < 0.10 else 1)" || fail "the idle app keeps the CPU busy"
echo "ok   the idle app sleeps"
