// Elementwise unary ops: out[i] = f(x[i]) with up to two scalar parameters.
// {{EXPR}} is the op, an expression in x, alpha and beta (src/ops/unary.rs).
//
// History:
//   v1 (70108ac, 2026-11-27). 523ba5b: its stable tanh and sigmoid moved to
//       common.wgsl. Measured only inside a step: H200 (Vulkan), AttnGAN birds
//       step (batch 20), binaries of 8198dc5: 131 dispatches, 1.36 ms
//       (docs/bench-h200-tiled-gemm.json).

struct Params {
    n: u32,
    x_off: u32,
    out_off: u32,
    alpha: f32,
    beta: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> xs: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

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
    let x = xs[p.x_off + i];
    let alpha = p.alpha;
    let beta = p.beta;
    out[p.out_off + i] = {{EXPR}};
}
