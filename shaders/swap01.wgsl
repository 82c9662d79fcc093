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
//   v2 (2026-12-06): VEC4 where C and the offsets are multiples of 4 (the
//       divisions once per 4 values), else ROWS where C is short (a row per
//       invocation: 3x3 kernels' C = 9).

struct Params {
    a: u32,
    b: u32,
    c: u32,
    x_off: u32,
    out_off: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
//#include vec4
@group(0) @binding(1) var<storage, read> xs: array<V>;
@group(0) @binding(2) var<storage, read_write> out: array<V>;

@compute @workgroup_size(256)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
//#if ROWS
    // One invocation per row of C: the divisions once per row, not per value.
    let r = group_index(wid, nwg) * 256u + lid;
    if (r >= p.a * p.b) {
        return;
    }
    let ai = r % p.a;
    let bi = r / p.a;
    let src = p.x_off + (ai * p.b + bi) * p.c;
    let dst = p.out_off + r * p.c;
    for (var ci = 0u; ci < p.c; ci = ci + 1u) {
        out[dst + ci] = xs[src + ci];
    }
//#else
    // i indexes out[bi, ai, ci] in units of V (c and the offsets multiples
    // of L).
    let i = group_index(wid, nwg) * 256u + lid;
    let c = p.c / L;
    if (i >= p.a * p.b * c) {
        return;
    }
    let ci = i % c;
    let r = i / c;
    let ai = r % p.a;
    let bi = r / p.a;
    out[p.out_off / L + i] = xs[p.x_off / L + (ai * p.b + bi) * c + ci];
//#endif
}
