// Gated linear unit over channels: x is viewed as [outer, 2 * half, inner]
// (outer = N, inner = the spatial size), a = x[:, :half], b = x[:, half:],
//   forward:  out = a * sigmoid(b)                          [outer, half, inner]
//   backward: da = dy * sigmoid(b), db = dy * a * s * (1 - s)  -> dx [outer, 2 * half, inner]
// One thread per output element; in backward it writes both halves of dx.
// With VEC4 (half * inner and the offsets multiples of 4) one per 4
// consecutive output elements, as vec4s.
//
// History:
//   v1 (4b3905e, 2026-11-27): one thread per output element, the backward
//       writing both halves. 523ba5b: sigmoid from common.wgsl. Measured only
//       inside a step: H200 (Vulkan), AttnGAN birds step (batch 20), binaries
//       of 8198dc5: 12 dispatches each, 0.52 ms forward, 0.79 ms backward
//       (docs/bench-h200-tiled-gemm.json).
//   v2 (2026-12-06): VEC4.

struct Params {
    outer: u32,
    half: u32,
    inner: u32,
    x_off: u32,
    dy_off: u32,
    out_off: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
//#include vec4
//#if VEC4
fn sig(v: V) -> V {
    return V(stable_sigmoid(v.x), stable_sigmoid(v.y), stable_sigmoid(v.z), stable_sigmoid(v.w));
}
//#else
fn sig(v: V) -> V {
    return stable_sigmoid(v);
}
//#endif
@group(0) @binding(1) var<storage, read> xs: array<V>;
//#if BACKWARD
@group(0) @binding(2) var<storage, read> dys: array<V>;
@group(0) @binding(3) var<storage, read_write> out: array<V>;
//#else
@group(0) @binding(2) var<storage, read_write> out: array<V>;
//#endif

@compute @workgroup_size(256)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    // In units of V.
    let i = group_index(wid, nwg) * 256u + lid;
    let per = p.half * p.inner / L;
    if (i >= p.outer * per) {
        return;
    }
    let o = i / per;
    let r = i % per;
    // Element (o, c, j) of the first half and (o, c + half, j) of the second.
    let ia = o * 2u * per + r;
    let ib = ia + per;
    let x_off = p.x_off / L;
    let out_off = p.out_off / L;
    let a = xs[x_off + ia];
    let s = sig(xs[x_off + ib]);
//#if BACKWARD
    let dy = dys[p.dy_off / L + i];
    out[out_off + ia] = dy * s;
    out[out_off + ib] = dy * a * s * (1.0 - s);
//#else
    out[out_off + i] = a * s;
//#endif
}
