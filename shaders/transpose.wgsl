// Swap the last two axes: out[b, j, i] = x[b, i, j] for x [B, R, C] -> [B, C, R].
// One thread per output element; consecutive threads write consecutive
// outputs (reads are strided by C).
//
// History:
//   v1 (d069cb2, 2026-11-27); unchanged since. Measured only inside a step:
//       H200 (Vulkan), DAMSM step (batch 48), binaries of 23b0c04: 8
//       dispatches, 0.06 ms (docs/gpu-check-h200-2026-11-28.txt).

struct Params {
    n: u32,
    rows: u32, // R
    cols: u32, // C
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
    let o = group_index(wid, nwg) * 256u + lid;
    if (o >= p.n) {
        return;
    }
    let plane = p.rows * p.cols;
    let b = o / plane;
    let rem = o % plane;
    let j = rem / p.rows; // output row = input column
    let i = rem % p.rows;
    out[p.out_off + o] = xs[p.x_off + b * plane + i * p.cols + j];
}
