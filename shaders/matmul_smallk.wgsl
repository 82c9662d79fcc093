// Matmul with a short inner dimension (K <= SMALL_K of src/ops/matmul.rs, 8):
// C = alpha * op(A) @ op(B) + beta * C, every flavour. Each invocation
// computes 4 rows by 4 columns (a vec4 of C per row) with K in registers;
// the W lanes along N store consecutive vec4s. N and C's offset are
// multiples of 4 (the host checks). Used for the weight gradient of a
// linear layer, whose K is the batch (G's fc: [8192, 200] from K = 4),
// where the GEMM cores spend their time on tiles of K they pad and on
// scattered stores: the output's bytes bind, not FMAs.
//
// A is [batch_a, M, K] ([.., K, M] with A_T), B [batch_b, K, N] ([.., N, K]
// with B_T); product i reads A's batch i mod batch_a and B's i mod batch_b.
// With beta = 0, C is not read (it may hold NaN).
//
// History:
//   v1 (4f7687b, 2026-12-07): written for G's fc weight gradient, which the
//       subgroup GEMM ran at 3.5 GFLOP/s (9% of the FMA ceiling) on Mesa
//       25.0.7 at 533a63b (README). `engine bench-kernels --quick --filter
//       "K = batch" --reps 10` (and 20), one binary, ENGINE_SMALL_K=0 (the
//       GEMM core) and not alternating, on a 2-core Zen 4 EPYC slower and
//       noisier than 533a63b's (FMA ceilings 20.8-25.7 GFLOP/s, vec4 copy
//       6.0-10.9 GB/s between runs), medians in ms of [8192, 200], A^T:
//         K = 4:  GEMM 8.67, 8.57, 7.47, 6.15;  this 4.82, 3.71, 5.92, 5.96, 4.11
//         K = 8:  GEMM 9.62, 9.04, 8.80, 9.15;  this 8.66, 7.41, 8.64, 6.07, 5.68
//         K = 16: GEMM 11.60, 11.36, 11.43, 9.94;  this 14.30, 11.20, 8.90, 8.77, 11.66
//       (docs/bench-smallk-2026-12-07/ and -vec4-a/), hence SMALL_K = 8.
//       Then on a quiet stretch of the same machine (FMA 25.2-25.8 GFLOP/s),
//       ENGINE_SMALL_K=0 and 16 alternating three times, same command:
//         K = 4:  GEMM 5.69, 5.59, 5.87;  this 3.61, 3.79, 3.64
//         K = 8:  GEMM 6.35, 6.18, 6.23;  this 5.28, 5.55, 5.37
//         K = 16: GEMM 7.63, 7.58, 8.12;  this 8.62, 9.88, 9.45
//       (docs/bench-smallk-2026-12-07-alternating/): the limit holds. At 3.7 ms the
//       6.6 MB of C are written at 1.8 GB/s, well under the copy's rate:
//       what bounds it is not measured. Tried: A^T read as a vec4 of 4 rows
//       per k (one load for four gathers), no difference within the noise
//       (three alternating pairs at --reps 20: 3.36-5.45 ms against
//       3.56-5.19 ms best of each run); not kept.

struct Params {
    m: u32,
    n: u32,
    k: u32,
    batch: u32,
    a_off: u32,
    b_off: u32,
    c_off: u32,
    ba: u32,
    bb: u32,
    col_groups: u32,
    row_blocks: u32,
    alpha: f32,
    beta: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
//#if B_VEC
@group(0) @binding(2) var<storage, read> b: array<vec4<f32>>;
//#else
@group(0) @binding(2) var<storage, read> b: array<f32>;
//#endif
@group(0) @binding(3) var<storage, read_write> c: array<vec4<f32>>;

// Lanes along N (a power of two), and along M.
const W: u32 = {{W}}u;
const H: u32 = 64u / W;

// op(B)[kk, col..col + 4] of the batch at b0.
fn b_at(b0: u32, kk: u32, col: u32) -> vec4<f32> {
//#if B_T
    let i = b0 + col * p.k + kk;
    return vec4(b[i], b[i + p.k], b[i + 2u * p.k], b[i + 3u * p.k]);
//#else
//#if B_VEC
    return b[(b0 + kk * p.n + col) / 4u];
//#else
    let i = b0 + kk * p.n + col;
    return vec4(b[i], b[i + 1u], b[i + 2u], b[i + 3u]);
//#endif
//#endif
}

// op(A)[row, kk] of the batch at a0.
fn a_at(a0: u32, row: u32, kk: u32) -> f32 {
//#if A_T
    return a[a0 + kk * p.m + row];
//#else
    return a[a0 + row * p.k + kk];
//#endif
}

fn store(i: u32, acc: vec4<f32>) {
    var v = p.alpha * acc;
    if (p.beta != 0.0) {
        v = v + p.beta * c[i];
    }
    c[i] = v;
}

@compute @workgroup_size(64)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    // Workgroups: (batch, row block of 4 H rows, column group of 4 W).
    let g = group_index(wid, nwg);
    let cg = g % p.col_groups;
    let rest = g / p.col_groups;
    let bi = rest / p.row_blocks;
    let n4 = p.n / 4u;
    let col4 = cg * W + lid % W;
    let row0 = ((rest % p.row_blocks) * H + lid / W) * 4u;
    if (bi >= p.batch || col4 >= n4 || row0 >= p.m) {
        return;
    }
    let a0 = p.a_off + (bi % p.ba) * p.m * p.k;
    let b0 = p.b_off + (bi % p.bb) * p.k * p.n;
    let col = col4 * 4u;
    // Rows past M read the last row (in bounds) and are not stored.
    let last = p.m - 1u;
    let r1 = min(row0 + 1u, last);
    let r2 = min(row0 + 2u, last);
    let r3 = min(row0 + 3u, last);
    var acc0 = vec4(0.0);
    var acc1 = vec4(0.0);
    var acc2 = vec4(0.0);
    var acc3 = vec4(0.0);
    for (var kk = 0u; kk < p.k; kk++) {
        let bv = b_at(b0, kk, col);
        acc0 = fma(vec4(a_at(a0, row0, kk)), bv, acc0);
        acc1 = fma(vec4(a_at(a0, r1, kk)), bv, acc1);
        acc2 = fma(vec4(a_at(a0, r2, kk)), bv, acc2);
        acc3 = fma(vec4(a_at(a0, r3, kk)), bv, acc3);
    }
    let c0 = p.c_off / 4u + bi * p.m * n4 + row0 * n4 + col4;
    store(c0, acc0);
    if (row0 + 1u < p.m) {
        store(c0 + n4, acc1);
    }
    if (row0 + 2u < p.m) {
        store(c0 + 2u * n4, acc2);
    }
    if (row0 + 3u < p.m) {
        store(c0 + 3u * n4, acc3);
    }
}
