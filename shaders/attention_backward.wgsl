// Word-level attention backward, the per-pixel part: one thread per (b, p).
//   g[t]  = sum_c dctx[b, c, p] * w[b, c, t] (+ dattn[b, p, t] with DATTN)
//   ds[t] = attn[t] * (g[t] - sum_t' attn[t'] * g[t'])      (softmax backward)
//   dq[b, c, p] = sum_t ds[t] * w[b, c, t]
// ds is written out for the word gradient (attention_backward_words.wgsl).
// Padding words have attn = 0, hence ds = 0: the mask needs no input here.
// Like the forward, only for T <= TMAX and 2 C (T + 1) + 4 T <= 32,768
// (llvmpipe's cap of 65,535 loop iterations per invocation); the rest takes
// the unfused path (src/ops/attention.rs).
//
// History:
//   v1 (cacfbce, 2026-11-27): one thread per (b, p); the word gradient in
//       attention_backward_words.wgsl. Word attention backward (this and the
//       word gradient), q [8,32,4096], 18 words: 66.48 ms = 2.27 GFLOP/s on
//       lavapipe Mesa 22.3.6, 2-core Zen 3, at a193e16 (README); 184.9 ms =
//       0.82 GFLOP/s on lavapipe Mesa 25.0.7, 2-core EPYC, registers flavour,
//       at 21c7c85 (docs/bench-lavapipe-mesa25-registers.json). H200
//       (Vulkan), q [20,32,4096]: 0.26 ms at a193e16, 0.74 ms at 8198dc5,
//       0.71 ms at 23b0c04, the same kernels [PyTorch 0.335 ms] (README).
//   95f9300 (2026-11-27): only for 2 C (T + 1) + 4 T <= 32,768 (host side).
//   9878bb9 (2026-11-28): not used by the subgroups flavour, whose unfused
//       path is faster: backward 141 -> 109 ms at q [8,32,4096], 18 words
//       (commit; device not named).

struct Params {
    b: u32,
    c: u32,
    p: u32,
    t: u32,
    w_off: u32,
    a_off: u32,
    dctx_off: u32,
    ds_off: u32,
    dq_off: u32,
    da_off: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read> attn: array<f32>;
@group(0) @binding(3) var<storage, read> dctx: array<f32>;
@group(0) @binding(4) var<storage, read_write> ds: array<f32>;
@group(0) @binding(5) var<storage, read_write> dq: array<f32>;
//#if DATTN
@group(0) @binding(6) var<storage, read> dattn: array<f32>;
//#endif

const TMAX: u32 = {{TMAX}}u;

@compute @workgroup_size(64)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let gi = group_index(wid, nwg) * 64u + lid;
    if (gi >= p.b * p.p) {
        return;
    }
    let b = gi / p.p;
    let px = gi - b * p.p;
    let wb = p.w_off + b * p.c * p.t;
    let cb = b * p.c * p.p + px;
    var g: array<f32, TMAX>;
    for (var t = 0u; t < p.t; t = t + 1u) {
//#if DATTN
        g[t] = dattn[p.da_off + gi * p.t + t];
//#else
        g[t] = 0.0;
//#endif
    }
    for (var c = 0u; c < p.c; c = c + 1u) {
        let d = dctx[p.dctx_off + cb + c * p.p];
        for (var t = 0u; t < p.t; t = t + 1u) {
            g[t] = g[t] + d * w[wb + c * p.t + t];
        }
    }
    let ab = p.a_off + gi * p.t;
    var dot = 0.0;
    for (var t = 0u; t < p.t; t = t + 1u) {
        dot = dot + attn[ab + t] * g[t];
    }
    for (var t = 0u; t < p.t; t = t + 1u) {
        g[t] = attn[ab + t] * (g[t] - dot);
        ds[p.ds_off + gi * p.t + t] = g[t];
    }
    for (var c = 0u; c < p.c; c = c + 1u) {
        var acc = 0.0;
        for (var t = 0u; t < p.t; t = t + 1u) {
            acc = acc + g[t] * w[wb + c * p.t + t];
        }
        dq[p.dq_off + cb + c * p.p] = acc;
    }
}
