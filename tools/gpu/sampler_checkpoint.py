#!/usr/bin/env python3
"""Keep only what sampling needs from an AttnGAN checkpoint: G (gen.*), its
moving average (ema.flat), the text encoder (text.*) and all metadata; drop the
discriminators and the optimiser state. The result loads with
`engine generate --model` and `engine eval`, not with `engine train --resume`.

    python3 tools/gpu/sampler_checkpoint.py IN.safetensors OUT.safetensors
"""
import sys

from safetensors import safe_open
from safetensors.numpy import save_file


def main():
    src, dst = sys.argv[1], sys.argv[2]
    keep = {}
    with safe_open(src, framework="numpy") as f:
        meta = f.metadata() or {}
        for k in f.keys():
            if k.startswith(("gen.", "text.")) or k == "ema.flat":
                keep[k] = f.get_tensor(k)
    meta["engine.note"] = "sampler only: discriminators and optimiser state removed (tools/gpu/sampler_checkpoint.py)"
    save_file(keep, dst, metadata=meta)
    print(f"{dst}: {len(keep)} tensors")


if __name__ == "__main__":
    main()
