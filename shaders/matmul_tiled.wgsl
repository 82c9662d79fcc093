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
//   v5 (2026-12-06): sums over batches (q_begin, q_end) for matmul_sum, the
//       backward of a broadcast operand, instead of a product per batch
//       and a reduction; MERGE (batches sharing a repeated A as columns)
//       and C_T (the same for a repeated B with short M, on the swapped
//       operands). The DAMSM word loss's six matmuls at batch 16, 64
//       regions, 256 dimensions, 18 words (bench-kernels --quick --filter
//       "word loss", 2-core Zen 4 EPYC, lavapipe Mesa 25.0.7, one after the
//       other): scores 7.8 -> 4.4 ms (48% -> 84% of the FMA ceiling), the
//       words' gradient 8.1 -> 4.6, the attention's gradient 8.0 -> 4.5-4.7,
//       context 11.4 -> 6.8 (32% -> 54%), the regions' two gradients 16.1
//       and 16.6 -> 6.5-6.8 (23% -> 55%, matmul_sum): 68 -> 34 ms in all.

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
    // C batch bi sums the products of batches q batch + bi for q in
    // [q_begin, q_end) (matmul_sum; 0 and 1 for a plain matmul).
    q_begin: u32,
    q_end: u32,
    // With MERGE: the product batches that share an A batch, side by side
    // as columns (N' = N merge).
    merge: u32,
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

// C[idx] = alpha v + beta C[idx] (C not read with beta = 0).
fn write_c(idx: u32, v: f32) {
    var value = p.alpha * v;
    if (p.beta != 0.0) {
        value = value + p.beta * c[idx];
    }
    c[idx] = value;
}

//#if MERGE
// A repeated over batches (a_batches < batch) with a short N: the batches
// r + a_batches q (q < merge) that share A batch r are one GEMM of N' = N
// merge columns, column q N + n being column n of batch r + a_batches q, so
// the tiles fill (N = 18 words: 18 of 32 columns used, 288 of 288 merged).
// The launch's batch is r; a lane's column decodes once per tile (prep_b,
// prep_c), not per load.
var<private> merge_r: u32;
var<private> b_col: array<u32, 2>;
var<private> b_ok: array<bool, 2>;
var<private> c_col: u32;
var<private> c_ok: bool;

// (batch, column within it) of merged column n; past N' a valid address.
fn merged(n: u32) -> vec2<u32> {
    let q = n / p.N;
    return vec2<u32>(merge_r + p.a_batches * q, n - q * p.N);
}

fn prep_b(n: u32, sl: u32) {
    let at = merged(n);
//#if B_T
    b_col[sl] = p.b_off + (at.x % p.b_batches) * p.b_bstride + at.y * p.K;
//#else
    b_col[sl] = p.b_off + (at.x % p.b_batches) * p.b_bstride + at.y;
//#endif
    b_ok[sl] = n < p.N * p.merge;
}

fn load_b(k: u32, n: u32, sl: u32) -> f32 {
//#if B_T
    let v = b[b_col[sl] + k];
//#else
    let v = b[b_col[sl] + k * p.N];
//#endif
    return select(0.0, v, b_ok[sl]);
}

// With C_T the product is C^T (the host swapped the operands of a short M
// with a repeated B): its column n is row n of C, its row m C's column m.
fn prep_c(n: u32) {
    let at = merged(n);
//#if C_T
    c_col = p.c_off + at.x * p.c_bstride + at.y * p.M;
//#else
    c_col = p.c_off + at.x * p.c_bstride + at.y;
//#endif
    c_ok = n < p.N * p.merge;
}

fn store_c(m: u32, n: u32, v: f32) {
    if (m < p.M && c_ok) {
//#if C_T
        let idx = c_col + m;
//#else
        let idx = c_col + m * p.N;
//#endif
        write_c(idx, v);
    }
}
//#else
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
        write_c(c_base + m * p.N + n, v);
    }
}
//#endif

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
    c_base = p.c_off + bi * p.c_bstride;
//#if MERGE
    merge_r = bi;
//#endif
    gemm_clear();
    for (var q = p.q_begin; q < p.q_end; q++) {
        let src = q * p.batch + bi;
        a_base = p.a_off + (src % p.a_batches) * p.a_bstride;
        b_base = p.b_off + (src % p.b_batches) * p.b_bstride;
        gemm(li, tm, tn, p.k_begin, p.k_end);
    }
    gemm_store(li, tm, tn);
}
