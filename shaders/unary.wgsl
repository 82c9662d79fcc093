// Elementwise unary ops: out[i] = f(x[i]) with up to two scalar parameters.
// {{EXPR}} is the op, an expression in x, alpha and beta (src/ops/unary.rs).
// With VEC4 (n and the offsets multiples of 4) an invocation reads and
// writes a vec4 (one contiguous load on llvmpipe, where scalar loads at
// computed addresses gather) and applies the op to each of its values.
//
// History:
//   v1 (70108ac, 2026-11-27). 523ba5b: its stable tanh and sigmoid moved to
//       common.wgsl. Measured only inside a step: H200 (Vulkan), AttnGAN birds
//       step (batch 20), binaries of 8198dc5: 131 dispatches, 1.36 ms
//       (docs/bench-h200-tiled-gemm.json).
//   v2 (2026-12-06): VEC4.

struct Params {
    n: u32,
    x_off: u32,
    out_off: u32,
    alpha: f32,
    beta: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
//#include vec4
@group(0) @binding(1) var<storage, read> xs: array<V>;
@group(0) @binding(2) var<storage, read_write> out: array<V>;

fn f(x: f32) -> f32 {
    let alpha = p.alpha;
    let beta = p.beta;
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
    let x = xs[p.x_off / L + i];
//#if VEC4
    out[p.out_off / L + i] = vec4<f32>(f(x.x), f(x.y), f(x.z), f(x.w));
//#else
    out[p.out_off / L + i] = f(x);
//#endif
}
