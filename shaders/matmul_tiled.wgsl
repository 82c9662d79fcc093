// Batched matmul with workgroup-memory tiles (the variant for real GPUs):
//   C[b] = alpha * opA(A[b]) @ opB(B[b]) + beta * C[b]
// with the same operands and parameters as matmul.wgsl. A workgroup of 16x16
// threads computes a 64x64 tile of C, each thread a 4x4 block; the K axis is
// walked in slices of 16 staged through workgroup memory. Loads outside the
// matrices read as zero.

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
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;

const TILE: u32 = 64u;
const KT: u32 = 16u;

var<workgroup> a_tile: array<f32, 1024>; // [KT][TILE]: a_tile[kk * 64 + m]
var<workgroup> b_tile: array<f32, 1024>; // [KT][TILE]: b_tile[kk * 64 + n]

fn a_at(base: u32, m: u32, k: u32) -> f32 {
    if (m >= p.M || k >= p.K) {
        return 0.0;
    }
//#if A_T
    return a[base + k * p.M + m];
//#else
    return a[base + m * p.K + k];
//#endif
}

fn b_at(base: u32, k: u32, n: u32) -> f32 {
    if (k >= p.K || n >= p.N) {
        return 0.0;
    }
//#if B_T
    return b[base + n * p.K + k];
//#else
    return b[base + k * p.N + n];
//#endif
}

@compute @workgroup_size(16, 16)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let g = group_index(wid, nwg);
    let tiles = p.tiles_m * p.tiles_n;
    // Whole workgroups leave together, so the barriers below stay uniform.
    if (g >= tiles * p.batch) {
        return;
    }
    let bi = g / tiles;
    let t = g % tiles;
    let tm = (t / p.tiles_n) * TILE;
    let tn = (t % p.tiles_n) * TILE;
    let a_base = p.a_off + (bi % p.a_batches) * p.a_bstride;
    let b_base = p.b_off + (bi % p.b_batches) * p.b_bstride;

    var acc: array<vec4<f32>, 4>; // acc[r] = C[tm + 4*ly + r, tn + 4*lx .. +3]
    for (var r = 0u; r < 4u; r++) {
        acc[r] = vec4<f32>(0.0);
    }
    for (var k0 = 0u; k0 < p.K; k0 += KT) {
        // 256 threads stage 1024 elements of each operand, 4 apiece, walking
        // the operand's contiguous axis with consecutive threads.
        for (var e = 0u; e < 4u; e++) {
            let idx = li + e * 256u;
//#if A_T
            let am = idx % TILE;
            let ak = idx / TILE;
//#else
            let am = idx / KT;
            let ak = idx % KT;
//#endif
            a_tile[ak * TILE + am] = a_at(a_base, tm + am, k0 + ak);
//#if B_T
            let bn = idx / KT;
            let bk = idx % KT;
//#else
            let bn = idx % TILE;
            let bk = idx / TILE;
//#endif
            b_tile[bk * TILE + bn] = b_at(b_base, k0 + bk, tn + bn);
        }
        workgroupBarrier();
        for (var kk = 0u; kk < KT; kk++) {
            let bv = vec4<f32>(b_tile[kk * TILE + lid.x * 4u], b_tile[kk * TILE + lid.x * 4u + 1u],
                               b_tile[kk * TILE + lid.x * 4u + 2u], b_tile[kk * TILE + lid.x * 4u + 3u]);
            for (var r = 0u; r < 4u; r++) {
                acc[r] = fma(vec4<f32>(a_tile[kk * TILE + lid.y * 4u + r]), bv, acc[r]);
            }
        }
        workgroupBarrier();
    }

    let c_base = p.c_off + bi * p.c_bstride;
    for (var r = 0u; r < 4u; r++) {
        let m = tm + lid.y * 4u + r;
        for (var j = 0u; j < 4u; j++) {
            let n = tn + lid.x * 4u + j;
            if (m < p.M && n < p.N) {
                let idx = c_base + m * p.N + n;
                var value = p.alpha * acc[r][j];
                if (p.beta != 0.0) {
                    value = value + p.beta * c[idx];
                }
                c[idx] = value;
            }
        }
    }
}
