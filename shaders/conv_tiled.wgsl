// Convolutions as implicit GEMMs for real GPUs (the "tiled" flavour): the
// GEMM is the shared core in gemm_tile.wgsl, and this file says how its
// operands are gathered from the NCHW tensors on the fly (no im2col buffer).
// In conv2d's terms, x [N, C, H, W] -> y [N, O, OH, OW], weight [O, C, KH, KW],
// stride S, padding P (zeros), taps t = (kh, kw), KK = KH * KW:
//   FWD        (conv forward; conv_transpose backward to the input):
//              y[o, (n, oh, ow)] = sum_{(c, t)} w[o, (c, t)] * x[n, c, oh*S - P + kh, ow*S - P + kw]
//              M = O, N = batch * OH * OW, K = C * KK; + bias[o].
//   BWD_DATA   (conv backward to the input; conv_transpose forward):
//              dx[c, (n, ih, iw)] = sum_{(o, t)} w[o, c, t] * dy[n, o, (ih + P - kh) / S, (iw + P - kw) / S]
//              over the taps where those divide exactly and land inside dy;
//              M = C, N = batch * H * W, K = O * KK; + bias[c] (the transpose's).
//              With S > 1 most (o, t) pairs of a column are zeros that are
//              multiplied all the same (S*S times the useful work).
//   BWD_WEIGHT (both weight gradients): dw[o, (c, t)] = sum_{(n, oh, ow)} dy[n, o, oh, ow] * x[n, c, oh*S - P + kh, ow*S - P + kw]
//              M = O, N = C * KK, K = batch * OH * OW.
// K may be split over workgroups ("splits", each k_len long): split s writes
// its partial sums to out + s * M * N and the host adds the splits up
// (src/ops/conv.rs); the bias goes into split 0 only. With WT_T (the
// subgroups core, backward-data without stride classes) the host passes the
// weights swapped to [C, O, KH, KW], so that A's rows are contiguous. Bindings: src is x
// (FWD, BWD_WEIGHT) or dy (BWD_DATA); wt is the weight (FWD, BWD_DATA) or
// dy (BWD_WEIGHT). KH, KW and S are constants, so tap decoding is cheap.
//
// Versions (H200, Vulkan, fp32, batch 20; PyTorch/cuDNN with TF32 off in brackets):
//   v1 (conv2d.wgsl, conv2d_backward_data.wgsl, conv2d_backward_weight.wgsl,
//       still the registers flavour): 64 invocations, each 8 channels x 8
//       pixels in registers, no workgroup memory.
//       forward [20,512,8,8] 3x3 -> 512: 14.0 ms [0.28]; [20,64,128,128] 3x3 -> 64:
//       27.1 ms [0.60]; [20,128,16,16] 4x4/2 -> 256: 6.9 ms [0.09];
//       backward-data [20,512,8,8]: 13.1 ms [0.18]; backward-weight
//       [20,64,64,64] -> 128: 24.2 ms [0.22], [20,64,128,128] -> 64: 46.9 ms [0.93];
//       conv_transpose2d fwd / bwd [20,128,16,16] 4x4/2: 1.6-3.4 ms [0.07].
//   v2 (this file): implicit GEMM on the gemm_tile core, split K when the
//       tiles alone cannot fill the GPU (264 workgroups).
//       2a (128x128 tiles whenever 264 of them, accumulators indexed by loop
//       variables, backward-data multiplying the S*S-fold zero taps, two
//       divisions per element in backward-weight): forward [20,512,8,8] 0.47 ms,
//       [20,64,64,64] -> 128 5.46 ms (128x128 tiles, accumulators spilled),
//       [20,64,128,128] 1.43; backward-data [20,3,64,64] 4x4/2 0.67 (slower
//       than v1's 0.52), [20,128,16,16] 4x4/2 0.44; backward-weight
//       [20,64,64,64] 1.41, [20,64,128,128] 2.80; conv_transpose2d forward 0.42.
//       2b (constant accumulator indices; one GEMM per stride class in
//       backward-data; backward-weight steps through K; 128x128 tiles
//       whenever M > 64 and N > 64, K split to fill the GPU). Both tiles
//       were measured for every case; 128 won for each M >= 128, 64 for each
//       M = 64. With the chosen tile, ms [PyTorch]:
//         forward  [20,512,8,8] -> 512  0.38 [0.28]   [20,64,64,64] -> 128  0.54 [0.36]
//                  [20,64,128,128] -> 64  1.46 [0.60]  [20,3,64,64] 4x4/2 -> 64  0.02 [0.013]
//                  [20,128,16,16] 4x4/2 -> 256  0.12 [0.09]
//         backward-data  [20,512,8,8]  0.41 [0.18]   [20,64,64,64]  0.81 [0.42]
//                  [20,64,128,128]  1.55 [0.70]   [20,3,64,64] 4x4/2  0.19 [0.023] (M = 3)
//                  [20,128,16,16] 4x4/2  0.14 [0.057]
//         backward-weight  [20,512,8,8]  0.41 [0.074]   [20,64,64,64] -> 128  0.76 [0.22]
//                  [20,64,128,128]  2.26 [0.93]   [20,3,64,64] 4x4/2  0.06 [0.028]
//                  [20,128,16,16] 4x4/2 -> 256  0.12 [0.056]
//         conv_transpose2d [20,128,16,16] 4x4/2: forward 0.13 [0.077],
//                  backward-data 0.12 [0.068], backward-weight 0.12 [0.073]
//       A whole AttnGAN birds step (batch 20): 4179 ms with v1, 234 ms with
//       2b under 2a's tile rule (128x128 only where 264 such tiles), 216 ms
//       with the rule above [PyTorch 113 ms]. (A fresh H200 starts at 345 MHz:
//       a bench's first pass there timed some of these cases at 2x; the
//       figures above are from warm passes, the same on three machines.)
//   Commits: v2 1aa2c6a (2a); afa12c5 (constant indices, stride classes),
//       26d602b (backward-weight walks 4 pixels of K per decoded index) and
//       f58b16f (tile rule) for 2b; all 2026-11-27. H200 at 23b0c04
//       (2026-11-28): the GEMM lines as in 8198dc5's run to the 0.01 ms but
//       [20,3,64,64] 4x4/2 backward-weight, 0.13 ms (was 0.06) (README).
//   v3 (c8625e9, 2026-11-28): SUBGROUP, the same gathers on gemm_subgroup.wgsl
//       (the subgroups flavour of lavapipe). Commits, lavapipe Mesa 25.0.7,
//       2-core EPYC (gemm_subgroup.wgsl), GFLOP/s: 0677795 two columns per
//       lane, 5.3-6.9 against 4.0-5.6; 5fcef57 A4 (vec4 weights), forward
//       6.5 -> 8.5; 1fc7993 vec4 dy, backward-weight 5.4 -> 6.8,
//       conv_transpose2d 5.0 -> 7.0; 2153475 WT_T (weights swapped to
//       [C, O, KH, KW], no stride classes), backward-data 6.5 -> 8.7; 21c7c85
//       one load_a4 for both. Against the registers flavour at 21c7c85
//       (README), [8,64,32,32] 3x3: forward 3.19 -> 8.51, backward-data
//       3.34 -> 8.58, backward-weight 3.85 -> 5.95.
//   v4 (2026-12-05, the commit after bd5686c): SUBGROUP without integer
//       division or branches where llvmpipe scalarizes them: the weight
//       gradient decodes its K (pixels) by an f32 quotient with one
//       correction each way (F32_QUOT, K <= 2^20: quot below), every
//       bounds check of the loads is a select of a clamped address.
//       bd5686c and this, alternating twice, 2-core Zen 4 EPYC, lavapipe
//       Mesa 25.0.7, [8,64,32,32] 3x3 GFLOP/s: backward-weight 13.8, 14.5 ->
//       25.4, 22.6; forward 26.3, 25.9 -> 31.6, 31.4; backward-data 23.9,
//       25.2 -> 28.0, 25.3; conv_transpose2d 4x4/2 backward-weight 16.0,
//       15.0 -> 26.6, 26.8, backward-data 27.1, 29.8 -> 33.0, 30.3
//       (docs/bench-lavapipe-mesa25-zen4-*.json). The same machine runs the
//       v3 kernels 3-4x faster than the EPYC above: its gathers are cheap.
//   Tried 2026-12-07 (2-core Intel Xeon, Mesa 25.0.7): the forward's tap
//       offset taken from a per-column base (two multiplies and an add less
//       per load): [8,64,32,32] 3x3 forward 22.27, 22.66 ms against 29.36
//       (disturbed), 23.02; even, not kept. The operand loads themselves
//       bound it (gemm_subgroup.wgsl: without them 7.9 ms).

struct Params {
    N: u32,
    C: u32,
    H: u32,
    W: u32,
    O: u32,
    OH: u32,
    OW: u32,
    P: u32,
    src_off: u32,
    w_off: u32,
    b_off: u32,
    out_off: u32,
    M: u32,  // GEMM rows
    GN: u32, // GEMM columns
    K: u32,
    tiles_m: u32,
    tiles_n: u32,
    k_len: u32, // K per split, a multiple of BK
    splits: u32,
    split_stride: u32, // elements of the output (one split's partial sums)
}

const KH: u32 = {{KH}}u;
const KW: u32 = {{KW}}u;
const KK: u32 = {{KH}}u * {{KW}}u;
const S: u32 = {{S}}u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
//#if A4
@group(0) @binding(2) var<storage, read> wt: array<vec4<f32>>;
//#else
@group(0) @binding(2) var<storage, read> wt: array<f32>;
//#endif
//#if HAS_BIAS
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
//#else
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
//#endif

// One value of wt (bound as vec4s when A4).
fn wt_at(i: u32) -> f32 {
//#if A4
    return wt[i / 4u][i % 4u];
//#else
    return wt[i];
//#endif
}

//#if A4
//#if BWD_WEIGHT
//#else
// Row m of A, k .. k + 3, as one vec4, where A is wt as rows contiguous along
// K: the forward's weights, backward-data's swapped weights (WT_T); K and
// w_off multiples of 4. (The weight gradient's A is dy: its own, below.)
fn load_a4(m: u32, k: u32) -> vec4<f32> {
    let ok = m < p.M;
    let v = wt[select(0u, (p.w_off + m * p.K + k) / 4u, ok)];
    return select(vec4<f32>(0.0), v, ok);
}
//#endif
//#endif

var<private> split: u32;
var<private> gn: u32; // GEMM columns of this workgroup's problem (p.GN, or its class's)
// This invocation's column of B (prep_b) and the column being stored (prep_c).
// Two slots (sl, a constant once inlined): the subgroup core keeps two columns per invocation.
var<private> b_ok: array<bool, 2>;
var<private> b_base: array<u32, 2>;
var<private> b_h: array<i32, 2>;
var<private> b_w: array<i32, 2>;
var<private> c_base: u32;

//#if FWD
fn load_a(m: u32, k: u32) -> f32 {
    let ok = m < p.M;
    return select(0.0, wt_at(select(0u, p.w_off + m * p.K + k, ok)), ok);
}

// Column j = (n, oh, ow) of the im2col matrix.
fn prep_b(j: u32, sl: u32) {
    b_ok[sl] = j < gn;
    let ohw = p.OH * p.OW;
    let n = j / ohw;
    let q = j % ohw;
    b_base[sl] = p.src_off + n * p.C * p.H * p.W;
    b_h[sl] = i32((q / p.OW) * S) - i32(p.P);
    b_w[sl] = i32((q % p.OW) * S) - i32(p.P);
}

fn load_b(k: u32, j: u32, sl: u32) -> f32 {
    let c = k / KK;
    let t = k % KK;
    let ih = b_h[sl] + i32(t / KW);
    let iw = b_w[sl] + i32(t % KW);
    // No branches (see x_at below); negative coordinates wrap and fail too.
    let ok = b_ok[sl] & (u32(ih) < p.H) & (u32(iw) < p.W);
    let v = src[select(0u, b_base[sl] + (c * p.H + u32(ih)) * p.W + u32(iw), ok)];
    return select(0.0, v, ok);
}

fn prep_c(j: u32) {
    let ohw = p.OH * p.OW;
    c_base = p.out_off + split * p.split_stride + (j / ohw) * p.O * ohw + j % ohw;
}

fn store_c(m: u32, j: u32, v: f32) {
    if (m < p.M && j < gn) {
        var value = v;
//#if HAS_BIAS
        if (split == 0u) {
            value += bias[p.b_off + m];
        }
//#endif
        out[c_base + m * p.OH * p.OW] = value;
    }
}
//#endif

//#if BWD_DATA
//#if CLASSES
// Stride S > 1 with S dividing KH and KW: the pixels of dx fall into S*S
// classes (ih % S, iw % S) = (rh, rw), and a class's pixels meet only the
// taps kh = kh0 + S*a, kw = kw0 + S*b (kh0 = (rh + P) % S), KH/S x KW/S of
// them. Each class is its own GEMM (K = O * KKC, columns = its pixels), so
// no zero is multiplied; the class is part of the workgroup index.
const KHC: u32 = {{KH}}u / S;
const KWC: u32 = {{KW}}u / S;
const KKC: u32 = KHC * KWC;
var<private> cls_rh: u32;
var<private> cls_rw: u32;
var<private> cls_hc: u32; // rows of dx in the class
var<private> cls_wc: u32;
var<private> cls_kh0: u32;
var<private> cls_kw0: u32;

fn set_class(cls: u32) {
    cls_rh = cls / S;
    cls_rw = cls % S;
    cls_hc = (p.H + S - 1u - cls_rh) / S;
    cls_wc = (p.W + S - 1u - cls_rw) / S;
    cls_kh0 = (cls_rh + p.P) % S;
    cls_kw0 = (cls_rw + p.P) % S;
    gn = p.N * cls_hc * cls_wc;
}

fn load_a(m: u32, k: u32) -> f32 {
    if (m >= p.M) {
        return 0.0;
    }
    let t = k % KKC;
    let kh = cls_kh0 + (t / KWC) * S;
    let kw = cls_kw0 + (t % KWC) * S;
    return wt_at(p.w_off + ((k / KKC) * p.C + m) * KK + kh * KW + kw);
}

// Column j = (n, ih', iw') of the class: ih = rh + S * ih'.
fn prep_b(j: u32, sl: u32) {
    b_ok[sl] = j < gn;
    let hw = cls_hc * cls_wc;
    let n = j / hw;
    let q = j % hw;
    b_base[sl] = p.src_off + n * p.O * p.OH * p.OW;
    // ih + P - kh0: a multiple of S, from which each tap takes S * a.
    b_h[sl] = i32(cls_rh + S * (q / cls_wc) + p.P - cls_kh0);
    b_w[sl] = i32(cls_rw + S * (q % cls_wc) + p.P - cls_kw0);
}

fn load_b(k: u32, j: u32, sl: u32) -> f32 {
    let o = k / KKC;
    let t = k % KKC;
    let th = b_h[sl] - i32((t / KWC) * S);
    let tw = b_w[sl] - i32((t % KWC) * S);
    let oh = u32(th) / S;
    let ow = u32(tw) / S;
    let ok = b_ok[sl] & (th >= 0) & (tw >= 0) & (oh < p.OH) & (ow < p.OW);
    let v = src[select(0u, b_base[sl] + (o * p.OH + oh) * p.OW + ow, ok)];
    return select(0.0, v, ok);
}

fn prep_c(j: u32) {
    let hw = cls_hc * cls_wc;
    let q = j % hw;
    let ih = cls_rh + S * (q / cls_wc);
    let iw = cls_rw + S * (q % cls_wc);
    c_base = p.out_off + split * p.split_stride + (j / hw) * p.C * p.H * p.W + ih * p.W + iw;
}
//#else
fn load_a(m: u32, k: u32) -> f32 {
    if (m >= p.M) {
        return 0.0;
    }
//#if WT_T
    // The host swapped the weights to [C, O, KH * KW]: row m is contiguous along K.
    return wt_at(p.w_off + m * p.K + k);
//#else
    return wt_at(p.w_off + ((k / KK) * p.C + m) * KK + k % KK);
//#endif
}

// Column j = (n, ih, iw) of dx.
fn prep_b(j: u32, sl: u32) {
    b_ok[sl] = j < gn;
    let hw = p.H * p.W;
    let n = j / hw;
    let q = j % hw;
    b_base[sl] = p.src_off + n * p.O * p.OH * p.OW;
    b_h[sl] = i32(q / p.W + p.P);
    b_w[sl] = i32(q % p.W + p.P);
}

fn load_b(k: u32, j: u32, sl: u32) -> f32 {
    let o = k / KK;
    let t = k % KK;
    let th = b_h[sl] - i32(t / KW);
    let tw = b_w[sl] - i32(t % KW);
    let oh = u32(th) / S;
    let ow = u32(tw) / S;
    let ok = b_ok[sl] & (th >= 0) & (tw >= 0) & (u32(th) % S == 0u) & (u32(tw) % S == 0u)
        & (oh < p.OH) & (ow < p.OW);
    let v = src[select(0u, b_base[sl] + (o * p.OH + oh) * p.OW + ow, ok)];
    return select(0.0, v, ok);
}

fn prep_c(j: u32) {
    let hw = p.H * p.W;
    c_base = p.out_off + split * p.split_stride + (j / hw) * p.C * hw + j % hw;
}

//#endif

fn store_c(m: u32, j: u32, v: f32) {
    if (m < p.M && j < gn) {
        var value = v;
//#if HAS_BIAS
        if (split == 0u) {
            value += bias[p.b_off + m];
        }
//#endif
        out[c_base + m * p.H * p.W] = value;
    }
}
//#endif

//#if BWD_WEIGHT
// k / d for the K loop's pixel decoding. With F32_QUOT (the subgroups
// flavour, K <= 2^20; ops/conv.rs) without an integer division (common.wgsl,
// quot_f32): llvmpipe's scalar division per lane bounded the weight
// gradients.
fn quot(k: u32, d: u32) -> u32 {
//#if F32_QUOT
    return quot_f32(k, d);
//#else
    return k / d;
//#endif
}
// The K axis is the batch's pixels (n, oh, ow): each fetch decodes its first
// k once and steps to the next 3 (custom fetches), instead of dividing per
// element.

// A = dy as [O, (n, oh, ow)]: 4 consecutive k of row m.
fn fetch_a(m: u32, k: u32, k_end: u32) -> vec4<f32> {
    var v = vec4<f32>(0.0);
    if (m >= p.M) {
        return v;
    }
    let ohw = p.OH * p.OW;
    let n = quot(k, ohw);
    var q = k - n * ohw;
    var i = p.w_off + (n * p.O + m) * ohw + q;
    let skip = (p.O - 1u) * ohw; // from the end of one image's plane to the next's
    if (k < k_end) {
        v.x = wt_at(i);
    }
    q += 1u;
    i += select(1u, 1u + skip, q == ohw);
    q = select(q, 0u, q == ohw);
    if (k + 1u < k_end) {
        v.y = wt_at(i);
    }
    q += 1u;
    i += select(1u, 1u + skip, q == ohw);
    q = select(q, 0u, q == ohw);
    if (k + 2u < k_end) {
        v.z = wt_at(i);
    }
    q += 1u;
    i += select(1u, 1u + skip, q == ohw);
    if (k + 3u < k_end) {
        v.w = wt_at(i);
    }
    return v;
}

//#if A4
// dy's row m, pixels k .. k + 3 as one vec4: OH * OW and w_off are multiples
// of 4 (and k is), so the 4 pixels are in one image.
fn load_a4(m: u32, k: u32) -> vec4<f32> {
    let ok = m < p.M;
    let ohw = p.OH * p.OW;
    let n = quot(k, ohw);
    let v = wt[select(0u, (p.w_off + (n * p.O + m) * ohw + k - n * ohw) / 4u, ok)];
    return select(vec4<f32>(0.0), v, ok);
}
//#endif

// Column j = (c, kh, kw) of dw.
fn prep_b(j: u32, sl: u32) {
    b_ok[sl] = j < gn;
    let t = j % KK;
    b_base[sl] = p.src_off + (j / KK) * p.H * p.W;
    b_h[sl] = i32(t / KW) - i32(p.P);
    b_w[sl] = i32(t % KW) - i32(p.P);
}

// x[n, c, oh*S - P + kh, ow*S - P + kw] (zero outside, or where not live),
// base = image n's offset (this column's plane is added here, so that the
// pixel walk of fetch_b is the same for both slots and computed once). No branches: llvmpipe runs a branch's both
// sides under a mask, and a select plus a load from a safe index cost less.
fn x_at(base: u32, oh: u32, ow: u32, live: bool, sl: u32) -> f32 {
    let ih = i32(oh * S) + b_h[sl];
    let iw = i32(ow * S) + b_w[sl];
    // Negative coordinates wrap to huge u32s and fail the same tests.
    let ok = live & b_ok[sl] & (u32(ih) < p.H) & (u32(iw) < p.W);
    let v = src[select(0u, b_base[sl] + base + u32(ih) * p.W + u32(iw), ok)];
    return select(0.0, v, ok);
}

// The next pixel (n, oh, ow) of the batch; base follows n (no branches).
fn next_pixel(base: ptr<function, u32>, oh: ptr<function, u32>, ow: ptr<function, u32>) {
    *ow += 1u;
    let row = *ow == p.OW;
    *ow = select(*ow, 0u, row);
    *oh = select(*oh, *oh + 1u, row);
    let image = *oh == p.OH;
    *oh = select(*oh, 0u, image);
    *base = select(*base, *base + p.C * p.H * p.W, image);
}

// B = im2col(x) as [(n, oh, ow), (c, kh, kw)]: 4 consecutive k of column j.
fn fetch_b(j: u32, k: u32, k_end: u32, sl: u32) -> vec4<f32> {
    var v = vec4<f32>(0.0);
    let ohw = p.OH * p.OW;
    let n = quot(k, ohw);
    let q = k - n * ohw;
    var oh = quot(q, p.OW);
    var ow = q - oh * p.OW;
    var base = n * p.C * p.H * p.W;
    v.x = x_at(base, oh, ow, k < k_end, sl);
    next_pixel(&base, &oh, &ow);
    v.y = x_at(base, oh, ow, k + 1u < k_end, sl);
    next_pixel(&base, &oh, &ow);
    v.z = x_at(base, oh, ow, k + 2u < k_end, sl);
    next_pixel(&base, &oh, &ow);
    v.w = x_at(base, oh, ow, k + 3u < k_end, sl);
    return v;
}

fn prep_c(j: u32) {
    c_base = p.out_off + split * p.split_stride + j;
}

fn store_c(m: u32, j: u32, v: f32) {
    if (m < p.M && j < gn) {
        out[c_base + m * p.GN] = v;
    }
}
//#endif

//#if SUBGROUP
//#include gemm_subgroup
//#else
//#include gemm_tile
//#endif

@compute @workgroup_size({{WG}})
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let g = group_index(wid, nwg);
    let tiles = p.tiles_m * p.tiles_n;
    // Whole workgroups leave together, so the barriers in gemm stay uniform.
//#if CLASSES
    let per_split = tiles * S * S;
//#else
    let per_split = tiles;
//#endif
    if (g >= per_split * p.splits) {
        return;
    }
    split = g / per_split;
    let t = g % tiles;
    let tm = (t / p.tiles_n) * BM;
    let tn = (t % p.tiles_n) * BN;
    gn = p.GN;
//#if CLASSES
    set_class((g % per_split) / tiles);
    // Classes have fewer columns than the first; their spare tiles leave
    // (whole workgroups, so the barriers stay uniform).
    if (tn >= gn) {
        return;
    }
//#endif
    let k_begin = split * p.k_len;
    let k_end = min(k_begin + p.k_len, p.K);
    gemm_clear();
    gemm(li, tm, tn, k_begin, k_end);
    gemm_store(li, tm, tn);
}
