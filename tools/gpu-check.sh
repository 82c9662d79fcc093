#!/usr/bin/env bash
# tools/gpu-check.sh: one prepared check for a machine with one NVIDIA GPU
# (H100 or H200: no network, PyTorch installed, at most 10 minutes a command,
# at most 64 MiB carried). Nothing is built there: the binaries are built here
# and carried.
#
#   tools/gpu-check.sh --prepare            here: build the release binary and test
#                                           binaries into .gpu/ (git-ignored, carried)
#   tools/gpu-check.sh [--out DIR]          there: everything below, results in DIR
#                                           (default $OUT, else gpu-check-out/)
#   tools/gpu-check.sh [--skip "torch ..."] [--damsm CKPT]
#                                           leave steps out by name; train AttnGAN
#                                           guided by a carried DAMSM instead of a new one
#   tools/gpu-check.sh --dry-run [--bin DIR] [--out DIR]
#                                           the same steps at tiny sizes on whatever
#                                           adapter is here (lavapipe); tests/gpu_check.rs
#
# The device call (see tools/gpu/README.md):
#   run(carry=[".gpu", ".gl"], timeout_s=590, command="bash tools/gpu-check.sh")
#
# Steps; each has its own time limit and a failing step never stops the
# rest. The whole run stops starting steps when its budget (--budget
# seconds, default 540) is spent, so it fits in one command. The measurements
# come first, on a quiet GPU; the training run last, given what is left:
#   1. the adapter wgpu picks (engine devices) and nvidia-smi;
#   2. engine bench-kernels at AttnGAN's birds sizes (batch 20, ngf 32,
#      ndf 64, 3 stages), JSON out;
#   3. the PyTorch baseline at the same shapes, on the same GPU, JSON out
#      (tools/gpu/torch_baseline.py);
#   4. the per-kernel profile of one DAMSM and one AttnGAN training step
#      (where the AttnGAN one fails, ENGINE_TRACE names its slow kernels);
#   5. the kernel tests (every kernel against its f64 reference) with
#      ENGINE_KERNELS=tiled, registers and subgroups;
#   6. the DAMSM and AttnGAN model tests (tiled kernels);
#   7. the shipped model's recipe (--preset world, tools/train-world.sh) on
#      the GPU with larger batches: a DAMSM for 1.5 minutes, then AttnGAN
#      guided by it for what is left of the budget but 75 s (GAN_MINUTES
#      overrides); engine export of both; engine eval oracle, r-precision
#      fd and attributes on it, and samples. DAMSM_FLAGS=--positional
#      trains the position-aware DAMSM instead of AttnGAN's.
# Results: DIR/results.tar.gz (logs, JSON, PNG, summary.txt), DIR/summary.txt,
# the exported models DIR/world.safetensors (f16) and DIR/world-damsm.safetensors
# (what engine generate and engine eval take), and the whole AttnGAN training
# checkpoint (for --resume) in parts of 15 MB:
# DIR/attngan-checkpoint.safetensors.part-00, -01, ... (cat them).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

mode=run
bin=""
out="${OUT:-$ROOT/gpu-check-out}"
budget=540
skip=""
damsm_in=""
while [ $# -gt 0 ]; do
    case "$1" in
        --prepare) mode=prepare ;;
        --dry-run) mode=dry ;;
        --bin) bin="$2"; shift ;;
        --out) out="$2"; shift ;;
        --budget) budget="$2"; shift ;;
        --skip) skip="$2"; shift ;;
        --damsm) damsm_in="$2"; shift ;;
        -h|--help) sed -n '2,45p' "$0"; exit 0 ;;
        *) echo "gpu-check: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
    shift
done
case "$budget" in
    ''|*[!0-9]*) echo "gpu-check: --budget '$budget' must be a whole number of seconds" >&2; exit 2 ;;
esac

if [ "$mode" = prepare ]; then
    set -e
    mkdir -p .gpu
    cargo build --release --bin engine
    cp target/release/engine .gpu/engine
    # Test binaries: cargo names them <test>-<hash>; keep the newest of each.
    cargo test --release --no-run --test kernels --test damsm --test attngan 2>&1 |
        sed -n 's/.*Executable .*(\(target\/release\/deps\/[a-z_]*-[0-9a-f]*\)).*/\1/p' |
        while read -r exe; do
            name=$(basename "$exe" | sed 's/-[0-9a-f]*$//')
            cp "$exe" ".gpu/$name"
        done
    strip .gpu/* 2>/dev/null || true
    ls -la .gpu
    du -sh .gpu
    exit 0
fi

[ -n "$bin" ] || bin="$ROOT/.gpu"
engine="$bin/engine"
if [ ! -x "$engine" ]; then
    echo "gpu-check: no engine binary at $engine: run tools/gpu-check.sh --prepare here first (or pass --bin DIR)" >&2
    exit 2
fi
mkdir -p "$out"
work=$(mktemp -d "${TMPDIR:-/tmp}/gpu-check.XXXXXX")
summary="$work/summary.txt"
start=$(date +%s)

# Carried Vulkan and GL loaders (.gl/*.deb, see the device tool's notes), and
# the NVIDIA ICD where the image keeps it outside the loader's search path.
if [ "$mode" = run ]; then
    if ! ldconfig -p | grep -q libvulkan.so.1 && ls .gl/*.deb >/dev/null 2>&1; then
        for f in .gl/*.deb; do dpkg -x "$f" /; done
        ldconfig
    fi
    icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
    if [ -z "${VK_DRIVER_FILES:-}" ] && [ -f "$icd" ] && ! ls /usr/share/vulkan/icd.d/nvidia* /etc/vulkan/icd.d/nvidia* >/dev/null 2>&1; then
        export VK_DRIVER_FILES=$icd
    fi
fi
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"

{
    echo "gpu-check ($mode) $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo ' (+ uncommitted changes)')"
    echo "host: $(uname -srm), $(nproc) cores"
} >"$summary"

# step NAME SECONDS COMMAND...: runs COMMAND with its output in NAME.log,
# stopped after SECONDS or when the budget is spent, whichever is first.
step() {
    local name=$1 limit=$2
    shift 2
    case " $skip " in
        *" $name "*) echo "$name: skipped (--skip)" | tee -a "$summary"; return ;;
    esac
    local left=$((budget - ($(date +%s) - start)))
    if [ "$left" -lt 15 ]; then
        echo "$name: skipped (budget spent)" | tee -a "$summary"
        return
    fi
    [ "$limit" -le "$left" ] || limit=$left
    echo "== $name (limit ${limit}s): $*"
    local t0=$(date +%s)
    timeout -k 5 "$limit" "$@" >"$work/$name.log" 2>&1
    local rc=$?
    local dt=$(($(date +%s) - t0))
    tail -n 25 "$work/$name.log"
    local verdict="ok"
    [ $rc -eq 0 ] || verdict="FAILED (exit $rc)"
    [ $rc -ne 124 ] && [ $rc -ne 137 ] || verdict="STOPPED at its limit (${limit}s)"
    echo "$name: $verdict in ${dt}s" | tee -a "$summary"
}

# The kernel and model tests: from --bin when there (cargo's release test
# binaries, copied by --prepare).
tests() {
    local name=$1 flavour=$2 exe=$3
    shift 3
    if [ -x "$bin/$exe" ]; then
        step "$name" "$LIMIT_TESTS" env ENGINE_KERNELS="$flavour" RUST_TEST_THREADS="$(nproc)" "$bin/$exe" "$@"
    else
        echo "$name: skipped (no $exe test binary in $bin)" | tee -a "$summary"
    fi
}

if [ "$mode" = dry ]; then
    LIMIT_TESTS=300
    LIMIT_EVAL=300
    LIMIT_PROFILE=300
    kernel_filter=(glu::)
    damsm_filter=(losses_and_gradients)
    attngan_filter=(shapes_losses)
    bench=(bench-kernels --quick --filter adam --reps 1)
    torch=(--device cpu --tiny)
    damsm_train=(--steps 2 --scenes 32 --batch 4)
    gan_train=(--steps 2 --scenes 32 --batch 2)
    profile=(bench-kernels --quick --profile)
    evals=(--captions 8)
    rp_images=100
    fd_images=16
    reserve=0
else
    LIMIT_TESTS=75
    LIMIT_EVAL=60
    LIMIT_PROFILE=90
    kernel_filter=()
    damsm_filter=(--skip engine_train_killed)
    attngan_filter=()
    bench=(bench-kernels --reps 10)
    torch=(--device cuda)
    # The shipped model's recipe with the batches a GPU affords (AttnGAN's
    # birds batch for G); the steps are bounded by the minutes.
    damsm_train=(--minutes 1.5 --steps 1000000 --batch 48)
    gan_train=(--steps 1000000 --batch 20)
    profile=(bench-kernels --profile)
    evals=(--captions 500)
    rp_images=500
    fd_images=1000
    # Seconds kept back from AttnGAN's training for what follows it.
    reserve=75
fi

# Measurements first, while nothing else runs on the GPU.
step devices 30 "$engine" devices
if command -v nvidia-smi >/dev/null 2>&1; then
    step nvidia-smi 15 nvidia-smi
fi
step bench 150 "$engine" "${bench[@]}" --json "$work/bench-engine.json"
if python3 -c 'import torch' >/dev/null 2>&1; then
    step torch 150 python3 tools/gpu/torch_baseline.py "${torch[@]}" --json "$work/bench-torch.json"
else
    echo "torch: skipped (python3 has no torch here)" | tee -a "$summary"
fi
step profile-damsm "$LIMIT_PROFILE" "$engine" "${profile[@]}" --filter damsm --json "$work/profile-damsm.json"
step profile-attngan "$LIMIT_PROFILE" "$engine" "${profile[@]}" --filter attngan --json "$work/profile-attngan.json"
# Where an AttnGAN step that does not finish stalls (2026-11-28, H200: the
# birds step ran past 90 s, 217 ms before): every dispatch alone, those of
# 100 ms or more named, and one still running named every 10 s.
if ! grep -q '^profile-attngan: ok' "$summary"; then
    step trace-attngan 60 env ENGINE_TRACE=100 "$engine" "${profile[@]}" --filter attngan
fi

# Correctness: every kernel in each flavour, and the models. The model tests
# run the engine binary at the path cargo compiled into them
# (target/release/engine of this checkout), which is not carried.
if [ "$mode" = run ] && [ ! -x target/release/engine ]; then
    mkdir -p target/release && cp "$engine" target/release/engine
fi
tests kernels-tiled tiled kernels "${kernel_filter[@]}"
tests kernels-registers registers kernels "${kernel_filter[@]}"
tests kernels-subgroups subgroups kernels "${kernel_filter[@]}"
tests damsm-tests tiled damsm "${damsm_filter[@]}"
tests attngan-tests tiled attngan "${attngan_filter[@]}"

# The shipped model's recipe, given what is left of the budget.
damsm="$work/damsm/checkpoint.safetensors"
gan="$work/attngan/checkpoint.safetensors"
if [ -n "$damsm_in" ]; then
    mkdir -p "$work/damsm" && cp "$damsm_in" "$damsm"
    echo "train-damsm: skipped (guided by the carried $damsm_in)" | tee -a "$summary"
else
    # DAMSM_FLAGS=--positional: the position-aware image encoder.
    step train-damsm 150 "$engine" train --model damsm --preset world --out "$work/damsm" \
        --quiet --checkpoint-every 500 "${damsm_train[@]}" ${DAMSM_FLAGS:-}
fi
if [ "$mode" = run ]; then
    left=$((budget - ($(date +%s) - start) - reserve - 15))
    [ "$left" -ge 60 ] || left=60
    minutes=${GAN_MINUTES:-$(awk "BEGIN { printf \"%.2f\", $left / 60 }")}
    gan_train+=(--minutes "$minutes")
    gan_limit=$(awk "BEGIN { printf \"%d\", $minutes * 60 + 60 }")
    echo "train-attngan: ${minutes} minutes" | tee -a "$summary"
else
    gan_limit=300
fi
step train-attngan "$gan_limit" "$engine" train --model attngan --preset world \
    --damsm "$damsm" --out "$work/attngan" --quiet --checkpoint-every 500 "${gan_train[@]}"
step export-attngan 30 "$engine" export "$gan" -o "$out/world.safetensors" --f16
step export-damsm 30 "$engine" export "$damsm" -o "$out/world-damsm.safetensors"
model="$out/world.safetensors"
step eval-oracle "$LIMIT_EVAL" "$engine" eval oracle --model "$model" "${evals[@]}" \
    --json "$work/eval-oracle.json" --grid "$work/eval-oracle-grid.png"
step eval-r-precision "$LIMIT_EVAL" "$engine" eval r-precision --damsm "$damsm" --model "$model" \
    --images "$rp_images" --json "$work/eval-r-precision.json"
step eval-fd "$LIMIT_EVAL" "$engine" eval fd --damsm "$damsm" --model "$model" --images "$fd_images" \
    --json "$work/eval-fd.json"
step eval-attributes "$LIMIT_EVAL" "$engine" eval attributes --damsm "$damsm" --model "$model" \
    --captions "$rp_images" --json "$work/eval-attributes.json"
step generate 40 "$engine" generate --model "$model" -n 4 --seed 1 \
    -o "$work/samples.png" \
    "a big red circle at the top left on a white background" \
    "a small blue square in the center on a black background" \
    "a green triangle at the bottom right on a grey background"
echo "total: $(($(date +%s) - start))s of a ${budget}s budget" | tee -a "$summary"

# The whole AttnGAN checkpoint (discriminators and optimiser state too, so
# a later run can --resume it), in parts under the 16 MiB a file may have.
[ -f "$gan" ] && split -b 15M -d "$gan" "$out/attngan-checkpoint.safetensors.part-"
# Everything small in one file (the device tool brings back at most 8 files).
(cd "$work" && find . -maxdepth 2 \( -name '*.log' -o -name '*.json' -o -name '*.png' -o -name '*.txt' \) -print0 |
    tar --null -czf "$out/results.tar.gz" -T -)
cp "$summary" "$out/summary.txt"
echo "results in $out"
cat "$summary"
rm -rf "$work"
# The check itself succeeded when every step that ran did.
! grep -q 'FAILED\|STOPPED' "$out/summary.txt"
