//! Small image operations shared by the sources: tensor conversion,
//! downscaling, the AttnGAN crop-resize-crop-flip pipeline.

use image::{imageops, imageops::FilterType, RgbImage};
use rand::{Rng, RngCore};

/// HWC u8 to CHW f32 in [-1, 1].
pub fn to_chw(img: &RgbImage) -> Vec<f32> {
    let (w, h) = img.dimensions();
    let plane = (w * h) as usize;
    let mut out = vec![0.0f32; 3 * plane];
    for (i, p) in img.pixels().enumerate() {
        for c in 0..3 {
            out[c * plane + i] = p.0[c] as f32 / 127.5 - 1.0;
        }
    }
    out
}

/// Append CHW floats of `img` to `out` (for building NCHW batches).
pub fn push_chw(out: &mut Vec<f32>, img: &RgbImage) {
    out.extend_from_slice(&to_chw(img));
}

/// CHW f32 in [-1, 1] back to an image (values clamped).
pub fn from_chw(data: &[f32], width: u32, height: u32) -> RgbImage {
    let plane = (width * height) as usize;
    assert_eq!(
        data.len(),
        3 * plane,
        "CHW buffer does not match {width}x{height}"
    );
    RgbImage::from_fn(width, height, |x, y| {
        let i = (y * width + x) as usize;
        let f = |c: usize| ((data[c * plane + i].clamp(-1.0, 1.0) + 1.0) * 127.5).round() as u8;
        image::Rgb([f(0), f(1), f(2)])
    })
}

/// Scale a square image to `size`: box-averaging for integer factors
/// (exact, and what a multi-scale GAN's discriminators should see),
/// a triangle filter otherwise.
pub fn downscale(img: &RgbImage, size: u32) -> RgbImage {
    let (w, h) = img.dimensions();
    if w == size && h == size {
        return img.clone();
    }
    if w == h && w % size == 0 {
        let f = w / size;
        let n = f * f;
        return RgbImage::from_fn(size, size, |x, y| {
            let mut acc = [0u32; 3];
            for dy in 0..f {
                for dx in 0..f {
                    let p = img.get_pixel(x * f + dx, y * f + dy);
                    for (a, &v) in acc.iter_mut().zip(&p.0) {
                        *a += v as u32;
                    }
                }
            }
            image::Rgb(acc.map(|a| ((a + n / 2) / n) as u8))
        });
    }
    imageops::resize(img, size, size, FilterType::Triangle)
}

/// AttnGAN's image pipeline after the optional bbox crop: scale the shorter
/// side to `size * 76 / 64` (304 for 256), take a `size` square crop (random
/// when augmenting, centred otherwise), flip horizontally at random when
/// `flip` is set and augmenting.
pub fn scale_crop_flip(
    img: &RgbImage,
    size: u32,
    augment: bool,
    flip: bool,
    rng: &mut dyn RngCore,
) -> RgbImage {
    let base = (size * 76).div_ceil(64);
    let (w, h) = img.dimensions();
    let (nw, nh) = if w <= h {
        (
            base,
            ((h as u64 * base as u64) as f64 / w as f64)
                .round()
                .max(base as f64) as u32,
        )
    } else {
        (
            ((w as u64 * base as u64) as f64 / h as f64)
                .round()
                .max(base as f64) as u32,
            base,
        )
    };
    let scaled = imageops::resize(img, nw, nh, FilterType::Triangle);
    let (ox, oy) = if augment {
        (
            rng.random_range(0..=nw - size),
            rng.random_range(0..=nh - size),
        )
    } else {
        ((nw - size) / 2, (nh - size) / 2)
    };
    let mut out = imageops::crop_imm(&scaled, ox, oy, size, size).to_image();
    if augment && flip && rng.random_range(0..2) == 1 {
        imageops::flip_horizontal_in_place(&mut out);
    }
    out
}

/// AttnGAN's bbox crop: a square of side 1.5 * max(w, h) around the box
/// centre, clamped to the image (so it may come out non-square at borders).
pub fn bbox_crop(img: &RgbImage, bbox: [f32; 4]) -> RgbImage {
    let (w, h) = img.dimensions();
    let [bx, by, bw, bh] = bbox;
    let r = (bw.max(bh) * 0.75) as i64;
    let cx = (bx + bw / 2.0) as i64;
    let cy = (by + bh / 2.0) as i64;
    let x1 = (cx - r).max(0);
    let y1 = (cy - r).max(0);
    let x2 = (cx + r).min(w as i64);
    let y2 = (cy + r).min(h as i64);
    if x2 - x1 < 2 || y2 - y1 < 2 {
        return img.clone();
    }
    imageops::crop_imm(
        img,
        x1 as u32,
        y1 as u32,
        (x2 - x1) as u32,
        (y2 - y1) as u32,
    )
    .to_image()
}
