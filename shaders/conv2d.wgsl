// conv2d forward, NCHW, direct (an implicit GEMM whose operands are gathered
// on the fly):
//   out[n, o, oh, ow] = bias[o] + sum_{c, kh, kw} w[o, c, kh, kw] * x[n, c, oh*S - P + kh, ow*S - P + kw]
// x: [N, C, H, W], w: [O, C, KH, KW], out: [N, O, OH, OW]; zero padding.
//
// Each thread computes 8 output channels x 8 consecutive pixels of one output
// row in registers. All 64 threads of a workgroup share the same 8 channels,
// so the weight loads are uniform across the workgroup (cheap on lavapipe's
// SIMD lanes) and only the input is gathered per thread. KW and S are
// compile-time constants so the inner loops unroll. The input arrives padded
// (shaders/pad2d.wgsl: H and W here are the padded sizes, P is 0), so the
// inner loop has no bounds checks: one add and one load per element.
//
// One launch sums the channels c_begin .. c_end; with `accumulate` it adds to
// out (and leaves the bias to the first launch). llvmpipe ends every loop of
// an invocation after 65,535 iterations in all, with no error: 70,000
// channels of a 1x1 kernel in one launch were summed short. The host
// (src/ops/conv.rs) splits the channels so that one launch loops at most
// 16,384 times over channels and taps.
//
// History (the registers flavour):
//   v1 (fbd24a6, 2026-11-27): 8 channels x 8 pixels per thread, uniform
//       weight loads; channels outside, bounds checks in the inner loop.
//   v2 (281a159, 2026-11-27): input padded once (pad2d.wgsl), channels
//       innermost: 3x3 on [8,64,32,32] 3.9 -> 6.2 GFLOP/s on lavapipe (commit).
//   v3 (cae80fe, 2026-11-27): C_INNER = 0 keeps channels outside for inputs
//       of few channels. At a193e16 on lavapipe Mesa 22.3.6, 2-core Zen 3:
//       [8,64,32,32] 3x3 6.89 GFLOP/s, [8,3,64,64] 4x4/2 4.25 (README). On the
//       H200 the tiled flavour ran it at a193e16: see conv_tiled.wgsl v1.
//   v4 (d8606a4, 2026-11-27): channel range and `accumulate`, so the host
//       launches at most 16,384 channel-taps at a time. At 21c7c85 on
//       lavapipe Mesa 25.0.7, 2-core EPYC: 3.19 and 2.99 GFLOP/s
//       (docs/bench-lavapipe-mesa25-registers.json).

struct Params {
    N: u32,
    C: u32,
    H: u32,
    W: u32,
    O: u32,
    OH: u32,
    OW: u32,
    KH: u32,
    P: u32,
    x_off: u32,
    w_off: u32,
    b_off: u32,
    out_off: u32,
    tasks: u32, // N * OH * wblocks: one task = one row segment of 8 pixels
    wblocks: u32,
    oblocks: u32,
    task_groups: u32, // ceil(tasks / 64)
    c_begin: u32, // this launch sums channels c_begin .. c_end
    c_end: u32,
    accumulate: u32, // 1: out += sum (a later launch); 0: out = sum + bias
}

const KW: u32 = {{KW}}u;
const S: u32 = {{S}}u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
//#if HAS_BIAS
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
//#else
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
//#endif

@compute @workgroup_size(64)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let g = group_index(wid, nwg);
    let ob = g / p.task_groups;
    let task = (g % p.task_groups) * 64u + lid;
    if (ob >= p.oblocks || task >= p.tasks) {
        return;
    }
    let wb = task % p.wblocks;
    let oh = (task / p.wblocks) % p.OH;
    let n = task / (p.wblocks * p.OH);
    let o0 = ob * 8u;
    let ow0 = wb * 8u;

    // acc[2i + j/4][j%4] = out[n, o0 + i, oh, ow0 + j]
    var acc: array<vec4<f32>, 16>;
    for (var i = 0u; i < 16u; i++) {
        acc[i] = vec4<f32>(0.0);
    }
    // Weight offsets of the 8 channels (clamped; extra rows are never stored).
    var wrow: array<u32, 8>;
    for (var i = 0u; i < 8u; i++) {
        wrow[i] = p.w_off + min(o0 + i, p.O - 1u) * p.C * p.KH * KW;
    }
    // Input columns of the 8 pixels (clamped at the right edge: pixels past
    // OW are computed from valid memory and never stored).
    var col: array<u32, 8>;
    for (var j = 0u; j < 8u; j++) {
        col[j] = min(ow0 + j, p.OW - 1u) * S;
    }
//#if C_INNER
    // Taps outside, channels inside: the long inner loop walks the input
    // plane by plane and the weights with a stride of KH*KW.
    let ckk = p.KH * KW;
    let plane = p.H * p.W;
    let xn = p.x_off + (n * p.C + p.c_begin) * plane;
    for (var kh = 0u; kh < p.KH; kh++) {
        for (var kw = 0u; kw < KW; kw++) {
            var xi = xn + (oh * S + kh) * p.W + kw;
            var wi = p.c_begin * ckk + kh * KW + kw;
            for (var c = p.c_begin; c < p.c_end; c++) {
                var xv: array<vec4<f32>, 2>;
                for (var j = 0u; j < 8u; j++) {
                    xv[j / 4u][j % 4u] = x[xi + col[j]];
                }
                for (var i = 0u; i < 8u; i++) {
                    let wv = vec4<f32>(w[wrow[i] + wi]);
                    acc[2u * i] = fma(wv, xv[0], acc[2u * i]);
                    acc[2u * i + 1u] = fma(wv, xv[1], acc[2u * i + 1u]);
                }
                xi += plane;
                wi += ckk;
            }
        }
    }
//#else
    // Few channels (an image's 3): channels outside, taps inside.
    let ckk = p.KH * KW;
    for (var c = p.c_begin; c < p.c_end; c++) {
        for (var kh = 0u; kh < p.KH; kh++) {
            let xrow = p.x_off + ((n * p.C + c) * p.H + oh * S + kh) * p.W;
            let wk = c * ckk + kh * KW;
            for (var kw = 0u; kw < KW; kw++) {
                var xv: array<vec4<f32>, 2>;
                for (var j = 0u; j < 8u; j++) {
                    xv[j / 4u][j % 4u] = x[xrow + col[j] + kw];
                }
                for (var i = 0u; i < 8u; i++) {
                    let wv = vec4<f32>(w[wrow[i] + wk + kw]);
                    acc[2u * i] = fma(wv, xv[0], acc[2u * i]);
                    acc[2u * i + 1u] = fma(wv, xv[1], acc[2u * i + 1u]);
                }
            }
        }
    }
//#endif

    for (var i = 0u; i < 8u; i++) {
        let o = o0 + i;
        if (o >= p.O) {
            break;
        }
//#if HAS_BIAS
        var b = bias[p.b_off + o];
//#else
        var b = 0.0;
//#endif
        let orow = p.out_off + ((n * p.O + o) * p.OH + oh) * p.OW;
        for (var j = 0u; j < 8u; j++) {
            if (ow0 + j < p.OW) {
                if (p.accumulate != 0u) {
                    b = out[orow + ow0 + j];
                }
                out[orow + ow0 + j] = acc[2u * i + j / 4u][j % 4u] + b;
            }
        }
    }
}
