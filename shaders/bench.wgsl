// The device's two ceilings, for `engine bench-kernels`:
// MODE_COPY: out = in as vec4s, `iters` of them per invocation, bytes read
// plus written per vec4 = 32;
// otherwise: FMA chains, 16 * iters flops per thread, written out so nothing
// is optimised away: with V1, 2 vec4 chains of one step per loop iteration
// (v1's probe); else 4 vec4 chains of SETS steps each per loop iteration
// (iters a multiple of 2 SETS).
//
// History:
//   v1 (49f9bf2, 2026-11-27); unchanged since. The ceilings it measured:
//       lavapipe Mesa 22.3.6, 2-core Zen 3, a193e16: copy 7.7 GB/s, FMA
//       35.1 GFLOP/s (README); 2-core EPYC, dbf9539: FMA 13.0 GFLOP/s on Mesa
//       22.3.6, 28.2 on Mesa 25.0.7 (README); H200 (Vulkan), 2026-11-27 and
//       -28: copy 3.7 TB/s, FMA 25.5 TFLOP/s (README).
//   v2 (2026-12-07): v1's FMA probe was bound by its loop, not the FMA
//       units: 8 FMAs (two vec4s) per iteration, each iteration paying
//       llvmpipe's loop bookkeeping (masks, the iteration cap's counter).
//       On a 2-core Intel Xeon (AVX-512, llvmpipe at 256 bits), bench-kernels
//       --quick --filter 1024x1024 --reps 5, two runs each: v1 30.3-31.3
//       GFLOP/s on Mesa 25.0.7, 17.5-19.1 on Mesa 22.3.6 (whose convolutions
//       beat it: 18-22 GFLOP/s); 4 vec4 chains, steps per iteration 2: 69.7,
//       70.8 (22.3: 48.2, 56.7); 4: 90.7, 93.9 (79.4, 79.2); 8: 100.7, 100.7
//       (92.1, 93.5); 16: 84.0, 85.4 (83.4, 83.9); 6 chains of one step:
//       48.6, 49.2 (37.9, 37.4). The ceiling is now the best of 2, 4 and 8
//       steps, near the hardware's 2 cores x 2 FMA ports x 8 lanes x 2
//       flops per cycle; v1's probe is still run and reported beside it.
//       The copy unrolled 4 vec4s per iteration: 8.1-11.1 GB/s against
//       11.8-12.3 (best of 4, 8, 16 per invocation); not kept.

struct Params {
    n: u32,
    iters: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
// FMA steps per loop iteration (not V1): 2, 4 or 8.
const SETS: u32 = {{SETS}}u;
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
//#if V1
    for (var k = 0u; k < p.iters; k++) {
        a = fma(a, m, c);
        b = fma(b, m, c);
    }
    dst[i] = a + b;
//#else
    var e = seed + vec4<f32>(2.0);
    var f = seed + vec4<f32>(3.0);
    // 4 vec4 FMAs (32 flops) a step, a step for every 2 of k (16 flops per k).
    for (var k = 0u; k < p.iters; k += 2u * SETS) {
        a = fma(a, m, c);
        b = fma(b, m, c);
        e = fma(e, m, c);
        f = fma(f, m, c);
        a = fma(a, m, c);
        b = fma(b, m, c);
        e = fma(e, m, c);
        f = fma(f, m, c);
//#if SETS4
        a = fma(a, m, c);
        b = fma(b, m, c);
        e = fma(e, m, c);
        f = fma(f, m, c);
        a = fma(a, m, c);
        b = fma(b, m, c);
        e = fma(e, m, c);
        f = fma(f, m, c);
//#if SETS8
        a = fma(a, m, c);
        b = fma(b, m, c);
        e = fma(e, m, c);
        f = fma(f, m, c);
        a = fma(a, m, c);
        b = fma(b, m, c);
        e = fma(e, m, c);
        f = fma(f, m, c);
        a = fma(a, m, c);
        b = fma(b, m, c);
        e = fma(e, m, c);
        f = fma(f, m, c);
        a = fma(a, m, c);
        b = fma(b, m, c);
        e = fma(e, m, c);
        f = fma(f, m, c);
//#endif
//#endif
    }
    dst[i] = a + b + e + f;
//#endif
//#endif
}
