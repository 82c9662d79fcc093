#!/usr/bin/env bash
# Text -> image -> text: the world model that ships inside engine draws each
# caption, and a captioner reads the drawing back. The captions are typed,
# not drawn from scenes, so there is no render to compare with: the
# captioner's own accuracy is measured apart, by `engine eval caption`.
# Writes OUT/N.png (one drawing per caption) and prints a Markdown table.
#   tools/loop-demo.sh                      # the built-in captioner
#   STREAM=runs/stream-world2/checkpoint.safetensors tools/loop-demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
E=${ENGINE:-target/release/engine}
STREAM=${STREAM:-}
OUT=${OUT:-docs/loop}
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}
[ -x "$E" ] || cargo build --release
[ -z "$STREAM" ] || [ -f "$STREAM" ] || { echo "no captioner at $STREAM: train one with engine train --model stream, or leave STREAM unset for the built-in one" >&2; exit 1; }
model=()
[ -z "$STREAM" ] || model=(--model "$STREAM")
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
mapfile -t read_back < <("$E" caption "${files[@]}" "${model[@]}" | sed 's/^[^:]*: //')
echo "| caption given | drawn by the shipped model | caption read back |"
echo "|---|---|---|"
for i in "${!captions[@]}"; do
    echo "| ${captions[$i]} | <img src=\"$OUT/$i.png\" width=\"128\"> | ${read_back[$i]} |"
done
