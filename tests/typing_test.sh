#!/usr/bin/env bash
# Typing at 1,000 tokens stays fluid (issue 10, item 3): the recompute runs on a worker, so no frame waits for it.
# A 1,000-word session (teaching-size model, words tokenizer) is opened; the source field is clicked and " zzz " is
# typed one character per frame, as a person types (each keystroke an edit that cancels the stale recompute). The
# scripted run waits for the last recompute, so the state json shows the final trace and the slowest frame.
#
# Figures on the 2-core development machine under Xvfb (llvmpipe): one recompute of this session takes
# RECOMPUTE_MS_NOTE; the slowest frame of the whole run LONGEST_MS_NOTE. Before the recompute moved to a worker, the
# frame of each keystroke contained a whole recompute, so the slowest frame was at least recompute_ms. The bound
# below (the slowest frame under half a recompute, and under 1 s) fails for a frame that waits for one.
set -euo pipefail
app=${QKVLAB_APP:?set QKVLAB_APP to the qkvlab binary}
py=/usr/bin/python3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ -z "${DISPLAY:-}" ]; then echo "no DISPLAY: run under xvfb-run (scripts/test.sh does)"; exit 1; fi
export XDG_CONFIG_HOME=$work/config
fail() { echo "FAIL $*"; exit 1; }

"$py" -c "
import json
text = ' '.join(f'w{i}' for i in range(1000))
json.dump({'text': text, 'tokenizer': 'words', 'model': {'max_len': 1100}}, open('$work/big.json', 'w'))"

"$app" --session "$work/big.json" --panel attention --click "source text" --type " zzz " --frames 12 \
       --screenshot "$work/typed.png" --state-json "$work/typed.json" --width 1440 --height 900 2> "$work/stderr.txt" ||
  { cat "$work/stderr.txt"; fail "qkvlab did not run the typing script"; }

"$py" - "$work/typed.json" <<'PY' || fail "typing at 1,000 tokens"
import json, sys
j = json.load(open(sys.argv[1]))
t = j["trace"]
longest, recompute = j["longest_frame_ms"], t["recompute_ms"]
print(f"tokens {len(t['source_tokens'])}, one recompute {recompute:.0f} ms, slowest frame {longest:.0f} ms")
ok = True
def check(cond, what):
    global ok
    print(("ok   " if cond else "FAIL ") + what)
    ok = ok and cond
check(j["error"] is None, "the typed text was applied without an error")
check("zzz" in j["text"].split(), "the session has the typed word")
check("zzz" in t["source_tokens"] and len(t["source_tokens"]) >= 1001, "the final trace has the typed token, with the 1,000 others")
check(not t["stale"], "the trace on screen is the session's (the last recompute arrived)")
check(longest < 0.5 * recompute and longest < 1000, "no frame waited for a recompute (slowest frame < half a recompute, < 1 s)")
sys.exit(0 if ok else 1)
PY

# A slow recompute (12 layers, d_model 512, 400 tokens: seconds here) keeps the previous trace on screen, marked stale
# with its progress: --until-computing captures the first frame that shows "computing…" after the typed edit.
"$py" -c "
import json
text = ' '.join(f'w{i}' for i in range(400))
json.dump({'text': text, 'tokenizer': 'words', 'model': {'layers': 12, 'd_model': 512, 'heads': 2, 'd_ff': 2048, 'max_len': 500}},
          open('$work/slow.json', 'w'))"
"$app" --session "$work/slow.json" --panel attention --click "source text" --type " zzz" --until-computing \
       --screenshot "$work/stale.png" --state-json "$work/stale.json" --width 1440 --height 900 2> "$work/stderr.txt" ||
  { cat "$work/stderr.txt"; fail "qkvlab did not run the slow-recompute script"; }
"$py" - "$work/stale.json" <<'PY' || fail "a slow recompute is not shown as computing over the stale trace"
import json, sys
j = json.load(open(sys.argv[1]))
t = j["trace"]
print(f"progress {t['progress']}, last recompute {t['recompute_ms']:.0f} ms")
ok = True
def check(cond, what):
    global ok
    print(("ok   " if cond else "FAIL ") + what)
    ok = ok and cond
check("zzz" in j["text"].split(), "the session has the typed word")
check(t["stale"] and t["computing"], "the trace on screen is marked stale, computing")
check("zzz" not in t["source_tokens"] and len(t["source_tokens"]) == 400, "the previous trace stays on screen meanwhile")
check(t["progress"][1] > 0 and 0 <= t["progress"][0] <= t["progress"][1], "the progress counts layers")
check(j["error"] is None, "no error is shown for a recompute in progress")
sys.exit(0 if ok else 1)
PY
echo "all typing checks passed"
