//! What generators do to images, applied to the world's renders: blur,
//! pixel noise, colour shifts and a lost octave of resolution. Shared by the
//! oracle and FD-DAMSM tests. Deterministic: every function takes its seed.

#![allow(dead_code)]

use image::RgbImage;
use wgpu_attngan::data::rng::SplitMix64;

/// Gaussian blur of standard deviation `sigma` pixels (separable, edges clamped).
pub fn blur(img: &RgbImage, sigma: f32) -> RgbImage {
    let r = (3.0 * sigma).ceil() as i64;
    let k: Vec<f32> = (-r..=r)
        .map(|i| (-(i * i) as f32 / (2.0 * sigma * sigma)).exp())
        .collect();
    let sum: f32 = k.iter().sum();
    let (w, h) = img.dimensions();
    let pass = |src: &RgbImage, dx: i64, dy: i64| {
        RgbImage::from_fn(w, h, |x, y| {
            let mut acc = [0f32; 3];
            for (j, kv) in k.iter().enumerate() {
                let o = j as i64 - r;
                let xx = (x as i64 + o * dx).clamp(0, w as i64 - 1) as u32;
                let yy = (y as i64 + o * dy).clamp(0, h as i64 - 1) as u32;
                let p = src.get_pixel(xx, yy).0;
                for c in 0..3 {
                    acc[c] += kv * p[c] as f32;
                }
            }
            image::Rgb(acc.map(|v| (v / sum).round().clamp(0.0, 255.0) as u8))
        })
    };
    pass(&pass(img, 1, 0), 0, 1)
}

/// Independent Gaussian noise of standard deviation `sigma` (in units of the
/// full range, 1 = 255) on every channel of every pixel.
pub fn noise(img: &RgbImage, sigma: f32, seed: u64) -> RgbImage {
    let mut rng = SplitMix64::new(seed);
    let mut out = img.clone();
    for p in out.pixels_mut() {
        for c in 0..3 {
            let v = p.0[c] as f32 + 255.0 * sigma * gaussian(&mut rng);
            p.0[c] = v.round().clamp(0.0, 255.0) as u8;
        }
    }
    out
}

/// A slight colour shift of the whole image: each channel scaled by up to
/// +-`amount` and offset by up to +-`amount` of the full range.
pub fn colour_jitter(img: &RgbImage, amount: f32, seed: u64) -> RgbImage {
    let mut rng = SplitMix64::new(seed);
    let gain: Vec<f32> = (0..3)
        .map(|_| 1.0 + amount * (2.0 * rng.unit() - 1.0))
        .collect();
    let offset: Vec<f32> = (0..3)
        .map(|_| 255.0 * amount * (2.0 * rng.unit() - 1.0))
        .collect();
    let mut out = img.clone();
    for p in out.pixels_mut() {
        for c in 0..3 {
            let v = p.0[c] as f32 * gain[c] + offset[c];
            p.0[c] = v.round().clamp(0.0, 255.0) as u8;
        }
    }
    out
}

/// Down to half the side (box average), then back up (bilinear).
pub fn down_up(img: &RgbImage) -> RgbImage {
    let (w, h) = img.dimensions();
    let small = image::imageops::resize(img, w / 2, h / 2, image::imageops::FilterType::Triangle);
    image::imageops::resize(&small, w, h, image::imageops::FilterType::Triangle)
}

fn gaussian(rng: &mut SplitMix64) -> f32 {
    let u1 = rng.unit().max(1e-7);
    let u2 = rng.unit();
    (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
}

/// A perturbation of an image, given a seed.
pub type Perturbation = Box<dyn Fn(&RgbImage, u64) -> RgbImage>;

/// Every perturbation the oracle must withstand, by name.
pub fn all() -> Vec<(&'static str, Perturbation)> {
    vec![
        ("none", Box::new(|i: &RgbImage, _| i.clone())),
        ("blur 1px", Box::new(|i: &RgbImage, _| blur(i, 1.0))),
        ("blur 2px", Box::new(|i: &RgbImage, _| blur(i, 2.0))),
        ("noise 0.1", Box::new(|i: &RgbImage, s| noise(i, 0.1, s))),
        (
            "colour jitter",
            Box::new(|i: &RgbImage, s| colour_jitter(i, 0.06, s)),
        ),
        ("2x down-up", Box::new(|i: &RgbImage, _| down_up(i))),
        (
            "blur+noise+jitter",
            Box::new(|i: &RgbImage, s| colour_jitter(&noise(&blur(i, 1.0), 0.1, s), 0.06, s ^ 7)),
        ),
    ]
}
