// The device's two ceilings, for `engine bench-kernels`:
// MODE_COPY: out = in as vec4s, `iters` of them per invocation, bytes read
// plus written per vec4 = 32;
// otherwise: 8 independent FMA chains of `iters` steps per thread
// (16 * iters flops per thread), written out so nothing is optimised away.
//
// History:
//   v1 (49f9bf2, 2026-11-27); unchanged since. The ceilings it measured:
//       lavapipe Mesa 22.3.6, 2-core Zen 3, a193e16: copy 7.7 GB/s, FMA
//       35.1 GFLOP/s (README); 2-core EPYC, dbf9539: FMA 13.0 GFLOP/s on Mesa
//       22.3.6, 28.2 on Mesa 25.0.7 (README); H200 (Vulkan), 2026-11-27 and
//       -28: copy 3.7 TB/s, FMA 25.5 TFLOP/s (README).

struct Params {
    n: u32,
    iters: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> dst: array<vec4<f32>>;

@compute @workgroup_size(256)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let i = group_index(wid, nwg) * 256u + lid;
//#if MODE_COPY
    // p.iters vec4s per invocation, a grid of p.n / p.iters apart.
    let threads = p.n / p.iters;
    if (i >= threads) {
        return;
    }
    for (var k = 0u; k < p.iters; k++) {
        dst[i + k * threads] = src[i + k * threads];
    }
//#else
    if (i >= p.n) {
        return;
    }
    let seed = src[i % 16u];
    var a = seed;
    var b = seed + vec4<f32>(1.0);
    let m = vec4<f32>(0.999);
    let c = vec4<f32>(0.001);
    for (var k = 0u; k < p.iters; k++) {
        a = fma(a, m, c);
        b = fma(b, m, c);
    }
    dst[i] = a + b;
//#endif
}
