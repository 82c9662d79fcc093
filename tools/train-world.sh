#!/usr/bin/env bash
# The world model's recipes, whole: a DAMSM, then AttnGAN guided by it, both
# with `--preset world`, then the f16 exports and their evaluation. Reruns
# continue an interrupted run (--resume). The shipped model
# (models/world.safetensors, 2026-12-08: 7,142 s on a 2-core machine's
# lavapipe, in one run) is
#
#   CURRICULUM=1 GUIDE=1 ONE_STEPS=3700 STEPS=5700 BUDGET_MINUTES=119 tools/train-world.sh
#
# (it stopped by the clock at 5,354 AttnGAN steps: README "The shipped
# model"). CURRICULUM=1 alone is the previous one's recipe
# (models/world-unguided.safetensors); with nothing set, the batches and step
# counts of the H200 model of 2026-11-28 (90 s + 264 s there).
#
#   tools/train-world.sh [OUT]              # default OUT: runs/world
#   QUICK=1 tools/train-world.sh [OUT]      # the presets' own batches and steps
#                                           # (416 + 775 steps, about 20 minutes of
#                                           # training on a 2-core machine's lavapipe
#                                           # at 2026-12-06's step times; a weaker model)
#   POSITIONAL=1 tools/train-world.sh [OUT] # the position-aware DAMSM (--positional),
#                                           # a departure from AttnGAN's (README)
#   LAVAPIPE=1 tools/train-world.sh [OUT]   # 2 hours on a 2-core machine's lavapipe, by
#                                           # the clock: a positional DAMSM for 22 minutes,
#                                           # then AttnGAN for 88, the presets' batches
#                                           # (README "Two hours on lavapipe"); a rerun
#                                           # adds the same minutes again
#   CURRICULUM=1 tools/train-world.sh [OUT] # one object per scene first: a positional
#                                           # DAMSM for 1,200 steps and AttnGAN for 4,000
#                                           # (hard negatives) on one-object scenes, then
#                                           # AttnGAN on to 6,000 on the whole world;
#                                           # the presets' batches, about 2 hours on a
#                                           # 2-core machine's lavapipe (README "One
#                                           # object first")
#   CURRICULUM=1 GUIDE=1 tools/train-world.sh [OUT]  # the curriculum with the label
#                                           # guide: a second positional DAMSM with
#                                           # --labels 1 for 800 steps, whose encoder
#                                           # and heads read G's images in both stages
#                                           # (--label-guide 1 --label-damsm; README
#                                           # "Labels: an encoder that knows outlines")
#   ONE_STEPS=3700 STEPS=5700 CURRICULUM=1 ...   # the curriculum's AttnGAN steps on
#                                           # one-object scenes, and in all (default
#                                           # 4,000 and 6,000)
#   BUDGET_MINUTES=120 ...                  # every training stage gets --minutes
#                                           # with what is left of this budget,
#                                           # counted from the script's start (so the
#                                           # training ends in time with a checkpoint,
#                                           # however fast the machine); a rerun that
#                                           # resumes starts a fresh budget
#   HARD_NEGATIVES=1 tools/train-world.sh [OUT]  # AttnGAN's discriminators also refuse
#                                           # each real image with its caption one
#                                           # attribute changed, and its DAMSM term
#                                           # asks each fake to be told from it
#                                           # (--hard-negatives, a departure: README
#                                           # "Hard negatives"; the DAMSM trains
#                                           # without: it learned slower with them)
#
# Settings: src/cli/train.rs (Settings::of, DAMSM_WORLD_STEPS,
# ATTNGAN_WORLD_STEPS); times and results: README "The shipped model".
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/world}
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
cargo build --release
E=target/release/engine

if [ -n "${CURRICULUM:-}" ]; then
    POSITIONAL=1
    HARD_NEGATIVES=1
    damsm_flags=(--steps 1200 --world-objects 1)
    gan_flags=(--steps "${ONE_STEPS:-4000}" --world-objects 1)
    gan_then=(--steps "${STEPS:-6000}")
elif [ -n "${LAVAPIPE:-}" ]; then
    POSITIONAL=1
    damsm_flags=(--steps 100000 --minutes 22)
    gan_flags=(--steps 100000 --minutes 88)
elif [ -n "${QUICK:-}" ]; then
    damsm_flags=()
    gan_flags=()
else
    damsm_flags=(--batch 48 --steps 3171)
    gan_flags=(--batch 20 --steps 7481)
fi
[ -n "${POSITIONAL:-}" ] && damsm_flags+=(--positional)
[ -n "${HARD_NEGATIVES:-}" ] && gan_flags+=(--hard-negatives)
resume() { [ -f "$1/checkpoint.safetensors" ] && echo --resume || true; }
stamp() { date -u +%H:%M:%S; }
started=$(date +%s)
# --minutes M with what is left of BUDGET_MINUTES, or nothing without it.
budget() {
    [ -n "${BUDGET_MINUTES:-}" ] || return 0
    local left
    left=$(awk -v b="$BUDGET_MINUTES" -v s="$started" -v n="$(date +%s)" 'BEGIN { l = b - (n - s) / 60; printf "%.2f", (l > 0.05 ? l : 0.05) }')
    echo --minutes "$left"
}

echo "$(stamp) DAMSM"
"$E" train --model damsm --preset world "${damsm_flags[@]}" --out "$OUT/damsm" --quiet $(resume "$OUT/damsm") $(budget)
"$E" export "$OUT/damsm/checkpoint.safetensors" -o "$OUT/world-damsm.safetensors"
if [ -n "${GUIDE:-}" ]; then
    # The guide's DAMSM: the curriculum's, with the world's per-cell labels.
    echo "$(stamp) DAMSM with labels (the label guide's)"
    "$E" train --model damsm --preset world --positional --world-objects 1 --labels 1 --steps 800 \
        --out "$OUT/damsm-labels" --quiet $(resume "$OUT/damsm-labels") $(budget)
    guide=(--label-guide 1 --label-damsm "$OUT/damsm-labels/checkpoint.safetensors")
    gan_flags+=("${guide[@]}")
    if [ -n "${gan_then+x}" ]; then gan_then+=("${guide[@]}"); fi
fi
echo "$(stamp) AttnGAN"
"$E" train --model attngan --preset world "${gan_flags[@]}" --damsm "$OUT/world-damsm.safetensors" \
    --out "$OUT/attngan" --quiet $(resume "$OUT/attngan") $(budget)
if [ -n "${gan_then+x}" ]; then
    # The curriculum's second stage: the same run resumed on the whole world.
    echo "$(stamp) AttnGAN on the whole world"
    [ -n "${HARD_NEGATIVES:-}" ] && gan_then+=(--hard-negatives)
    "$E" train --model attngan --preset world "${gan_then[@]}" \
        --damsm "$OUT/world-damsm.safetensors" --out "$OUT/attngan" --quiet --resume $(budget)
fi
echo "$(stamp) export and evaluation ($(( $(date +%s) - started )) s of training)"
"$E" export "$OUT/attngan/checkpoint.safetensors" -o "$OUT/world.safetensors" --f16
"$E" eval oracle --model "$OUT/world.safetensors" --captions 500 --json "$OUT/oracle.json" --grid "$OUT/oracle.png"
"$E" eval r-precision --damsm "$OUT/world-damsm.safetensors" --model "$OUT/world.safetensors" \
    --images 500 --json "$OUT/r-precision.json"
"$E" eval fd --damsm "$OUT/world-damsm.safetensors" --model "$OUT/world.safetensors" \
    --images 1000 --json "$OUT/fd.json"
"$E" eval attributes --damsm "$OUT/world-damsm.safetensors" --model "$OUT/world.safetensors" \
    --captions 500 --json "$OUT/attributes.json"
echo "$(stamp) done: $OUT/world.safetensors and $OUT/world-damsm.safetensors (copy them to models/ to ship them)"
