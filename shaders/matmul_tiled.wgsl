// Batched matmul for real GPUs (the "tiled" flavour):
//   C[b] = alpha * opA(A[b]) @ opB(B[b]) + beta * C[b]
// with the same operands and parameters as matmul.wgsl, summed over K in
// [k_begin, k_end) (the host splits a very long K into several launches,
// the later ones with beta = 1). The GEMM itself is the shared core in
// gemm_tile.wgsl (workgroup-memory tiles, double-buffered, 4x4 or 8x8
// outputs per invocation); this file only says how A, B and C are addressed.
// Loads outside the matrices read as zero.
//
// Versions (H200, Vulkan, fp32; PyTorch/cuBLAS with TF32 off in brackets):
//   v1: 16x16 invocations, 64x64 tile, 4x4 per invocation, K slices of 16,
//       one buffer, scalar workgroup-memory reads, two barriers per slice:
//       1024^3 in 0.825 ms = 2.6 TFLOP/s [0.058 ms]; the bench's FMA
//       ceiling is 25.5 TFLOP/s.
//   v2: the gemm_tile core: 128x128 tiles with BK 8 and 8x8 per invocation
//       when there are enough tiles to fill the GPU (264 workgroups), else
//       64x64 / BK 16 / 4x4; vec4 reads of the staged tiles, register
//       prefetch and double buffering (one barrier per slice).
//       2a (accumulators indexed by loop variables in the epilogue): 1024^3
//       0.135 ms = 15.9 TFLOP/s [0.058]; 20x16384x200 (tb) 0.177 -> 0.037 ms [0.011].
//       2b (constant indices only): 1024^3 0.14 ms with 64x64 tiles (the
//       choice), 0.20 ms forced to 128x128 (64 tiles for 132 SMs);
//       20x16384x200 (tb) 0.04 ms.
//   Commits: v1 70108ac (d069cb2 added the cyclic batches), 1024^3 measured
//       at a193e16; v2 1aa2c6a (2a), afa12c5 and f58b16f (2b); 2026-11-27.
//   v3 (c8625e9, 2026-11-28): SUBGROUP, the same addressing on
//       gemm_subgroup.wgsl (the subgroups flavour of lavapipe). Commits,
//       lavapipe Mesa 25.0.7, 2-core EPYC (gemm_subgroup.wgsl), 1024^3:
//       4.9 GFLOP/s with one column per lane, 6.6 with two (0677795);
//       5fcef57 A4 (vec4 loads of A without ta) 7.3 -> 9.7. At 21c7c85
//       against the register matmul.wgsl, back to back (README): 1024^3
//       3.15 -> 6.41, 512^3 ta 3.32 -> 5.97. At 9878bb9: 275 ms against burn
//       0.22.1's 415 ms (docs/peers.md). H200 (tiled) at 23b0c04: 1024^3
//       0.14 ms, 61.6% of 25.5 TFLOP/s (README).
//   v4 (2026-12-05, the commit after bd5686c): bounds checks of the loads
//       are selects of clamped addresses, not branches. bd5686c and this,
//       alternating twice, 2-core Zen 4 EPYC, lavapipe Mesa 25.0.7: 1024^3
//       19.2 (a slow first run), 28.4 -> 33.0, 32.7 GFLOP/s.

struct Params {
    M: u32,
    N: u32,
    K: u32,
    batch: u32,
    a_off: u32,
    b_off: u32,
    c_off: u32,
    tiles_n: u32,
    a_bstride: u32,
    b_bstride: u32,
    c_bstride: u32,
    tiles_m: u32,
    alpha: f32,
    beta: f32,
    a_batches: u32, // batch bi reads A batch bi % a_batches (1 broadcasts A)
    b_batches: u32,
    k_begin: u32,
    k_end: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
//#if A4
@group(0) @binding(1) var<storage, read> a: array<vec4<f32>>;
//#else
@group(0) @binding(1) var<storage, read> a: array<f32>;
//#endif
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;

var<private> a_base: u32;
var<private> b_base: u32;
var<private> c_base: u32;

fn a_at(i: u32) -> f32 {
//#if A4
    return a[i / 4u][i % 4u];
//#else
    return a[i];
//#endif
}

// Loads past the edge read index 0 and give zero: selects, no branches
// (llvmpipe runs both sides of a branch under a mask).
fn load_a(m: u32, k: u32) -> f32 {
    let ok = m < p.M;
//#if A_T
    let v = a_at(select(0u, a_base + k * p.M + m, ok));
//#else
    let v = a_at(select(0u, a_base + m * p.K + k, ok));
//#endif
    return select(0.0, v, ok);
}

//#if A4
// A[m, k .. k + 3] (A_T = 0, K and the offsets multiples of 4).
fn load_a4(m: u32, k: u32) -> vec4<f32> {
    let ok = m < p.M;
    let v = a[select(0u, (a_base + m * p.K + k) / 4u, ok)];
    return select(vec4<f32>(0.0), v, ok);
}
//#endif

fn prep_b(n: u32, sl: u32) {}

fn load_b(k: u32, n: u32, sl: u32) -> f32 {
    let ok = n < p.N;
//#if B_T
    let v = b[select(0u, b_base + n * p.K + k, ok)];
//#else
    let v = b[select(0u, b_base + k * p.N + n, ok)];
//#endif
    return select(0.0, v, ok);
}

fn prep_c(n: u32) {}

fn store_c(m: u32, n: u32, v: f32) {
    if (m < p.M && n < p.N) {
        let idx = c_base + m * p.N + n;
        var value = p.alpha * v;
        if (p.beta != 0.0) {
            value = value + p.beta * c[idx];
        }
        c[idx] = value;
    }
}

//#if SUBGROUP
//#include gemm_subgroup
//#else
//#include gemm_tile
//#endif

@compute @workgroup_size({{WG}})
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let g = group_index(wid, nwg);
    let tiles = p.tiles_m * p.tiles_n;
    // Whole workgroups leave together, so the barriers in gemm stay uniform.
    if (g >= tiles * p.batch) {
        return;
    }
    let bi = g / tiles;
    let t = g % tiles;
    let tm = (t / p.tiles_n) * BM;
    let tn = (t % p.tiles_n) * BN;
    a_base = p.a_off + (bi % p.a_batches) * p.a_bstride;
    b_base = p.b_off + (bi % p.b_batches) * p.b_bstride;
    c_base = p.c_off + bi * p.c_bstride;
    gemm(li, tm, tn, p.k_begin, p.k_end);
    gemm_store(li, tm, tn);
}
