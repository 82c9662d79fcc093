// Nearest-neighbour x2 upsampling of [planes, H, W] (planes = N * C):
//   forward:  out[p, y, x] = x[p, y / 2, x / 2]            -> [planes, 2H, 2W]
//   backward: dx[p, y, x] = sum of dy over the 2x2 children  -> [planes, H, W]
// One thread per element written (no atomics: each input owns its 4 children).
// With VEC (W even, the offsets multiples of 4 and 2): a thread per 4
// consecutive outputs (forward: 2 inputs in, as a vec2; backward: two 2x2
// blocks in, as two vec4s, 2 outputs out).
//
// History:
//   v1 (4b3905e, 2026-11-27); unchanged since. Measured only inside a step:
//       H200 (Vulkan), AttnGAN birds step (batch 20), binaries of 8198dc5:
//       6 dispatches each, 0.46 ms forward, 0.18 ms backward
//       (docs/bench-h200-tiled-gemm.json).
//   v2 (2026-12-06): VEC.

struct Params {
    planes: u32,
    h: u32,
    w: u32,
    src_off: u32,
    out_off: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
//#if VEC
//#if BACKWARD
@group(0) @binding(1) var<storage, read> src: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> out: array<vec2<f32>>;
//#else
@group(0) @binding(1) var<storage, read> src: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read_write> out: array<vec4<f32>>;
//#endif
//#else
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
//#endif

@compute @workgroup_size(256)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let i = group_index(wid, nwg) * 256u + lid;
//#if VEC
    // i counts pairs of outputs (backward) or of inputs (forward) along W.
    let wp = p.w / 2u;
//#if BACKWARD
    if (i >= p.planes * p.h * wp) {
        return;
    }
    let x = i % wp;
    let r = i / wp;
    let y = r % p.h;
    let pl = r / p.h;
    // Rows 2y and 2y + 1 of the plane, columns 4x .. 4x + 3, in vec4s.
    let top = p.src_off / 4u + (pl * 2u * p.h + 2u * y) * wp + x;
    let a = src[top];
    let b = src[top + wp];
    out[p.out_off / 2u + i] = vec2<f32>((a.x + a.y) + (b.x + b.y), (a.z + a.w) + (b.z + b.w));
//#else
    let h2 = 2u * p.h;
    if (i >= p.planes * h2 * wp) {
        return;
    }
    let x = i % wp;
    let r = i / wp;
    let y = r % h2;
    let pl = r / h2;
    let v = src[p.src_off / 2u + (pl * p.h + y / 2u) * wp + x];
    out[p.out_off / 4u + i] = vec4<f32>(v.x, v.x, v.y, v.y);
//#endif
//#else
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
//#endif
}
