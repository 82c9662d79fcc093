// Embedding lookup and its gradient. Ids are f32 holding integer values
// (exact below 2^24); an id outside [0, V) reads as a zero row and receives
// no gradient (the host rejects such ids when it uploads them, see
// src/ops/embedding.rs).
//
// BACKWARD=0: out[n, d] = table[ids[n], d]                  (one thread per (n, d))
// BACKWARD=1: d_table[v, d] = sum over n with ids[n] == v of d_out[n, d]
//             (one thread per (v, d) looping over all n in order: no atomics,
//             the same sum order every run, so the result is deterministic)
// ONEHOT=1:   out[n, v] = 1 if ids[n] == v else 0 (one thread per (n, v)):
//             the host's usual backward is onehot^T @ d_out, a matmul (as
//             deterministic); the loop above stays for one-hot matrices too
//             big to hold (src/ops/embedding.rs).
//
// Versions (the DAMSM step's backward, 16 x 42 ids, vocabulary ~100, D 300;
// lavapipe of Mesa 25, 2-core EPYC): the loop 120 ms (10.7% of the step:
// every id is a gather, once per (v, d)); one-hot + matmul: see the README.
//   v1 (f397e0e, 2026-11-27): gather, and the loop backward: 6.4% of a 7.2 s
//       DAMSM step at 76eda5b, lavapipe Mesa 22.3, register kernels (README);
//       H200 (Vulkan), binaries of 8198dc5: backward 0.25 ms of the DAMSM
//       step (docs/bench-h200-tiled-gemm.json).
//   v2 (a003914, 2026-11-28): ONEHOT, the backward as onehot^T @ d_out:
//       DAMSM step 1101 -> 1019 ms (commit; the lavapipe above). H200 at
//       23b0c04: 2 dispatches, 0.02 ms (docs/gpu-check-h200-2026-11-28.txt).

struct Params {
    n: u32,      // positions (B * T)
    vocab: u32,  // V
    dim: u32,    // D
    ids_off: u32,
    src_off: u32, // table (forward) or d_out (backward)
    out_off: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> ids: array<f32>;
//#if ONEHOT
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
//#else
@group(0) @binding(2) var<storage, read> src: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
//#endif

@compute @workgroup_size(256)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let i = group_index(wid, nwg) * 256u + lid;
//#if ONEHOT
    if (i >= p.n * p.vocab) {
        return;
    }
    let n = i / p.vocab;
    out[p.out_off + i] = select(0.0, 1.0, ids[p.ids_off + n] == f32(i % p.vocab));
//#else
//#if BACKWARD
    if (i >= p.vocab * p.dim) {
        return;
    }
    let v = f32(i / p.dim);
    let d = i % p.dim;
    var acc = 0.0;
    for (var n = 0u; n < p.n; n++) {
        if (ids[p.ids_off + n] == v) {
            acc += src[p.src_off + n * p.dim + d];
        }
    }
    out[p.out_off + i] = acc;
//#else
    if (i >= p.n * p.dim) {
        return;
    }
    let n = i / p.dim;
    let d = i % p.dim;
    let id = ids[p.ids_off + n];
    var value = 0.0;
    if (id >= 0.0 && id < f32(p.vocab)) {
        value = src[p.src_off + u32(id) * p.dim + d];
    }
    out[p.out_off + i] = value;
//#endif
//#endif
}
