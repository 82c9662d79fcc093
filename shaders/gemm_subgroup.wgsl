// Fragment (//#include gemm_subgroup): the GEMM core of the "subgroups"
// flavour (software GPUs with subgroups of at least 8, such as lavapipe),
// shared by matmul_tiled and conv_tiled with the same interface as
// gemm_tile.wgsl (load_a / prep_b / load_b / prep_c / store_c, or
// the custom 4-element fetches).
//
// A workgroup is one subgroup of 8 invocations ("lanes") and computes a
// BM x BN = (8 RB) x 16 tile of C (RB = 1 or 2): lane l owns columns tn + l
// and tn + 8 + l (B's state slots 0 and 1) and all BM rows. Per 4 values of
// K, lane l fetches 4 k of A's rows tm + 8g + l (one per row group g < RB)
// and of its two columns of B, and every row's A value reaches every lane
// by subgroupBroadcast (an extract and a splat on llvmpipe). Why:
// on llvmpipe every load that differs between lanes is a gather costing
// about as much as 8 vector FMAs, and loads that are the same for all lanes
// are not recognised as such inside a loop; a broadcast is nearly free. So
// each lane loads RB + 2 values per k for 16 RB FMAs (the register kernel of
// matmul.wgsl loads 16 per 64 FMAs, but into 64 accumulators that spill).
// No workgroup memory, no barrier.
//
// Lab measurements (2-core AMD EPYC, llvmpipe of Mesa 25.0.7, 1024^3, min
// of 8 runs, examples/lab.rs variants; the machine's run-to-run spread is
// +-25%): register kernel (matmul.wgsl) 3.4 GFLOP/s; uniform-address rows
// (by workgroup) 1.3-3.5; subgroup broadcast of 8-row groups: 16x16 per
// subgroup 9-11, in-cache (256^3) 11-12.7; without the B loads 24 (what
// the loads cost). Through this core's interface (bounds-checked scalar
// fetches): 16x16 (f.wgsl) 8.5; with a k_end check in every fetch 8.0-8.3.
//
// Versions (engine bench-kernels --quick, same machine, medians; each line
// measured minutes after the one before, so compare within a line):
//   v1: 32x8 tile, one column per lane: matmul 1024^3 4.9 GFLOP/s (register
//       kernel 3.4), conv2d 3x3 forward 5.6 (4.0).
//   v2: 16x16, two columns per lane (B's state in two slots): matmul 6.6,
//       conv forward 6.2, backward-data 5.9, backward-weight 5.3.
//   v3: whole steps of 4 k without bounds checks on k, then one partial
//       step; vec4 loads of A where contiguous (matmul without ta, the conv
//       forward's weights): matmul 7.3 -> 9.7, conv forward 6.5 -> 8.5.
//   v4: vec4 loads of dy in the weight gradients: backward-weight 5.4 ->
//       6.8; backward-data without stride classes on weights swapped to
//       [C, O, KH, KW] (vec4): 6.5 -> 8.7.
//   Model steps (registers -> this core, back to back): DAMSM 2226 -> 1047
//   ms, AttnGAN (2 stages to 128, batch 4) 6165 -> 3312 ms (README).
//   Commits: v1 c8625e9, v2 0677795, v3 5fcef57, v4 1fc7993 (dy) and 2153475
//   (swapped weights), all 2026-11-28; 21c7c85 dropped the empty prep_a (no
//   measurement). Against the register kernels at 21c7c85, back to back on
//   that machine (README): matmul 1024^3 3.15 -> 6.41 GFLOP/s, conv2d 3x3
//   forward 3.19 -> 8.51; DAMSM step 2039 -> 1006 ms, AttnGAN 6675 -> 3175 ms.
//
// What bounds it (2026-12-07, e14bdb7 with probe defines in the main loop,
// docs/gemm-core-probes-2026-12-07/ with the diff): 2-core Intel Xeon,
// llvmpipe of Mesa 25.0.7, bench-kernels --quick --filter "(peers)" --reps
// 5, two runs each, medians in ms, against bench.wgsl v2's FMA ceiling
// (100-106 GFLOP/s):
//   kernel                 as is        no A loads   no B loads   neither
//   matmul 1024^3          70.7, 72.2   55.5, 56.7   51.8, 52.3   28.7, 30.1
//   conv2d 3x3 forward     22.4, 22.8   17.8, 18.5   12.9, 13.2   7.9, 7.9
//   conv2d backward-data   23.2, 24.1   18.4, 18.6   13.3, 13.4   7.9, 8.1
//   conv2d backward-weight 28.1, 28.6   23.6, 23.6   17.5, 17.6   7.6, 7.8
//   conv_t forward         24.4, 25.3   14.9, 15.5   16.6, 16.8   7.7, 7.8
//   conv_t backward-data   18.0, 18.7   14.0, 14.7   12.0, 12.1   6.7, 6.9
//   conv_t backward-weight 24.7, 24.9   20.7, 20.8   15.0, 15.0   6.9, 6.9
// Without the broadcasts (each lane's own A value instead): matmul and the
// convolutions as is within the noise (71.6, 75.6 ms for matmul), so they
// overlap with the FMAs. Without both operands' loads the FMAs and
// broadcasts run at 67-78% of the ceiling (matmul 70-73%, the convolutions
// 67-78%); as is, 20-30%. The loads, gathers of 8 lanes on llvmpipe (one
// per k per row group for A, one per k per column for B: 16 per 4 k for 128
// vector FMAs at RB = 2), are about two thirds of the time. Loading A's
// rows at the tile's row (the same address in every lane: a uniform load)
// instead of each lane's row and a broadcast made matmul 3.3x slower (241.5,
// 245.3 ms against 72.6, 74.0): inside the loop llvmpipe still gathers them.
// Two steps (8 k) per loop iteration: matmul 86.7, 86.3 ms against 72.0,
// 71.7, the convolutions even; not kept.

// With A4, the including kernel also gives load_a4(m, k): A[m, k .. k + 3]
// as one vec4 load (A contiguous along K, every offset a multiple of 4).
//
// Loops: (k_end - k_begin) / 4 iterations per invocation, under llvmpipe's
// 65,535 with the hosts' GEMM_K_CHUNK (src/ops/matmul.rs).

const BM: u32 = 8u * {{RB}}u;
const BN: u32 = 16u;

var<private> acc: array<vec2<f32>, 16>; // acc[r]: row tm + r of this lane's two columns

// 4 consecutive k of A's row m / B's column n, all inside K (the main loop)
// or cut at k_end (the last, partial step).
fn fetch4_a(m: u32, k: u32) -> vec4<f32> {
//#if A4
    return load_a4(m, k);
//#else
//#if CUSTOM_FETCH
    return fetch_a(m, k, k + 4u);
//#else
    return vec4<f32>(load_a(m, k), load_a(m, k + 1u), load_a(m, k + 2u), load_a(m, k + 3u));
//#endif
//#endif
}

//#if CUSTOM_FETCH
fn fetch4_b(n: u32, k: u32, sl: u32) -> vec4<f32> {
    return fetch_b(n, k, k + 4u, sl);
}
//#else
fn fetch4_b(n: u32, k: u32, sl: u32) -> vec4<f32> {
    return vec4<f32>(load_b(k, n, sl), load_b(k + 1u, n, sl), load_b(k + 2u, n, sl), load_b(k + 3u, n, sl));
}

fn fetch_a(m: u32, k: u32, k_end: u32) -> vec4<f32> {
    var v = vec4<f32>(0.0);
    v.x = load_a(m, k);
    if (k + 1u < k_end) {
        v.y = load_a(m, k + 1u);
    }
    if (k + 2u < k_end) {
        v.z = load_a(m, k + 2u);
    }
    return v;
}

fn fetch_b(n: u32, k: u32, k_end: u32, sl: u32) -> vec4<f32> {
    var v = vec4<f32>(0.0);
    v.x = load_b(k, n, sl);
    if (k + 1u < k_end) {
        v.y = load_b(k + 1u, n, sl);
    }
    if (k + 2u < k_end) {
        v.z = load_b(k + 2u, n, sl);
    }
    return v;
}
//#endif

// acc[8g + r] += A[row 8g + r] * b for r < 8, x being this lane's A value
// (its row 8g + lane) and b its two columns' B values; constant indices
// only, so acc stays in registers.
fn rows0(x: f32, b: vec2<f32>) {
    acc[0] = fma(vec2<f32>(subgroupBroadcast(x, 0u)), b, acc[0]);
    acc[1] = fma(vec2<f32>(subgroupBroadcast(x, 1u)), b, acc[1]);
    acc[2] = fma(vec2<f32>(subgroupBroadcast(x, 2u)), b, acc[2]);
    acc[3] = fma(vec2<f32>(subgroupBroadcast(x, 3u)), b, acc[3]);
    acc[4] = fma(vec2<f32>(subgroupBroadcast(x, 4u)), b, acc[4]);
    acc[5] = fma(vec2<f32>(subgroupBroadcast(x, 5u)), b, acc[5]);
    acc[6] = fma(vec2<f32>(subgroupBroadcast(x, 6u)), b, acc[6]);
    acc[7] = fma(vec2<f32>(subgroupBroadcast(x, 7u)), b, acc[7]);
}

fn rows1(x: f32, b: vec2<f32>) {
    acc[8] = fma(vec2<f32>(subgroupBroadcast(x, 0u)), b, acc[8]);
    acc[9] = fma(vec2<f32>(subgroupBroadcast(x, 1u)), b, acc[9]);
    acc[10] = fma(vec2<f32>(subgroupBroadcast(x, 2u)), b, acc[10]);
    acc[11] = fma(vec2<f32>(subgroupBroadcast(x, 3u)), b, acc[11]);
    acc[12] = fma(vec2<f32>(subgroupBroadcast(x, 4u)), b, acc[12]);
    acc[13] = fma(vec2<f32>(subgroupBroadcast(x, 5u)), b, acc[13]);
    acc[14] = fma(vec2<f32>(subgroupBroadcast(x, 6u)), b, acc[14]);
    acc[15] = fma(vec2<f32>(subgroupBroadcast(x, 7u)), b, acc[15]);
}

// acc += A[tile rows, 4 k] @ B[4 k, this lane's columns]: a0 / a1 hold
// 4 k of this lane's row in row group 0 / 1, b0 / b1 of its two columns.
fn step(a0: vec4<f32>, a1: vec4<f32>, b0: vec4<f32>, b1: vec4<f32>) {
    rows0(a0.x, vec2<f32>(b0.x, b1.x));
    rows0(a0.y, vec2<f32>(b0.y, b1.y));
    rows0(a0.z, vec2<f32>(b0.z, b1.z));
    rows0(a0.w, vec2<f32>(b0.w, b1.w));
//#if RB2
    rows1(a1.x, vec2<f32>(b0.x, b1.x));
    rows1(a1.y, vec2<f32>(b0.y, b1.y));
    rows1(a1.z, vec2<f32>(b0.z, b1.z));
    rows1(a1.w, vec2<f32>(b0.w, b1.w));
//#endif
}

// Zeroes the tile's sums (before the first gemm of a tile).
fn gemm_clear() {
    acc = array<vec2<f32>, 16>();
}

// The tile at rows tm.., columns tn.. over K in [k_begin, k_end), added to
// acc: whole steps of 4 k without bounds checks on k, then the partial last
// one.
fn gemm(li: u32, tm: u32, tn: u32, k_begin: u32, k_end: u32) {
    let m0 = tm + li;
    let m1 = tm + 8u + li;
    let n0 = tn + li;
    let n1 = tn + 8u + li;
    prep_b(n0, 0u);
    prep_b(n1, 1u);
    let k_full = k_begin + (k_end - k_begin) / 4u * 4u;
    var k = k_begin;
    for (; k < k_full; k += 4u) {
        var a1 = vec4<f32>(0.0);
//#if RB2
        a1 = fetch4_a(m1, k);
//#endif
        step(fetch4_a(m0, k), a1, fetch4_b(n0, k, 0u), fetch4_b(n1, k, 1u));
    }
    if (k < k_end) {
        var a1 = vec4<f32>(0.0);
//#if RB2
        a1 = fetch_a(m1, k, k_end);
//#endif
        step(fetch_a(m0, k, k_end), a1, fetch_b(n0, k, k_end, 0u), fetch_b(n1, k, k_end, 1u));
    }
}

// Hands this lane's two columns of the tile to store_c (which bounds its own).
fn gemm_store(li: u32, tm: u32, tn: u32) {
    var n = tn + li;
    prep_c(n);
    store_c(tm + 0u, n, acc[0].x);
    store_c(tm + 1u, n, acc[1].x);
    store_c(tm + 2u, n, acc[2].x);
    store_c(tm + 3u, n, acc[3].x);
    store_c(tm + 4u, n, acc[4].x);
    store_c(tm + 5u, n, acc[5].x);
    store_c(tm + 6u, n, acc[6].x);
    store_c(tm + 7u, n, acc[7].x);
//#if RB2
    store_c(tm + 8u, n, acc[8].x);
    store_c(tm + 9u, n, acc[9].x);
    store_c(tm + 10u, n, acc[10].x);
    store_c(tm + 11u, n, acc[11].x);
    store_c(tm + 12u, n, acc[12].x);
    store_c(tm + 13u, n, acc[13].x);
    store_c(tm + 14u, n, acc[14].x);
    store_c(tm + 15u, n, acc[15].x);
//#endif
    n = tn + 8u + li;
    prep_c(n);
    store_c(tm + 0u, n, acc[0].y);
    store_c(tm + 1u, n, acc[1].y);
    store_c(tm + 2u, n, acc[2].y);
    store_c(tm + 3u, n, acc[3].y);
    store_c(tm + 4u, n, acc[4].y);
    store_c(tm + 5u, n, acc[5].y);
    store_c(tm + 6u, n, acc[6].y);
    store_c(tm + 7u, n, acc[7].y);
//#if RB2
    store_c(tm + 8u, n, acc[8].y);
    store_c(tm + 9u, n, acc[9].y);
    store_c(tm + 10u, n, acc[10].y);
    store_c(tm + 11u, n, acc[11].y);
    store_c(tm + 12u, n, acc[12].y);
    store_c(tm + 13u, n, acc[13].y);
    store_c(tm + 14u, n, acc[14].y);
    store_c(tm + 15u, n, acc[15].y);
//#endif
}
