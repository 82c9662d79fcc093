// Swaps the first two axes: x [A, B, C] -> out [B, A, C]. The LSTM driver
// turns batch-major sequences into time-major ones with it, so that each time
// step is a contiguous [B, ..] block for the matmuls.
//
// History:
//   v1 (0f91659, 2026-11-27); unchanged since (bc0c9cb made it an op of its
//       own, host side). Measured only inside steps: 2.6% of a 3.6 s AttnGAN
//       step on lavapipe Mesa 25.0.7, 2-core EPYC, at a003914, as the weights'
//       swap before each conv backward-data (README); H200 (Vulkan) at
//       23b0c04: 8 dispatches, 0.05 ms of the DAMSM step
//       (docs/gpu-check-h200-2026-11-28.txt).

struct Params {
    a: u32,
    b: u32,
    c: u32,
    x_off: u32,
    out_off: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> xs: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let i = group_index(wid, nwg) * 256u + lid;
    if (i >= p.a * p.b * p.c) {
        return;
    }
    // i indexes out[bi, ai, ci].
    let ci = i % p.c;
    let r = i / p.c;
    let ai = r % p.a;
    let bi = r / p.a;
    out[p.out_off + i] = xs[p.x_off + (ai * p.b + bi) * p.c + ci];
}
