#!/usr/bin/env bash
# Typing at 1,000 tokens stays fluid (issue 10, item 3): the recompute runs on a worker, so no frame waits for it.
# 1. A 1,000-word session (teaching-size model, words tokenizer) is opened; the source field is clicked and " zzz "
#    is typed one character per frame, as a person types (each keystroke an edit that cancels the stale recompute).
#    The scripted run waits for the last recompute, so the state json shows the final trace and the slowest frame
#    since the click (longest_frame_since_input_ms: the set-up frames before it build the font atlas).
# 2. A slow recompute keeps the previous trace on screen, marked stale with its progress in the status bar.
#
# Figures on the 2-core development machine under Xvfb (llvmpipe), loaded by three other builds: one recompute of
# the 1,000-word session took 1.8–3.0 s; the slowest frame after the click 0.3–0.6 s (the frames that upload the
# new 1,000×1,000 heatmaps and lay out 1,000 token chips, on a machine at load 9–19). Before the
# recompute moved to a worker, the frame of each keystroke contained a whole recompute, so the slowest frame was at
# least recompute_ms. The bound below (slowest frame under half a recompute, and under 1 s) fails for a frame that
# waits for one; the strict target (33 ms) is measured by bench/frame_bench.cpp, not asserted here.
set -euo pipefail
app=${QKVLAB_APP:?set QKVLAB_APP to the qkvlab binary}
py=/usr/bin/python3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ -z "${DISPLAY:-}" ]; then echo "no DISPLAY: run under xvfb-run (scripts/test.sh does)"; exit 1; fi
export XDG_CONFIG_HOME=$work/config
fail() { echo "FAIL $*"; exit 1; }
# session FILE WORDS MODEL_JSON: a words session over w0 … w<WORDS−1>.
session() {
  "$py" -c "import json, sys; json.dump({'text': ' '.join(f'w{i}' for i in range($2)), 'tokenizer': 'words', 'model': json.loads(sys.argv[2])},
            open(sys.argv[1], 'w'))" "$1" "$3"
}
# verify STATE_JSON WHAT CHECKS: runs Python CHECKS with j (the state json), t (its trace) and check(cond, what).
verify() {
  "$py" - "$1" <<PY || fail "$2"
import json, sys
j = json.load(open(sys.argv[1]))
t = j["trace"]
ok = True
def check(cond, what):
    global ok
    print(("ok   " if cond else "FAIL ") + what)
    ok = ok and cond
$3
sys.exit(0 if ok else 1)
PY
}

# 1. Typing at 1,000 tokens. Eight layers make one recompute several times longer than any frame (a one-thread job of the
#    default two layers took 260 ms, near a loaded machine's slowest frame), so "no frame waited" stays measurable.
session "$work/big.json" 1000 '{"max_len": 1100, "layers": 8}'
"$app" --session "$work/big.json" --panel attention --click "source text" --type " zzz " --frames 12 \
       --screenshot "$work/typed.png" --state-json "$work/typed.json" --width 1440 --height 900 2> "$work/stderr.txt" ||
  { cat "$work/stderr.txt"; fail "qkvlab did not run the typing script"; }
verify "$work/typed.json" "typing at 1,000 tokens" '
longest, recompute = j["longest_frame_since_input_ms"], t["recompute_ms"]
tokens = len(t["source_tokens"])
print(f"tokens {tokens}, one recompute {recompute:.0f} ms, slowest frame after the click {longest:.0f} ms")
check(j["error"] is None, "the typed text was applied without an error")
check("zzz" in j["text"].split(), "the session has the typed word")
check("zzz" in t["source_tokens"] and len(t["source_tokens"]) >= 1001, "the final trace has the typed token, with the 1,000 others")
check(not t["stale"], "the trace on screen is the session'"'"'s (the last recompute arrived)")
check(longest < 0.5 * recompute and longest < 1000, "no frame waited for a recompute (slowest frame < half a recompute, < 1 s)")'

# 2. A slow recompute (12 layers, d_model 512, 400 tokens: seconds here) keeps the previous trace on screen, marked
#    stale with its progress: --until-computing captures the first frame that shows "computing…" after the edit.
session "$work/slow.json" 400 '{"layers": 12, "d_model": 512, "heads": 2, "d_ff": 2048, "max_len": 500}'
"$app" --session "$work/slow.json" --panel attention --click "source text" --type " zzz" --until-computing \
       --screenshot "$work/stale.png" --state-json "$work/stale.json" --width 1440 --height 900 2> "$work/stderr.txt" ||
  { cat "$work/stderr.txt"; fail "qkvlab did not run the slow-recompute script"; }
verify "$work/stale.json" "a slow recompute is not shown as computing over the stale trace" '
progress, recompute = t["progress"], t["recompute_ms"]
print(f"progress {progress}, last recompute {recompute:.0f} ms")
check("zzz" in j["text"].split(), "the session has the typed word")
check(t["stale"] and t["computing"], "the trace on screen is marked stale, and the frame shows computing")
check("zzz" not in t["source_tokens"] and len(t["source_tokens"]) == 400, "the previous trace stays on screen meanwhile")
check(t["progress"][1] > 0 and 0 <= t["progress"][0] <= t["progress"][1], "the progress counts layers")
check(j["error"] is None, "no error is shown for a recompute in progress")'
echo "all typing checks passed"
