// Strided block copy, the kernel of concat, split and narrow along any axis.
// Both tensors are viewed as [outer, axis, inner]; the block [outer, len, inner]
// starting at src_start on the source's axis (length src_axis) is written at
// dst_start on the destination's axis (length dst_axis). One thread per element,
// or with VEC4 (inner and both offsets multiples of 4) per vec4.
//
// History (copy_block.wgsl until ae09d79):
//   v1 (db8de31, 2026-11-27): one strided block copy for concat, split and
//       narrow, one thread per element.
//   ae09d79 (2026-11-28): renamed, code unchanged. Measured only inside a
//       step: H200 (Vulkan), AttnGAN birds step (batch 20), binaries of
//       8198dc5: 82 dispatches, 0.66 ms (docs/bench-h200-tiled-gemm.json,
//       as copy_block).
//   v2 (2026-12-06): VEC4.

struct Params {
    outer: u32,
    len: u32,
    inner: u32,
    src_off: u32,
    src_axis: u32,
    src_start: u32,
    dst_off: u32,
    dst_axis: u32,
    dst_start: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
//#include vec4
@group(0) @binding(1) var<storage, read> src: array<V>;
@group(0) @binding(2) var<storage, read_write> dst: array<V>;

@compute @workgroup_size(256)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    // In units of V.
    let i = group_index(wid, nwg) * 256u + lid;
    let inner = p.inner / L;
    let block = p.len * inner;
    if (i >= p.outer * block) {
        return;
    }
    let o = i / block;
    let r = i % block; // (j, k) of the block as j * inner + k
    let s = p.src_off / L + (o * p.src_axis + p.src_start) * inner + r;
    let d = p.dst_off / L + (o * p.dst_axis + p.dst_start) * inner + r;
    dst[d] = src[s];
}
