// Batch norm backward (training mode, batch statistics), one kernel: the two
// channel sums sum(dy) and sum(dy * xhat) in one pass (they are dbeta and
// dgamma), then dx in a second pass:
//   dx = gamma * invstd * (dy - sum(dy)/M - xhat * sum(dy * xhat)/M),
// with xhat = (x - mean) * invstd recomputed from the saved statistics.
// Layout and the TREE / one-thread-per-channel choice as in batch_norm.wgsl.
// So is the host's path for channels over 2M values (llvmpipe's loop cap).
//
// History:
//   v1 (1118d75, 2026-11-27): both channel sums in one pass, then dx.
//       [8,64,64,64]: 12.14 ms = 3.46 GB/s on lavapipe Mesa 22.3.6, 2-core
//       Zen 3, at a193e16 (README). H200 (Vulkan), [20,64,128,128]: 1.38 ms
//       at a193e16, 3.69 ms at 8198dc5, the same kernel [PyTorch 0.484 ms].
//   180261a (2026-11-27): channel sum and indexing from batch_norm_reduce.wgsl.
//   de3889a (2026-11-27): channels over 2M values go to the host's path. At
//       21c7c85 on lavapipe Mesa 25.0.7, 2-core EPYC: 26.1 and 23.4 ms =
//       1.6 and 1.8 GB/s (docs/bench-lavapipe-mesa25-*.json); H200 at
//       23b0c04: 3.51 ms (docs/gpu-check-h200-2026-11-28.txt).
//   v2 (2026-12-05): VEC4, as batch_norm.wgsl's v2: [8,64,64,64] on a 2-core
//       Zen 4 EPYC, lavapipe Mesa 25.0.7, 10.4, 9.5 -> 5.2, 5.1 ms.

struct Params {
    n: u32,
    c: u32,
    inner: u32,
    dy_off: u32,
    x_off: u32,
    g_off: u32,
    s_off: u32,
    dx_off: u32,
    dp_off: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dys: array<V>;
@group(0) @binding(2) var<storage, read> xs: array<V>;
@group(0) @binding(3) var<storage, read> gamma: array<f32>;
// [3, c]: mean (hi), invstd, mean (lo) from the forward (see batch_norm.wgsl).
@group(0) @binding(4) var<storage, read> saved: array<f32>;
@group(0) @binding(5) var<storage, read_write> dxs: array<V>;
// [2, c]: dgamma, dbeta.
@group(0) @binding(6) var<storage, read_write> dparams: array<f32>;

const WG: u32 = {{WG}}u;

//#include batch_norm_reduce

@compute @workgroup_size(WG)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
//#if TREE
    let c = group_index(wid, nwg);
    let first = lid;
    let step = WG;
//#else
    let c = group_index(wid, nwg) * WG + lid;
    let first = 0u;
    let step = 1u;
//#endif
    if (c >= p.c) {
        return;
    }
    let count = p.n * p.inner;
    let mean = saved[p.s_off + c];
    let invstd = saved[p.s_off + p.c + c];
    let mean_lo = saved[p.s_off + 2u * p.c + c];
    let dy_off = p.dy_off / L;
    let x_off = p.x_off / L;
    let dx_off = p.dx_off / L;
    var acc = vec2<f32>(0.0, 0.0);
    let start = walk(first);
    let stride = walk(step);
    var w = start;
    for (var m = first; m < count / L; m = m + step) {
        let i = at(c, w);
        let dy = dys[dy_off + i];
        let xhat = ((xs[x_off + i] - V(mean)) - V(mean_lo)) * invstd;
        acc = acc + vec2<f32>(hsum(dy), hsum(dy * xhat));
        w = walk_next(w, stride);
    }
    let sums = channel_sum(acc, lid);
    let mean_dy = sums.x / f32(count);
    let mean_dy_xhat = sums.y / f32(count);
    let k = gamma[p.g_off + c] * invstd;
    w = start;
    for (var m = first; m < count / L; m = m + step) {
        let i = at(c, w);
        let xhat = ((xs[x_off + i] - V(mean)) - V(mean_lo)) * invstd;
        dxs[dx_off + i] = k * (dys[dy_off + i] - V(mean_dy) - xhat * mean_dy_xhat);
        w = walk_next(w, stride);
    }
    if (first == 0u) {
        dparams[p.dp_off + c] = sums.y;
        dparams[p.dp_off + p.c + c] = sums.x;
    }
}
