// Nearest-neighbour x2 upsampling of [planes, H, W] (planes = N * C):
//   forward:  out[p, y, x] = x[p, y / 2, x / 2]            -> [planes, 2H, 2W]
//   backward: dx[p, y, x] = sum of dy over the 2x2 children  -> [planes, H, W]
// One thread per element written (no atomics: each input owns its 4 children).
//
// History:
//   v1 (4b3905e, 2026-11-27); unchanged since. Measured only inside a step:
//       H200 (Vulkan), AttnGAN birds step (batch 20), binaries of 8198dc5:
//       6 dispatches each, 0.46 ms forward, 0.18 ms backward
//       (docs/bench-h200-tiled-gemm.json).

struct Params {
    planes: u32,
    h: u32,
    w: u32,
    src_off: u32,
    out_off: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let i = group_index(wid, nwg) * 256u + lid;
//#if BACKWARD
    if (i >= p.planes * p.h * p.w) {
        return;
    }
    let x = i % p.w;
    let y = (i / p.w) % p.h;
    let pl = i / (p.w * p.h);
    let w2 = 2u * p.w;
    let top = p.src_off + (pl * 2u * p.h + 2u * y) * w2 + 2u * x;
    out[p.out_off + i] = (src[top] + src[top + 1u]) + (src[top + w2] + src[top + w2 + 1u]);
//#else
    let w2 = 2u * p.w;
    let h2 = 2u * p.h;
    if (i >= p.planes * h2 * w2) {
        return;
    }
    let x = i % w2;
    let y = (i / w2) % h2;
    let pl = i / (w2 * h2);
    out[p.out_off + i] = src[p.src_off + (pl * p.h + y / 2u) * p.w + x / 2u];
//#endif
}
