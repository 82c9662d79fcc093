// Dropout with its mask drawn on the device from a counter-based hash of
// (seed, element index): the same seed gives the same mask on any device and
// in any batch split, which a bit-exact training resume needs. The host mirror
// of the hash is `ops::dropout::keep` (src/ops/dropout.rs); keep the two equal.
//
// BACKWARD=0: mask[i] = keep(seed, i) ? 1 : 0;  y[i] = x[i] * mask[i] * scale
// BACKWARD=1: dx[i] = dy[i] * mask[i] * scale
// with scale = 1 / (1 - p). An element is dropped when the top 24 bits of its
// hash fall under threshold = round(p * 2^24), an exact integer comparison.
//
// History:
//   v1 (f397e0e, 2026-11-27): mask from a counter-based hash of (seed, i);
//       unchanged since. Measured only inside a step: H200 (Vulkan), DAMSM
//       step (batch 48), binaries of 23b0c04: 0.01 ms forward, 0.01 ms
//       backward (docs/gpu-check-h200-2026-11-28.txt).

struct Params {
    n: u32,
    x_off: u32,
    out_off: u32,
    mask_off: u32,
    seed_lo: u32,
    seed_hi: u32,
    threshold: u32,
    scale: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> xs: array<f32>;
//#if BACKWARD
@group(0) @binding(2) var<storage, read> mask: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
//#else
@group(0) @binding(2) var<storage, read_write> mask: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
//#endif

// PCG output permutation of one LCG step (a bijection on u32).
fn pcg(v: u32) -> u32 {
    let state = v * 747796405u + 2891336453u;
    let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
    return (word >> 22u) ^ word;
}

fn hash(i: u32) -> u32 {
    let k1 = pcg(p.seed_lo);
    let k2 = pcg(p.seed_hi ^ 0x9e3779b9u);
    return pcg(pcg(i ^ k1) + k2);
}

@compute @workgroup_size(256)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let i = group_index(wid, nwg) * 256u + lid;
    if (i >= p.n) {
        return;
    }
//#if BACKWARD
    let m = mask[p.mask_off + i];
//#else
    let m = select(0.0, 1.0, (hash(i) >> 8u) >= p.threshold);
    mask[p.mask_off + i] = m;
//#endif
    out[p.out_off + i] = xs[p.x_off + i] * m * p.scale;
}
