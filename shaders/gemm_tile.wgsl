// Fragment (//#include gemm_tile): the workgroup-tiled GEMM core of the
// "tiled" flavour, shared by matmul_tiled and conv_tiled.
//
// 256 invocations (16 x 16) compute one BM x BM tile of C over the K range
// [k_begin, k_end):
//   BIG = 1: 128 x 128 tile, BK = 8,  each invocation an 8x8 block;
//   BIG = 0:  64 x 64 tile,  BK = 16, each invocation a 4x4 block.
// Invocation (tx, ty) owns rows 4*ty + r (+ 64 for the second half when BIG)
// and columns 4*tx + c (+ 64), so its reads of the staged tiles are whole
// vec4s: one per 4 rows and one per 4 columns.
// Both operands are staged through workgroup memory, double-buffered: the
// next K slice is fetched into registers while the current one is multiplied,
// then written to the other buffer, so each slice costs one barrier.
// Each invocation fetches 4 elements of A and 4 of B per slice, along K when
// that axis is contiguous in memory (A_KC / !B_NC) and else along M (N), with
// consecutive invocations on consecutive addresses; its row of A (column of
// B) stays the same for the whole K loop, so index decoding that depends only
// on it is done once (prep_b).
//
// The including kernel defines, before the include:
//   fn load_a(m: u32, k: u32) -> f32  A[m, k], zero for m >= M (k < K is given)
//   fn prep_b(n: u32, sl: u32), fn load_b(k: u32, n: u32, sl: u32) -> f32   the same
//                                   for B, its state kept in slot sl (0 or 1: the
//                                   subgroup core keeps two columns)
//   fn prep_c(n: u32), fn store_c(m: u32, n: u32, v: f32)  the epilogue (bounds its own)
// and the defines BIG, A_KC, B_NC, CUSTOM_FETCH. With CUSTOM_FETCH it defines
// instead of load_a / load_b the 4-element fetches (below), when it can walk
// 4 consecutive k cheaper than it can address each.
//
// On llvmpipe (where the tiled flavour is tested) an invocation may run at
// most 65,535 loop iterations in all; the loops here cost about BK + 1 per BK
// values of K (the inner products are written out), so hosts keep
// k_end - k_begin <= 32768 (GEMM_K_CHUNK in src/ops/matmul.rs).
//
// History (the tiled flavour; H200, Vulkan):
//   v1 (1aa2c6a, 2026-11-27): this core, replacing matmul_tiled's own 64x64
//       single-buffered loop (1024^3 0.825 ms at a193e16) and, for the tiled
//       flavour, the register convolutions; accumulators indexed by loop
//       variables.
//   v2 (afa12c5, 2026-11-27): constant indices into the accumulators only
//       (with variable ones 128x128 tiles ran at 2 TFLOP/s, commit); 26d602b
//       CUSTOM_FETCH; f58b16f (host) the tile rule. At 8198dc5 (README):
//       matmul 1024^3 0.14 ms = 15.1 TFLOP/s, 59% of the 25.5 TFLOP/s FMA
//       ceiling [PyTorch 0.058 ms]; AttnGAN birds step 4179 ms (a193e16) ->
//       217 ms [PyTorch 113 ms].
//   c8625e9, 0677795 (2026-11-28): BN, and slots for B's state, so that
//       gemm_subgroup.wgsl shares the interface; 21c7c85: prep_a dropped. H200
//       at 23b0c04: matmul 1024^3 0.14 ms, 61.6% of the ceiling (README).

//#if BIG
const BM: u32 = 128u;
const BK: u32 = 8u;
//#else
const BM: u32 = 64u;
const BK: u32 = 16u;
//#endif
const BN: u32 = BM; // square tiles
const BM4: u32 = BM / 4u;
const TSZ: u32 = 256u; // vec4s of one operand slice: BK * BM / 4 in both shapes

var<workgroup> a_s: array<vec4<f32>, 512>; // [buffer][kk][m / 4][m % 4]
var<workgroup> b_s: array<vec4<f32>, 512>; // [buffer][kk][n / 4][n % 4]
//#if BIG
var<private> acc: array<vec4<f32>, 16>; // acc[r * 2 + h][c]
//#else
var<private> acc: array<vec4<f32>, 4>; // acc[r][c]
//#endif

// (row within the tile, first k within the slice) this invocation fetches.
fn a_pos(li: u32) -> vec2<u32> {
//#if A_KC
    return vec2<u32>(li / (BK / 4u), (li % (BK / 4u)) * 4u);
//#else
    return vec2<u32>(li % BM, (li / BM) * 4u);
//#endif
}

fn b_pos(li: u32) -> vec2<u32> {
//#if B_NC
    return vec2<u32>(li % BM, (li / BM) * 4u);
//#else
    return vec2<u32>(li / (BK / 4u), (li % (BK / 4u)) * 4u);
//#endif
}

//#if CUSTOM_FETCH
//#else
fn fetch_a(m: u32, k: u32, k_end: u32) -> vec4<f32> {
    var v = vec4<f32>(0.0);
    if (k < k_end) {
        v.x = load_a(m, k);
    }
    if (k + 1u < k_end) {
        v.y = load_a(m, k + 1u);
    }
    if (k + 2u < k_end) {
        v.z = load_a(m, k + 2u);
    }
    if (k + 3u < k_end) {
        v.w = load_a(m, k + 3u);
    }
    return v;
}

fn fetch_b(n: u32, k: u32, k_end: u32, sl: u32) -> vec4<f32> {
    var v = vec4<f32>(0.0);
    if (k < k_end) {
        v.x = load_b(k, n, sl);
    }
    if (k + 1u < k_end) {
        v.y = load_b(k + 1u, n, sl);
    }
    if (k + 2u < k_end) {
        v.z = load_b(k + 2u, n, sl);
    }
    if (k + 3u < k_end) {
        v.w = load_b(k + 3u, n, sl);
    }
    return v;
}

//#endif

// Writes the fetched values (4 consecutive k of one row / column) to buffer `buf`.
fn put(buf: u32, ap: vec2<u32>, bp: vec2<u32>, ra: vec4<f32>, rb: vec4<f32>) {
    let ai = buf * TSZ + ap.y * BM4 + ap.x / 4u;
    let ac = ap.x % 4u;
    a_s[ai][ac] = ra.x;
    a_s[ai + BM4][ac] = ra.y;
    a_s[ai + 2u * BM4][ac] = ra.z;
    a_s[ai + 3u * BM4][ac] = ra.w;
    let bi = buf * TSZ + bp.y * BM4 + bp.x / 4u;
    let bc = bp.x % 4u;
    b_s[bi][bc] = rb.x;
    b_s[bi + BM4][bc] = rb.y;
    b_s[bi + 2u * BM4][bc] = rb.z;
    b_s[bi + 3u * BM4][bc] = rb.w;
}

// acc += A[tile rows, k slice] @ B[k slice, tile columns] from buffer `base`.
fn multiply(base: u32, tx: u32, ty: u32) {
    for (var kk = 0u; kk < BK; kk++) {
        let o = base + kk * BM4;
//#if BIG
        let a0 = a_s[o + ty];
        let a1 = a_s[o + ty + 16u];
        let b0 = b_s[o + tx];
        let b1 = b_s[o + tx + 16u];
        acc[0] = fma(vec4<f32>(a0.x), b0, acc[0]);
        acc[1] = fma(vec4<f32>(a0.x), b1, acc[1]);
        acc[2] = fma(vec4<f32>(a0.y), b0, acc[2]);
        acc[3] = fma(vec4<f32>(a0.y), b1, acc[3]);
        acc[4] = fma(vec4<f32>(a0.z), b0, acc[4]);
        acc[5] = fma(vec4<f32>(a0.z), b1, acc[5]);
        acc[6] = fma(vec4<f32>(a0.w), b0, acc[6]);
        acc[7] = fma(vec4<f32>(a0.w), b1, acc[7]);
        acc[8] = fma(vec4<f32>(a1.x), b0, acc[8]);
        acc[9] = fma(vec4<f32>(a1.x), b1, acc[9]);
        acc[10] = fma(vec4<f32>(a1.y), b0, acc[10]);
        acc[11] = fma(vec4<f32>(a1.y), b1, acc[11]);
        acc[12] = fma(vec4<f32>(a1.z), b0, acc[12]);
        acc[13] = fma(vec4<f32>(a1.z), b1, acc[13]);
        acc[14] = fma(vec4<f32>(a1.w), b0, acc[14]);
        acc[15] = fma(vec4<f32>(a1.w), b1, acc[15]);
//#else
        let a0 = a_s[o + ty];
        let b0 = b_s[o + tx];
        acc[0] = fma(vec4<f32>(a0.x), b0, acc[0]);
        acc[1] = fma(vec4<f32>(a0.y), b0, acc[1]);
        acc[2] = fma(vec4<f32>(a0.z), b0, acc[2]);
        acc[3] = fma(vec4<f32>(a0.w), b0, acc[3]);
//#endif
    }
}

// Zeroes the tile's sums (before the first gemm of a tile).
fn gemm_clear() {
    // Constant indices only, here and everywhere: one indexed by a variable
    // can make the driver keep acc in (slow, off-chip) local memory.
//#if BIG
    acc = array<vec4<f32>, 16>();
//#else
    acc = array<vec4<f32>, 4>();
//#endif
}

// The tile at rows tm.., columns tn.. over K in [k_begin, k_end), added to
// acc. Must be reached by the whole workgroup (it has barriers); it may be
// called again for more sums (its last barrier follows its last reads).
fn gemm(li: u32, tm: u32, tn: u32, k_begin: u32, k_end: u32) {
    let tx = li % 16u;
    let ty = li / 16u;
    let ap = a_pos(li);
    let bp = b_pos(li);
    let am = tm + ap.x;
    let bn = tn + bp.x;
    prep_b(bn, 0u);
    var ra = fetch_a(am, k_begin + ap.y, k_end);
    var rb = fetch_b(bn, k_begin + bp.y, k_end, 0u);
    put(0u, ap, bp, ra, rb);
    workgroupBarrier();
    var buf = 0u;
    for (var k0 = k_begin; k0 < k_end; k0 += BK) {
        let more = k0 + BK < k_end;
        if (more) {
            ra = fetch_a(am, k0 + BK + ap.y, k_end);
            rb = fetch_b(bn, k0 + BK + bp.y, k_end, 0u);
        }
        multiply(buf * TSZ, tx, ty);
        if (more) {
            put(1u - buf, ap, bp, ra, rb);
        }
        workgroupBarrier();
        buf = 1u - buf;
    }
}

// Hands the 4 values of v (row m, columns n0 .. n0 + 3) to store_c.
fn store4(m: u32, n0: u32, v: vec4<f32>) {
    for (var c = 0u; c < 4u; c++) {
        prep_c(n0 + c);
        store_c(m, n0 + c, v[c]);
    }
}

// Hands each value of acc to store_c (rows 4*ty + r (+ 64), columns 4*tx + c (+ 64)).
fn gemm_store(li: u32, tm: u32, tn: u32) {
    let m = tm + (li / 16u) * 4u;
    let n = tn + (li % 16u) * 4u;
//#if BIG
    store4(m, n, acc[0]);
    store4(m, n + 64u, acc[1]);
    store4(m + 1u, n, acc[2]);
    store4(m + 1u, n + 64u, acc[3]);
    store4(m + 2u, n, acc[4]);
    store4(m + 2u, n + 64u, acc[5]);
    store4(m + 3u, n, acc[6]);
    store4(m + 3u, n + 64u, acc[7]);
    store4(m + 64u, n, acc[8]);
    store4(m + 64u, n + 64u, acc[9]);
    store4(m + 65u, n, acc[10]);
    store4(m + 65u, n + 64u, acc[11]);
    store4(m + 66u, n, acc[12]);
    store4(m + 66u, n + 64u, acc[13]);
    store4(m + 67u, n, acc[14]);
    store4(m + 67u, n + 64u, acc[15]);
//#else
    store4(m, n, acc[0]);
    store4(m + 1u, n, acc[1]);
    store4(m + 2u, n, acc[2]);
    store4(m + 3u, n, acc[3]);
//#endif
}
