// conv2d backward to the weight (also conv_transpose2d's, with roles swapped):
//   dw[o, c, kh, kw] = sum_{n, oh, ow} dy[n, o, oh, ow] * x[n, c, oh*S - P + kh, ow*S - P + kw]
// x: [N, C, H, W], dy: [N, O, OH, OW], dw: [O, C*KH*KW] (columns = (c, kh, kw)).
//
// A GEMM with a long K (every output pixel of the batch) and few outputs, so
// K is split: split s sums the rows r = n*OH + oh in its range and writes
// partial[s, o, col]; the host then sums the splits. Each thread computes 8
// channels o x 8 columns; the threads of a workgroup share the channels, so
// the dy loads are uniform and only x is gathered. The host also splits so
// that a thread loops over at most 16,384 pixels: llvmpipe ends the loops of
// one invocation after 65,535 iterations in all, with no error.
//
// History (the registers flavour):
//   v1 (fbd24a6, 2026-11-27): split K, 8 channels x 8 columns per thread,
//       uniform dy loads. At a193e16 on lavapipe Mesa 22.3.6, 2-core Zen 3:
//       conv2d [8,64,32,32] 3x3 7.45 GFLOP/s, conv_transpose2d [8,128,16,16]
//       4x4/2 7.61 (README).
//   d8606a4 (2026-11-27): the host splits so a thread loops over at most
//       16,384 pixels; the kernel gained only that note. At 21c7c85 on
//       lavapipe Mesa 25.0.7, 2-core EPYC: 3.85 and 3.36 GFLOP/s
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
    KW: u32,
    S: u32,
    P: u32,
    x_off: u32,
    dy_off: u32,
    out_off: u32,
    cols: u32, // C * KH * KW
    colblocks: u32,
    oblocks: u32,
    col_groups: u32, // ceil(colblocks / 64)
    rows_per_split: u32,
    splits: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(64)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let g = group_index(wid, nwg);
    let per_split = p.oblocks * p.col_groups;
    let split = g / per_split;
    let ob = (g % per_split) / p.col_groups;
    let colb = (g % p.col_groups) * 64u + lid;
    if (split >= p.splits || colb >= p.colblocks) {
        return;
    }
    let o0 = ob * 8u;
    let col0 = colb * 8u;

    // Decode this thread's 8 columns once: channel offset and tap.
    var xc: array<u32, 8>;
    var th: array<i32, 8>;
    var tw: array<i32, 8>;
    for (var j = 0u; j < 8u; j++) {
        let col = min(col0 + j, p.cols - 1u);
        let kk = p.KH * p.KW;
        xc[j] = (col / kk) * p.H * p.W;
        th[j] = i32((col % kk) / p.KW) - i32(p.P);
        tw[j] = i32(col % p.KW) - i32(p.P);
    }
    var dyo: array<u32, 8>;
    for (var i = 0u; i < 8u; i++) {
        dyo[i] = min(o0 + i, p.O - 1u) * p.OH * p.OW;
    }

    var acc: array<vec4<f32>, 16>; // acc[2i + j/4][j%4] = dw[o0 + i, col0 + j]
    for (var i = 0u; i < 16u; i++) {
        acc[i] = vec4<f32>(0.0);
    }
    let r0 = split * p.rows_per_split;
    let r1 = min(r0 + p.rows_per_split, p.N * p.OH);
    for (var r = r0; r < r1; r++) {
        let n = r / p.OH;
        let oh = r % p.OH;
        let xn = p.x_off + n * p.C * p.H * p.W;
        let dy_row = p.dy_off + n * p.O * p.OH * p.OW + oh * p.OW;
        var rowok: array<bool, 8>;
        var xrow: array<u32, 8>;
        for (var j = 0u; j < 8u; j++) {
            let ih = i32(oh * p.S) + th[j];
            rowok[j] = ih >= 0 && ih < i32(p.H);
            xrow[j] = xn + xc[j] + u32(clamp(ih, 0, i32(p.H) - 1)) * p.W;
        }
        for (var ow = 0u; ow < p.OW; ow++) {
            var xv: array<vec4<f32>, 2>;
            for (var j = 0u; j < 8u; j++) {
                let iw = i32(ow * p.S) + tw[j];
                let inside = rowok[j] && iw >= 0 && iw < i32(p.W);
                let v = x[xrow[j] + u32(clamp(iw, 0, i32(p.W) - 1))];
                xv[j / 4u][j % 4u] = select(0.0, v, inside);
            }
            for (var i = 0u; i < 8u; i++) {
                let dv = vec4<f32>(dy[dy_row + dyo[i] + ow]);
                acc[2u * i] = fma(dv, xv[0], acc[2u * i]);
                acc[2u * i + 1u] = fma(dv, xv[1], acc[2u * i + 1u]);
            }
        }
    }

    let base = p.out_off + split * p.O * p.cols;
    for (var i = 0u; i < 8u; i++) {
        let o = o0 + i;
        if (o >= p.O) {
            break;
        }
        for (var j = 0u; j < 8u; j++) {
            if (col0 + j < p.cols) {
                out[base + o * p.cols + col0 + j] = acc[2u * i + j / 4u][j % 4u];
            }
        }
    }
}
