// Average pooling over [planes, H, W] (planes = N * C), window kh x kw,
// stride sh x sw, no padding; out is [planes, OH, OW] with OH = (H - kh) / sh + 1.
//   forward:  out[p, oy, ox] = scale * sum of the window      (one thread per output)
//   backward: dx[p, y, x] = scale * sum of dy over the windows that hold (y, x)
//             (one thread per input element, no atomics)
// scale = 1 / (kh * kw). A global average pool's backward is the case kh = H, kw = W.
//
// History (avg_pool2d.wgsl until ae09d79):
//   v1 (db8de31, 2026-11-27): windowed and global pooling, the backward
//       gathered per input element (no atomics).
//   ae09d79 (2026-11-28): renamed, code unchanged. Measured only inside a
//       step: H200 (Vulkan), AttnGAN birds step (batch 20), binaries of
//       8198dc5: forward 1 dispatch 0.01 ms, backward 2 dispatches 0.05 ms
//       (docs/bench-h200-tiled-gemm.json, as avg_pool2d).

struct Params {
    planes: u32,
    h: u32,
    w: u32,
    oh: u32,
    ow: u32,
    kh: u32,
    kw: u32,
    sh: u32,
    sw: u32,
    src_off: u32,
    out_off: u32,
    scale: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

// The outputs along one axis whose windows cover input position y: [lo, hi].
fn covering(y: u32, k: u32, s: u32, n_out: u32) -> vec2<u32> {
    var lo = 0u;
    if (y + 1u > k) {
        lo = (y + 1u - k + s - 1u) / s;
    }
    let hi = min(y / s, n_out - 1u);
    return vec2<u32>(lo, hi);
}

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
    let ry = covering(y, p.kh, p.sh, p.oh);
    let rx = covering(x, p.kw, p.sw, p.ow);
    var acc = 0.0;
    // Empty ranges (lo > hi) skip the loops: positions no window reaches get 0.
    for (var oy = ry.x; oy <= ry.y; oy++) {
        let row = p.src_off + (pl * p.oh + oy) * p.ow;
        for (var ox = rx.x; ox <= rx.y; ox++) {
            acc += src[row + ox];
        }
    }
    out[p.out_off + i] = acc * p.scale;
//#else
    if (i >= p.planes * p.oh * p.ow) {
        return;
    }
    let ox = i % p.ow;
    let oy = (i / p.ow) % p.oh;
    let pl = i / (p.ow * p.oh);
    var acc = 0.0;
    for (var ky = 0u; ky < p.kh; ky++) {
        let row = p.src_off + (pl * p.h + oy * p.sh + ky) * p.w + ox * p.sw;
        for (var kx = 0u; kx < p.kw; kx++) {
            acc += src[row + kx];
        }
    }
    out[p.out_off + i] = acc * p.scale;
//#endif
}
