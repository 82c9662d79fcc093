// Cross-entropy of logits [R, C] with integer class targets t [R] (stored as
// f32 class indices), mean over rows; one thread per row:
//   forward:  partial[r] = (logsumexp(x[r, :]) - x[r, t[r]]) / R
//             (the host sums the rows when R > 1)
//   backward: dx[r, c] = (softmax(x[r, :])[c] - [c == t[r]]) / R * g, with g
//             the upstream gradient, a [1] tensor read on the device.
// A target that is not an integer in 0..C gives NaN for its row, so that the
// loss shows it rather than silently reading another row.
//
// LONG (rows over 8,192 classes; src/ops/softmax.rs): llvmpipe ends the loops
// of one invocation after 65,535 iterations in all, with no error, so a
// thread per row cut rows of 30,000 short. There the host computes each
// row's logsumexp lse [R] with chunked reductions, and this kernel has no
// loop: the forward a thread per row, the backward a thread per element.
//
// History:
//   v1 (4a12922, 2026-11-27): one thread per row, forward and backward.
//   v2 (c44515d, 2026-11-27): LONG, without loops, for rows over 8,192
//       classes (rows of 30,000 had been cut short on llvmpipe). Measured
//       only inside a step: H200 (Vulkan), DAMSM step (batch 48), binaries of
//       23b0c04: 4 dispatches each, 0.05 ms forward, 0.09 ms backward
//       (docs/gpu-check-h200-2026-11-28.txt).

struct Params {
    rows: u32,
    cols: u32,
    x_off: u32,
    t_off: u32,
    g_off: u32,
    out_off: u32,
    inv_rows: f32,
    lse_off: u32, // LONG only
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> xs: array<f32>;
@group(0) @binding(2) var<storage, read> ts: array<f32>;
//#if BACKWARD
@group(0) @binding(3) var<storage, read> g: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
//#if LONG
@group(0) @binding(5) var<storage, read> lse: array<f32>;
//#endif
//#else
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
//#if LONG
@group(0) @binding(4) var<storage, read> lse: array<f32>;
//#endif
//#endif

@compute @workgroup_size(64)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let nan = bitcast<f32>(0x7fc00000u);
//#if LONG
    let e = group_index(wid, nwg) * 64u + lid;
//#if BACKWARD
    if (e >= p.rows * p.cols) {
        return;
    }
    let r = e / p.cols;
    let c = e - r * p.cols;
//#else
    if (e >= p.rows) {
        return;
    }
    let r = e;
//#endif
    let tf = ts[p.t_off + r];
    let valid = tf >= 0.0 && tf < f32(p.cols) && tf == floor(tf);
    let t = select(0u, u32(tf), valid);
//#if BACKWARD
    let soft = exp(xs[p.x_off + e] - lse[p.lse_off + r]);
    let d = (soft - select(0.0, 1.0, c == t)) * p.inv_rows * g[p.g_off];
    out[p.out_off + e] = select(nan, d, valid);
//#else
    let loss = (lse[p.lse_off + r] - xs[p.x_off + r * p.cols + t]) * p.inv_rows;
    out[p.out_off + r] = select(nan, loss, valid);
//#endif
//#else
    let r = group_index(wid, nwg) * 64u + lid;
    if (r >= p.rows) {
        return;
    }
    let base = p.x_off + r * p.cols;
    var m = xs[base];
    for (var c = 1u; c < p.cols; c++) {
        m = max(m, xs[base + c]);
    }
    var s = 0.0;
    for (var c = 0u; c < p.cols; c++) {
        s += exp(xs[base + c] - m);
    }
    let tf = ts[p.t_off + r];
    let valid = tf >= 0.0 && tf < f32(p.cols) && tf == floor(tf);
    let t = select(0u, u32(tf), valid);
//#if BACKWARD
    let scale = p.inv_rows * g[p.g_off];
    let inv_s = 1.0 / s;
    for (var c = 0u; c < p.cols; c++) {
        let soft = exp(xs[base + c] - m) * inv_s;
        let d = (soft - select(0.0, 1.0, c == t)) * scale;
        out[p.out_off + r * p.cols + c] = select(nan, d, valid);
    }
//#else
    let loss = (m + log(s) - xs[base + t]) * p.inv_rows;
    out[p.out_off + r] = select(nan, loss, valid);
//#endif
//#endif
}
