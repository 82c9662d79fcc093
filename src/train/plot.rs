//! Loss curves as PNG: one polyline per series on a light grid, with a
//! moving average so the trend is readable through the noise.

use image::{Rgb, RgbImage};

const COLOURS: [[u8; 3]; 6] = [
    [31, 119, 180],
    [214, 39, 40],
    [44, 160, 44],
    [255, 127, 14],
    [148, 103, 189],
    [23, 190, 207],
];

fn line(img: &mut RgbImage, (x0, y0): (f32, f32), (x1, y1): (f32, f32), c: [u8; 3]) {
    let steps = ((x1 - x0).abs().max((y1 - y0).abs()) as usize).max(1);
    for s in 0..=steps {
        let t = s as f32 / steps as f32;
        let (x, y) = (x0 + (x1 - x0) * t, y0 + (y1 - y0) * t);
        if x >= 0.0 && y >= 0.0 && (x as u32) < img.width() && (y as u32) < img.height() {
            img.put_pixel(x as u32, y as u32, Rgb(c));
        }
    }
}

/// Smoothed with a centred moving average of `window` points.
fn smooth(v: &[f32], window: usize) -> Vec<f32> {
    let h = window / 2;
    (0..v.len())
        .map(|i| {
            let (a, b) = (i.saturating_sub(h), (i + h + 1).min(v.len()));
            v[a..b].iter().sum::<f32>() / (b - a) as f32
        })
        .collect()
}

/// Writes `series` (name, values per step) as a PNG of width x height pixels;
/// names are drawn in the data layer's bitmap font.
pub fn loss_curves(
    path: &std::path::Path,
    series: &[(&str, &[f32])],
    width: u32,
    height: u32,
) -> std::io::Result<()> {
    chart(series, width, height)
        .save(path)
        .map_err(std::io::Error::other)
}

/// One chart per panel, stacked, each on its own axis (AttnGAN's D near 1
/// and G near 50 would flatten each other on one).
pub fn stacked_loss_curves(
    path: &std::path::Path,
    panels: &[&[(&str, &[f32])]],
    width: u32,
    panel_height: u32,
) -> std::io::Result<()> {
    let mut img = RgbImage::new(width, panel_height * panels.len().max(1) as u32);
    for (i, series) in panels.iter().enumerate() {
        let c = chart(series, width, panel_height);
        image::imageops::replace(&mut img, &c, 0, (i as u32 * panel_height) as i64);
    }
    img.save(path).map_err(std::io::Error::other)
}

fn chart(series: &[(&str, &[f32])], width: u32, height: u32) -> RgbImage {
    let mut img = RgbImage::from_pixel(width, height, Rgb([255, 255, 255]));
    let (left, right, top, bottom) = (40.0f32, width as f32 - 10.0, 10.0f32, height as f32 - 20.0);
    let n = series
        .iter()
        .map(|(_, v)| v.len())
        .max()
        .unwrap_or(0)
        .max(2);
    let finite = series
        .iter()
        .flat_map(|(_, v)| v.iter())
        .filter(|x| x.is_finite());
    let (lo, hi) = finite.fold((f32::MAX, f32::MIN), |(a, b), &x| (a.min(x), b.max(x)));
    let (lo, hi) = if lo < hi {
        (lo.min(0.0), hi)
    } else {
        (0.0, 1.0)
    };
    for k in 0..=4 {
        let y = top + (bottom - top) * k as f32 / 4.0;
        line(&mut img, (left, y), (right, y), [225, 225, 225]);
        let label = format!("{:.2}", hi - (hi - lo) * k as f32 / 4.0);
        crate::data::font::draw_text(&mut img, 2, y as u32, &label, [90, 90, 90]);
    }
    line(&mut img, (left, bottom), (right, bottom), [0, 0, 0]);
    line(&mut img, (left, top), (left, bottom), [0, 0, 0]);
    let map = |i: usize, v: f32| {
        (
            left + (right - left) * i as f32 / (n - 1) as f32,
            bottom - (bottom - top) * (v - lo) / (hi - lo),
        )
    };
    for (s, (name, values)) in series.iter().enumerate() {
        let c = COLOURS[s % COLOURS.len()];
        let sm = smooth(values, (values.len() / 50).max(1));
        for i in 1..sm.len() {
            line(&mut img, map(i - 1, sm[i - 1]), map(i, sm[i]), c);
        }
        crate::data::font::draw_text(
            &mut img,
            left as u32 + 10 + 110 * s as u32,
            height - 14,
            name,
            c,
        );
    }
    img
}
