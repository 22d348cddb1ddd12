#!/usr/bin/env bash
# Regenerates the README's screenshots (docs/*.png) with the app itself, under Xvfb.
#   ./scripts/screenshots.sh [BUILD_DIR]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build}
app=$build/qkvlab
mkdir -p "$root/docs"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
shot() {  # shot NAME PANEL SESSION_JSON [MORE APP FLAGS]
  echo "$3" > "$tmp/$1.json"
  xvfb-run -a -s "-screen 0 1440x900x24" "$app" --session "$tmp/$1.json" --panel "$2" --screenshot "$root/docs/$1.png" \
    --frames 6 --width 1440 --height 900 "${@:4}"
  echo "docs/$1.png"
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
default_shot() {  # default_shot NAME PANEL [MORE APP FLAGS]
  xvfb-run -a -s "-screen 0 1440x900x24" "$app" --panel "$2" --screenshot "$root/docs/$1.png" --frames 6 --width 1440 --height 900 "${@:3}"
  echo "docs/$1.png"
}
default_shot trained attention
default_shot output output
default_shot lessons-zh lessons --lang zh
default_shot train train --train-steps 400
shot gradients gradients "{\"text\": \"the cat sat on the mat because it was tired\", \"model\": {\"arch\": \"decoder-only\", \"layers\": 2, \"heads\": 4, \"norm_placement\": \"pre\"}}" --block decoder.1.self_attn --head 1
# Lessons: the Lessons tab, and presentation mode (English, and 简体中文 on a later step).
default_shot lessons lessons
default_shot presentation attention --lesson why-scale --step 1 --presentation
default_shot presentation-zh attention --lesson cross-attention --presentation --lang zh
