#!/usr/bin/env bash
# Text -> image -> text: the world model that ships inside engine draws each
# caption, and a trained captioner reads the drawing back. Beside each
# drawing, the world's own render of a scene with that caption's objects is
# not available (the captions are typed, not drawn from scenes), so the
# captioner's own accuracy is measured apart, by `engine eval caption`.
# Writes OUT/N.png (one drawing per caption) and prints a Markdown table.
#   STREAM=runs/stream-world2/checkpoint.safetensors tools/loop-demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
E=${ENGINE:-target/release/engine}
STREAM=${STREAM:-runs/stream/checkpoint.safetensors}
OUT=${OUT:-docs/loop}
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}
[ -x "$E" ] || cargo build --release
[ -f "$STREAM" ] || { echo "no captioner at $STREAM: train one with engine train --model stream, or set STREAM=" >&2; exit 1; }
captions=(
    "a big red circle at the top left on a white background"
    "a small blue square in the bottom right on a black background"
    "there is a large yellow star in the center on a grey background"
    "on a brown background there is a big green ring at the top"
    "a huge purple triangle on the left on a white background"
    "a big red square at the top right and a small blue circle at the bottom left on a black background"
)
mkdir -p "$OUT"
files=()
for i in "${!captions[@]}"; do
    "$E" generate "${captions[$i]}" -o "$OUT/$i.png" --seed "$i" >/dev/null
    rm -f "$OUT/$i-attention.png"
    files+=("$OUT/$i.png")
done
mapfile -t read_back < <("$E" caption "${files[@]}" --model "$STREAM" | sed 's/^[^:]*: //')
echo "| caption given | drawn by the shipped model | caption read back |"
echo "|---|---|---|"
for i in "${!captions[@]}"; do
    echo "| ${captions[$i]} | <img src=\"$OUT/$i.png\" width=\"128\"> | ${read_back[$i]} |"
done
