// Matmul with a short inner dimension (K <= SMALL_K of src/ops/matmul.rs,
// 16): C = alpha * op(A) @ op(B) + beta * C, every flavour. K is a constant
// of the pipeline. Each invocation holds one column vec4 of op(B) for every
// k in registers and walks RG groups of 4 rows of C (a vec4 of C per row),
// so that B is loaded once per 4 RG rows; consecutive invocations take
// consecutive vec4s of a row, so a subgroup's stores are contiguous. With A_VEC (A^T, M and A's offset multiples of 4) a
// group's 4 rows of op(A) at one k are one vec4 load. N and C's offset are
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
//   v2 (2026-12-07): B in registers, 32 rows per invocation, K a pipeline
//       constant, A^T as vec4s, lanes flattened over (row block, column).
//       Probes of v1 on a 2-core Intel Xeon (AVX-512, AMX; llvmpipe of Mesa
//       25.0.7 at 256 bits, FMA ceiling 29.5-31.3 GFLOP/s, vec4 copy 12.3
//       GB/s), same command, medians in ms at K = 8 (K = 4): v1 4.37-4.76
//       (2.95-3.16); its stores alone (no K loop) 1.67-1.76; without the
//       A loads 3.40, without the B loads 3.58, without both 2.30-2.32. So
//       loads, not FMAs or stores, held v1: per 4 stores it made 5 K loads
//       (4 of A, one vec4 of B). A^T's address made provably uniform (no
//       lane index in the row): no change. Lanes along N from 8 to 64: no
//       change. A^T's 4 rows as one vec4: 4.20-4.37 (2.88-2.99). 8 rows per
//       invocation with that: 3.03-3.15 (2.25). B's column held for every k
//       (K constant) while walking RG groups of 4 rows: RG = 1 4.49-4.52,
//       2 3.27-3.28, 4 2.53-2.63 (scalar A: 3.23), 8 2.10-2.33 (1.30-1.65),
//       16 2.01-2.10, 32 1.88-1.95: RG = 8 kept (an invocation per 32 rows
//       leaves enough invocations for small M). The same with K a runtime
//       value under uniform branches (16 slots): 2.81-2.85 (1.87-2.01);
//       with 8 slots 2.64-2.70 (1.84-1.85): K became a constant (16
//       pipelines per flavour; the lanes flattened over (row block,
//       column) instead of a power-of-two W along N, which kept the
//       pipeline count at 144 rather than 720). Then alternating v1, v2 and
//       the GEMM core three times (ENGINE_SMALL_K=16, or 0 for the GEMM),
//       same command, same machine, nothing else running:
//         K = 4:  GEMM 3.64, 3.61, 3.43;  v1 3.19, 3.18, 3.19;  v2 1.38, 1.43, 1.38
//         K = 8:  GEMM 4.18, 4.10, 4.08;  v1 4.74, 4.66, 4.62;  v2 2.13, 2.08, 2.15
//         K = 16: GEMM 5.47, 5.35, 5.24;  v1 7.54, 7.41, 7.30;  v2 3.88, 3.76, 3.83
//       (docs/bench-smallk-2026-12-07-v2/), hence SMALL_K = 16. What bounds
//       v2: the same machine stores 8 MB of vec4s alone at 9.3-10.2 GB/s
//       (the bench's copy with its load replaced by a constant, best of 1
//       to 16 vec4s per invocation); v2 at K = 4 writes C's 6.6 MB at 4.6-4.7
//       GB/s, about half of that, and at K = 16 runs its FMAs at 13.7-14.0
//       GFLOP/s, 45-46% of the FMA ceiling of v1's probe (14% of the
//       corrected one, shaders/bench.wgsl): the A loads (one vec4 per k
//       and 4 rows, the same address for most of a subgroup, which llvmpipe
//       still loads per lane) are the rest.

struct Params {
    m: u32,
    n: u32,
    batch: u32,
    a_off: u32,
    b_off: u32,
    c_off: u32,
    ba: u32,
    bb: u32,
    row_blocks: u32,
    alpha: f32,
    beta: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
//#if A_VEC
@group(0) @binding(1) var<storage, read> a: array<vec4<f32>>;
//#else
@group(0) @binding(1) var<storage, read> a: array<f32>;
//#endif
//#if B_VEC
@group(0) @binding(2) var<storage, read> b: array<vec4<f32>>;
//#else
@group(0) @binding(2) var<storage, read> b: array<f32>;
//#endif
@group(0) @binding(3) var<storage, read_write> c: array<vec4<f32>>;

// K, a constant of the pipeline (1 to 16): the slots past it fold away.
const K: u32 = {{K}}u;
// Groups of 4 rows per invocation (src/ops/matmul.rs: SMALL_K_ROWS = 4 RG).
const RG: u32 = 8u;

// op(B)[kk, col..col + 4] of the batch at b0.
fn b_at(b0: u32, kk: u32, col: u32) -> vec4<f32> {
//#if B_T
    let i = b0 + col * K + kk;
    return vec4(b[i], b[i + K], b[i + 2u * K], b[i + 3u * K]);
//#else
//#if B_VEC
    return b[(b0 + kk * p.n + col) / 4u];
//#else
    let i = b0 + kk * p.n + col;
    return vec4(b[i], b[i + 1u], b[i + 2u], b[i + 3u]);
//#endif
//#endif
}

// op(B)[kk, col..col + 4] if kk < K, else zeros (never read: a constant
// condition, so the load folds away).
fn b_or_0(b0: u32, kk: u32, col: u32) -> vec4<f32> {
    return select(vec4(0.0), b_at(b0, min(kk, K - 1u), col), kk < K);
}

// op(A)[row .. row + 4, kk] of the batch at a0; rows past M read row M - 1
// (in bounds; their sums are not stored).
fn a4(a0: u32, row: u32, kk: u32) -> vec4<f32> {
//#if A_VEC
    // A^T: the 4 rows are consecutive; M and a0 are multiples of 4.
    return a[(a0 + kk * p.m + min(row, p.m - 4u)) / 4u];
//#else
    let last = p.m - 1u;
    let r1 = min(row + 1u, last);
    let r2 = min(row + 2u, last);
    let r3 = min(row + 3u, last);
//#if A_T
    let i = a0 + kk * p.m;
    return vec4(a[i + row], a[i + r1], a[i + r2], a[i + r3]);
//#else
    return vec4(a[a0 + row * K + kk], a[a0 + r1 * K + kk], a[a0 + r2 * K + kk], a[a0 + r3 * K + kk]);
//#endif
//#endif
}

// acc[i] += op(A)[row + i, kk] * q for the 4 rows of a group.
fn kstep(a0: u32, row: u32, kk: u32, q: vec4<f32>, acc: ptr<function, array<vec4<f32>, 4>>) {
    let av = a4(a0, row, kk);
    (*acc)[0] = fma(vec4(av.x), q, (*acc)[0]);
    (*acc)[1] = fma(vec4(av.y), q, (*acc)[1]);
    (*acc)[2] = fma(vec4(av.z), q, (*acc)[2]);
    (*acc)[3] = fma(vec4(av.w), q, (*acc)[3]);
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
    // Invocations: (batch, row block of 4 RG rows, vec4 column), the
    // columns fastest, so that the lanes of a subgroup store consecutive
    // vec4s of one row (two, where a row ends within the subgroup).
    let i = group_index(wid, nwg) * 64u + lid;
    let n4 = p.n / 4u;
    let col4 = i % n4;
    let rest = i / n4;
    let bi = rest / p.row_blocks;
    let row0 = (rest % p.row_blocks) * 4u * RG;
    if (bi >= p.batch) {
        return;
    }
    let a0 = p.a_off + (bi % p.ba) * p.m * K;
    let b0 = p.b_off + (bi % p.bb) * K * p.n;
    let col = col4 * 4u;
    // op(B)'s column vec4 at every k, loaded once.
    let q0 = b_at(b0, 0u, col);
    let q1 = b_or_0(b0, 1u, col);
    let q2 = b_or_0(b0, 2u, col);
    let q3 = b_or_0(b0, 3u, col);
    let q4 = b_or_0(b0, 4u, col);
    let q5 = b_or_0(b0, 5u, col);
    let q6 = b_or_0(b0, 6u, col);
    let q7 = b_or_0(b0, 7u, col);
    let q8 = b_or_0(b0, 8u, col);
    let q9 = b_or_0(b0, 9u, col);
    let q10 = b_or_0(b0, 10u, col);
    let q11 = b_or_0(b0, 11u, col);
    let q12 = b_or_0(b0, 12u, col);
    let q13 = b_or_0(b0, 13u, col);
    let q14 = b_or_0(b0, 14u, col);
    let q15 = b_or_0(b0, 15u, col);
    for (var gi = 0u; gi < RG; gi++) {
        let row = row0 + 4u * gi;
        if (row >= p.m) {
            break;
        }
        var acc = array<vec4<f32>, 4>();
        kstep(a0, row, 0u, q0, &acc);
        if (K > 1u) { kstep(a0, row, 1u, q1, &acc); }
        if (K > 2u) { kstep(a0, row, 2u, q2, &acc); }
        if (K > 3u) { kstep(a0, row, 3u, q3, &acc); }
        if (K > 4u) { kstep(a0, row, 4u, q4, &acc); }
        if (K > 5u) { kstep(a0, row, 5u, q5, &acc); }
        if (K > 6u) { kstep(a0, row, 6u, q6, &acc); }
        if (K > 7u) { kstep(a0, row, 7u, q7, &acc); }
        if (K > 8u) { kstep(a0, row, 8u, q8, &acc); }
        if (K > 9u) { kstep(a0, row, 9u, q9, &acc); }
        if (K > 10u) { kstep(a0, row, 10u, q10, &acc); }
        if (K > 11u) { kstep(a0, row, 11u, q11, &acc); }
        if (K > 12u) { kstep(a0, row, 12u, q12, &acc); }
        if (K > 13u) { kstep(a0, row, 13u, q13, &acc); }
        if (K > 14u) { kstep(a0, row, 14u, q14, &acc); }
        if (K > 15u) { kstep(a0, row, 15u, q15, &acc); }
        let ci = p.c_off / 4u + bi * p.m * n4 + row * n4 + col4;
        store(ci, acc[0]);
        if (row + 1u < p.m) {
            store(ci + n4, acc[1]);
        }
        if (row + 2u < p.m) {
            store(ci + 2u * n4, acc[2]);
        }
        if (row + 3u < p.m) {
            store(ci + 3u * n4, acc[3]);
        }
    }
}
