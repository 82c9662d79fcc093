// Backward of elementwise activations: dx[i] = f(v[i], dy[i]) where v is the
// activation's input x (relu, leaky relu) or its output y (sigmoid, tanh),
// whichever gives the derivative most cheaply.
// {{EXPR}} is an expression in v, dy and alpha (src/ops/activation.rs).
// With VEC4 (n and the offsets multiples of 4) an invocation reads and
// writes vec4s and applies the rule to each of their values.
//
// History:
//   v1 (4b3905e, 2026-11-27): one fused kernel per activation's backward, one
//       thread per element; unchanged since. Measured only inside a step:
//       H200 (Vulkan), AttnGAN birds step (batch 20), binaries of 8198dc5:
//       70 dispatches, 1.08 ms (docs/bench-h200-tiled-gemm.json).
//   v2 (2026-12-06): VEC4.

struct Params {
    n: u32,
    v_off: u32,
    dy_off: u32,
    dx_off: u32,
    alpha: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
//#include vec4
@group(0) @binding(1) var<storage, read> vs: array<V>;
@group(0) @binding(2) var<storage, read> dys: array<V>;
@group(0) @binding(3) var<storage, read_write> dx: array<V>;

fn f(v: f32, dy: f32) -> f32 {
    let alpha = p.alpha;
    return {{EXPR}};
}

@compute @workgroup_size(256)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let i = group_index(wid, nwg) * 256u + lid;
    if (i >= p.n / L) {
        return;
    }
    let v = vs[p.v_off / L + i];
    let dy = dys[p.dy_off / L + i];
//#if VEC4
    dx[p.dx_off / L + i] = vec4<f32>(f(v.x, dy.x), f(v.y, dy.y), f(v.z, dy.z), f(v.w, dy.w));
//#else
    dx[p.dx_off + i] = f(v, dy);
//#endif
}
