// Word-level attention, fused, for the subgroups flavour (lavapipe): the
// forward (scores, masked softmax over words, context) or, with BACKWARD,
// the gradients of the scores and the queries; the words' gradient is two
// matmuls on the host side (src/ops/attention.rs).
//   forward:  s[t] = sum_c q[b, c, p] w[b, c, t]
//             attn[b, p, t] = softmax_t(s) over real words (mask 0), 0 for
//               padding; a row of padding only gives all zeros
//             ctx[b, c, p] = sum_t attn[b, p, t] w[b, c, t]
//   backward: g[t] = sum_c dctx[b, c, p] w[b, c, t] (+ dattn[b, p, t])
//             ds[b, p, t] = attn[b, p, t] (g[t] - sum_u attn[b, p, u] g[u])
//             dq[b, c, p] = sum_t w[b, c, t] ds[b, p, t]
// One invocation per four pixels (p, p + 64, p + 128, p + 192 of a block of
// 256: each word loaded serves all four), one workgroup row (y) per batch item, so the
// words are the same for every lane of a subgroup (8 lanes or more): for
// each channel, lane l loads word 8 k + l and subgroupBroadcast hands the 8
// words to every lane. On llvmpipe a load of one address for all lanes is a
// gather of 8 (forward 19.9 ms that way), and so is a read of words staged in
// workgroup memory (10.3 ms); the broadcast is an extract and a splat.
// The scores live in WB vec4 registers (WB = 2 ceil(T / 8), a constant) and
// every index of them is a constant: scores8 and context8 are called with
// constant k under constant conditions, since a loop over k kept them in
// memory (6.4 against 5.2 ms), as does attention.wgsl's private array
// indexed under a runtime bound. No early return: the lanes past P compute
// on the last pixel and skip their stores, so that control flow stays
// uniform (subgroupBroadcast needs it).
// Limits (the host checks, fused() in src/ops/attention.rs): T <= 64, and
// each invocation loops about 2 C (T / 8 + 1) times, under llvmpipe's cap of
// 65,535 loop iterations per invocation.
//
// Versions (word attention, q [8,32,4096], 18 words, lavapipe Mesa 25.0.7,
// 2-core Zen 4 EPYC, subgroups flavour, GFLOP/s at 4 B C P T forward and
// twice that backward; bench-kernels --quick):
//   v1 (2026-12-05): this file. Before it, the flavour ran matmul +
//       softmax + matmul: forward 8.3 ms = 9.1 GFLOP/s, backward 11.8 ms =
//       12.8 (with the words' gradient as two matmuls, c3e0ee7). With it
//       (the words' gradient still two matmuls) and one pixel per
//       invocation: forward 5.2 ms = 14.4, backward 9.3-12.9 ms. With two
//       pixels per invocation (this file), three alternating pairs against
//       c3e0ee7 on one quiet machine: forward 8.4-8.5 -> 4.2-4.7 ms
//       (16.2-17.9 GFLOP/s, 40-44% of the run's FMA ceiling), backward
//       12.0-12.2 -> 8.7-9.2 ms (16.4-17.5, 40-43%), of which this kernel
//       is 4.9 ms and the words' gradient's two matmuls (N = 18) the rest.
//       WB = ceil(T / 4) (5 rather than 6 vec4s at T = 18, the last block of
//       8 words half used) made the forward slower: 6.5-7.0 ms.
//   v2 (2026-12-06): four pixels per invocation (a broadcast word feeds 4
//       pixels' FMAs, not 2). Against v1, alternating three times on the
//       Zen 4 above (a noisy hour; medians of 15, min in brackets):
//       forward 4.45, 4.26, 4.33 [4.14-4.28] -> 4.78, 3.61, 3.93 [3.58-3.86]
//       ms (51% of the FMA ceiling at 3.61), backward 9.05, 9.25, 8.56 ->
//       8.99, 8.38, 8.29 ms (this kernel plus the words' gradient matmuls).

struct Params {
    b: u32,
    c: u32,
    p: u32,
    t: u32,
    // forward: q, w, ctx, attn, mask; backward: dctx, w, dq, attn, dattn, ds
    x_off: u32,
    w_off: u32,
    y_off: u32,
    a_off: u32,
    m_off: u32,
    ds_off: u32,
}

const WB: u32 = {{WB}}u;

@group(0) @binding(0) var<uniform> p: Params;
// q (forward) or dctx (backward), [B, C, P]
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
// ctx (forward) or dq (backward), [B, C, P]
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
//#if BACKWARD
@group(0) @binding(4) var<storage, read> attn: array<f32>;
@group(0) @binding(5) var<storage, read_write> ds: array<f32>;
//#if DATTN
@group(0) @binding(6) var<storage, read> dattn: array<f32>;
//#endif
//#else
@group(0) @binding(4) var<storage, read_write> attn: array<f32>;
//#if MASK
// [B, T]: 1.0 marks a padding word.
@group(0) @binding(5) var<storage, read> mask: array<f32>;
//#endif
//#endif

// Words 8 k .. 8 k + 7 of one channel of w[b] (zeros past T) as two vec4s,
// in every lane: each lane loads one word, subgroupBroadcast hands them out.
fn words8(wc: u32, k: u32, lane: u32) -> array<vec4<f32>, 2> {
    let t = 8u * k + (lane & 7u);
    let v = select(0.0, w[wc + min(t, p.t - 1u)], t < p.t);
    return array<vec4<f32>, 2>(
        vec4<f32>(subgroupBroadcast(v, 0u), subgroupBroadcast(v, 1u), subgroupBroadcast(v, 2u), subgroupBroadcast(v, 3u)),
        vec4<f32>(subgroupBroadcast(v, 4u), subgroupBroadcast(v, 5u), subgroupBroadcast(v, 6u), subgroupBroadcast(v, 7u)),
    );
}

alias Row = array<vec4<f32>, WB>;

// Words 8 k .. 8 k + 7 of channel c (at wc) into the scores (or g) of the
// four pixels, whose values of channel c are x0 .. x3. k is a constant once
// inlined, so every index of the rows is a constant and they stay in
// registers (a loop over k kept them in memory: forward 6.4 against 5.2 ms).
fn scores8(s0: ptr<function, Row>, s1: ptr<function, Row>, s2: ptr<function, Row>, s3: ptr<function, Row>, k: u32, x0: vec4<f32>, x1: vec4<f32>, x2: vec4<f32>, x3: vec4<f32>, wc: u32, lane: u32) {
    let wm = words8(wc, k, lane);
    (*s0)[2u * k] = fma(x0, wm[0], (*s0)[2u * k]);
    (*s0)[2u * k + 1u] = fma(x0, wm[1], (*s0)[2u * k + 1u]);
    (*s1)[2u * k] = fma(x1, wm[0], (*s1)[2u * k]);
    (*s1)[2u * k + 1u] = fma(x1, wm[1], (*s1)[2u * k + 1u]);
    (*s2)[2u * k] = fma(x2, wm[0], (*s2)[2u * k]);
    (*s2)[2u * k + 1u] = fma(x2, wm[1], (*s2)[2u * k + 1u]);
    (*s3)[2u * k] = fma(x3, wm[0], (*s3)[2u * k]);
    (*s3)[2u * k + 1u] = fma(x3, wm[1], (*s3)[2u * k + 1u]);
}

// The same words' share of channel c of the four pixels' context (or dq).
fn context8(s0: ptr<function, Row>, s1: ptr<function, Row>, s2: ptr<function, Row>, s3: ptr<function, Row>, k: u32, acc: ptr<function, array<vec4<f32>, 4>>, wc: u32, lane: u32) {
    let wm = words8(wc, k, lane);
    (*acc)[0] = fma((*s0)[2u * k + 1u], wm[1], fma((*s0)[2u * k], wm[0], (*acc)[0]));
    (*acc)[1] = fma((*s1)[2u * k + 1u], wm[1], fma((*s1)[2u * k], wm[0], (*acc)[1]));
    (*acc)[2] = fma((*s2)[2u * k + 1u], wm[1], fma((*s2)[2u * k], wm[0], (*acc)[2]));
    (*acc)[3] = fma((*s3)[2u * k + 1u], wm[1], fma((*s3)[2u * k], wm[0], (*acc)[3]));
}

//#if BACKWARD
// g (the attention's gradient of one pixel, its row of attn at ab) becomes
// ds = attn (g - sum(attn g)), stored where ok.
fn grad_row(g: ptr<function, Row>, ok: bool, ab: u32) {
    var a: Row;
    var dot = 0.0;
    for (var j = 0u; j < WB; j = j + 1u) {
        for (var e = 0u; e < 4u; e = e + 1u) {
            let t = 4u * j + e;
            let i = ab + min(t, p.t - 1u);
            a[j][e] = select(0.0, attn[p.a_off + i], t < p.t);
//#if DATTN
            (*g)[j][e] = (*g)[j][e] + select(0.0, dattn[p.m_off + i], t < p.t);
//#endif
        }
        let ag = a[j] * (*g)[j];
        dot = dot + ag.x + ag.y + ag.z + ag.w;
    }
    for (var j = 0u; j < WB; j = j + 1u) {
        (*g)[j] = a[j] * ((*g)[j] - vec4<f32>(dot));
        for (var e = 0u; e < 4u; e = e + 1u) {
            let t = 4u * j + e;
            if (ok && t < p.t) {
                ds[p.ds_off + ab + t] = (*g)[j][e];
            }
        }
    }
}
//#else
// Word t of batch item b takes part in the softmax (inside T, not masked).
fn real(b: u32, t: u32) -> bool {
//#if MASK
    return t < p.t && mask[p.m_off + b * p.t + min(t, p.t - 1u)] < 0.5;
//#else
    return t < p.t;
//#endif
}

// The scores of one pixel (its row of attn at ab) become the attention: the
// softmax over real words, all zeros if there are none, stored where ok.
fn softmax_row(s: ptr<function, Row>, b: u32, ok: bool, ab: u32) {
    var mx = -3.4e38;
    for (var j = 0u; j < WB; j = j + 1u) {
        for (var e = 0u; e < 4u; e = e + 1u) {
            mx = max(mx, select(-3.4e38, (*s)[j][e], real(b, 4u * j + e)));
        }
    }
    var sum = 0.0;
    for (var j = 0u; j < WB; j = j + 1u) {
        for (var e = 0u; e < 4u; e = e + 1u) {
            (*s)[j][e] = select(0.0, exp((*s)[j][e] - mx), real(b, 4u * j + e));
        }
        sum = sum + (*s)[j].x + (*s)[j].y + (*s)[j].z + (*s)[j].w;
    }
    let inv = select(0.0, 1.0 / sum, sum > 0.0);
    for (var j = 0u; j < WB; j = j + 1u) {
        (*s)[j] = (*s)[j] * inv;
        for (var e = 0u; e < 4u; e = e + 1u) {
            let t = 4u * j + e;
            if (ok && t < p.t) {
                attn[p.a_off + ab + t] = (*s)[j][e];
            }
        }
    }
}
//#endif

@compute @workgroup_size(64)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
    @builtin(subgroup_invocation_id) lane: u32,
) {
    let b = wid.y;
    let wb = p.w_off + b * p.c * p.t;
    let px0 = wid.x * 256u + lid;
    let px1 = px0 + 64u;
    let px2 = px0 + 128u;
    let px3 = px0 + 192u;
    let ok0 = px0 < p.p;
    let ok1 = px1 < p.p;
    let ok2 = px2 < p.p;
    let ok3 = px3 < p.p;
    let pc0 = min(px0, p.p - 1u);
    let pc1 = min(px1, p.p - 1u);
    let pc2 = min(px2, p.p - 1u);
    let pc3 = min(px3, p.p - 1u);
    let xb = b * p.c * p.p;
    var s0: Row;
    var s1: Row;
    var s2: Row;
    var s3: Row;
    for (var j = 0u; j < WB; j = j + 1u) {
        s0[j] = vec4<f32>(0.0);
        s1[j] = vec4<f32>(0.0);
        s2[j] = vec4<f32>(0.0);
        s3[j] = vec4<f32>(0.0);
    }
    for (var c = 0u; c < p.c; c = c + 1u) {
        let xc = p.x_off + xb + c * p.p;
        let x0 = vec4<f32>(x[xc + pc0]);
        let x1 = vec4<f32>(x[xc + pc1]);
        let x2 = vec4<f32>(x[xc + pc2]);
        let x3 = vec4<f32>(x[xc + pc3]);
        let wc = wb + c * p.t;
        scores8(&s0, &s1, &s2, &s3, 0u, x0, x1, x2, x3, wc, lane);
        if (WB > 2u) { scores8(&s0, &s1, &s2, &s3, 1u, x0, x1, x2, x3, wc, lane); }
        if (WB > 4u) { scores8(&s0, &s1, &s2, &s3, 2u, x0, x1, x2, x3, wc, lane); }
        if (WB > 6u) { scores8(&s0, &s1, &s2, &s3, 3u, x0, x1, x2, x3, wc, lane); }
        if (WB > 8u) { scores8(&s0, &s1, &s2, &s3, 4u, x0, x1, x2, x3, wc, lane); }
        if (WB > 10u) { scores8(&s0, &s1, &s2, &s3, 5u, x0, x1, x2, x3, wc, lane); }
        if (WB > 12u) { scores8(&s0, &s1, &s2, &s3, 6u, x0, x1, x2, x3, wc, lane); }
        if (WB > 14u) { scores8(&s0, &s1, &s2, &s3, 7u, x0, x1, x2, x3, wc, lane); }
    }
//#if BACKWARD
    grad_row(&s0, ok0, (b * p.p + pc0) * p.t);
    grad_row(&s1, ok1, (b * p.p + pc1) * p.t);
    grad_row(&s2, ok2, (b * p.p + pc2) * p.t);
    grad_row(&s3, ok3, (b * p.p + pc3) * p.t);
//#else
    softmax_row(&s0, b, ok0, (b * p.p + pc0) * p.t);
    softmax_row(&s1, b, ok1, (b * p.p + pc1) * p.t);
    softmax_row(&s2, b, ok2, (b * p.p + pc2) * p.t);
    softmax_row(&s3, b, ok3, (b * p.p + pc3) * p.t);
//#endif
    for (var c = 0u; c < p.c; c = c + 1u) {
        var acc = array<vec4<f32>, 4>(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
        let wc = wb + c * p.t;
        context8(&s0, &s1, &s2, &s3, 0u, &acc, wc, lane);
        if (WB > 2u) { context8(&s0, &s1, &s2, &s3, 1u, &acc, wc, lane); }
        if (WB > 4u) { context8(&s0, &s1, &s2, &s3, 2u, &acc, wc, lane); }
        if (WB > 6u) { context8(&s0, &s1, &s2, &s3, 3u, &acc, wc, lane); }
        if (WB > 8u) { context8(&s0, &s1, &s2, &s3, 4u, &acc, wc, lane); }
        if (WB > 10u) { context8(&s0, &s1, &s2, &s3, 5u, &acc, wc, lane); }
        if (WB > 12u) { context8(&s0, &s1, &s2, &s3, 6u, &acc, wc, lane); }
        if (WB > 14u) { context8(&s0, &s1, &s2, &s3, 7u, &acc, wc, lane); }
        let yc = p.y_off + xb + c * p.p;
        if (ok0) {
            y[yc + pc0] = acc[0].x + acc[0].y + acc[0].z + acc[0].w;
        }
        if (ok1) {
            y[yc + pc1] = acc[1].x + acc[1].y + acc[1].z + acc[1].w;
        }
        if (ok2) {
            y[yc + pc2] = acc[2].x + acc[2].y + acc[2].z + acc[2].w;
        }
        if (ok3) {
            y[yc + pc3] = acc[3].x + acc[3].y + acc[3].z + acc[3].w;
        }
    }
}
