// Word-level attention (AttnGAN's GlobalAttentionGeneral), forward, fused:
// one thread per (b, p) computes the scores against all T words, the masked
// softmax over words and the context, so the [B, P, T] scores never go
// through memory (the attention maps are written once, for the backward and
// for drawing).
//   s[t] = sum_c q[b, c, p] * w[b, c, t]
//   attn[b, p, t] = softmax_t(s) over real words (mask 0), 0 for padding; a
//     row of padding only gives all zeros (not NaN)
//   ctx[b, c, p] = sum_t attn[b, p, t] * w[b, c, t]
// T <= TMAX (the private arrays); longer sentences take the unfused path.
// So do wide problems, 2 C (T + 1) + 4 T over 32,768 (FUSED_LOOP_BUDGET in
// src/ops/attention.rs): a thread loops about that many times, and llvmpipe
// ends the loops of one invocation after 65,535 iterations in all, with no
// error (C = 512, T = 64 and C = 2048, T = 18 were cut short).
//
// History:
//   v1 (cacfbce, 2026-11-27): scores, masked softmax and context fused, one
//       thread per (b, p). Word attention forward, q [8,32,4096], 18 words:
//       27.25 ms = 2.77 GFLOP/s on lavapipe Mesa 22.3.6, 2-core Zen 3, at
//       a193e16 (README); 73.1 ms = 1.03 GFLOP/s on lavapipe Mesa 25.0.7,
//       2-core EPYC, registers flavour, at 21c7c85
//       (docs/bench-lavapipe-mesa25-registers.json). H200 (Vulkan), q
//       [20,32,4096]: 0.14 ms at a193e16, 0.40 ms at 8198dc5, 0.38 ms at
//       23b0c04, the same kernel [PyTorch 0.036 ms] (README).
//   95f9300 (2026-11-27): the host keeps wide problems (2 C (T + 1) + 4 T
//       over 32,768) off this kernel; the kernel itself unchanged.
//   9878bb9 (2026-11-28): the subgroups flavour no longer uses it: its
//       matmul + softmax + matmul path is faster, forward 83 -> 30 ms at
//       q [8,32,4096], 18 words (commit; device not named).

struct Params {
    b: u32,
    c: u32,
    p: u32,
    t: u32,
    q_off: u32,
    w_off: u32,
    ctx_off: u32,
    attn_off: u32,
    m_off: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read_write> ctx: array<f32>;
@group(0) @binding(4) var<storage, read_write> attn: array<f32>;
//#if MASK
// [B, T]: 1.0 marks a padding word.
@group(0) @binding(5) var<storage, read> mask: array<f32>;
//#endif

const TMAX: u32 = {{TMAX}}u;

fn is_real(b: u32, t: u32) -> bool {
//#if MASK
    return mask[p.m_off + b * p.t + t] < 0.5;
//#else
    return true;
//#endif
}

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
    let qb = p.q_off + b * p.c * p.p + px;
    let wb = p.w_off + b * p.c * p.t;
    var s: array<f32, TMAX>;
    for (var t = 0u; t < p.t; t = t + 1u) {
        s[t] = 0.0;
    }
    // c outer: q is loaded once per channel; w's row is the same for every
    // thread of the batch (a broadcast load).
    for (var c = 0u; c < p.c; c = c + 1u) {
        let qc = q[qb + c * p.p];
        for (var t = 0u; t < p.t; t = t + 1u) {
            s[t] = s[t] + qc * w[wb + c * p.t + t];
        }
    }
    var mx = -3.4e38;
    for (var t = 0u; t < p.t; t = t + 1u) {
        if (is_real(b, t)) {
            mx = max(mx, s[t]);
        }
    }
    var sum = 0.0;
    for (var t = 0u; t < p.t; t = t + 1u) {
        let e = select(0.0, exp(s[t] - mx), is_real(b, t));
        s[t] = e;
        sum = sum + e;
    }
    let inv = select(0.0, 1.0 / sum, sum > 0.0);
    let ab = p.attn_off + gi * p.t;
    for (var t = 0u; t < p.t; t = t + 1u) {
        s[t] = s[t] * inv;
        attn[ab + t] = s[t];
    }
    let cb = p.ctx_off + b * p.c * p.p + px;
    for (var c = 0u; c < p.c; c = c + 1u) {
        var acc = 0.0;
        for (var t = 0u; t < p.t; t = t + 1u) {
            acc = acc + s[t] * w[wb + c * p.t + t];
        }
        ctx[cb + c * p.p] = acc;
    }
}
