// Adam over a flat buffer holding every parameter of a model (one dispatch
// per step), PyTorch's formulation (weight decay added to the gradient):
//   g = clip * grad + wd * p
//   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
//   p = p - lr * (m / bc1) / (sqrt(v / bc2) + eps)
// where clip = min(1, max_norm / (||grad|| + 1e-6)) when max_norm > 0, with
// ||grad||^2 read from sumsq[0] (computed on the device: no readback).
//
// History:
//   v1 (9fe946f, 2026-11-27): one dispatch for the whole flat buffer, the
//       clipping norm read on the device; unchanged since. engine
//       bench-kernels, medians:
//       1,048,576 parameters: 4.50 ms = 6.52 GB/s (84.7% of the copy ceiling)
//       on lavapipe Mesa 22.3.6, 2-core Zen 3, at a193e16 (README); 11.8 and
//       13.0 ms = 2.5 and 2.3 GB/s on lavapipe Mesa 25.0.7, 2-core EPYC, at
//       21c7c85 (docs/bench-lavapipe-mesa25-*.json).
//       8,388,608 parameters, H200 (Vulkan): 0.07 ms (3.5 TB/s) at a193e16,
//       0.17 ms at 8198dc5, 0.16 ms at 23b0c04, the same kernel (README: the
//       card's clock state is the likely cause) [PyTorch 0.072 ms].
//   v2 (2026-12-06): VEC4: the first n / 4 * 4 values as vec4s (llvmpipe
//       loads a vec4 per lane as one contiguous load where scalar loads at
//       computed addresses are gathers), the rest by a scalar launch from
//       p.first; the clip factor computed once per 4 values.

struct Params {
    n: u32,
    lr: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    weight_decay: f32,
    bc1: f32, // 1 - beta1^t
    bc2: f32, // 1 - beta2^t
    max_norm: f32,
    first: u32, // the scalar launch's first value (0 with VEC4)
}

//#include vec4

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> param: array<V>;
@group(0) @binding(2) var<storage, read> grad: array<V>;
@group(0) @binding(3) var<storage, read_write> m: array<V>;
@group(0) @binding(4) var<storage, read_write> v: array<V>;
@group(0) @binding(5) var<storage, read> sumsq: array<f32>;

@compute @workgroup_size(256)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    // i: a vec4 (VEC4, i < n / 4) or a value (from p.first).
    let i = p.first + group_index(wid, nwg) * 256u + lid;
    if (i >= p.n / L) {
        return;
    }
    var clip = 1.0;
    if (p.max_norm > 0.0) {
        clip = min(1.0, p.max_norm / (sqrt(sumsq[0]) + 1e-6));
    }
    let w = param[i];
    let g = clip * grad[i] + p.weight_decay * w;
    let mi = p.beta1 * m[i] + (1.0 - p.beta1) * g;
    let vi = p.beta2 * v[i] + (1.0 - p.beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    param[i] = w - p.lr * (mi / p.bc1) / (sqrt(vi / p.bc2) + V(p.eps));
}
