#!/usr/bin/env bash
# The recipe of the shipped world model (models/world.safetensors), whole:
# a DAMSM, then AttnGAN guided by it, both with `--preset world`, then the
# f16 export and its evaluation. Reruns continue an interrupted run (--resume).
#
#   tools/train-world.sh [OUT]        # default OUT: runs/world
#
# Settings: src/cli/train.rs (Settings::of, DAMSM_WORLD_STEPS,
# ATTNGAN_WORLD_STEPS); times and results: README "The shipped model".
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/world}
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
cargo build --release
E=target/release/engine

resume() { [ -f "$1/checkpoint.safetensors" ] && echo --resume || true; }
stamp() { date -u +%H:%M:%S; }

echo "$(stamp) DAMSM"
"$E" train --model damsm --preset world --out "$OUT/damsm" --quiet $(resume "$OUT/damsm")
echo "$(stamp) AttnGAN"
"$E" train --model attngan --preset world --damsm "$OUT/damsm/checkpoint.safetensors" \
    --out "$OUT/attngan" --quiet $(resume "$OUT/attngan")
echo "$(stamp) export and evaluation"
"$E" export "$OUT/attngan/checkpoint.safetensors" -o "$OUT/world.safetensors" --f16
"$E" eval oracle --model "$OUT/world.safetensors" --json "$OUT/oracle.json" --grid "$OUT/oracle.png"
"$E" eval r-precision --damsm "$OUT/damsm/checkpoint.safetensors" --model "$OUT/world.safetensors" \
    --json "$OUT/r-precision.json"
echo "$(stamp) done: $OUT/world.safetensors (copy it to models/world.safetensors to ship it)"
