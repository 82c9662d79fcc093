#!/usr/bin/env bash
# The family on one yardstick: every generator trained on the built-in world
# for the same wall-clock budget (MINUTES each; StackGAN's two phases share
# it), guided by and scored with one DAMSM (the shipped one), then
# `engine eval oracle`, `r-precision` and `fd` on held-out captions.
# Run it on a quiet machine: the budget is wall-clock. Each model runs its
# `--preset world` sizes (DCGAN and GAN-INT-CLS at 64x64, StackGAN 32 then
# 128, StackGAN++ and AttnGAN 32 to 64, widths 16, batch 8); the steps flag
# below makes the clock the limit instead of the preset's step count.
# MirrorGAN also reads its images back with a trained captioner (STREAM,
# default runs/stream-world: `engine train --model stream --scenes 20000
# --steps 4000 --out runs/stream-world`), trained beforehand like the DAMSM
# and not counted in the budget.
#   MINUTES=90 tools/compare-family.sh        # the issue's budget
#   MINUTES=7 CAPTIONS=200 tools/compare-family.sh
#   MODELS="mirrorgan dfgan" MINUTES=7 CAPTIONS=200 tools/compare-family.sh
set -euo pipefail
cd "$(dirname "$0")/.."
MINUTES=${MINUTES:-90}
CAPTIONS=${CAPTIONS:-500}
OUT=${OUT:-runs/compare}
E=${ENGINE:-target/release/engine}
DAMSM=models/world-damsm.safetensors
STREAM=${STREAM:-runs/stream-world/checkpoint.safetensors}
MODELS=${MODELS:-dcgan dcgan-cls stackgan stackgan++ attngan mirrorgan dfgan}
wants() { [[ " $MODELS " == *" $1 "* ]]; }
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}
[ -x "$E" ] || cargo build --release
mkdir -p "$OUT"
half=$(python3 -c "print($MINUTES / 2)")
common=(--damsm "$DAMSM" --scenes 20000 --batch 8 --steps 100000000 --quiet)
train() { # name, then engine train flags
    local name=$1; shift
    rm -rf "$OUT/$name"
    echo "== train $name ($(date -u +%H:%M:%S) UTC): $*"
    "$E" train "$@" --out "$OUT/$name" | { grep -v '^step ' || true; }
}
if wants dcgan; then
    train dcgan --model dcgan --preset world "${common[@]}" --minutes "$MINUTES"
fi
if wants dcgan-cls; then
    train dcgan-cls --model dcgan-cls --preset world "${common[@]}" --minutes "$MINUTES"
fi
if wants stackgan; then
    train stackgan-1 --model stackgan --preset world "${common[@]}" --minutes "$half"
    train stackgan --model stackgan --stage1 "$OUT/stackgan-1/checkpoint.safetensors" --preset world "${common[@]}" --minutes "$half"
fi
if wants stackgan++; then
    train stackgan++ --model stackgan++ --preset world "${common[@]}" --minutes "$MINUTES"
fi
if wants attngan; then
    train attngan --model attngan --preset world "${common[@]}" --minutes "$MINUTES"
fi
if wants mirrorgan; then
    # AttnGAN's world sizes (its preset's), plus GLAM and the captioner.
    train mirrorgan --model mirrorgan --stages 2 --base-size 32 --stream "$STREAM" "${common[@]}" --minutes "$MINUTES"
fi
if wants dfgan; then
    train dfgan --model dfgan --image-size 64 --width 16 "${common[@]}" --minutes "$MINUTES"
fi
for name in $MODELS; do
    ck="$OUT/$name/checkpoint.safetensors"
    echo "== eval $name ($ck, step $(python3 -c "import json,struct,sys;b=open('$ck','rb').read();n=struct.unpack('<Q',b[:8])[0];print(json.loads(b[8:8+n])['__metadata__']['step'])"))"
    "$E" eval oracle --model "$ck" --captions "$CAPTIONS" --json "$OUT/$name-oracle.json" --grid "$OUT/$name-grid.png"
    "$E" eval r-precision --model "$ck" --damsm "$DAMSM" --images "$CAPTIONS" --draws 5
    "$E" eval fd --model "$ck" --damsm "$DAMSM" --images "$CAPTIONS"
done
