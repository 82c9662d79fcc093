// Shared by batch_norm.wgsl and batch_norm_backward.wgsl (pulled in with
// //#include): the per-channel sum over a workgroup (TREE) or a single
// thread, and the index of a channel's m-th element. Needs WG and p.c, p.inner.
//
// History:
//   v1 (180261a, 2026-11-27): the channel sum and indexing that
//       batch_norm.wgsl and batch_norm_backward.wgsl each had (1118d75),
//       written once. No measurement of its own (see batch_norm.wgsl).

//#if TREE
var<workgroup> red: array<vec2<f32>, WG>;
//#endif

// Sum of v over the threads of one channel.
fn channel_sum(v: vec2<f32>, lid: u32) -> vec2<f32> {
//#if TREE
    red[lid] = v;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s = s >> 1u) {
        if (lid < s) {
            red[lid] = red[lid] + red[lid + s];
        }
        workgroupBarrier();
    }
    let r = red[0];
    workgroupBarrier();
    return r;
//#else
    return v;
//#endif
}

// Index (without offset) of element m in [0, count) of channel c.
fn at(c: u32, m: u32) -> u32 {
    let n = m / p.inner;
    return (n * p.c + c) * p.inner + (m - n * p.inner);
}
