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
// One invocation per four consecutive pixels (each word loaded serves all
// four; with VEC4 each channel's four values are one vec4 load and one vec4
// store), one workgroup row (y) per batch item, so the words are the same
// for every lane of a subgroup (8 lanes or more): for each channel, lane l
// loads word 8 k + l and subgroupBroadcast hands the 8 words to every lane.
// On llvmpipe a load of one address for all lanes is a gather of 8 (forward
// 19.9 ms that way), and so is a read of words staged in workgroup memory
// (10.3 ms); the broadcast is an extract and a splat.
// T is a constant of the pipeline (one per caption length), and each pixel's
// scores are T scalars whose every index is a constant: scores8 and context8
// are called with constant k under constant conditions, since a loop over k
// kept them in memory (6.4 against 5.2 ms), as does attention.wgsl's private
// array indexed under a runtime bound. No FMA is spent on a slot past T.
// No early return: the lanes past P compute on the last pixels and skip
// their stores, so that control flow stays uniform (subgroupBroadcast needs
// it).
// Limits (the host checks, fused() in src/ops/attention.rs): T <= 64, and
// each invocation loops about 2 C times plus a few loops over T, under
// llvmpipe's cap of 65,535 loop iterations per invocation.
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
//   v3 (2026-12-06): T a constant of the pipeline and the scores scalars
//       (v2 kept WB = 2 ceil(T / 8) vec4s: 24 slots for 18 words, 48 for the
//       world's 42, the padding multiplied like words; 25% and 12.5% of its
//       FMAs). Against v2 (binary of 419b3e5), alternating three times on
//       the Zen 4 above, a slower hour (copy ceiling 11.5-12.3 GB/s against
//       12.8-13.4, FMA 40.6-40.8 GFLOP/s), medians of 15: forward 4.82, 4.93,
//       4.75 -> 4.70, 4.71, 4.89 ms (even: 38-39% of the FMA ceiling),
//       backward 9.99, 11.97, 10.06 -> 9.00, 8.75, 9.36 ms (40-42%). The
//       forward did not gain: its time is not mostly FMAs (v4's probes found
//       the per-channel gathers and scatters). The world preset's shape (q [8,16,4096],
//       42 words, a bench line since), two alternations on a noisy hour:
//       forward 11.45, 10.96 -> 6.93, 7.44 ms, backward 19.34, 18.32 ->
//       15.84, 16.00 ms.
//   v4 (2026-12-06): the four pixels consecutive, so that with VEC4 each
//       channel's q (or dctx) is one vec4 load and ctx (or dq) one vec4
//       store per invocation, where v3's four scalar accesses at computed
//       addresses were gathers and scatters. Probes with fewer words showed
//       that fixed cost: forward at 4 and 8 words took 2.85-3.17 and
//       3.13-3.29 ms with v3, 1.75-2.15 and 2.16-2.46 ms with v4. Against
//       v3, alternating twice (a noisy hour: ranges within one run up to
//       2x): forward 5.41, 5.70 -> 4.74, 4.90 ms (40-42% of the FMA
//       ceiling), world preset forward 7.83, 7.41 -> 6.74, 6.69 ms;
//       backward even (14.53, 12.84 -> 12.27, 12.82 ms; world 16.00, 16.52
//       -> 15.32, 16.62). Later, in a quieter stretch (ceilings 40.2-40.7
//       GFLOP/s), against v2: forward 3.48-3.58 ms (52-54% of the FMA
//       ceiling) against 4.29-6.45, backward 8.87-11.36 against 9.28-12.74
//       (README). Re-checked on v4, whose control flow is uniform
//       (no early return): loading each word at its one address in every
//       lane, instead of a lane's load and broadcasts, is still a gather of
//       8 per word: forward 9.17-9.37 ms against v4's 4.10-5.20.
//   Split of the backward (2026-12-07, 2-core Intel Xeon, Mesa 25.0.7,
//       --filter "word attention" --reps 15, three runs, probes skipping
//       the words' gradient; docs/word-attention-2026-12-07/): 18 words,
//       whole 8.82-11.93 ms, this kernel alone 3.45-3.68 (about 21% of
//       bench.wgsl v2's FMA ceiling), the two matmuls the rest; 42 words
//       (world preset), 9.87-10.44 and 6.34-6.47.
//   Probes of this kernel's bound (2026-12-08, 2-core Intel Xeon, Mesa
//       25.0.7, FMA ceiling 106 GFLOP/s; --filter "word attention" --reps 15,
//       two runs each, the words' gradient skipped so that the backward line
//       is this kernel; docs/word-attention-2026-12-08/ has the diff and the
//       output). Medians in ms, 18 words forward / backward, then 42:
//         as is                              3.53 3.20 / 3.89 3.47;  4.46 4.60 / 6.63 7.10
//         q from registers, not loaded       5.09 2.69 / 3.57 3.35;  5.39 4.40 / 6.61 6.59
//         words computed, no gather          3.15 2.52 / 3.79 3.18;  3.58 3.37 / 6.17 5.70
//         no broadcasts                      3.25 3.45 / 3.62 3.39;  4.77 4.66 / 6.42 6.71
//         no y stores                        3.31 3.07 / 3.20 3.44;  4.43 4.46 / 6.42 6.19
//         none of q, words' gathers, y       1.89 1.84 / 2.72 2.54;  3.08 2.96 / 5.47 5.10
//       The words' gathers are the one operand that counts alone (the 42-word
//       forward 22-27% faster without them). With all three gone the forward
//       reaches 37-40% of the ceiling at 18 words and 27-29% at 42, so the
//       rest of the time is not operand traffic: the softmax, the attn
//       stores and the score rows (4 T values a lane, past the 32 vector
//       registers, more so at 42 words), not separated by these probes.

struct Params {
    b: u32,
    c: u32,
    p: u32,
    // T again (the kernel reads the constant)
    t: u32,
    // forward: q, w, ctx, attn, mask; backward: dctx, w, dq, attn, dattn, ds
    x_off: u32,
    w_off: u32,
    y_off: u32,
    a_off: u32,
    m_off: u32,
    ds_off: u32,
}

//#include vec4

// The words per caption, a constant: every test against it folds away.
const T: u32 = {{T}}u;
// A pixel's scores (or g): T rounded up to the 8 words of a broadcast; the
// slots past T are never read or written.
const TP: u32 = 8u * ((T + 7u) / 8u);

@group(0) @binding(0) var<uniform> p: Params;
// q (forward) or dctx (backward), [B, C, P]
@group(0) @binding(1) var<storage, read> x: array<V>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
// ctx (forward) or dq (backward), [B, C, P]
@group(0) @binding(3) var<storage, read_write> y: array<V>;
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

// Pixels px .. px + 3 of the channel row starting at element `row` of x
// (past P: the last pixels again). With VEC4 (P and the offsets multiples
// of 4) one vec4 load, else four loads, which llvmpipe makes gathers.
fn load_x(row: u32, px: u32) -> vec4<f32> {
//#if VEC4
    return x[(row + min(px, p.p - 4u)) / 4u];
//#else
    let last = p.p - 1u;
    return vec4<f32>(x[row + min(px, last)], x[row + min(px + 1u, last)], x[row + min(px + 2u, last)], x[row + min(px + 3u, last)]);
//#endif
}

// y at pixels px .. px + 3 of the row starting at element `row`, those < P.
fn store_y(row: u32, px: u32, v: vec4<f32>) {
//#if VEC4
    if (px < p.p) {
        y[(row + px) / 4u] = v;
    }
//#else
    if (px < p.p) {
        y[row + px] = v.x;
    }
    if (px + 1u < p.p) {
        y[row + px + 1u] = v.y;
    }
    if (px + 2u < p.p) {
        y[row + px + 2u] = v.z;
    }
    if (px + 3u < p.p) {
        y[row + px + 3u] = v.w;
    }
//#endif
}

// Words 8 k .. 8 k + 7 of one channel of w[b] (zeros past T), in every
// lane: each lane loads one word, subgroupBroadcast hands them out.
fn words8(wc: u32, k: u32, lane: u32) -> array<f32, 8> {
    let t = 8u * k + (lane & 7u);
    let v = select(0.0, w[wc + min(t, T - 1u)], t < T);
    return array<f32, 8>(
        subgroupBroadcast(v, 0u), subgroupBroadcast(v, 1u), subgroupBroadcast(v, 2u), subgroupBroadcast(v, 3u),
        subgroupBroadcast(v, 4u), subgroupBroadcast(v, 5u), subgroupBroadcast(v, 6u), subgroupBroadcast(v, 7u),
    );
}

alias Row = array<f32, TP>;

// s[8 k + e] += x wm[e] for the words 8 k + e < T. k is a constant once
// inlined, so every index is a constant and the row stays in registers (a
// loop over k kept it in memory: forward 6.4 against 5.2 ms in v1).
fn fma8(s: ptr<function, Row>, k: u32, x: f32, wm: array<f32, 8>) {
    let i = 8u * k;
    if (i < T) { (*s)[i] = fma(x, wm[0], (*s)[i]); }
    if (i + 1u < T) { (*s)[i + 1u] = fma(x, wm[1], (*s)[i + 1u]); }
    if (i + 2u < T) { (*s)[i + 2u] = fma(x, wm[2], (*s)[i + 2u]); }
    if (i + 3u < T) { (*s)[i + 3u] = fma(x, wm[3], (*s)[i + 3u]); }
    if (i + 4u < T) { (*s)[i + 4u] = fma(x, wm[4], (*s)[i + 4u]); }
    if (i + 5u < T) { (*s)[i + 5u] = fma(x, wm[5], (*s)[i + 5u]); }
    if (i + 6u < T) { (*s)[i + 6u] = fma(x, wm[6], (*s)[i + 6u]); }
    if (i + 7u < T) { (*s)[i + 7u] = fma(x, wm[7], (*s)[i + 7u]); }
}

fn hsum4(v: vec4<f32>) -> f32 {
    return v.x + v.y + v.z + v.w;
}

// acc[e % 4] += s[8 k + e] wm[e] for the words 8 k + e < T: four chains per
// pixel, so that the FMAs overlap.
fn dot8(s: ptr<function, Row>, k: u32, wm: array<f32, 8>, acc: vec4<f32>) -> vec4<f32> {
    let i = 8u * k;
    var a = acc;
    if (i < T) { a.x = fma((*s)[i], wm[0], a.x); }
    if (i + 1u < T) { a.y = fma((*s)[i + 1u], wm[1], a.y); }
    if (i + 2u < T) { a.z = fma((*s)[i + 2u], wm[2], a.z); }
    if (i + 3u < T) { a.w = fma((*s)[i + 3u], wm[3], a.w); }
    if (i + 4u < T) { a.x = fma((*s)[i + 4u], wm[4], a.x); }
    if (i + 5u < T) { a.y = fma((*s)[i + 5u], wm[5], a.y); }
    if (i + 6u < T) { a.z = fma((*s)[i + 6u], wm[6], a.z); }
    if (i + 7u < T) { a.w = fma((*s)[i + 7u], wm[7], a.w); }
    return a;
}

// Words 8 k .. 8 k + 7 of channel c (at wc) into the scores (or g) of the
// four pixels, whose values of channel c are x0 .. x3.
fn scores8(s0: ptr<function, Row>, s1: ptr<function, Row>, s2: ptr<function, Row>, s3: ptr<function, Row>, k: u32, x0: f32, x1: f32, x2: f32, x3: f32, wc: u32, lane: u32) {
    let wm = words8(wc, k, lane);
    fma8(s0, k, x0, wm);
    fma8(s1, k, x1, wm);
    fma8(s2, k, x2, wm);
    fma8(s3, k, x3, wm);
}

// The same words' share of channel c of the four pixels' context (or dq).
fn context8(s0: ptr<function, Row>, s1: ptr<function, Row>, s2: ptr<function, Row>, s3: ptr<function, Row>, k: u32, acc: ptr<function, array<vec4<f32>, 4>>, wc: u32, lane: u32) {
    let wm = words8(wc, k, lane);
    (*acc)[0] = dot8(s0, k, wm, (*acc)[0]);
    (*acc)[1] = dot8(s1, k, wm, (*acc)[1]);
    (*acc)[2] = dot8(s2, k, wm, (*acc)[2]);
    (*acc)[3] = dot8(s3, k, wm, (*acc)[3]);
}

//#if BACKWARD
// g (the attention's gradient of one pixel, its row of attn at ab) becomes
// ds = attn (g - sum(attn g)), stored where ok.
fn grad_row(g: ptr<function, Row>, ok: bool, ab: u32) {
    var a = Row();
    var dot = 0.0;
    for (var j = 0u; j < TP / 8u; j = j + 1u) {
        for (var e = 0u; e < 8u; e = e + 1u) {
            let t = 8u * j + e;
            if (t < T) {
                a[t] = attn[p.a_off + ab + t];
//#if DATTN
                (*g)[t] = (*g)[t] + dattn[p.m_off + ab + t];
//#endif
                dot = fma(a[t], (*g)[t], dot);
            }
        }
    }
    for (var j = 0u; j < TP / 8u; j = j + 1u) {
        for (var e = 0u; e < 8u; e = e + 1u) {
            let t = 8u * j + e;
            if (t < T) {
                (*g)[t] = a[t] * ((*g)[t] - dot);
                if (ok) {
                    ds[p.ds_off + ab + t] = (*g)[t];
                }
            }
        }
    }
}
//#else
// Word t < T of batch item b takes part in the softmax (not masked).
fn real(b: u32, t: u32) -> bool {
//#if MASK
    return mask[p.m_off + b * T + t] < 0.5;
//#else
    return true;
//#endif
}

// The scores of one pixel (its row of attn at ab) become the attention: the
// softmax over real words, all zeros if there are none, stored where ok.
fn softmax_row(s: ptr<function, Row>, b: u32, ok: bool, ab: u32) {
    var mx = -3.4e38;
    for (var j = 0u; j < TP / 8u; j = j + 1u) {
        for (var e = 0u; e < 8u; e = e + 1u) {
            let t = 8u * j + e;
            if (t < T) {
                mx = max(mx, select(-3.4e38, (*s)[t], real(b, t)));
            }
        }
    }
    var sum = 0.0;
    for (var j = 0u; j < TP / 8u; j = j + 1u) {
        for (var e = 0u; e < 8u; e = e + 1u) {
            let t = 8u * j + e;
            if (t < T) {
                (*s)[t] = select(0.0, exp((*s)[t] - mx), real(b, t));
                sum = sum + (*s)[t];
            }
        }
    }
    let inv = select(0.0, 1.0 / sum, sum > 0.0);
    for (var j = 0u; j < TP / 8u; j = j + 1u) {
        for (var e = 0u; e < 8u; e = e + 1u) {
            let t = 8u * j + e;
            if (t < T) {
                (*s)[t] = (*s)[t] * inv;
                if (ok) {
                    attn[p.a_off + ab + t] = (*s)[t];
                }
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
    let wb = p.w_off + b * p.c * T;
    // Four consecutive pixels: one vec4 of each channel row with VEC4.
    let px = (wid.x * 64u + lid) * 4u;
    let ok0 = px < p.p;
    let ok1 = px + 1u < p.p;
    let ok2 = px + 2u < p.p;
    let ok3 = px + 3u < p.p;
    let pc0 = min(px, p.p - 1u);
    let pc1 = min(px + 1u, p.p - 1u);
    let pc2 = min(px + 2u, p.p - 1u);
    let pc3 = min(px + 3u, p.p - 1u);
    let xb = b * p.c * p.p;
    var s0 = Row();
    var s1 = Row();
    var s2 = Row();
    var s3 = Row();
    for (var c = 0u; c < p.c; c = c + 1u) {
        let xv = load_x(p.x_off + xb + c * p.p, px);
        let x0 = xv.x;
        let x1 = xv.y;
        let x2 = xv.z;
        let x3 = xv.w;
        let wc = wb + c * T;
        scores8(&s0, &s1, &s2, &s3, 0u, x0, x1, x2, x3, wc, lane);
        if (TP > 8u) { scores8(&s0, &s1, &s2, &s3, 1u, x0, x1, x2, x3, wc, lane); }
        if (TP > 16u) { scores8(&s0, &s1, &s2, &s3, 2u, x0, x1, x2, x3, wc, lane); }
        if (TP > 24u) { scores8(&s0, &s1, &s2, &s3, 3u, x0, x1, x2, x3, wc, lane); }
        if (TP > 32u) { scores8(&s0, &s1, &s2, &s3, 4u, x0, x1, x2, x3, wc, lane); }
        if (TP > 40u) { scores8(&s0, &s1, &s2, &s3, 5u, x0, x1, x2, x3, wc, lane); }
        if (TP > 48u) { scores8(&s0, &s1, &s2, &s3, 6u, x0, x1, x2, x3, wc, lane); }
        if (TP > 56u) { scores8(&s0, &s1, &s2, &s3, 7u, x0, x1, x2, x3, wc, lane); }
    }
//#if BACKWARD
    grad_row(&s0, ok0, (b * p.p + pc0) * T);
    grad_row(&s1, ok1, (b * p.p + pc1) * T);
    grad_row(&s2, ok2, (b * p.p + pc2) * T);
    grad_row(&s3, ok3, (b * p.p + pc3) * T);
//#else
    softmax_row(&s0, b, ok0, (b * p.p + pc0) * T);
    softmax_row(&s1, b, ok1, (b * p.p + pc1) * T);
    softmax_row(&s2, b, ok2, (b * p.p + pc2) * T);
    softmax_row(&s3, b, ok3, (b * p.p + pc3) * T);
//#endif
    for (var c = 0u; c < p.c; c = c + 1u) {
        var acc = array<vec4<f32>, 4>(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
        let wc = wb + c * T;
        context8(&s0, &s1, &s2, &s3, 0u, &acc, wc, lane);
        if (TP > 8u) { context8(&s0, &s1, &s2, &s3, 1u, &acc, wc, lane); }
        if (TP > 16u) { context8(&s0, &s1, &s2, &s3, 2u, &acc, wc, lane); }
        if (TP > 24u) { context8(&s0, &s1, &s2, &s3, 3u, &acc, wc, lane); }
        if (TP > 32u) { context8(&s0, &s1, &s2, &s3, 4u, &acc, wc, lane); }
        if (TP > 40u) { context8(&s0, &s1, &s2, &s3, 5u, &acc, wc, lane); }
        if (TP > 48u) { context8(&s0, &s1, &s2, &s3, 6u, &acc, wc, lane); }
        if (TP > 56u) { context8(&s0, &s1, &s2, &s3, 7u, &acc, wc, lane); }
        let sums = vec4<f32>(hsum4(acc[0]), hsum4(acc[1]), hsum4(acc[2]), hsum4(acc[3]));
        store_y(p.y_off + xb + c * p.p, px, sums);
    }
}
