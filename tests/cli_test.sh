#!/usr/bin/env bash
# qkvlab-cli end to end: the documented commands work, their output parses, bad input fails with a reason.
# Run by ctest with QKVLAB_CLI set to the built binary.
set -euo pipefail
cli=${QKVLAB_CLI:?set QKVLAB_CLI to the qkvlab-cli binary}
py=/usr/bin/python3  # Debian's, which has python3-numpy (a pyenv python3 earlier on PATH would not)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
check() {  # check NAME CONDITION...
  local label=$1; shift
  if "$@"; then echo "ok   $label"; else echo "FAIL $label"; failures=$((failures + 1)); fi
}
check_py() {  # check_py NAME ARG < script
  local label=$1; shift
  if "$py" - "$@"; then echo "ok   $label"; else echo "FAIL $label"; failures=$((failures + 1)); fi
}

# params --json: one JSON object whose "total" is the published count.
for pair in gpt2-small:124439808 bert-base:109482240 vit-b16:86567656 transformer-base:63082496; do
  preset=${pair%%:*}; expected=${pair##*:}
  total=$("$cli" params --preset "$preset" --json | "$py" -c 'import json,sys; print(json.load(sys.stdin)["total"])')
  check "params $preset total = $expected" test "$total" = "$expected"
done
check "params table prints a total row" bash -c "'$cli' params --preset bert-base | grep -q '^total .*109,482,240'"

# Bad input: exit code 2 and a message that says what and why.
set +e
msg=$("$cli" params --preset gpt5 2>&1); code=$?
check "unknown preset is refused" test "$code" = 2
check "unknown preset lists the choices" grep -q "one of: transformer-base" <<<"$msg"
msg=$("$cli" run --text "a b c" --d-model 30 --heads 4 2>&1); code=$?
check "d_model not divisible by h is refused" test "$code" = 2
check "... with the reason" grep -q "not divisible by h = 4" <<<"$msg"
msg=$("$cli" run --pe cosine 2>&1); code=$?
check "unknown PE is refused" test "$code" = 2
check "... with the choices" grep -q "sinusoidal, learned, rope, alibi, none" <<<"$msg"
echo '{"text": "broken' > "$work/broken.json"
msg=$("$cli" run --session "$work/broken.json" 2>&1); code=$?
check "a broken session file is refused" test "$code" = 2
check "... saying it is not valid JSON" grep -q "not valid JSON" <<<"$msg"
set -e

# run: summary, export to .npy + manifest, loadable by numpy and equal to --show's numbers.
"$cli" run --text "The cat sat on the mat" --layers 2 --heads 2 --d-model 16 --mask padding --pad 5 \
  --export "$work/npy" --export-png "$work/png" --export-csv "$work/csv" --save-session "$work/s.json" --show encoder.0.self_attn.head.1.P > "$work/run.txt"
check "summary names the tokens" grep -q "⟨cat⟩" "$work/run.txt"
check "manifest written" test -s "$work/npy/manifest.json"
check_py "numpy.load reads every exported tensor" "$work/npy" <<'PY'
import json, sys, os
import numpy as np
d = sys.argv[1]
m = json.load(open(os.path.join(d, "manifest.json")))
for t in m["tensors"]:
    a = np.load(os.path.join(d, t["file"]))
    assert list(a.shape) == t["shape"] and a.dtype == np.float32, t
P = np.load(os.path.join(d, "encoder.0.self_attn.head.1.P.npy"))
assert np.allclose(P.sum(axis=1), 1.0, atol=1e-5), "rows of P sum to 1"
assert (P[:, 5] == 0).all(), "the padded key gets exactly zero weight"
M = np.load(os.path.join(d, "encoder.0.self_attn.M.npy"))
assert np.isneginf(M[:, 5]).all()
assert m["session"]["model"]["heads"] == 2
print("numpy loaded", len(m["tensors"]), "tensors")
PY
# The printed matrix equals the .npy (4 decimals).
check_py "--show prints the same numbers as the export" "$work" <<'PY'
import sys, os, re
import numpy as np
w = sys.argv[1]
lines = open(os.path.join(w, "run.txt")).read().split("encoder.0.self_attn.head.1.P  [")[1].splitlines()[1:]
rows = []
for l in lines:
    if not l.strip():
        break
    rows.append(list(map(float, l.split())))
P = np.load(os.path.join(w, "npy", "encoder.0.self_attn.head.1.P.npy"))
assert np.allclose(np.array(rows), P, atol=1e-4)
PY
check_py "CSV export equals the .npy export" "$work" <<'PY'
import sys, os
import numpy as np
w = sys.argv[1]
P = np.load(os.path.join(w, "npy", "encoder.0.self_attn.head.1.P.npy"))
C = np.loadtxt(os.path.join(w, "csv", "encoder.0.self_attn.head.1.P.csv"), delimiter=",", dtype=np.float32)
assert (C == P).all(), "9 significant digits round-trip float32 exactly"
M = np.loadtxt(os.path.join(w, "csv", "encoder.0.self_attn.M.csv"), delimiter=",")
assert np.isneginf(M[:, 5]).all()
PY
pngs=$(ls "$work/png" | wc -l)
check "one PNG per head and stage (2 layers x 2 heads x 4 stages)" test "$pngs" = 16
first_png=$(ls "$work/png"/*P__The_cat* | head -1)
check "PNG names carry the tokens and are real PNGs" bash -c "head -c 8 '$first_png' | od -An -tx1 | grep -q '89 50 4e 47'"

# The saved session reproduces the run exactly.
"$cli" run --session "$work/s.json" --show encoder.0.self_attn.head.1.P > "$work/again.txt"
numbers() { grep -E '^(encoder|decoder|tokens| +[-0-9])' "$1"; }
check "saved session reproduces the numbers" diff <(numbers "$work/run.txt") <(numbers "$work/again.txt")

# Decoding with a KV cache.
"$cli" run --arch decoder-only --text "one two three" --decode 4 > "$work/decode.txt"
check "decoder-only greedy decoding prints 4 tokens" bash -c "grep 'greedy decoding' '$work/decode.txt' | grep -o '⟨' | wc -l | grep -qx 4"
check "demo runs" bash -c "'$cli' demo | grep -q 'NOT scaled'"

# Training, trained weights and gradients.
"$cli" train --task copy --steps 40 --log-every 20 --d-model 16 --heads 2 --out "$work/copy.safetensors" > "$work/train.txt"
check "train logs its steps" grep -q "^step     40 " "$work/train.txt"
check "train saves its weights" test -s "$work/copy.safetensors"
"$cli" run --weights "$work/copy.safetensors" --arch encoder-decoder --d-model 16 --heads 2 --tokenizer chars --text abc --target abc \
  --gradients --show dL/ddecoder.0.cross_attn.head.0.S > "$work/grad.txt"
check "run --weights --gradients prints the loss" grep -q "^loss (target): " "$work/grad.txt"
check "... and dL/dS of a cross-attention head" grep -q "^dL/ddecoder.0.cross_attn.head.0.S  \[4 × 3\]" "$work/grad.txt"
"$cli" run --weights reverse.safetensors --arch encoder-decoder --tokenizer chars --text abc --target cba > "$work/shipped.txt"
check "the shipped weights are found by name" grep -q "QKV Lab run" "$work/shipped.txt"
set +e
head -c 100 "$work/copy.safetensors" > "$work/truncated.safetensors"
msg=$("$cli" run --weights "$work/truncated.safetensors" --arch encoder-decoder --d-model 16 --heads 2 2>&1); code=$?
set -e
check "a truncated weights file is refused" test "$code" = 2
check "... with a message" grep -qi "safetensors\|truncat\|header" <<<"$msg"

if [ "$failures" -ne 0 ]; then echo "$failures CLI check(s) failed"; exit 1; fi
echo "all CLI checks passed"
