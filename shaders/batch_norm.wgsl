// Batch norm, training mode: per-channel batch statistics, the normalised
// output, the saved (mean, invstd) for the backward and, with RUNNING, the
// running statistics updated in place (PyTorch's momentum convention, the
// running variance from the unbiased batch variance).
//
// x is viewed as [n, c, inner] (inner = H*W, 1 for [N, C]); a channel has
// count = n * inner elements. With TREE one workgroup of WG threads owns a
// channel and sums with a tree in workgroup memory (long channels); without
// it each thread owns a channel and loops alone (short channels, no barriers).
//
// Variance in one pass over shifted values, accurate on inputs far from
// zero: the shift K is the mean of a small sample of the channel, then the
// deviations d = x - K give var = sum(d^2)/count - (sum(d)/count)^2 and the
// mean K + sum(d)/count.
// The mean is saved as an unevaluated sum hi + lo of two f32 (hi is the
// rounded mean): on inputs like 100 +- 0.5 the rounding of hi alone would
// shift every xhat by up to 2e-5; x - hi is exact there and - lo restores it.
//
// Channels over 2M values (LONG_CHANNEL in src/ops/batch_norm.rs) do not come
// here: llvmpipe ends the loops of one invocation after 65,535 iterations in
// all, with no error, and three passes of count / WG per thread were cut
// short at 6.5M; the host does the same arithmetic with chunked reductions.
//
// History:
//   v1 (1118d75, 2026-11-27): TREE or a thread per channel, two-pass variance,
//       mean kept as hi + lo. Forward [8,64,64,64]: 10.89 ms = 2.31 GB/s on
//       lavapipe Mesa 22.3.6, 2-core Zen 3, at a193e16 (README); 17.1 ms
//       against burn 0.22.1's 47-50 ms (Mesa 22.3, 2-core Zen 3, 2026-11-27,
//       docs/peers.md). H200 (Vulkan), [20,64,128,128]: 1.80 ms at a193e16,
//       4.47 ms at 8198dc5, the same kernel (README: the card's clock state
//       is the likely cause) [PyTorch 0.176 ms].
//   180261a (2026-11-27): the channel sum and indexing moved to the fragment
//       batch_norm_reduce.wgsl, shared with the backward.
//   de3889a (2026-11-27): channels over 2M values go to the host's chunked
//       path. At 21c7c85 on lavapipe Mesa 25.0.7, 2-core EPYC: 22.6 and
//       23.4 ms = 1.1 GB/s (docs/bench-lavapipe-mesa25-*.json); 27 ms against
//       burn's 92 ms there at 9878bb9 (docs/peers.md). H200 at 23b0c04:
//       4.28 ms (docs/gpu-check-h200-2026-11-28.txt).
//   v2 (2026-12-05): VEC4 (batch_norm_reduce.wgsl): where H*W and the
//       offsets are multiples of 4, x and y are read and written as vec4s.
//       c1e61bb and this, alternating twice, 2-core Zen 4 EPYC, lavapipe
//       Mesa 25.0.7, [8,64,64,64]: forward 10.2, 9.6 (min) -> 5.1, 5.5 ms
//       (77%, 72% of the run's vec4-copy ceiling at the bench's 12 bytes an
//       element); batch_norm_backward.wgsl 10.4, 9.5 -> 5.2 (min), 5.1 ms.
//       (An f32 quotient instead of the integer division in at() made
//       v1 slower, 9.7 -> 10.8 ms: the scalar loads were the cost.)
//   v3 (2026-12-06): one pass for both moments, shifted by a sample's mean,
//       instead of a pass for the mean and one for the deviations (x read
//       twice, not three times); positions walked without a division per
//       element (batch_norm_reduce.wgsl); 64-thread workgroups on software
//       GPUs (TREE_WG_SOFTWARE in src/ops/batch_norm.rs). On the Zen 4 of
//       v2, [8,64,64,64], medians of 15: 8d6c6bb 5.3-5.5 ms; one pass 4.0-4.2;
//       with the walk 3.7-4.1 (256 threads), 3.3 (128), 3.1 (64), 3.0 (32).
//       The backward with the walk and 64 threads: 4.8-5.1 -> 3.6 ms.

struct Params {
    n: u32,
    c: u32,
    inner: u32,
    x_off: u32,
    g_off: u32,
    b_off: u32,
    y_off: u32,
    s_off: u32,
    rm_off: u32,
    rv_off: u32,
    momentum: f32,
    eps: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> xs: array<V>;
@group(0) @binding(2) var<storage, read> gamma: array<f32>;
@group(0) @binding(3) var<storage, read> beta: array<f32>;
@group(0) @binding(4) var<storage, read_write> ys: array<V>;
// [3, c]: the batch mean (hi), 1 / sqrt(var + eps), the mean's low part (lo).
@group(0) @binding(5) var<storage, read_write> saved: array<f32>;
//#if RUNNING
@group(0) @binding(6) var<storage, read_write> run_mean: array<f32>;
@group(0) @binding(7) var<storage, read_write> run_var: array<f32>;
//#endif

const WG: u32 = {{WG}}u;
//#if TREE
const SAMPLE: u32 = WG;
//#else
const SAMPLE: u32 = 8u;
//#endif

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
    let fcount = f32(count);
    let x_off = p.x_off / L;
    let y_off = p.y_off / L;
    // The shift: the mean of a sample (a workgroup's first V each, or a
    // thread's first 8), close enough to the mean that sum(d^2) / count -
    // (sum(d) / count)^2 over d = x - shift loses no accuracy (|sum(d)|
    // stays near the spread), so one pass over x gives both moments.
    let sampled = min(count / L, SAMPLE);
    var s = 0.0;
    let start = walk(first);
    let stride = walk(step);
    var w = start;
    for (var m = first; m < sampled; m = m + step) {
        s = s + hsum(xs[x_off + at(c, w)]);
        w = walk_next(w, stride);
    }
    let shift = channel_sum(vec2<f32>(s, 0.0), lid).x / f32(sampled * L);
    var acc = vec2<f32>(0.0, 0.0);
    w = start;
    for (var m = first; m < count / L; m = m + step) {
        let d = xs[x_off + at(c, w)] - V(shift);
        acc = acc + vec2<f32>(hsum(d), hsum(d * d));
        w = walk_next(w, stride);
    }
    let tot = channel_sum(acc, lid) / fcount;
    // mean = shift + tot.x as hi + lo (TwoSum: exact whatever the magnitudes).
    let mean = shift + tot.x;
    let back = mean - shift;
    let mean_lo = (shift - (mean - back)) + (tot.x - back);
    let var_biased = max(tot.y - tot.x * tot.x, 0.0);
    let invstd = 1.0 / sqrt(var_biased + p.eps);
    let scale = gamma[p.g_off + c] * invstd;
    let offset = beta[p.b_off + c];
    w = start;
    for (var m = first; m < count / L; m = m + step) {
        let i = at(c, w);
        ys[y_off + i] = ((xs[x_off + i] - V(mean)) - V(mean_lo)) * scale + V(offset);
        w = walk_next(w, stride);
    }
    if (first == 0u) {
        saved[p.s_off + c] = mean;
        saved[p.s_off + p.c + c] = invstd;
        saved[p.s_off + 2u * p.c + c] = mean_lo;
//#if RUNNING
        let unbiased = var_biased * fcount / max(fcount - 1.0, 1.0);
        run_mean[p.rm_off + c] = (1.0 - p.momentum) * run_mean[p.rm_off + c] + p.momentum * mean;
        run_var[p.rv_off + c] = (1.0 - p.momentum) * run_var[p.rv_off + c] + p.momentum * unbiased;
//#endif
    }
}
