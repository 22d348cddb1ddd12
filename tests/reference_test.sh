#!/usr/bin/env bash
# The C++ forward pass against an independent NumPy reference (tests/reference_forward.py, float64): each
# configuration below is exported with qkvlab-cli, recomputed from its weights, session and tokens, and every
# traced tensor compared (|diff| <= 1e-4·max(1, max|ref|), −∞ cells identical).
# Run with QKVLAB_CLI set to the built binary; REF_VERBOSE=1 prints every per-family report.
set -euo pipefail
cli=${QKVLAB_CLI:?set QKVLAB_CLI to the qkvlab-cli binary}
py=/usr/bin/python3  # Debian's, which has python3-numpy (a pyenv python3 earlier on PATH would not)
ref="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/reference_forward.py"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
count=0
report() {  # report LABEL OK LOG
  if [ "$2" = 1 ]; then echo "ok   $1"; else echo "FAIL $1"; failures=$((failures + 1)); fi
  if [ "$2" != 1 ] || [ "${REF_VERBOSE:-0}" = 1 ]; then sed 's/^/       /' "$3"; fi
}
agree() {  # agree LABEL CLI-RUN-ARGS...: export the run, the reference must agree
  local label=$1; shift
  count=$((count + 1))
  local dir="$work/$count" log="$work/$count.log" ok=0
  if "$cli" run "$@" --export "$dir" > "$work/$count.run" 2> "$log"; then
    if "$py" "$ref" "$dir" >> "$log" 2>&1; then ok=1; fi
  else
    echo "qkvlab-cli run $* failed" >> "$log"
  fi
  report "$label" "$ok" "$log"
}
refuses() {  # refuses LABEL EXPECTED-CODE DIR: the reference must exit with EXPECTED-CODE on DIR
  local label=$1 code=$2 dir=$3 log="$work/refuses.log" got=0
  "$py" "$ref" "$dir" > "$log" 2>&1 || got=$?
  if [ "$got" = "$code" ]; then report "$label" 1 "$log"; else echo "exit code $got, expected $code" >> "$log"; report "$label" 0 "$log"; fi
}

# [SECTION] Configurations: every option of the forward pass at least once.
agree "encoder-only, defaults (sinusoidal, Post-LayerNorm, ReLU, padding mask)"
agree "decoder-only, RoPE (base 500), Pre-Norm, RMSNorm, GELU" \
  --arch decoder-only --text "one two three four five six seven" --pe rope --pe-base 500 --placement pre --norm rmsnorm --activation gelu
agree "decoder-only, ALiBi (h = 3), no 1/sqrt(d_k), temperature 0.5" \
  --arch decoder-only --text "the quick brown fox jumps over the lazy dog" --pe alibi --no-scale --temperature 0.5 \
  --d-model 24 --heads 3 --d-ff 48
agree "encoder-decoder, [PAD] in source and target, --pad, learned PE, special tokens" \
  --arch encoder-decoder --text "the cat sat on [PAD] [PAD]" --target "le chat [PAD] assis" --pad 1 --pe learned \
  --max-len 20 --special-tokens
agree "additive scoring, d_k = 6, d_v = 10 independent of d_model" \
  --scoring additive --heads 3 --d-k 6 --d-v 10 --text "a b c d e" --temperature 2
agree "tied W_K = W_Q, 8 heads, sinusoidal base 100" --tied-qk --heads 8 --pe-base 100 --text "I saw a saw, it saw me."
agree "identity projections, no positional encoding, 3 layers" --projection identity --pe none --heads 2 --layers 3
agree "no residual, no norm" --no-residual --norm none --heads 2 --text "a b c d"
agree "encoder-decoder, BatchNorm, Pre-Norm (final norms)" \
  --arch encoder-decoder --norm batchnorm --placement pre --text "ein kleiner Test" --target "a small test"
agree "BatchNorm, Post-Norm, causal + padding" --norm batchnorm --mask causal+padding --text "x y [PAD] z"
agree "custom cells + causal (row 0 fully masked)" --mask causal+custom --cell 0,0 --cell 3,1 --cell 4,4 \
  --text "a b c d e f"
agree "no biases, no embedding scale" --no-bias --no-embed-scale --activation gelu --text "no bias here"
agree "chars tokenizer, decoder-only, --pad in the prompt" \
  --tokenizer chars --arch decoder-only --text "héllo, 世界!" --pad 2 --heads 2 --d-model 16 --d-ff 32
agree "words tokenizer: punctuation, apostrophes, CJK, special tokens" \
  --text "The animal didn't cross — it's 日本語で 'quoted' text. [EOS]" --special-tokens
agree "encoder-decoder, ALiBi (h = 6), GELU, encoder mask causal (no padding, so neither in cross-attention), decoder mask none" \
  --arch encoder-decoder --pe alibi --d-model 48 --heads 6 --activation gelu --encoder-mask causal --decoder-mask none \
  --text "source words here [PAD]" --target "target words"
agree "odd widths: d_model 15, h = 5 (d_k 3), ALiBi, d_ff 7" --text "odd widths here now" --d-model 15 --heads 5 --pe alibi --d-ff 7
agree "decoder-only RoPE with d_k 4, d_v 2 (h·d_k != d_model)" \
  --arch decoder-only --text "odd widths here now" --d-model 15 --heads 3 --d-k 4 --d-v 2 --pe rope
agree "140 tokens (heads computed in parallel), causal + padding" \
  --text "$("$py" -c "print(' '.join('w%d' % (i % 37) for i in range(140)))")" --mask causal+padding --pad 5
agree "sharp softmax: no scale, temperature 0.01" --text "big scores in a sharp softmax" --no-scale --temperature 0.01
cat > "$work/session.json" <<'JSON'
{
  "text": "a session with its own norm eps",
  "target": "eine Sitzung mit eps",
  "padding_positions": [3],
  "model": {"arch": "encoder-decoder", "layers": 2, "d_model": 16, "heads": 2, "d_ff": 40, "pe": "rope",
            "pe_base": 300.0, "score_scale": "none", "temperature": 3.0, "norm": "layernorm",
            "norm_placement": "pre", "norm_eps": 0.5, "activation": "gelu", "projection": "tied-qk"},
  "encoder_mask": "padding+custom",
  "decoder_mask": "causal+custom",
  "custom_cells": [[1, 0], [2, 2]],
  "seed": 7
}
JSON
agree "session file: encoder-decoder RoPE, norm_eps 0.5, custom cells in both stacks, seed 7" --session "$work/session.json"

# [SECTION] The checker itself: refuses what it does not model, and notices a wrong number or a missing tensor.
"$cli" run --text "a b c" --train --export "$work/train" > /dev/null
refuses "reference refuses a train-mode session" 2 "$work/train"
"$cli" run --text "a b c" --batch "d e" --export "$work/batch" > /dev/null
refuses "reference refuses a batch" 2 "$work/batch"
"$cli" run --arch decoder-only --text "a b c" --decode 2 --export "$work/decode" > /dev/null
refuses "reference refuses decoding" 2 "$work/decode"
cp -r "$work/1" "$work/perturbed"
"$py" - "$work/perturbed/encoder.1.self_attn.head.2.O.npy" <<'PY'
import sys, numpy as np
a = np.load(sys.argv[1]); a[1, 0] += 1e-3; np.save(sys.argv[1], a)
PY
refuses "reference notices a value off by 1e-3" 1 "$work/perturbed"
cp -r "$work/1" "$work/unmasked"
"$py" - "$work/unmasked/encoder.0.self_attn.head.0.S_masked.npy" <<'PY'
import sys, numpy as np
a = np.load(sys.argv[1]); a[0, 0] = -np.inf; np.save(sys.argv[1], a)
PY
refuses "reference notices a -inf cell that should not be masked" 1 "$work/unmasked"
cp -r "$work/1" "$work/missing"
"$py" - "$work/missing/manifest.json" <<'PY'
import sys, json
m = json.load(open(sys.argv[1]))
m["tensors"] = [t for t in m["tensors"] if t["name"] != "encoder.0.ffn.hidden"]
json.dump(m, open(sys.argv[1], "w"))
PY
refuses "reference notices a missing tensor" 1 "$work/missing"

if [ "$failures" -ne 0 ]; then echo "$failures reference check(s) failed"; exit 1; fi
echo "all reference checks passed"
