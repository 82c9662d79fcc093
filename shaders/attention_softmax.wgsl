// Softmax along one axis with a temperature and an optional mask, forward and
// backward (BACKWARD). x is viewed as [outer, len, inner]; one thread per
// (outer, inner) loops over the axis (short axes: words, regions).
// Forward: y = softmax(scale * x) along the axis over the entries whose mask
// is 0 (MASK: mask is [mask_rows, len], row o / group for outer index o);
// masked entries get 0 and a fully masked line gives all zeros, not NaN.
// Backward: dx = scale * y * (dy - sum(y * dy)) (masked entries have y = 0).
// Lines over 8,192 do not come here (src/ops/attention.rs, long_masked_softmax):
// llvmpipe ends the loops of one invocation after 65,535 iterations in all,
// with no error, and three passes over a line of 30,000 were cut short.
//
// History:
//   v1 (cacfbce, 2026-11-27): one thread per line, forward and backward, with
//       temperature and optional mask.
//   c44515d (2026-11-27): lines over 8,192 go to the host's chunked path; the
//       kernel gained only this note. Measured only inside a step: H200
//       (Vulkan), DAMSM step (batch 48), binaries of 23b0c04: 2 dispatches,
//       0.13 ms forward, 0.10 ms backward (docs/gpu-check-h200-2026-11-28.txt).

struct Params {
    outer: u32,
    len: u32,
    inner: u32,
    x_off: u32,
    dy_off: u32,
    out_off: u32,
    m_off: u32,
    group: u32,
    scale: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
// The input x (forward) or the output y of the forward (backward).
@group(0) @binding(1) var<storage, read> xs: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
//#if BACKWARD
@group(0) @binding(3) var<storage, read> dy: array<f32>;
//#else
//#if MASK
@group(0) @binding(3) var<storage, read> mask: array<f32>;
//#endif
//#endif

@compute @workgroup_size(64)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let r = group_index(wid, nwg) * 64u + lid;
    if (r >= p.outer * p.inner) {
        return;
    }
    let o = r / p.inner;
    let i = r - o * p.inner;
    let base = o * p.len * p.inner + i;
//#if BACKWARD
    var dot = 0.0;
    for (var l = 0u; l < p.len; l = l + 1u) {
        let k = base + l * p.inner;
        dot = dot + xs[p.x_off + k] * dy[p.dy_off + k];
    }
    for (var l = 0u; l < p.len; l = l + 1u) {
        let k = base + l * p.inner;
        out[p.out_off + k] = p.scale * xs[p.x_off + k] * (dy[p.dy_off + k] - dot);
    }
//#else
    let mrow = p.m_off + (o / p.group) * p.len;
    var mx = -3.4e38;
    for (var l = 0u; l < p.len; l = l + 1u) {
//#if MASK
        let real = mask[mrow + l] < 0.5;
//#else
        let real = true;
//#endif
        if (real) {
            mx = max(mx, p.scale * xs[p.x_off + base + l * p.inner]);
        }
    }
    var sum = 0.0;
    for (var l = 0u; l < p.len; l = l + 1u) {
//#if MASK
        let real = mask[mrow + l] < 0.5;
//#else
        let real = true;
//#endif
        let k = base + l * p.inner;
        let e = select(0.0, exp(p.scale * xs[p.x_off + k] - mx), real);
        out[p.out_off + k] = e;
        sum = sum + e;
    }
    let inv = select(0.0, 1.0 / sum, sum > 0.0);
    for (var l = 0u; l < p.len; l = l + 1u) {
        let k = base + l * p.inner;
        out[p.out_off + k] = out[p.out_off + k] * inv;
    }
//#endif
}
