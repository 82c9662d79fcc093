// In-place y = alpha * x + beta * y (gradient accumulation, moving averages).
// With beta = 0, y is not read (it may hold anything, NaN included). With
// VEC4 (n and the offsets multiples of 4) an invocation does a vec4.
//
// History:
//   v1 (5c713b1, 2026-11-27): written for the autograd tape's in-place leaf
//       accumulation; unchanged since. Measured only inside a step: H200
//       (Vulkan), AttnGAN birds step (batch 20), binaries of 8198dc5: 122
//       dispatches, 1.28 ms (docs/bench-h200-tiled-gemm.json).
//   v2 (2026-12-06): VEC4.

struct Params {
    n: u32,
    x_off: u32,
    y_off: u32,
    alpha: f32,
    beta: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
//#include vec4
@group(0) @binding(1) var<storage, read> xs: array<V>;
@group(0) @binding(2) var<storage, read_write> ys: array<V>;

@compute @workgroup_size(256)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let i = group_index(wid, nwg) * 256u + lid;
    if (i >= p.n / L) {
        return;
    }
    let iy = p.y_off / L + i;
    var v = p.alpha * xs[p.x_off / L + i];
    if (p.beta != 0.0) {
        v = v + p.beta * ys[iy];
    }
    ys[iy] = v;
}
