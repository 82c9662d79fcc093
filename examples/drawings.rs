//! A folder of captioned drawings that are not the built-in world: patterns
//! (stripes, checks, rings, a gradient, a cross, dots) in two colours, at
//! any count, each PNG with a same-named .txt of two captions. It exercises
//! `--data DIR` end to end the way a user's own folder would (README, "Your
//! own captioned images"); no split.txt, so a tenth is held out by path hash.
//!
//!   cargo run --release --example drawings -- DIR [COUNT]     # default 400

use image::{Rgb, RgbImage};
use rand::RngCore;
use wgpu_attngan::data::rng::SplitMix64;

const SIDE: u32 = 64;

const COLOURS: [(&str, [u8; 3]); 6] = [
    ("red", [210, 40, 40]),
    ("blue", [40, 70, 210]),
    ("green", [40, 170, 60]),
    ("yellow", [235, 210, 40]),
    ("black", [20, 20, 20]),
    ("white", [245, 245, 245]),
];

/// Whether pixel (x, y) takes the first colour.
type Inside = fn(u32, u32) -> bool;

/// Pattern names and their shapes.
const PATTERNS: [(&str, Inside); 6] = [
    ("horizontal stripes", |_, y| (y / 8) % 2 == 0),
    ("vertical stripes", |x, _| (x / 8) % 2 == 0),
    ("a checkerboard", |x, y| (x / 16 + y / 16) % 2 == 0),
    ("concentric rings", |x, y| {
        let (dx, dy) = (x as f32 - 31.5, y as f32 - 31.5);
        (((dx * dx + dy * dy).sqrt() / 7.0) as u32).is_multiple_of(2)
    }),
    ("a cross", |x, y| {
        (24..40).contains(&x) || (24..40).contains(&y)
    }),
    ("polka dots", |x, y| {
        let (dx, dy) = ((x % 16) as i32 - 8, (y % 16) as i32 - 8);
        dx * dx + dy * dy < 20
    }),
];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(dir) = args.first() else {
        eprintln!("usage: drawings DIR [COUNT]   (writes COUNT captioned PNG drawings into DIR)");
        std::process::exit(2);
    };
    let count: usize = match args.get(1).map(|c| c.parse()) {
        None => 400,
        Some(Ok(c)) if (1..=1_000_000).contains(&c) => c,
        Some(_) => {
            eprintln!("COUNT must be a whole number from 1 to 1000000");
            std::process::exit(2);
        }
    };
    let dir = std::path::Path::new(dir);
    if let Err(e) = std::fs::create_dir_all(dir) {
        eprintln!("cannot create {}: {e}", dir.display());
        std::process::exit(1);
    }
    // The library's generator; `next_u64 % n` (not its `below`) keeps the
    // folder the README's figures were measured on.
    let mut rng = SplitMix64::new(7);
    let mut below = |n: usize| (rng.next_u64() % n as u64) as usize;
    for i in 0..count {
        let (pattern, inside) = PATTERNS[below(PATTERNS.len())];
        let a = below(COLOURS.len());
        let b = (a + 1 + below(COLOURS.len() - 1)) % COLOURS.len();
        let ((fg, fg_rgb), (bg, bg_rgb)) = (COLOURS[a], COLOURS[b]);
        let img = RgbImage::from_fn(SIDE, SIDE, |x, y| {
            Rgb(if inside(x, y) { fg_rgb } else { bg_rgb })
        });
        let stem = dir.join(format!("drawing{i:05}"));
        let captions = format!(
            "{pattern} in {fg} on {bg}\n{fg} and {bg} {}\n",
            pattern.trim_start_matches("a ")
        );
        if let Err(e) = img
            .save(stem.with_extension("png"))
            .map_err(|e| e.to_string())
            .and_then(|_| {
                std::fs::write(stem.with_extension("txt"), captions).map_err(|e| e.to_string())
            })
        {
            eprintln!("cannot write {}: {e}", stem.display());
            std::process::exit(1);
        }
    }
    println!(
        "wrote {count} drawings with captions into {}",
        dir.display()
    );
}
