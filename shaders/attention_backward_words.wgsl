// Word-level attention backward, the word gradient: a reduction over the P
// pixels,
//   dw[b, c, t] = sum_p ds[b, p, t] * q[b, c, p] + attn[b, p, t] * dctx[b, c, p],
// cut into chunks of `chunk` pixels: one thread per (b, chunk k, c, t) writes
// the partial sum out[b, k, c, t]; the host sums the chunks when there are
// several (no atomics, deterministic).
//
// History:
//   v1 (cacfbce, 2026-11-27): partial sums per chunk of pixels, summed by the
//       host; unchanged since. Measured with attention_backward.wgsl (see
//       there) and inside a step: H200 (Vulkan), AttnGAN birds step (batch
//       20), binaries of 8198dc5: 2 dispatches, 0.47 ms
//       (docs/bench-h200-tiled-gemm.json).

struct Params {
    b: u32,
    c: u32,
    p: u32,
    t: u32,
    chunk: u32,
    chunks: u32,
    q_off: u32,
    ds_off: u32,
    a_off: u32,
    dctx_off: u32,
    out_off: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> ds: array<f32>;
@group(0) @binding(3) var<storage, read> attn: array<f32>;
@group(0) @binding(4) var<storage, read> dctx: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(64)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let o = group_index(wid, nwg) * 64u + lid;
    if (o >= p.b * p.chunks * p.c * p.t) {
        return;
    }
    let t = o % p.t;
    let c = (o / p.t) % p.c;
    let k = (o / (p.t * p.c)) % p.chunks;
    let b = o / (p.t * p.c * p.chunks);
    let start = k * p.chunk;
    let end = min(start + p.chunk, p.p);
    // Neighbouring threads share c (a broadcast load of q and dctx) and read
    // neighbouring t of ds and attn.
    let qrow = b * p.c * p.p + c * p.p;
    var acc = 0.0;
    for (var px = start; px < end; px = px + 1u) {
        let st = (b * p.p + px) * p.t + t;
        acc = acc + ds[p.ds_off + st] * q[p.q_off + qrow + px] + attn[p.a_off + st] * dctx[p.dctx_off + qrow + px];
    }
    out[p.out_off + o] = acc;
}
