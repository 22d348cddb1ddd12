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
# Issue 11, defects 1 and 10: a number beyond double in a session, a negative seed on the command line.
echo '{"seed": 1e309}' > "$work/overflow.json"
msg=$("$cli" run --session "$work/overflow.json" 2>&1); code=$?
check "a number beyond double is refused, not an abort" test "$code" = 2
check "... saying so" grep -q "number overflow" <<<"$msg"
msg=$("$cli" run --seed -1 --text "a b" 2>&1); code=$?
check "--seed -1 is refused, not wrapped" test "$code" = 2
check "... with the range" grep -q "whole number from 0" <<<"$msg"
# Issue 11, defect 8: shapes whose weights alone outgrow the machine are refused before anything is allocated, with the
# estimate and the limit; the limit can be set (flag or environment) and a bad one is refused.
start=$(date +%s%N)
msg=$("$cli" run --d-model 8192 --heads 128 --d-k 8192 --d-v 8192 --layers 1 2>&1); code=$?
check "128 GiB of projections are refused, not a bad_alloc" test "$code" = 2
check "... with the estimate and the limit" grep -q "would take about 128.5 GiB.*over the memory limit" <<<"$msg"
msg=$("$cli" run --d-model 8192 --layers 96 --d-ff 65536 2>&1); code=$?
check "96 layers of d_model 8192 are refused at once" test "$code" = 2
check "... both in well under a second" test $(( ($(date +%s%N) - start) / 1000000 )) -lt 3000
msg=$("$cli" run --memory-limit 100K --text "a b c" 2>&1); code=$?
check "--memory-limit 100K refuses a 126 KiB run" test "$code" = 2
check "... naming where the limit comes from" grep -q "100.0 KiB (set by --memory-limit" <<<"$msg"
msg=$("$cli" run --text "a b c" --memory-limit 1M 2>&1); code=$?
check "--memory-limit after the subcommand works too" test "$code" = 0
msg=$(QKVLAB_MEMORY_LIMIT=100K "$cli" run --text "a b c" 2>&1); code=$?
check "QKVLAB_MEMORY_LIMIT sets the limit" test "$code" = 2
msg=$(QKVLAB_MEMORY_LIMIT=lots "$cli" run --text "a b c" 2>&1); code=$?
check "a bad QKVLAB_MEMORY_LIMIT is ignored, with a warning" test "$code" = 0
check "... naming it" grep -q "QKVLAB_MEMORY_LIMIT=lots is ignored" <<<"$msg"
msg=$("$cli" run --memory-limit 12X --text "a b" 2>&1); code=$?
check "--memory-limit 12X is refused" test "$code" = 2
msg=$("$cli" train --memory-limit 2M --steps 1 2>&1); code=$?
check "training is held to the limit too" test "$code" = 2
check "... with its estimate" grep -q "this training run would take about" <<<"$msg"
set -e

# The estimate against the peak memory the process really takes (GNU time's maximum resident set, less the resident
# set of a tiny run: the program itself): a forward at GPT-2's shape, its gradients, a long lean run, a training step.
if [ -x /usr/bin/time ]; then
  words() { "$py" -c "import sys; print(' '.join('w%d' % i for i in range(int(sys.argv[1]))))" "$1"; }
  gpt2=(--arch decoder-only --layers 12 --d-model 768 --heads 12 --d-ff 3072 --pe learned --placement pre --activation gelu --mask causal --max-len 1024)
  peak_kib() { /usr/bin/time -f "%M" -o "$work/time.txt" "$@" > "$work/out.txt" && tail -1 "$work/time.txt"; }
  base=$(peak_kib "$cli" run --text "a")
  estimate_vs_peak() {  # estimate_vs_peak LABEL ARGS...: the estimate is at least 90% of the peak and at most 150% of it
    local label=$1; shift
    local peak; peak=$(peak_kib "$cli" "$@")
    check_py "$label" "$work/out.txt" "$peak" "$base" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
m = re.search(r"memory \(estimated[^)]*\): ([0-9.]+) (B|KiB|MiB|GiB)", text)
scale = {"B": 1 / 1024, "KiB": 1, "MiB": 1024, "GiB": 1024 ** 2}
estimate = float(m.group(1)) * scale[m.group(2)]
peak = int(sys.argv[2]) - int(sys.argv[3])
print(f"     estimate {estimate / 1024:.0f} MiB, peak above a tiny run {peak / 1024:.0f} MiB, ratio {estimate / peak:.2f}")
sys.exit(0 if 0.9 * peak <= estimate <= 1.5 * peak else 1)
PY
  }
  estimate_vs_peak "memory estimate vs peak: GPT-2 shape, n = 256 (full trace)" run "${gpt2[@]}" --text "$(words 256)"
  estimate_vs_peak "memory estimate vs peak: GPT-2 shape, n = 96, gradients" run "${gpt2[@]}" --text "$(words 96)" --gradients
  estimate_vs_peak "memory estimate vs peak: 4,000 tokens (lean trace)" run --text "$(words 4000)" --max-len 4096
  estimate_vs_peak "memory estimate vs peak: a training step of batch 256" train --steps 1 --d-model 256 --d-ff 1024 --layers 4 --batch-size 256
fi

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
block = open(os.path.join(w, "run.txt")).read().split("encoder.0.self_attn.head.1.P  [")[1]
lines = block.splitlines()
ncols = int(lines[0].split("×")[1].split("]")[0])
header, lines = lines[1].split(), lines[2:]
assert header == ["The", "cat", "sat", "on", "the", "mat"], header  # key tokens above the columns
rows = []
for l in lines:
    if not l.strip():
        break
    fields = l.split()
    rows.append(list(map(float, fields[-ncols:])))
    assert fields[0] in header, fields  # a query token before each row
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
pngs=$(ls "$work/png" | grep -c '\.png$')
check "one PNG per head and stage (2 layers x 2 heads x 4 stages)" test "$pngs" = 16
first_png=$(ls "$work/png"/*P__The_cat* | head -1)
check "PNG names carry the tokens and are real PNGs" bash -c "head -c 8 '$first_png' | od -An -tx1 | grep -q '89 50 4e 47'"
check_py "PNG heatmaps are slide-sized, labelled on both axes, with a legend whose colours the cells use" "$work" <<'PY'
import json, os, sys
import numpy as np
from PIL import Image
w = sys.argv[1]
index = json.load(open(os.path.join(w, "png", "index.json")))
assert len(index) == 16
for e in index:
    img = np.asarray(Image.open(os.path.join(w, "png", e["file"])).convert("RGB")).astype(int)
    h, wd, _ = img.shape
    cell, x0, y0, rows, cols = e["cell"], e["x0"], e["y0"], e["rows"], e["cols"]
    assert wd >= 800 and cell >= 24, (e["file"], wd, cell)
    ink = (img < 200).any(axis=2)  # dark text pixels on the white background
    assert ink[y0:y0 + rows * cell, :x0 - 2].sum() > 50 * rows, "row labels left of the grid"
    assert ink[:y0 - 2, x0:x0 + cols * cell].sum() > 50 * cols, "column labels above the grid"
    assert ink[:34, :].sum() > 200 and not ink[:34, :].all(), "a title at the top"
    P = np.load(os.path.join(w, "npy", e["tensor"] + ".npy"))
    assert P.shape == (rows, cols)
    bar_x = x0 + cols * cell + 16 + 10
    bar_h = max(rows * cell, 160)
    legend = img[y0:y0 + bar_h, bar_x]
    assert len({tuple(c) for c in legend}) > 50, "a colour bar beside the grid"
    assert ink[y0:y0 + bar_h, bar_x + 20:].sum() > 40, "the legend's range written beside it"
    finite = np.isfinite(P)
    lo, hi = e["min"], e["max"]
    if e["tensor"].endswith(".P"):
        assert (lo, hi) == (0, 1)
    else:
        assert abs(hi - np.abs(P[finite]).max()) < 1e-4 * max(1, hi) and lo == -hi
    for i in range(rows):
        for j in range(cols):
            c = img[y0 + i * cell + cell // 2, x0 + j * cell + cell // 2]
            if not finite[i, j]:
                continue
            f = (P[i, j] - lo) / (hi - lo) if hi > lo else 0.5
            ref = legend[int(round((1 - f) * (bar_h - 1)))]
            assert np.abs(c - ref).max() <= 12, (e["file"], i, j, c, ref)
print("checked", len(index), "labelled PNGs")
PY

# The saved session reproduces the run exactly.
"$cli" run --session "$work/s.json" --show encoder.0.self_attn.head.1.P > "$work/again.txt"
numbers() { grep -E '^(encoder|decoder|tokens| +[-0-9])' "$1"; }
check "saved session reproduces the numbers" diff <(numbers "$work/run.txt") <(numbers "$work/again.txt")

# Decoding with a KV cache.
"$cli" run --arch decoder-only --text "one two three" --decode 4 > "$work/decode.txt"
check "decoder-only greedy decoding prints 4 tokens" bash -c "grep 'greedy decoding' '$work/decode.txt' | grep -o '⟨' | wc -l | grep -qx 4"
check "demo runs" bash -c "'$cli' demo | grep -q 'NOT scaled'"
"$cli" demo > "$work/demo.txt"
check_py "demo: one d_k everywhere, column labels, one shading scale for every row" "$work/demo.txt" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
header_dk = re.search(r"d_k=(\d+)", text.splitlines()[0]).group(1)
titles = re.findall(r"head\.0\.P with d_k = (\d+)", text)
assert titles == [header_dk, header_dk], (header_dk, titles)
scaled = text.split("scaled by 1/√d_k")[1].split("NOT scaled")[0]
# Column labels: the first letters of the 12 key tokens, written down above the columns.
assert "T a d c t s b i w t t ." in scaled, "column labels"
rows = [l for l in scaled.splitlines() if "│" in l]
assert len(rows) == 12, len(rows)
# Shaded by the weight itself (one scale): rows whose largest weight is below 0.875 have no full block.
# Per-row scaling gave every row a █; the scaled head's mean max weight is about 0.46.
full = sum("█" in r for r in rows)
assert full < 6, f"{full} of 12 rows have a full block: shading looks per-row"
PY

# Lessons: the suggestion printed for an unknown lesson is a command that works.
set +e
msg=$("$cli" lesson 99 2>&1); code=$?
set -e
check "an unknown lesson exits 2" test "$code" = 2
suggested=$(sed -n 's/.*list them with: qkvlab-cli \(lesson[^)]*\)).*/\1/p' <<<"$msg")
check "... and suggests a listing command" test -n "$suggested"
# shellcheck disable=SC2086
check "... which works and lists lesson 5" bash -c "'$cli' $suggested | grep -q '^ 5  why-scale'"

# Parse errors exit 2 (the documented code of every user error) with CLI11's message.
set +e
for args in "run --heads x" "run --bogus" "" "run --pe" "params --n 0" "lesson --lang fr"; do
  # shellcheck disable=SC2086
  msg=$("$cli" $args 2>&1); code=$?
  check "parse error exits 2: qkvlab-cli $args" test "$code" = 2
  check "... with a message" test -n "$msg"
done
"$cli" --help > /dev/null; code=$?
check "--help exits 0" test "$code" = 0
# A hand-masked cell outside the matrix is refused, like a padding position outside the input.
msg=$("$cli" run --text "a b c" --cell 5,5 2>&1); code=$?
check "--cell outside every attention matrix is refused" test "$code" = 2
check "... with the matrix size" grep -q "outside every attention matrix (the largest is 3 × 3)" <<<"$msg"
msg=$("$cli" run --text "a b c" --pad 7 2>&1); code=$?
check "--pad outside the input is refused" test "$code" = 2
msg=$("$cli" run --weights no-such-weights 2>&1); code=$?
check "unknown --weights is refused" test "$code" = 2
check "... listing the shipped names" grep -q "shipped name: reverse" <<<"$msg"
set -e
"$cli" run --text "a b c" --cell 2,0 --show encoder.0.self_attn.M > "$work/cell.txt"
check "--cell inside the matrix masks it" bash -c "grep -A4 'encoder.0.self_attn.M  \[' '$work/cell.txt' | grep -E '^c ' | grep -q -- '-inf'"

# --show output.probs: vocabulary tokens above the columns, the positions' tokens before the rows.
"$cli" run --arch decoder-only --text "the cat sat" --layers 1 --heads 2 --d-model 8 --show output.probs > "$work/probs.txt"
check "--show output.probs labels the columns with the vocabulary" bash -c "grep -A1 '^output.probs  \[3 × 6\]' '$work/probs.txt' | tail -1 | grep -qE '\[PAD\] +\[BOS\] +\[EOS\] +the +cat +sat'"
check "... and the rows with the tokens" bash -c "grep -A4 '^output.probs  \[' '$work/probs.txt' | grep -qE '^sat +0\.'"

# Gradients on: every export (npy, CSV, PNG) writes, one flat folder, numpy reads every file of the manifest.
"$cli" run --arch decoder-only --text "the cat sat" --layers 1 --heads 2 --d-model 8 --gradients \
  --export "$work/gnpy" --export-csv "$work/gcsv" --export-png "$work/gpng" > "$work/grad_export.txt"
check "gradients export: manifest written" test -s "$work/gnpy/manifest.json"
check "... no sub-folders" test -z "$(find "$work/gnpy" "$work/gcsv" "$work/gpng" -mindepth 1 -type d)"
check_py "... numpy loads every file of the manifest, gradients included, and CSV equals npy" "$work" <<'PY'
import json, os, sys
import numpy as np
w = sys.argv[1]
m = json.load(open(os.path.join(w, "gnpy", "manifest.json")))
grads = 0
for t in m["tensors"]:
    a = np.load(os.path.join(w, "gnpy", t["file"]))
    assert list(a.shape) == t["shape"], t
    if t["name"].startswith("dL/d"):
        grads += 1
        assert t["file"] == "grad." + t["name"][4:] + ".npy", t
    c = np.loadtxt(os.path.join(w, "gcsv", t["file"][:-4] + ".csv"), delimiter=",", dtype=np.float32, ndmin=2)
    assert c.shape == a.shape and ((c == a) | (np.isinf(c) & np.isinf(a))).all(), t["name"]
assert grads > 10, grads
assert "grad.<name>.npy" in m["file_names"]
print("numpy loaded", len(m["tensors"]), "tensors,", grads, "gradients")
PY
check "... and the PNG heatmaps" test "$(ls "$work/gpng" | grep -c '\.png$')" = 8

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
"$cli" run --weights reverse --arch encoder-decoder --tokenizer chars --text abc --target cba > "$work/shipped2.txt"
check "... and by name without the extension, with the same numbers" diff <(grep -v "forward:" "$work/shipped.txt") <(grep -v "forward:" "$work/shipped2.txt")
set +e
head -c 100 "$work/copy.safetensors" > "$work/truncated.safetensors"
msg=$("$cli" run --weights "$work/truncated.safetensors" --arch encoder-decoder --d-model 16 --heads 2 2>&1); code=$?
set -e
check "a truncated weights file is refused" test "$code" = 2
check "... with a message" grep -qi "safetensors\|truncat\|header" <<<"$msg"

# lab: every experiment of the labs from the command line, as a table and as JSON (checked with hand-known facts).
"$cli" lab --list > "$work/labs.txt"
for lab in scaling why-sqrt-dk norm-sweep jacobian head-stats pe-similarity rope alibi; do
  check "lab --list names $lab" grep -q "^$lab " "$work/labs.txt"
done
set +e
msg=$("$cli" lab softmax-magic 2>&1); code=$?
check "an unknown lab is refused" test "$code" = 2
check "... naming it and pointing at --list" bash -c "grep -q 'no lab named softmax-magic' <<<'$msg' && grep -q 'lab --list' <<<'$msg'"
msg=$("$cli" lab jacobian --arch decoder-only --text "a b c" --row 9 2>&1); code=$?
check "lab jacobian with a row outside P is refused" test "$code" = 2
check "... saying which rows there are" grep -q "rows are 0 … 2" <<<"$msg"
msg=$("$cli" lab jacobian --head encoder.5.self_attn.head.0 2>&1); code=$?
check "lab jacobian with an unknown head is refused" test "$code" = 2
set -e
small=(--text "the cat sat on the mat" --layers 2 --d-model 16 --heads 2)
for lab in scaling why-sqrt-dk norm-sweep jacobian head-stats pe-similarity rope alibi; do
  extra=()
  [ "$lab" = why-sqrt-dk ] && extra=(--seeds 1)
  "$cli" lab "$lab" "${small[@]}" "${extra[@]}" > "$work/lab-$lab.txt"
  check "lab $lab prints a table" test "$(wc -l < "$work/lab-$lab.txt")" -ge 3
  "$cli" lab "$lab" "${small[@]}" "${extra[@]}" --json > "$work/lab-$lab.json"
done
check "lab jacobian's table says the chain rule agrees" grep -q "agrees to float rounding" "$work/lab-jacobian.txt"
"$cli" lab jacobian --arch decoder-only --text "a b c d" --layers 1 --d-model 8 --heads 2 --head decoder.0.self_attn.head.1 --row 2 --json > "$work/lab-jac2.json"
"$cli" lab head-stats "${small[@]}" --head encoder.1.self_attn.head.0 --json > "$work/lab-rows.json"
"$cli" lab alibi --heads 8 --d-model 16 --json > "$work/lab-alibi8.json"
check_py "lab --json parses, and its numbers hold what they must" "$work" <<'PY'
import json, math, os, sys
w = sys.argv[1]
L = {n: json.load(open(os.path.join(w, "lab-%s.json" % n))) for n in
     "scaling why-sqrt-dk norm-sweep jacobian head-stats pe-similarity rope alibi jac2 rows alibi8".split()}
for n, j in L.items():
    assert j["lab"] in n or n in ("jac2", "rows", "alibi8"), (n, j["lab"])
# scaling: every d_k of the sweep, unscaled entropy at d_k = 256 below the scaled one
pts = L["scaling"]["points"]
assert [p["d_k"] for p in pts] == [2, 4, 8, 16, 32, 64, 128, 256], pts
assert pts[-1]["unscaled"]["entropy"] < pts[-1]["scaled"]["entropy"]
assert L["why-sqrt-dk"]["points"][0]["scaled"]["mean"] > 0
# norm-sweep: four variants (layer norm on), each with L + 1 finite norms, exactly one is the session's
v = L["norm-sweep"]["variants"]
assert len(v) == 4 and sum(x["current"] for x in v) == 1, v
assert all(len(x["norms"]) == 3 and all(n is not None and n > 0 for n in x["norms"]) for x in v)
# jacobian: rows of J sum to 0, J = diag(p) - p p^T, the chain rule checked against the tape
for key in ("jacobian", "jac2"):
    j = L[key]
    p, J = j["p"], j["J"]
    assert j["checked"] and j["agrees"], j
    for a in range(len(p)):
        assert abs(sum(J[a])) < 1e-6
        for b in range(len(p)):
            assert abs(J[a][b] - ((p[a] if a == b else 0) - p[a] * p[b])) < 1e-6
j = L["jac2"]
assert j["allowed"] == 3 and j["p"][3] == 0, j  # causal: row 2 sees keys 0..2
assert abs(j["scale"] - 1 / math.sqrt(4)) < 1e-6, j["scale"]  # d_k = 8/2 = 4
# head-stats: every head with its scale 1/sqrt(d_k) = 1/sqrt(8); per row: entropy <= log(allowed keys)
hs = L["head-stats"]["heads"]
assert len(hs) == 4 and all(abs(h["scale"] - 1 / math.sqrt(8)) < 1e-6 for h in hs), hs
for r in L["rows"]["rows"]:
    assert r["entropy"] <= r["uniform"] + 1e-5 and 0 < r["max_weight"] <= 1
# pe-similarity: p_0.p_0 = d_model / 2, and the offset alone decides
pe = L["pe-similarity"]
assert abs(pe["from_zero"][0] - 8) < 1e-4 and pe["max_deviation"] < 1e-4, pe["max_deviation"]
# rope: the two query positions give the same curve; with the sinusoid added they do not
r = L["rope"]
assert r["rope_max_gap"] < 1e-4 and max(abs(a - b) for a, b in zip(*r["added"])) > 0.1
# alibi: h = 8 gives slopes 1/2 ... 1/256
s = L["alibi8"]["slopes"]
assert all(abs(s[i] - 2.0 ** -(i + 1)) < 1e-9 for i in range(8)), s
print("lab JSON checked:", ", ".join(sorted(L)))
PY

# Issue 12: the printed labels in English or 简体中文 (assets/i18n/cli.json): --lang before or after the subcommand,
# `lesson --lang` as before, QKVLAB_LANG; English by default; what scripts read (--json) is the same in both languages.
"$cli" lesson 5 --lang zh > "$work/lesson5-zh.txt" || true
check "lesson 5 --lang zh prints the Chinese labels" \
  bash -c "grep -qx '问题：' '$work/lesson5-zh.txt' && grep -qx '简短回答：' '$work/lesson5-zh.txt' && grep -qx '详细解释：' '$work/lesson5-zh.txt' && grep -q '^动手试试 1：' '$work/lesson5-zh.txt'"
check "... around the lesson's Chinese text" grep -q "为什么要在 softmax 之前把分数" "$work/lesson5-zh.txt"
check "... and no English label" bash -c "! grep -qE '^(question|short answer|explanation):|^try [0-9]+:' '$work/lesson5-zh.txt'"
"$cli" lesson 5 > "$work/lesson5-en.txt" || true
check "lesson 5 without --lang prints the English labels" \
  bash -c "grep -qx 'question:' '$work/lesson5-en.txt' && grep -qx 'short answer:' '$work/lesson5-en.txt' && grep -qx 'explanation:' '$work/lesson5-en.txt' && grep -q '^try 1: ' '$work/lesson5-en.txt'"
check "... and no Chinese label" bash -c "! grep -qE '^(问题|简短回答|详细解释)：|^动手试试' '$work/lesson5-en.txt'"
"$cli" lesson 5 --lang en > "$work/lesson5-en2.txt" || true
check "... the same as lesson 5 --lang en" diff "$work/lesson5-en.txt" "$work/lesson5-en2.txt"
"$cli" --lang zh lesson 5 > "$work/lesson5-zh2.txt" || true
check "--lang zh before the subcommand prints the same lesson" diff "$work/lesson5-zh.txt" "$work/lesson5-zh2.txt"
QKVLAB_LANG=zh "$cli" lesson 5 > "$work/lesson5-zh3.txt" || true
check "QKVLAB_LANG=zh prints the same lesson" diff "$work/lesson5-zh.txt" "$work/lesson5-zh3.txt"
QKVLAB_LANG=zh "$cli" lesson 5 --lang en > "$work/lesson5-en3.txt" || true
check "... and --lang en wins over it" diff "$work/lesson5-en.txt" "$work/lesson5-en3.txt"
set +e
QKVLAB_LANG=fr "$cli" params --preset bert-base > "$work/params-fr.txt" 2> "$work/params-fr.err"; code=$?
set -e
check "a bad QKVLAB_LANG is ignored (English), with a warning" \
  bash -c "test '$code' = 0 && grep -q '^total ' '$work/params-fr.txt' && grep -q 'QKVLAB_LANG=fr is ignored' '$work/params-fr.err'"
"$cli" params --preset bert-base --lang zh > "$work/params-zh.txt"
check "params --lang zh: Chinese headers and total row" bash -c "grep -q '^组件 ' '$work/params-zh.txt' && grep -q '^合计 .*109,482,240' '$work/params-zh.txt' && ! grep -qE '^(component|total) ' '$work/params-zh.txt'"
check_py "... whose columns line up (CJK characters are two columns wide)" "$work/params-zh.txt" <<'PY'
import sys, unicodedata
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
width = lambda s: sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)
header = next(l for l in lines if l.startswith("组件"))
total = next(l for l in lines if l.startswith("合计"))
assert width(header) == width(total) == 28 + 1 + 16 + 1 + 20, (width(header), width(total))
assert width(header[:header.index("参数量") + 3]) == 28 + 1 + 16, "the parameters header ends above its column"
PY
check "params --json is the same in Chinese" diff <("$cli" params --preset bert-base --json) <("$cli" params --preset bert-base --json --lang zh)
"$cli" run --text "a b c" --lang zh > "$work/run-zh.txt"
check "run --lang zh: the summary's labels in Chinese" \
  bash -c "grep -q '^QKV Lab 运行 — ' '$work/run-zh.txt' && grep -q '^词元（n=3）：⟨a⟩ ⟨b⟩ ⟨c⟩' '$work/run-zh.txt' && grep -q '^注意力头 ' '$work/run-zh.txt' && grep -q '^内存（运行前估计）：' '$work/run-zh.txt'"
check "... and none in English" bash -c "! grep -qE '^(tokens|parameters|memory|head) ' '$work/run-zh.txt'"
check "run --lang en prints what run prints" \
  diff <("$cli" run --text "a b c" | grep -v "forward:") <("$cli" run --text "a b c" --lang en | grep -v "forward:")
check "lab --list --lang zh keeps the lab names first" bash -c "'$cli' lab --list --lang zh | grep -q '^why-sqrt-dk .*随 d_k 的变化'"
check "lab --json is the same in Chinese" diff "$work/lab-alibi8.json" <("$cli" lab alibi --heads 8 --d-model 16 --json --lang zh)

if [ "$failures" -ne 0 ]; then echo "$failures CLI check(s) failed"; exit 1; fi
echo "all CLI checks passed"
