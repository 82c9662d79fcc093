//! Rasterising a scene: supersampled coverage (4x4 samples per pixel) so
//! edges are anti-aliased at any resolution from 32 to 256 and beyond.

use super::world::Scene;
use image::{Rgb, RgbImage};

const SS: u32 = 4;

pub fn render(scene: &Scene, res: u32) -> RgbImage {
    let bg = scene.background().rgb;
    let mut img = RgbImage::from_pixel(res, res, Rgb(bg));
    let r = res as f32;
    for o in &scene.objects {
        let [x0, y0, x1, y1] = o.bbox_px(res);
        let px0 = (x0.floor().max(0.0)) as u32;
        let py0 = (y0.floor().max(0.0)) as u32;
        let px1 = (x1.ceil().min(r)) as u32;
        let py1 = (y1.ceil().min(r)) as u32;
        let (cx, cy) = (o.center[0] * r, o.center[1] * r);
        let h = o.half * r;
        let col = o.colour().rgb;
        for py in py0..py1 {
            for px in px0..px1 {
                let mut hits = 0u32;
                for sy in 0..SS {
                    let y = py as f32 + (sy as f32 + 0.5) / SS as f32;
                    let v = (y - cy) / h;
                    for sx in 0..SS {
                        let x = px as f32 + (sx as f32 + 0.5) / SS as f32;
                        if o.shape.inside((x - cx) / h, v) {
                            hits += 1;
                        }
                    }
                }
                if hits == 0 {
                    continue;
                }
                let a = hits as f32 / (SS * SS) as f32;
                let p = img.get_pixel_mut(px, py);
                for (v, &c) in p.0.iter_mut().zip(&col) {
                    *v = (*v as f32 * (1.0 - a) + c as f32 * a).round() as u8;
                }
            }
        }
    }
    img
}
