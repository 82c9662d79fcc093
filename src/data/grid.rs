//! Sample grids: images side by side with their captions written under each.

use super::font::{draw_text, wrap, ADVANCE, LINE};
use image::{imageops, Rgb, RgbImage};

const PAD: u32 = 6;

/// Lay out `(image, caption)` pairs in `cols` columns on white; each cell
/// is at least 128 pixels wide so captions wrap to readable lines.
pub fn caption_grid(items: &[(RgbImage, String)], cols: usize) -> RgbImage {
    let cols = cols.max(1);
    let rows = items.len().div_ceil(cols).max(1);
    let img_w = items.iter().map(|(i, _)| i.width()).max().unwrap_or(0);
    let img_h = items.iter().map(|(i, _)| i.height()).max().unwrap_or(0);
    let cell_w = img_w.max(128);
    let chars = (cell_w / ADVANCE) as usize;
    let wrapped: Vec<Vec<String>> = items.iter().map(|(_, c)| wrap(c, chars)).collect();
    let text_lines = wrapped.iter().map(Vec::len).max().unwrap_or(0) as u32;
    let cell_h = img_h + 4 + text_lines * LINE;
    let width = cols as u32 * (cell_w + PAD) + PAD;
    let height = rows as u32 * (cell_h + PAD) + PAD;
    let mut out = RgbImage::from_pixel(width, height, Rgb([255, 255, 255]));
    for (k, ((img, _), lines)) in items.iter().zip(&wrapped).enumerate() {
        let x = PAD + (k % cols) as u32 * (cell_w + PAD);
        let y = PAD + (k / cols) as u32 * (cell_h + PAD);
        imageops::overlay(
            &mut out,
            img,
            (x + (cell_w - img.width()) / 2) as i64,
            y as i64,
        );
        for (l, line) in lines.iter().enumerate() {
            draw_text(
                &mut out,
                x,
                y + img_h + 4 + l as u32 * LINE,
                line,
                [0, 0, 0],
            );
        }
    }
    out
}
