// Shared by batch_norm.wgsl and batch_norm_backward.wgsl (pulled in with
// //#include): the per-channel sum over a workgroup (TREE) or a single
// thread, the element type (VEC4) and the index of a channel's m-th element.
// Needs WG and p.c, p.inner.
//
// History:
//   v1 (180261a, 2026-11-27): the channel sum and indexing that
//       batch_norm.wgsl and batch_norm_backward.wgsl each had (1118d75),
//       written once. No measurement of its own (see batch_norm.wgsl).
//   v2 (2026-12-05): VEC4 (see batch_norm.wgsl's history).
//   v3 (2026-12-06): Walk instead of a division per element (see batch_norm.wgsl).

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

// With VEC4 (inner and the offsets multiples of 4; the host checks) the
// tensors are read and written as vec4s (V, L and hsum: the vec4 fragment).
//#include vec4

// The V's first, first + step, ... of channel c, walked without an integer
// division per step (llvmpipe scalarizes them): a position is (n, j), the
// j-th V of batch item n; walk(m) is the m-th V's, and a step adds walk(step)
// and carries once (j + step % inner < 2 inner).
struct Walk {
    n: u32,
    j: u32,
}

fn walk(m: u32) -> Walk {
    let inner = p.inner / L;
    let n = m / inner;
    return Walk(n, m - n * inner);
}

fn walk_next(w: Walk, d: Walk) -> Walk {
    let inner = p.inner / L;
    let j = w.j + d.j;
    let wrap = j >= inner;
    return Walk(w.n + d.n + select(0u, 1u, wrap), select(j, j - inner, wrap));
}

// Index (without offset, in units of V) of position w of channel c.
fn at(c: u32, w: Walk) -> u32 {
    return (w.n * p.c + c) * (p.inner / L) + w.j;
}
