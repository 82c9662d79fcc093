// Zero padding of the last two axes: x [M, H, W] -> out [M, H + 2P, W + 2P].
// conv2d pads its input once with this so its inner loop needs no bounds checks.
//
// History:
//   v1 (281a159, 2026-11-27): added with conv2d.wgsl v2, whose inner loop then
//       needs no bounds checks (3x3 on [8,64,32,32] 3.9 -> 6.2 GFLOP/s on
//       lavapipe, commit); unchanged since. No measurement of its own.

struct Params {
    n: u32, // elements of out
    H: u32,
    W: u32,
    P: u32,
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
    let pw = p.W + 2u * p.P;
    let ph = p.H + 2u * p.P;
    let w = i32(o % pw) - i32(p.P);
    let h = i32((o / pw) % ph) - i32(p.P);
    let m = o / (pw * ph);
    let inside = w >= 0 && w < i32(p.W) && h >= 0 && h < i32(p.H);
    let src = p.x_off + (m * p.H + u32(clamp(h, 0, i32(p.H) - 1))) * p.W + u32(clamp(w, 0, i32(p.W) - 1));
    out[p.out_off + o] = select(0.0, xs[src], inside);
}
