// Log-softmax along the last axis of [R, C], one thread per row (rows are
// short in this project: DAMSM has C = batch size):
//   forward:  out[r, c] = x[r, c] - max_r - log(sum_c exp(x[r, c] - max_r))
//   backward: from the output y and dy: dx[r, c] = dy[r, c] - exp(y[r, c]) * sum_c dy[r, c]
// Rows over 8,192 do not come here (src/ops/softmax.rs, LONG_LINE): llvmpipe
// ends the loops of one invocation after 65,535 iterations in all, with no
// error, and three passes over a row of 30,000 were cut short.
//
// History:
//   v1 (4a12922, 2026-11-27): one thread per row, forward and backward.
//   c44515d (2026-11-27): rows over 8,192 go to the host's chunked path; the
//       kernel gained only this note. No measurement recorded.

struct Params {
    rows: u32,
    cols: u32,
    x_off: u32,
    dy_off: u32,
    out_off: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> xs: array<f32>;
//#if BACKWARD
@group(0) @binding(2) var<storage, read> dys: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
//#else
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
//#endif

@compute @workgroup_size(64)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let r = group_index(wid, nwg) * 64u + lid;
    if (r >= p.rows) {
        return;
    }
    let base = r * p.cols;
//#if BACKWARD
    // xs holds y = log_softmax(x).
    var s = 0.0;
    for (var c = 0u; c < p.cols; c++) {
        s += dys[p.dy_off + base + c];
    }
    for (var c = 0u; c < p.cols; c++) {
        out[p.out_off + base + c] = dys[p.dy_off + base + c] - exp(xs[p.x_off + base + c]) * s;
    }
//#else
    var m = xs[p.x_off + base];
    for (var c = 1u; c < p.cols; c++) {
        m = max(m, xs[p.x_off + base + c]);
    }
    var s = 0.0;
    for (var c = 0u; c < p.cols; c++) {
        s += exp(xs[p.x_off + base + c] - m);
    }
    let lse = m + log(s);
    for (var c = 0u; c < p.cols; c++) {
        out[p.out_off + base + c] = xs[p.x_off + base + c] - lse;
    }
//#endif
}
