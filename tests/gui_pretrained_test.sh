#!/usr/bin/env bash
# The desktop app with real checkpoints (tiny, seeded GPT-2 and BERT folders laid out as the model hub's, made by
# scripts/make_tiny_checkpoint.py): --model loads on a worker and the model card in the state JSON is the folder's
# config; √d_k off turns the badge amber and changes the prediction, Reset to trained brings back the trained one;
# ablating a head by a click changes the prediction; BERT shows candidates at [MASK]; a broken folder is explained and the
# app goes on with what it had; English and Chinese.
set -euo pipefail
app=${QKVLAB_APP:?set QKVLAB_APP to the qkvlab binary}
cli=${QKVLAB_CLI:?set QKVLAB_CLI to the qkvlab-cli binary}
src=${QKVLAB_SOURCE:?set QKVLAB_SOURCE to the source tree}
py=/usr/bin/python3  # the interpreter with numpy (make_tiny_checkpoint.py needs it)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ -z "${DISPLAY:-}" ]; then echo "no DISPLAY: run under xvfb-run (scripts/test.sh does)"; exit 1; fi
fail() { echo "FAIL $*"; exit 1; }

"$py" "$src/scripts/make_tiny_checkpoint.py" --family gpt2 --out "$work/gpt2" --layers 2 --d-model 64 --heads 4 --positions 128 > /dev/null
"$py" "$src/scripts/make_tiny_checkpoint.py" --family bert --out "$work/bert-base-uncased" --layers 2 --d-model 64 --heads 4 --positions 128 > /dev/null
"$py" "$src/scripts/make_tiny_checkpoint.py" --family gpt2 --out "$work/broken" --bad missing-tensor > /dev/null

# shot NAME ARGS…: a scripted run at 1440×900 writing $work/NAME.png and $work/NAME.json; fails on a non-zero exit or GL errors.
shot() {
  local name=$1
  shift
  "$app" --screenshot "$work/$name.png" --state-json "$work/$name.json" --frames "${FRAMES:-6}" --width 1440 --height 900 "$@" 2> "$work/$name.err" ||
    { cat "$work/$name.err"; fail "qkvlab $* exited with an error"; }
  grep -q "GL error" "$work/$name.err" && fail "GL errors ($name)"
  [ -s "$work/$name.png" ] || fail "no screenshot ($name)"
}
# check NAME PYTHON MESSAGE: the state JSON j (and the folder's config.json c) satisfy the expression.
check() {
  "$py" - "$work/$1.json" "$2" "$3" <<'PY' || exit 1
import json, sys
j = json.load(open(sys.argv[1]))
if not eval(sys.argv[2]):
    print("FAIL", sys.argv[3])
    print(json.dumps({k: j.get(k) for k in ("message", "error", "pretrained", "ablations", "output_top", "overflowing_windows")}, indent=1, ensure_ascii=False))
    sys.exit(1)
PY
}
# The top tokens of a state, for comparing two runs: [(id, p rounded)] of every predicted row.
top_of() { "$py" -c 'import json,sys; j=json.load(open(sys.argv[1])); print([[(t["id"], round(t["p"], 4)) for t in r["top"]] for r in j["output_top"]["rows"]])' "$work/$1.json"; }

# 1. --model: the card is the folder's config.json, the trace is the model's, the Output tab lists its top 5.
shot gpt2 --model "$work/gpt2" --panel output
"$py" - "$work/gpt2.json" "$work/gpt2/config.json" "$work/gpt2/vocab.json" <<'PY' || fail "the GPT-2 model card"
import json, sys
j, c, vocab = (json.load(open(p)) for p in sys.argv[1:4])
p = j["pretrained"]
card = p["card"]
assert p["loading"] is False and p["error"] is None, p
assert card["family"] == "gpt2" and card["architecture"] == c["architectures"][0], card
assert (card["layers"], card["heads"], card["d_model"], card["positions"]) == (c["n_layer"], c["n_head"], c["n_embd"], c["n_positions"]), card
assert card["vocab"] == len(vocab) == c["vocab_size"], (card["vocab"], len(vocab))
assert card["parameters"] > 0 and card["parameters_shown"].replace(",", "") == str(card["parameters"]), card
assert "," in card["parameters_shown"] or card["parameters"] < 1000, card
assert card["weight_bytes"] >= 4 * card["parameters"] and card["file_bytes"] > 0 and card["dtype"] == "F32", card
assert p["as_trained"] is True and p["changes"] == 0, p
assert j["model"] == {"d_model": c["n_embd"], "heads": c["n_head"], "layers": c["n_layer"]}, j["model"]
out = j["output_top"]
assert out["model_dir"] == p["model_dir"] and out["vocab"] == card["vocab"], out
rows = out["rows"]
assert len(rows) == 1 and rows[0]["row"] == len(j["trace"]["source_tokens"]) - 1, rows
probs = [t["p"] for t in rows[0]["top"]]
assert len(probs) == 5 and probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1.0001, probs
assert j["text"] == "The quick brown fox", j["text"]  # the toy model's text gives way to GPT-2's prompt
assert j["tab"] == "output" and j["trace"]["stale"] is False, j["trace"]
PY
echo "ok   --model loads GPT-2 on a worker: the card is its config.json, its top-5 next tokens are listed"
base=$(top_of gpt2)

# Sessions the CLI saves (its --model session, as trained and with √d_k off) open in the app as they were saved.
"$cli" run --model "$work/gpt2" --text "The quick brown fox" --save-session "$work/session-trained.json" > /dev/null
"$cli" run --model "$work/gpt2" --text "The quick brown fox" --no-scale --save-session "$work/session-toggled.json" > /dev/null

shot trained --session "$work/session-trained.json" --panel output
check trained 'j["pretrained"]["as_trained"] is True and j["pretrained"]["card"]["title"] == "gpt2"' "the CLI's as-trained session is not as trained"
[ "$(top_of trained)" = "$base" ] || fail "the CLI's session predicts $(top_of trained), --model predicts $base"

# 2. √d_k off, by a click: the badge turns to "toggled: 1 change" and the prediction moves.
shot noscale --model "$work/gpt2" --panel output --click "divide scores by √d_k"
check noscale 'j["pretrained"]["as_trained"] is False and j["pretrained"]["changes"] == 1' "√d_k off does not flip the badge"
[ "$(top_of noscale)" != "$base" ] || fail "√d_k off left the top-5 unchanged: $base"
echo "ok   √d_k off (a click): toggled, 1 change, the top-5 changes"

# 3. A toggled session (the CLI saved it with --no-scale) opens toggled; Reset to trained gives the trained prediction back.
shot toggled --session "$work/session-toggled.json" --panel output
check toggled 'j["pretrained"]["as_trained"] is False and j["pretrained"]["card"] is not None' "the saved toggled session is not shown as toggled"
[ "$(top_of toggled)" = "$(top_of noscale)" ] || fail "the toggled session predicts otherwise than √d_k off by a click"
shot reset --session "$work/session-toggled.json" --panel output --click "reset to trained"
check reset 'j["pretrained"]["as_trained"] is True and j["pretrained"]["changes"] == 0' "Reset to trained did not restore the trained toggles"
[ "$(top_of reset)" = "$base" ] || fail "after Reset the top-5 is $(top_of reset), not the trained $base"
echo "ok   a toggled session shows its changes; Reset to trained restores the trained prediction"

# 4. Ablation by a click in the Attention tab (layer 0, head 0): listed, marked toggled, and the prediction changes.
shot ablate --model "$work/gpt2" --panel attention --click "ablate head"
check ablate 'j["ablations"] == [{"target": "decoder.0.self_attn.head.0", "kind": "zero"}] and j["pretrained"]["as_trained"] is False' \
  "clicking \"ablate head\" did not ablate decoder.0.self_attn.head.0"
[ "$(top_of ablate)" != "$base" ] || fail "ablating head 0 of layer 0 left the top-5 unchanged"
shot ablate_layer --model "$work/gpt2" --panel attention --block decoder.1.self_attn --click "ablate layer"
check ablate_layer 'j["ablations"] == [{"target": "decoder.1", "kind": "zero"}]' "clicking \"ablate layer\" did not ablate decoder.1"
[ "$(top_of ablate_layer)" != "$base" ] || fail "ablating layer 1 left the top-5 unchanged"
echo "ok   ablating a head or a layer by a click changes the prediction"

# 5. BERT: the prompt has [MASK]; its candidates are listed at the [MASK] position (in Chinese too).
for lang in en zh; do
  shot "bert_$lang" --model "$work/bert-base-uncased" --panel output --lang "$lang"
  check "bert_$lang" '(j["pretrained"]["card"]["family"] == "bert" and j["pretrained"]["as_trained"] is True
    and [r["token"] for r in j["output_top"]["rows"]] == ["[MASK]"] and len(j["output_top"]["rows"][0]["top"]) == 5
    and j["trace"]["source_tokens"][0] == "[CLS]" and j["trace"]["source_tokens"][-1] == "[SEP]")' "BERT's [MASK] candidates ($lang)"
done
[ "$(top_of bert_en)" = "$(top_of bert_zh)" ] || fail "BERT predicts differently in Chinese"
echo "ok   BERT: candidates at [MASK], the same in English and Chinese"

# 6. A broken folder: the error (what and hint) is shown, the app exits normally, the toy session is still there.
for lang in en zh; do
  shot "broken_$lang" --model "$work/broken" --panel output --lang "$lang"
  check "broken_$lang" '(j["pretrained"]["error"] and "h.1.mlp.c_fc.weight" in j["pretrained"]["error"] and j["pretrained"]["error_hint"]
    and j["pretrained"]["model_dir"] == "" and j["pretrained"]["card"] is None and j["trace"] is not None
    and j["pretrained"]["error"] in j["message"])' "the broken folder's error ($lang)"
done
check broken_zh '"未能打开模型" in j["message"]' "the broken folder's message is not in Chinese"
echo "ok   a folder with a missing tensor: the error and its hint are shown, the app goes on (English and Chinese)"

# 7. Chinese: the same card and prediction; the message in Chinese; every tab draws without a GL error.
shot gpt2_zh --model "$work/gpt2" --panel output --lang zh
check gpt2_zh '"已打开" in j["message"] and j["pretrained"]["as_trained"] is True' "the opened message in Chinese"
[ "$(top_of gpt2_zh)" = "$base" ] || fail "GPT-2 predicts differently in Chinese"
for tab in stepper attention qkv scaling masks positions parameters output; do
  shot "tab_$tab" --model "$work/gpt2" --panel "$tab" --lang zh
  check "tab_$tab" 'j["pretrained"]["card"] is not None and j["error"] is None' "the $tab tab with GPT-2"
done
echo "ok   Chinese: the same card and prediction, every lab tab renders with GPT-2"

# 8. Generate with GPT-2 (a click): tokens are appended through the KV cache, the text is the tokenizer's decode, and
# generation stops at <|endoftext|> if the model draws it (it is then the last id).
FRAMES=30 shot generate --model "$work/gpt2" --panel output --click generate
"$py" - "$work/generate.json" "$work/gpt2/vocab.json" <<'PY' || fail "generation with GPT-2"
import json, sys
j, vocab = (json.load(open(p)) for p in sys.argv[1:3])
g = j["generation"]
eos = vocab["<|endoftext|>"]
assert 1 <= len(g["ids"]) <= 16 and g["text"] is not None, g
assert eos not in g["ids"][:-1], g
assert g["running"] is False and g["note"], g
PY
echo "ok   Generate appends GPT-2 tokens through the KV cache and shows the decoded text"
