// rgba: image `index` of a batch [B, 3, H, W] in [-1, 1], packed the way
// copy_buffer_to_texture reads a texture's rows: `words_per_row` u32 words
// a row (bytes_per_row a multiple of 256), padding words 0.
//   F16 = 0: Rgba8Unorm, one word a pixel, r | g << 8 | b << 16 | 255 << 24;
//   F16 = 1: Rgba16Float, two words a pixel, pack2x16float(r, g), (b, 1).
// A value maps to [0, 1] as clamp(x * 0.5 + 0.5, 0, 1); Rgba8 takes
// round-half-away-from-zero of 255 times that, as `engine generate`'s PNGs
// do (to_images), so a texture and a PNG agree bit for bit.
//
// v1 (2026-11-28): one invocation a word; an image is small next to the
// generator that draws it (64x64 on lavapipe: one dispatch of 16 groups).

struct Params {
    w: u32,
    h: u32,
    words_per_row: u32,
    img_off: u32,
    out_off: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> img: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<u32>;

fn unit(c: u32, x: u32, y: u32) -> f32 {
    return clamp(img[p.img_off + (c * p.h + y) * p.w + x] * 0.5 + 0.5, 0.0, 1.0);
}

// 255 * v rounded half away from zero (WGSL's round() rounds half to even).
fn byte(v: f32) -> u32 {
    let s = v * 255.0;
    let t = trunc(s);
    return u32(t) + select(0u, 1u, s - t >= 0.5);
}

@compute @workgroup_size(256)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let i = group_index(wid, nwg) * 256u + lid;
    if (i >= p.words_per_row * p.h) {
        return;
    }
    let y = i / p.words_per_row;
    let word = i % p.words_per_row;
    var v = 0u;
//#if F16
    let x = word / 2u;
    if (x < p.w) {
        if (word % 2u == 0u) {
            v = pack2x16float(vec2<f32>(unit(0u, x, y), unit(1u, x, y)));
        } else {
            v = pack2x16float(vec2<f32>(unit(2u, x, y), 1.0));
        }
    }
//#else
    let x = word;
    if (x < p.w) {
        v = byte(unit(0u, x, y)) | (byte(unit(1u, x, y)) << 8u) | (byte(unit(2u, x, y)) << 16u) | (255u << 24u);
    }
//#endif
    out[p.out_off + i] = v;
}
