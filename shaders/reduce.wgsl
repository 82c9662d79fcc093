// Reduction along one axis. The input is viewed as [outer, len, inner] and
// the axis is cut into `chunks` pieces of `chunk` elements; the output is
// [outer, chunks, inner], each element reducing its piece and multiplied by
// `scale` (1/len for a mean's last pass). One pass when chunks = 1; long axes
// with few outputs take a second pass over the chunks (src/ops/reduce.rs).
// Axes over 16,384 always go in chunks (and the chunks' partials again when
// over 16,384 of them): llvmpipe ends the loops of one invocation after
// 65,535 iterations in all, with no error, which cut longer sums short.
// {{INIT}} is the identity and {{COMBINE}} folds x into acc.
//
// History:
//   v1 (70108ac, 2026-11-27): chunks along one axis, INIT / COMBINE templated.
//   c44515d (2026-11-27): the host chunks every axis over 16,384 (a long axis
//       in one pass had been cut short on llvmpipe); the kernel gained only
//       this note. Measured only inside steps: 2.7% of a 1.0 s DAMSM step on
//       lavapipe Mesa 25.0.7, 2-core EPYC, at a003914 (README); H200
//       (Vulkan), binaries of 8198dc5: 223 dispatches, 3.19 ms of the AttnGAN
//       birds step (docs/bench-h200-tiled-gemm.json).

struct Params {
    outer: u32,
    len: u32,
    inner: u32,
    chunk: u32,
    chunks: u32,
    x_off: u32,
    out_off: u32,
    scale: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> xs: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(64)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let o = group_index(wid, nwg) * 64u + lid;
    if (o >= p.outer * p.chunks * p.inner) {
        return;
    }
    let i = o % p.inner;
    let c = (o / p.inner) % p.chunks;
    let b = o / (p.inner * p.chunks);
    let start = c * p.chunk;
    let end = min(start + p.chunk, p.len);
    var acc: f32 = {{INIT}};
    var idx = p.x_off + (b * p.len + start) * p.inner + i;
    for (var j = start; j < end; j = j + 1u) {
        let x = xs[idx];
        acc = {{COMBINE}};
        idx = idx + p.inner;
    }
    out[p.out_off + o] = acc * p.scale;
}
