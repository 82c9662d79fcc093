// Swaps the first two axes: x [A, B, C] -> out [B, A, C]. The LSTM driver
// turns batch-major sequences into time-major ones with it, so that each time
// step is a contiguous [B, ..] block for the matmuls.

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
