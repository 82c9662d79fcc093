// conv2d backward to the input, which is also conv_transpose2d forward:
//   dx[n, c, ih, iw] = bias[c] + sum_{o, kh, kw} w[o, c, kh, kw] * dy[n, o, oh, ow]
//     over the (oh, ow) with oh*S - P + kh = ih and ow*S - P + kw = iw.
// dy: [N, O, OH, OW], w: [O, C, KH, KW], dx: [N, C, H, W].
//
// Each thread computes 8 channels x 8 pixels of one row of dx; the 64 threads
// of a workgroup share the channels, so weight loads are uniform. With S > 1
// only the taps with kh = ih + P (mod S) and kw = iw + P (mod S) contribute,
// so a thread takes 8 pixels of one residue r = iw mod S (iw = r + S*(8b + j)):
// they share their taps, which are visited directly (no wasted multiplies),
// and they read consecutive dy columns.
//
// One launch sums the output channels o_begin .. o_end; with `accumulate` it
// adds to out (and leaves the bias to the first launch). llvmpipe ends every
// loop of an invocation after 65,535 iterations in all, with no error:
// 70,000 channels of a 1x1 kernel in one launch were summed short. The host
// (src/ops/conv.rs) splits the channels so that one launch loops at most
// 16,384 times over channels and taps.
//
// History (the registers flavour):
//   v1 (fbd24a6, 2026-11-27): 8 channels x 8 pixels per thread; with S > 1
//       every tap tested per pixel.
//   v2 (56a0341, 2026-11-27): pixels grouped by residue mod S, only the taps
//       that hit: 1.5 -> 3.4 GFLOP/s on the 4x4/2 upsampler (commit; device
//       not named).
//   v3 (cae80fe, 2026-11-27): taps outside, channels innermost: 3.9 -> 7.4
//       and 3.4 -> 8.2 GFLOP/s (commit; shapes and device not named). At
//       a193e16 on lavapipe Mesa 22.3.6, 2-core Zen 3: conv2d backward-data
//       [8,64,32,32] 3x3 7.53, conv_transpose2d forward [8,128,16,16] 4x4/2
//       7.72 GFLOP/s (README).
//   v4 (d8606a4, 2026-11-27): output-channel range and `accumulate` (launches
//       of at most 16,384 channel-taps). At 21c7c85 on lavapipe Mesa 25.0.7,
//       2-core EPYC: 3.34 and 3.63 GFLOP/s
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
    dy_off: u32,
    w_off: u32,
    b_off: u32,
    out_off: u32,
    tasks: u32, // N * H * S * wblocks
    wblocks: u32,
    cblocks: u32,
    task_groups: u32,
    o_begin: u32, // this launch sums output channels o_begin .. o_end
    o_end: u32,
    accumulate: u32, // 1: out += sum (a later launch); 0: out = sum + bias
}

const KW: u32 = {{KW}}u;
const S: u32 = {{S}}u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
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
    let cb = g / p.task_groups;
    let task = (g % p.task_groups) * 64u + lid;
    if (cb >= p.cblocks || task >= p.tasks) {
        return;
    }
    // wblocks = blocks of 8 per residue class
    let wb = task % p.wblocks;
    let r = (task / p.wblocks) % S;
    let ih = (task / (p.wblocks * S)) % p.H;
    let n = task / (p.wblocks * S * p.H);
    let c0 = cb * 8u;
    let j0 = wb * 8u; // index within the residue class: iw = r + S * (j0 + j)

    var acc: array<vec4<f32>, 16>; // acc[2i + j/4][j%4] = dx[n, c0 + i, ih, iw0 + j]
    for (var i = 0u; i < 16u; i++) {
        acc[i] = vec4<f32>(0.0);
    }
    var wcol: array<u32, 8>;
    for (var i = 0u; i < 8u; i++) {
        wcol[i] = min(c0 + i, p.C - 1u) * p.KH * KW;
    }
    let ckk = p.C * p.KH * KW;
    let kh0 = (ih + p.P) % S;
    let kw0 = (r + p.P) % S;
    // Taps outside, output channels innermost (a long loop that walks dy
    // plane by plane): this order is what makes the forward kernel fast too.
    let plane = p.OH * p.OW;
    for (var kh = kh0; kh < p.KH; kh += S) {
        let oh = (i32(ih + p.P) - i32(kh)) / i32(S);
        if (i32(ih + p.P) < i32(kh) || oh >= i32(p.OH)) {
            continue;
        }
        for (var kw = kw0; kw < KW; kw += S) {
            // ow = (iw + P - kw) / S = (r + P - kw) / S + j0 + j: the
            // division is exact by the choice of kw, negative or not.
            let ow0 = (i32(r + p.P) - i32(kw)) / i32(S) + i32(j0);
            var cols: array<u32, 8>;
            var hits: array<f32, 8>;
            for (var j = 0u; j < 8u; j++) {
                let ow = ow0 + i32(j);
                cols[j] = u32(clamp(ow, 0, i32(p.OW) - 1));
                hits[j] = select(0.0, 1.0, ow >= 0 && ow < i32(p.OW));
            }
            var dyi = p.dy_off + (n * p.O + p.o_begin) * plane + u32(oh) * p.OW;
            var wi = p.w_off + p.o_begin * ckk + kh * KW + kw;
            for (var o = p.o_begin; o < p.o_end; o++) {
                var dv: array<vec4<f32>, 2>;
                for (var j = 0u; j < 8u; j++) {
                    dv[j / 4u][j % 4u] = select(0.0, dy[dyi + cols[j]], hits[j] != 0.0);
                }
                for (var i = 0u; i < 8u; i++) {
                    let wv = vec4<f32>(w[wi + wcol[i]]);
                    acc[2u * i] = fma(wv, dv[0], acc[2u * i]);
                    acc[2u * i + 1u] = fma(wv, dv[1], acc[2u * i + 1u]);
                }
                dyi += plane;
                wi += ckk;
            }
        }
    }

    for (var i = 0u; i < 8u; i++) {
        let c = c0 + i;
        if (c >= p.C) {
            break;
        }
//#if HAS_BIAS
        var b = bias[p.b_off + c];
//#else
        var b = 0.0;
//#endif
        let orow = p.out_off + ((n * p.C + c) * p.H + ih) * p.W;
        for (var j = 0u; j < 8u; j++) {
            let iw = r + S * (j0 + j);
            if (iw < p.W) {
                if (p.accumulate != 0u) {
                    b = out[orow + iw];
                }
                out[orow + iw] = acc[2u * i + j / 4u][j % 4u] + b;
            }
        }
    }
}
