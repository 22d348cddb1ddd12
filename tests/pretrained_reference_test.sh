#!/usr/bin/env bash
# Real checkpoint layouts (issue 13) against an independent NumPy reference: tiny random GPT-2 and BERT folders in
# the exact Hugging Face file layout (scripts/make_tiny_checkpoint.py) are run with `qkvlab-cli run --model`, and
# tests/hf_reference.py recomputes the forward pass in float64 from the same files (its own safetensors reader
# and HF name mapping) and compares every attention matrix P, every layer's hidden state and the logits
# (|diff| <= 1e-4·max(1, max|ref|), −∞ cells identical), under every teaching toggle. Then damaged folders, one per
# refusal the loader must make: qkvlab-cli must exit 2 (a user error) with a message naming the problem, and never crash.
# Run with QKVLAB_CLI set to the built binary; REF_VERBOSE=1 prints every reference report.
set -euo pipefail
cli=${QKVLAB_CLI:?set QKVLAB_CLI to the qkvlab-cli binary}
py=/usr/bin/python3  # Debian's, which has python3-numpy (a pyenv python3 earlier on PATH would not)
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
maker="$root/scripts/make_tiny_checkpoint.py"
ref="$root/tests/hf_reference.py"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
count=0
report() {  # report LABEL OK LOG
  if [ "$2" = 1 ]; then echo "ok   $1"; else echo "FAIL $1"; failures=$((failures + 1)); fi
  if [ "$2" != 1 ] || [ "${REF_VERBOSE:-0}" = 1 ]; then sed 's/^/       /' "$3"; fi
}
model() {  # model NAME MAKER-ARGS...: writes the tiny folder $work/models/NAME
  local name=$1; shift
  if ! "$py" "$maker" --out "$work/models/$name" "$@" 2> "$work/maker.log"; then
    echo "make_tiny_checkpoint.py $* failed" >> "$work/maker.log"
    report "make the $name folder" 0 "$work/maker.log"
  fi
}
agree() {  # agree LABEL [REF-OPTION...] -- MODEL CLI-RUN-ARGS...: run and export; the reference must agree
  local label=$1; shift
  local refopts=()
  while [ "$1" != -- ]; do refopts+=("$1"); shift; done
  shift
  local folder="$work/models/$1"; shift
  count=$((count + 1))
  local dir="$work/export$count" log="$work/$count.log" ok=0 code=0
  "$cli" run --model "$folder" "$@" --export "$dir" > "$work/$count.run" 2> "$log" || code=$?
  if [ "$code" = 0 ]; then
    if "$py" "$ref" ${refopts[@]+"${refopts[@]}"} "$dir" >> "$log" 2>&1; then ok=1; fi
  else
    echo "qkvlab-cli run --model $folder $* failed (exit $code)" >> "$log"
  fi
  report "$label" "$ok" "$log"
}
refuses() {  # refuses LABEL MODEL WORDS: exit 2 and a stderr message matching WORDS (extended regex, any case)
  local label=$1 folder="$work/models/$2" words=$3 log="$work/refuses.log" code=0 ok=0
  "$cli" run --model "$folder" --text hi > "$work/refuses.out" 2> "$work/refuses.err" || code=$?
  { echo "exit code $code; stderr:"; cat "$work/refuses.err"; } > "$log"
  if [ "$code" -gt 128 ]; then
    echo "crashed (signal $((code - 128)))" >> "$log"
  elif [ "$code" != 2 ]; then
    echo "expected exit code 2 (a user error, as every qkvlab-cli refusal)" >> "$log"
  elif ! grep -Eiq "$words" "$work/refuses.err"; then
    echo "the message names none of: $words" >> "$log"
  else
    ok=1
  fi
  report "$label" "$ok" "$log"
}

gpt2_text="The cat sat on the mat! Attention, heads."
bert_text="the cat sat on the [MASK] ."
long_text="The students learned the patterns of the attention heads, the embeddings and the layers. It was the best \
of times, it was the worst of times, it was the age of wisdom; we don't think it's over, and they're sure we'll see."

# [SECTION] GPT-2 (Pre-LN, gelu_new, causal): file variants, then every teaching toggle
model gpt2 --family gpt2 --seed 1
model gpt2-prefix --family gpt2 --seed 2 --prefix
model gpt2-bool --family gpt2 --seed 3 --variant bool-bias
model gpt2-nobuf --family gpt2 --seed 4 --variant no-buffers
model gpt2-lmhead --family gpt2 --seed 5 --variant lm-head
model gpt2-tokjson --family gpt2 --seed 6 --tokenizer-json
model gpt2-f16 --family gpt2 --seed 7 --dtype F16
model gpt2-bf16 --family gpt2 --seed 8 --dtype BF16
model gpt2-long --family gpt2 --seed 9 --positions 160 --layers 3
model gpt2-untied --family gpt2 --seed 10 --variant untied-lm-head

agree "GPT-2 defaults (no prefix, F32 attn.bias buffer; the model's own toggles)" --expect-model-defaults -- gpt2 --text "$gpt2_text"
agree "GPT-2 transformer. prefix + masked_bias scalar" --expect-model-defaults -- gpt2-prefix --text "$gpt2_text"
agree "GPT-2 BOOL attn.bias buffer" --expect-model-defaults -- gpt2-bool --text "$gpt2_text"
agree "GPT-2 without buffers" --expect-model-defaults -- gpt2-nobuf --text "$gpt2_text"
agree "GPT-2 with lm_head.weight = wte" --expect-model-defaults -- gpt2-lmhead --text "$gpt2_text"
agree "GPT-2 tokenizer.json only (no vocab.json/merges.txt)" --expect-model-defaults -- gpt2-tokjson --text "$gpt2_text"
agree "GPT-2 F16 parameters" --expect-model-defaults -- gpt2-f16 --text "$gpt2_text"
agree "GPT-2 BF16 parameters" --expect-model-defaults -- gpt2-bf16 --text "$gpt2_text"
agree "GPT-2 1/sqrt(d_k) off" -- gpt2 --text "$gpt2_text" --no-scale
agree "GPT-2 temperature 0.5" -- gpt2 --text "$gpt2_text" --temperature 0.5
agree "GPT-2 causal mask removed" -- gpt2 --text "$gpt2_text" --mask none
agree "GPT-2 residuals off" -- gpt2 --text "$gpt2_text" --no-residual
agree "GPT-2 positions off" -- gpt2 --text "$gpt2_text" --pe none
agree "GPT-2 tied Q = K (key bias kept)" -- gpt2 --text "$gpt2_text" --tied-qk
agree "GPT-2 erf GELU instead of gelu_new" -- gpt2 --text "$gpt2_text" --activation gelu
agree "GPT-2 ReLU" -- gpt2 --text "$gpt2_text" --activation relu
agree "GPT-2 head decoder.1.3 zero-ablated" -- gpt2 --text "$gpt2_text" --ablate decoder.1.self_attn.head.3
agree "GPT-2 head decoder.0.1 mean-ablated" -- gpt2 --text "$gpt2_text" --ablate decoder.0.self_attn.head.1=mean
agree "GPT-2 layer decoder.1 zero-ablated" -- gpt2 --text "$gpt2_text" --ablate decoder.1=zero
agree "GPT-2 layer decoder.0 mean-ablated + a head of layer 1 zero-ablated" -- gpt2 --text "$gpt2_text" \
  --ablate decoder.0=mean --ablate decoder.1.self_attn.head.0=zero
agree "GPT-2 no scale, tau 0.5, no residual, no positions, tied Q=K together" -- gpt2 --text "$gpt2_text" \
  --no-scale --temperature 0.5 --no-residual --pe none --tied-qk
agree "GPT-2 40+ tokens (about 110), 3 layers, 160 positions" --expect-model-defaults --min-tokens 40 -- gpt2-long --text "$long_text"

# A different lm_head must be used (then the reference, which uses it, agrees) or refused naming lm_head.
count=$((count + 1))
log="$work/$count.log"
code=0
"$cli" run --model "$work/models/gpt2-untied" --text "$gpt2_text" --export "$work/export$count" > /dev/null 2> "$log" || code=$?
if [ "$code" = 0 ]; then
  ok=0; "$py" "$ref" "$work/export$count" >> "$log" 2>&1 && ok=1
  report "GPT-2 untied lm_head: used, and the reference agrees" "$ok" "$log"
elif [ "$code" = 2 ] && grep -Eiq "lm_head|lm head" "$log"; then
  report "GPT-2 untied lm_head: refused with a message naming lm_head" 1 "$log"
else
  echo "exit code $code: expected 0 (and agreement) or 2 with a message naming lm_head" >> "$log"
  report "GPT-2 untied lm_head: used or refused" 0 "$log"
fi

# [SECTION] BERT (Post-LN, erf GELU, no causal mask, MLM head)
model bert --family bert --seed 21
model bert-wb --family bert --seed 22 --variant weight-bias --no-prefix
model bert-decoder --family bert --seed 23 --variant decoder
model bert-f16 --family bert --seed 24 --dtype F16
model bert-tokjson --family bert --seed 25 --tokenizer-json
model bert-bf16 --family bert --seed 26 --dtype BF16 --layers 3

agree "BERT defaults (gamma/beta, bert. prefix)" --expect-model-defaults -- bert --text "$bert_text"
agree "BERT weight/bias LayerNorms, no prefix" --expect-model-defaults -- bert-wb --text "$bert_text"
agree "BERT with cls.predictions.decoder.* written out" --expect-model-defaults -- bert-decoder --text "$bert_text"
agree "BERT F16 parameters" --expect-model-defaults -- bert-f16 --text "$bert_text"
agree "BERT tokenizer.json only (WordPiece, BertNormalizer)" --expect-model-defaults -- bert-tokjson --text "$bert_text"
agree "BERT 1/sqrt(d_k) off and head encoder.1.2 ablated" -- bert --text "$bert_text" --no-scale \
  --ablate encoder.1.self_attn.head.2
agree "BERT two segments (token types 1 after the first [SEP])" --expect-model-defaults -- bert --text "a b [SEP] c d"
agree "BERT residuals off, positions off, tied Q=K" -- bert --text "$bert_text" --no-residual --pe none --tied-qk
agree "BERT causal mask, temperature 2, tanh GELU" -- bert --text "$bert_text" --mask causal+padding --temperature 2 \
  --activation gelu-tanh
agree "BERT BF16, 3 layers, layer encoder.2 mean-ablated" -- bert-bf16 --text "$bert_text" --ablate encoder.2=mean

# [SECTION] Damaged folders: refused with exit 2 and a message naming the problem (the lead aligns the wording)
declare -A words=(
  [truncated]="truncat|incomplete|short|size|end of file"
  [header-too-large]="too large|too big|header"
  [wrong-dtype]="dtype|I32"
  [missing-tensor]="missing|not found"
  [shape-mismatch]="shape"
  [config-mismatch]="shape|config|mismatch|n_embd|hidden_size"
  [unsupported-family]="unsupported|llama"
  [pickle-only]="pickle|pytorch_model\.bin"
  [overlapping-offsets]="offset|overlap"
  [bad-json-header]="json"
)
for family in gpt2 bert; do
  for kind in truncated header-too-large wrong-dtype missing-tensor shape-mismatch config-mismatch unsupported-family \
              pickle-only overlapping-offsets bad-json-header; do
    model "bad-$family-$kind" --family "$family" --bad "$kind"
    refuses "$family --bad $kind refused" "bad-$family-$kind" "${words[$kind]}"
  done
done

if [ "$failures" -ne 0 ]; then echo "$failures pretrained reference check(s) failed"; exit 1; fi
echo "all pretrained reference checks passed"
