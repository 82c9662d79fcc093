// fill: out[i] = value for the n elements of a tensor; with VEC4 (n and
// the offset multiples of 4) a vec4 per invocation (llvmpipe stores a vec4
// per lane contiguously, where scalar stores at computed addresses scatter).
//
// History:
//   v1 (70108ac, 2026-11-27); unchanged since. Measured only inside a step:
//       H200 (Vulkan), AttnGAN birds step (batch 20), binaries of 8198dc5:
//       49 dispatches, 0.55 ms (docs/bench-h200-tiled-gemm.json).
//   v2 (2026-12-06): VEC4.

struct Params {
    n: u32,
    out_off: u32,
    value: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
//#include vec4
@group(0) @binding(1) var<storage, read_write> out: array<V>;

@compute @workgroup_size(256)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let i = group_index(wid, nwg) * 256u + lid;
    if (i >= p.n / L) {
        return;
    }
    out[p.out_off / L + i] = V(p.value);
}
