//! rgba: images [B, 3, H, W] in [-1, 1] packed into texture rows, against a
//! CPU reference: Rgba8 bit for bit with `engine generate`'s PNG rounding
//! (to_images), Rgba16Float within one f16 step; odd sizes (rows that need
//! padding to 256 bytes), values outside [-1, 1] and exactly on .5 steps,
//! an image other than the first, and poisoned outputs (padding must be 0).

use wgpu_attngan::ops::rgba::{pack, Format};
use wgpu_attngan::Tensor;

use crate::common::{random_vec, rng, rt, seed};

/// x in [-1, 1] -> [0, 1], as to_images and the kernel do.
fn unit(x: f32) -> f32 {
    (x * 0.5 + 0.5).clamp(0.0, 1.0)
}

/// The reference words of image `index` of `img` ([b, 3, h, w]).
fn reference(
    img: &[f32],
    index: usize,
    h: usize,
    w: usize,
    format: Format,
    wpr: usize,
) -> Vec<u32> {
    let mut out = vec![0u32; wpr * h];
    let at = |c: usize, x: usize, y: usize| unit(img[((index * 3 + c) * h + y) * w + x]);
    for y in 0..h {
        for x in 0..w {
            match format {
                Format::Rgba8 => {
                    // wgpu_attngan::train::attngan::to_images' rounding.
                    let b = |c| (at(c, x, y) * 255.0).round() as u32;
                    out[y * wpr + x] = b(0) | b(1) << 8 | b(2) << 16 | 255 << 24;
                }
                Format::Rgba16Float => {
                    let h16 = |v: f32| half::f16::from_f32(v).to_bits() as u32;
                    out[y * wpr + 2 * x] = h16(at(0, x, y)) | h16(at(1, x, y)) << 16;
                    out[y * wpr + 2 * x + 1] = h16(at(2, x, y)) | h16(1.0) << 16;
                }
            }
        }
    }
    out
}

#[test]
fn rgba_packing_matches_reference_on_odd_sizes() {
    let rt = rt();
    let s = seed();
    let mut r = rng(s);
    for (b, h, w) in [(1, 1, 1), (3, 5, 7), (2, 33, 65), (2, 3, 129), (1, 64, 64)] {
        let mut v = random_vec(&mut r, b * 3 * h * w, -1.3, 1.3);
        // Values whose 255 * unit(x) falls exactly on k + 0.5 (0.5 = 2^-1,
        // 255 = odd: x = (2k + 1) / 255 - 1 is not exact in f32, but these
        // land within an ulp of the tie), and the ends.
        for (i, k) in (0..v.len().min(40)).zip(0..) {
            v[i] = ((2 * k + 1) as f32) / 255.0 - 1.0;
        }
        if v.len() > 44 {
            v[40..44].copy_from_slice(&[-1.0, 1.0, 0.0, -0.0]);
        }
        let img = Tensor::from_slice(&rt, &v, &[b, 3, h, w]).unwrap();
        for format in [Format::Rgba8, Format::Rgba16Float] {
            let index = b - 1;
            let p = pack(&img, index, format).unwrap();
            assert_eq!(p.bytes_per_row % 256, 0);
            assert!(p.bytes_per_row as usize >= w * format.bytes_per_pixel() as usize);
            let wpr = p.bytes_per_row as usize / 4;
            let got = p.words().unwrap();
            let want = reference(&v, index, h, w, format, wpr);
            assert_eq!(got.len(), want.len());
            for (i, (g, e)) in got.iter().zip(&want).enumerate() {
                let ok = match format {
                    Format::Rgba8 => g == e,
                    // Each half within one f16 step (the rounding of pack2x16float).
                    Format::Rgba16Float => [0, 16]
                        .iter()
                        .all(|&sh| ((g >> sh) & 0xffff).abs_diff((e >> sh) & 0xffff) <= 1),
                };
                assert!(
                    ok,
                    "{format:?} [{b}, 3, {h}, {w}] image {index}, word {i} (row {}, col {}): {g:#010x} vs {e:#010x} (seed {s})",
                    i / wpr,
                    i % wpr
                );
            }
        }
    }
}

#[test]
fn rgba_refuses_what_is_not_an_image_batch() {
    let rt = rt();
    let t = Tensor::from_slice(&rt, &[0.0; 8], &[2, 4]).unwrap();
    let e = pack(&t, 0, Format::Rgba8).err().unwrap().to_string();
    assert!(e.contains("[B, 3, H, W]"), "{e}");
    let t = Tensor::from_slice(&rt, &[0.0; 12], &[1, 3, 2, 2]).unwrap();
    let e = pack(&t, 1, Format::Rgba8).err().unwrap().to_string();
    assert!(e.contains("index 1"), "{e}");
}
