// Fragment (//#include gemm_subgroup): the GEMM core of the "subgroups"
// flavour (software GPUs with subgroups of at least 8, such as lavapipe),
// shared by matmul_tiled and conv_tiled with the same interface as
// gemm_tile.wgsl (prep_a / load_a / prep_b / load_b / prep_c / store_c, or
// the custom 4-element fetches).
//
// A workgroup is one subgroup of 8 invocations ("lanes") and computes a
// BM x BN = (8 RB) x 8 tile of C: lane l owns column tn + l and all BM rows.
// Per 4 values of K, lane l fetches 4 k of A's rows tm + 8g + l (one per row
// group g < RB) and of its own column of B, and every row's A value reaches
// every lane by subgroupBroadcast (an extract and a splat on llvmpipe). Why:
// on llvmpipe every load that differs between lanes is a gather costing
// about as much as 8 vector FMAs, and loads that are the same for all lanes
// are not recognised as such inside a loop; a broadcast is nearly free. So
// each lane loads RB + 1 values per k for 8 RB FMAs (the register kernel of
// matmul.wgsl loads 16 per 64 FMAs, but as 64 separate registers that
// spill). No workgroup memory, no barrier.
//
// Lab measurements (2-core AMD EPYC, llvmpipe of Mesa 25.0.7, 1024^3, min
// of 8 runs, examples/lab.rs variants; the machine's run-to-run spread is
// +-25%): register kernel (matmul.wgsl) 3.4 GFLOP/s; uniform-address rows
// (by workgroup) 1.3-3.5; subgroup broadcast of 8-row groups: 16x16 per
// subgroup 9-11, in-cache (256^3) 11-12.7; without the B loads 24 (what
// the loads cost).
//
// Loops: (k_end - k_begin) / 4 iterations per invocation, under llvmpipe's
// 65,535 with the hosts' GEMM_K_CHUNK (src/ops/matmul.rs).

const BM: u32 = 8u * {{RB}}u;
const BN: u32 = 8u;

var<private> acc: array<f32, 32>; // acc[r]: row tm + r of this lane's column

//#if CUSTOM_FETCH
//#else
fn fetch_a(m: u32, k: u32, k_end: u32) -> vec4<f32> {
    var v = vec4<f32>(0.0);
    if (k + 4u <= k_end) {
        return vec4<f32>(load_a(m, k), load_a(m, k + 1u), load_a(m, k + 2u), load_a(m, k + 3u));
    }
    if (k < k_end) {
        v.x = load_a(m, k);
    }
    if (k + 1u < k_end) {
        v.y = load_a(m, k + 1u);
    }
    if (k + 2u < k_end) {
        v.z = load_a(m, k + 2u);
    }
    return v;
}

fn fetch_b(n: u32, k: u32, k_end: u32) -> vec4<f32> {
    var v = vec4<f32>(0.0);
    if (k + 4u <= k_end) {
        return vec4<f32>(load_b(k, n), load_b(k + 1u, n), load_b(k + 2u, n), load_b(k + 3u, n));
    }
    if (k < k_end) {
        v.x = load_b(k, n);
    }
    if (k + 1u < k_end) {
        v.y = load_b(k + 1u, n);
    }
    if (k + 2u < k_end) {
        v.z = load_b(k + 2u, n);
    }
    return v;
}
//#endif

// acc[8g + r] += A[row 8g + r] * b for r < 8, x being this lane's A value
// (its row 8g + lane); constant indices only, so acc stays in registers.
fn rows0(x: f32, b: f32) {
    acc[0] = fma(subgroupBroadcast(x, 0u), b, acc[0]);
    acc[1] = fma(subgroupBroadcast(x, 1u), b, acc[1]);
    acc[2] = fma(subgroupBroadcast(x, 2u), b, acc[2]);
    acc[3] = fma(subgroupBroadcast(x, 3u), b, acc[3]);
    acc[4] = fma(subgroupBroadcast(x, 4u), b, acc[4]);
    acc[5] = fma(subgroupBroadcast(x, 5u), b, acc[5]);
    acc[6] = fma(subgroupBroadcast(x, 6u), b, acc[6]);
    acc[7] = fma(subgroupBroadcast(x, 7u), b, acc[7]);
}

fn rows1(x: f32, b: f32) {
    acc[8] = fma(subgroupBroadcast(x, 0u), b, acc[8]);
    acc[9] = fma(subgroupBroadcast(x, 1u), b, acc[9]);
    acc[10] = fma(subgroupBroadcast(x, 2u), b, acc[10]);
    acc[11] = fma(subgroupBroadcast(x, 3u), b, acc[11]);
    acc[12] = fma(subgroupBroadcast(x, 4u), b, acc[12]);
    acc[13] = fma(subgroupBroadcast(x, 5u), b, acc[13]);
    acc[14] = fma(subgroupBroadcast(x, 6u), b, acc[14]);
    acc[15] = fma(subgroupBroadcast(x, 7u), b, acc[15]);
}

fn rows2(x: f32, b: f32) {
    acc[16] = fma(subgroupBroadcast(x, 0u), b, acc[16]);
    acc[17] = fma(subgroupBroadcast(x, 1u), b, acc[17]);
    acc[18] = fma(subgroupBroadcast(x, 2u), b, acc[18]);
    acc[19] = fma(subgroupBroadcast(x, 3u), b, acc[19]);
    acc[20] = fma(subgroupBroadcast(x, 4u), b, acc[20]);
    acc[21] = fma(subgroupBroadcast(x, 5u), b, acc[21]);
    acc[22] = fma(subgroupBroadcast(x, 6u), b, acc[22]);
    acc[23] = fma(subgroupBroadcast(x, 7u), b, acc[23]);
}

fn rows3(x: f32, b: f32) {
    acc[24] = fma(subgroupBroadcast(x, 0u), b, acc[24]);
    acc[25] = fma(subgroupBroadcast(x, 1u), b, acc[25]);
    acc[26] = fma(subgroupBroadcast(x, 2u), b, acc[26]);
    acc[27] = fma(subgroupBroadcast(x, 3u), b, acc[27]);
    acc[28] = fma(subgroupBroadcast(x, 4u), b, acc[28]);
    acc[29] = fma(subgroupBroadcast(x, 5u), b, acc[29]);
    acc[30] = fma(subgroupBroadcast(x, 6u), b, acc[30]);
    acc[31] = fma(subgroupBroadcast(x, 7u), b, acc[31]);
}

// The tile at rows tm.., columns tn.. over K in [k_begin, k_end), into acc.
fn gemm(li: u32, tm: u32, tn: u32, k_begin: u32, k_end: u32) {
    acc = array<f32, 32>();
    let n = tn + li;
    prep_a(tm + li);
    prep_b(n);
    for (var k = k_begin; k < k_end; k += 4u) {
        let b = fetch_b(n, k, k_end);
        let a0 = fetch_a(tm + li, k, k_end);
        rows0(a0.x, b.x);
        rows0(a0.y, b.y);
        rows0(a0.z, b.z);
        rows0(a0.w, b.w);
//#if RB2
        let a1 = fetch_a(tm + 8u + li, k, k_end);
        rows1(a1.x, b.x);
        rows1(a1.y, b.y);
        rows1(a1.z, b.z);
        rows1(a1.w, b.w);
//#endif
//#if RB4
        let a2 = fetch_a(tm + 16u + li, k, k_end);
        rows2(a2.x, b.x);
        rows2(a2.y, b.y);
        rows2(a2.z, b.z);
        rows2(a2.w, b.w);
        let a3 = fetch_a(tm + 24u + li, k, k_end);
        rows3(a3.x, b.x);
        rows3(a3.y, b.y);
        rows3(a3.z, b.z);
        rows3(a3.w, b.w);
//#endif
    }
}

// Hands this lane's column of the tile to store_c (which bounds its own).
fn gemm_store(li: u32, tm: u32, tn: u32) {
    let n = tn + li;
    prep_c(n);
    store_c(tm + 0u, n, acc[0]);
    store_c(tm + 1u, n, acc[1]);
    store_c(tm + 2u, n, acc[2]);
    store_c(tm + 3u, n, acc[3]);
    store_c(tm + 4u, n, acc[4]);
    store_c(tm + 5u, n, acc[5]);
    store_c(tm + 6u, n, acc[6]);
    store_c(tm + 7u, n, acc[7]);
//#if RB2
    store_c(tm + 8u, n, acc[8]);
    store_c(tm + 9u, n, acc[9]);
    store_c(tm + 10u, n, acc[10]);
    store_c(tm + 11u, n, acc[11]);
    store_c(tm + 12u, n, acc[12]);
    store_c(tm + 13u, n, acc[13]);
    store_c(tm + 14u, n, acc[14]);
    store_c(tm + 15u, n, acc[15]);
//#endif
//#if RB4
    store_c(tm + 16u, n, acc[16]);
    store_c(tm + 17u, n, acc[17]);
    store_c(tm + 18u, n, acc[18]);
    store_c(tm + 19u, n, acc[19]);
    store_c(tm + 20u, n, acc[20]);
    store_c(tm + 21u, n, acc[21]);
    store_c(tm + 22u, n, acc[22]);
    store_c(tm + 23u, n, acc[23]);
    store_c(tm + 24u, n, acc[24]);
    store_c(tm + 25u, n, acc[25]);
    store_c(tm + 26u, n, acc[26]);
    store_c(tm + 27u, n, acc[27]);
    store_c(tm + 28u, n, acc[28]);
    store_c(tm + 29u, n, acc[29]);
    store_c(tm + 30u, n, acc[30]);
    store_c(tm + 31u, n, acc[31]);
//#endif
}
