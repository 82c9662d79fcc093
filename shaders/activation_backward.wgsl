// Backward of elementwise activations: dx[i] = f(v[i], dy[i]) where v is the
// activation's input x (relu, leaky relu) or its output y (sigmoid, tanh),
// whichever gives the derivative most cheaply.
// {{EXPR}} is an expression in v, dy and alpha (src/ops/activation.rs).
//
// History:
//   v1 (4b3905e, 2026-11-27): one fused kernel per activation's backward, one
//       thread per element; unchanged since. Measured only inside a step:
//       H200 (Vulkan), AttnGAN birds step (batch 20), binaries of 8198dc5:
//       70 dispatches, 1.08 ms (docs/bench-h200-tiled-gemm.json).

struct Params {
    n: u32,
    v_off: u32,
    dy_off: u32,
    dx_off: u32,
    alpha: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> vs: array<f32>;
@group(0) @binding(2) var<storage, read> dys: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

@compute @workgroup_size(256)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let i = group_index(wid, nwg) * 256u + lid;
    if (i >= p.n) {
        return;
    }
    let v = vs[p.v_off + i];
    let dy = dys[p.dy_off + i];
    let alpha = p.alpha;
    dx[p.dx_off + i] = {{EXPR}};
}
