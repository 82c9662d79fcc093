#!/usr/bin/env bash
# Word attention probes: each variant twice, alternating; PR_NODW skips the
# words' gradient matmuls so that the backward line is the fused kernel alone.
set -u
cd /work/main
out=${1:-/tmp/wa-probes}
mkdir -p "$out"
export XDG_RUNTIME_DIR=/tmp
for rep in 1 2; do
  for v in X PR_NOX PR_NOW PR_NOBC "PR_NOW PR_NOBC" PR_NOY "PR_NOX PR_NOW PR_NOY"; do
    name=$(echo "$v" | tr ' ' '+')
    envs=(PR_NODW=1)
    [ "$v" != X ] && for k in $v; do envs+=("$k=1"); done
    env "${envs[@]}" target/release/engine bench-kernels --quick --filter "word attention" --reps 15 > "$out/$name-$rep.txt" 2>&1
    echo "$name-$rep: $(grep -E '^word attention' "$out/$name-$rep.txt" | awk '{print $NF, $0}' | sed -E 's/ +/ /g' | cut -c1-200 | tr '\n' '|')"
  done
done
