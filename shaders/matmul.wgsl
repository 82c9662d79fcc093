// Batched matmul, register-blocked (the variant for software GPUs such as lavapipe):
//   C[b] = alpha * opA(A[b]) @ opB(B[b]) + beta * C[b]
// opA(A) is [M, K], stored [M, K] (A_T=0) or [K, M] (A_T=1);
// opB(B) is [K, N], stored [K, N] (B_T=0) or [N, K] (B_T=1); C is [M, N].
// Batch bi reads batch bi % a_batches of A (and likewise of B): an operand
// with fewer batches is repeated cyclically, one batch broadcasts.
//
// Each thread computes an 8x8 block of C in registers and a workgroup of
// WG_X x WG_Y = 64 threads an (8 WG_Y) x (8 WG_X) tile (64x64 for square
// problems; thin ones get thin tiles so few threads idle on clamped rows or
// columns); there is no workgroup memory and no barrier, since on
// lavapipe barriers are costly and speed follows FMAs per load. A_VEC / B_VEC
// bind an operand as vec4 when its contiguous axis (and offsets) are multiples
// of 4. Rows and columns past the edge are clamped on load and skipped on store.
//
// One launch sums k_begin .. k_end of K (a multiple of 4 apart but for the
// last): llvmpipe ends every loop of an invocation after 65,535 iterations
// in all, with no error, and a whole K of 43,690 ran into it (the sum cut
// short, and the store loop after it cut off: rows 1-7 of an 8x8 block were
// never written). The host splits K into passes of REGISTER_K_CHUNK
// (src/ops/matmul.rs) that accumulate into C with beta = 1.
//
// History (the registers flavour):
//   v1 (70108ac, 2026-11-27): 8x8 per thread, 8x8 threads (64x64 tiles).
//   v2 (d069cb2, 2026-11-27): cyclic batch broadcast; WG_X templated, thin
//       tiles for thin problems. At a193e16 on lavapipe Mesa 22.3.6, 2-core
//       Zen 3: 1024^3 427.3 ms = 5.03 GFLOP/s (14.3% of the FMA ceiling),
//       512^3 ta 5.08 (README). 560-571 ms against burn 0.22.1's 171 ms
//       (Mesa 22.3, 2-core Zen 3, 2026-11-27, docs/peers.md).
//       76eda5b, Mesa 22.3: 51.5% of a 7.2 s DAMSM step (README).
//   v3 (c4ca92a, 2026-11-27): k_begin .. k_end, K in launches of 8192 (a K
//       of 70,001 had been summed only to about 43,690). At 21c7c85 on
//       lavapipe Mesa 25.0.7, 2-core EPYC: 1024^3 681 ms = 3.15 GFLOP/s,
//       512^3 ta 3.32 (README, docs/bench-lavapipe-mesa25-registers.json);
//       there the subgroups flavour's matmul_tiled.wgsl does 6.41 and 5.97.

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
    k_begin: u32, // this launch sums K indices k_begin .. k_end
    k_end: u32,
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
@group(0) @binding(3) var<storage, read_write> c: array<f32>;

// opA(A)[m, k] as a scalar; base is the batch's element offset.
fn a_at(base: u32, m: u32, k: u32) -> f32 {
//#if A_T
    let i = base + k * p.M + m;
//#else
    let i = base + m * p.K + k;
//#endif
//#if A_VEC
    return a[i / 4u][i % 4u];
//#else
    return a[i];
//#endif
}

// opB(B)[k, n] as a scalar.
fn b_at(base: u32, k: u32, n: u32) -> f32 {
//#if B_T
    let i = base + n * p.K + k;
//#else
    let i = base + k * p.N + n;
//#endif
//#if B_VEC
    return b[i / 4u][i % 4u];
//#else
    return b[i];
//#endif
}

const WG_X: u32 = {{WG_X}}u;
const WG_Y: u32 = 64u / {{WG_X}}u;

@compute @workgroup_size({{WG_X}}, 64 / {{WG_X}})
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let g = group_index(wid, nwg);
    let tiles = p.tiles_m * p.tiles_n;
    if (g >= tiles * p.batch) {
        return;
    }
    let bi = g / tiles;
    let t = g % tiles;
    let m0 = (t / p.tiles_n) * (8u * WG_Y) + lid.y * 8u;
    let n0 = (t % p.tiles_n) * (8u * WG_X) + lid.x * 8u;
    let a_base = p.a_off + (bi % p.a_batches) * p.a_bstride;
    let b_base = p.b_off + (bi % p.b_batches) * p.b_bstride;

    // Clamped rows and columns of this thread's block.
    var rows: array<u32, 8>;
    var cols: array<u32, 8>;
    for (var r = 0u; r < 8u; r++) {
        rows[r] = min(m0 + r, p.M - 1u);
        cols[r] = min(n0 + r, p.N - 1u);
    }

    // acc[2r + v] holds C[m0 + r, n0 + 4v .. n0 + 4v + 3].
    var acc: array<vec4<f32>, 16>;
    for (var i = 0u; i < 16u; i++) {
        acc[i] = vec4<f32>(0.0);
    }

    var k = p.k_begin;
    loop {
        if (k + 4u > p.k_end) {
            break;
        }
        // av[r] = opA[rows[r], k .. k+3]
        var av: array<vec4<f32>, 8>;
//#if A_T
//#if A_VEC
        for (var kk = 0u; kk < 4u; kk++) {
            let row = a_base + (k + kk) * p.M;
            let v0 = a[(row + min(m0, p.M - 4u)) / 4u];
            let v1 = a[(row + min(m0 + 4u, p.M - 4u)) / 4u];
            av[0][kk] = v0.x;
            av[1][kk] = v0.y;
            av[2][kk] = v0.z;
            av[3][kk] = v0.w;
            av[4][kk] = v1.x;
            av[5][kk] = v1.y;
            av[6][kk] = v1.z;
            av[7][kk] = v1.w;
        }
//#else
        for (var r = 0u; r < 8u; r++) {
            av[r] = vec4<f32>(a_at(a_base, rows[r], k), a_at(a_base, rows[r], k + 1u),
                              a_at(a_base, rows[r], k + 2u), a_at(a_base, rows[r], k + 3u));
        }
//#endif
//#else
//#if A_VEC
        for (var r = 0u; r < 8u; r++) {
            av[r] = a[(a_base + rows[r] * p.K + k) / 4u];
        }
//#else
        for (var r = 0u; r < 8u; r++) {
            av[r] = vec4<f32>(a_at(a_base, rows[r], k), a_at(a_base, rows[r], k + 1u),
                              a_at(a_base, rows[r], k + 2u), a_at(a_base, rows[r], k + 3u));
        }
//#endif
//#endif
        // bv[2kk + v] = opB[k + kk, n0 + 4v .. n0 + 4v + 3]
        var bv: array<vec4<f32>, 8>;
//#if B_T
//#if B_VEC
        var bc: array<vec4<f32>, 8>; // bc[j] = opB[k .. k+3, cols[j]]
        for (var j = 0u; j < 8u; j++) {
            bc[j] = b[(b_base + cols[j] * p.K + k) / 4u];
        }
        for (var kk = 0u; kk < 4u; kk++) {
            bv[2u * kk] = vec4<f32>(bc[0][kk], bc[1][kk], bc[2][kk], bc[3][kk]);
            bv[2u * kk + 1u] = vec4<f32>(bc[4][kk], bc[5][kk], bc[6][kk], bc[7][kk]);
        }
//#else
        for (var kk = 0u; kk < 4u; kk++) {
            for (var v = 0u; v < 2u; v++) {
                bv[2u * kk + v] = vec4<f32>(b_at(b_base, k + kk, cols[4u * v]), b_at(b_base, k + kk, cols[4u * v + 1u]),
                                            b_at(b_base, k + kk, cols[4u * v + 2u]), b_at(b_base, k + kk, cols[4u * v + 3u]));
            }
        }
//#endif
//#else
//#if B_VEC
        for (var kk = 0u; kk < 4u; kk++) {
            let row = b_base + (k + kk) * p.N;
            bv[2u * kk] = b[(row + min(n0, p.N - 4u)) / 4u];
            bv[2u * kk + 1u] = b[(row + min(n0 + 4u, p.N - 4u)) / 4u];
        }
//#else
        for (var kk = 0u; kk < 4u; kk++) {
            for (var v = 0u; v < 2u; v++) {
                bv[2u * kk + v] = vec4<f32>(b_at(b_base, k + kk, cols[4u * v]), b_at(b_base, k + kk, cols[4u * v + 1u]),
                                            b_at(b_base, k + kk, cols[4u * v + 2u]), b_at(b_base, k + kk, cols[4u * v + 3u]));
            }
        }
//#endif
//#endif
        for (var kk = 0u; kk < 4u; kk++) {
            for (var r = 0u; r < 8u; r++) {
                let s = vec4<f32>(av[r][kk]);
                acc[2u * r] = fma(s, bv[2u * kk], acc[2u * r]);
                acc[2u * r + 1u] = fma(s, bv[2u * kk + 1u], acc[2u * r + 1u]);
            }
        }
        k = k + 4u;
    }
    // The last K % 4 steps, one at a time.
    for (; k < p.k_end; k++) {
        var bk: array<vec4<f32>, 2>;
        for (var v = 0u; v < 2u; v++) {
            bk[v] = vec4<f32>(b_at(b_base, k, cols[4u * v]), b_at(b_base, k, cols[4u * v + 1u]),
                              b_at(b_base, k, cols[4u * v + 2u]), b_at(b_base, k, cols[4u * v + 3u]));
        }
        for (var r = 0u; r < 8u; r++) {
            let s = vec4<f32>(a_at(a_base, rows[r], k));
            acc[2u * r] = fma(s, bk[0], acc[2u * r]);
            acc[2u * r + 1u] = fma(s, bk[1], acc[2u * r + 1u]);
        }
    }

    let c_base = p.c_off + bi * p.c_bstride;
    for (var r = 0u; r < 8u; r++) {
        let m = m0 + r;
        if (m >= p.M) {
            break;
        }
        for (var j = 0u; j < 8u; j++) {
            let n = n0 + j;
            if (n < p.N) {
                let idx = c_base + m * p.N + n;
                var value = p.alpha * acc[2u * r + j / 4u][j % 4u];
                if (p.beta != 0.0) {
                    value = value + p.beta * c[idx];
                }
                c[idx] = value;
            }
        }
    }
}
