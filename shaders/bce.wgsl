// Binary cross-entropy with logits, mean over the n elements, in the stable form
//   l(x, t) = max(x, 0) - x * t + log(1 + exp(-|x|)).
//   forward:  partial[c] = (1/n) * sum of l over chunk c of `chunk` elements
//             (the host sums the partials when there is more than one)
//   backward: dx[i] = (sigmoid(x[i]) - t[i]) / n * g, with g = the upstream
//             gradient, a [1] tensor read on the device.
//
// History (bce_with_logits.wgsl until ae09d79):
//   v1 (4a12922, 2026-11-27): stable form, chunk partials forward, upstream
//       gradient read on the device backward.
//   523ba5b (2026-11-27): its own stable_sigmoid replaced by common.wgsl's.
//   ae09d79 (2026-11-28): renamed, code unchanged. Measured only inside a
//       step: H200 (Vulkan), AttnGAN birds step (batch 20), binaries of
//       8198dc5: 21 dispatches each, 0.15 ms forward, 0.12 ms backward
//       (docs/bench-h200-tiled-gemm.json, as bce_with_logits).

struct Params {
    n: u32,
    chunk: u32,
    x_off: u32,
    t_off: u32,
    g_off: u32,
    out_off: u32,
    inv_n: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> xs: array<f32>;
@group(0) @binding(2) var<storage, read> ts: array<f32>;
//#if BACKWARD
@group(0) @binding(3) var<storage, read> g: array<f32>;
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
    let i = group_index(wid, nwg) * 64u + lid;
//#if BACKWARD
    if (i >= p.n) {
        return;
    }
    let x = xs[p.x_off + i];
    out[p.out_off + i] = (stable_sigmoid(x) - ts[p.t_off + i]) * (p.inv_n * g[p.g_off]);
//#else
    let start = i * p.chunk;
    if (start >= p.n) {
        return;
    }
    let end = min(start + p.chunk, p.n);
    var acc = 0.0;
    for (var j = start; j < end; j++) {
        let x = xs[p.x_off + j];
        let t = ts[p.t_off + j];
        // log1p(exp(-|x|)) loses nothing that matters here: exp(-|x|) <= 1.
        acc += max(x, 0.0) - x * t + log(1.0 + exp(-abs(x)));
    }
    out[p.out_off + i] = acc * p.inv_n;
//#endif
}
