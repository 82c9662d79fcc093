//! `engine generate`: draw sentences with the shipped model or your own,
//! and the per-word attention maps beside the image.

use std::path::PathBuf;

use wgpu_attngan::{Result, Runtime};

#[derive(clap::Args, Debug)]
pub struct GenerateArgs {
    /// The sentence to draw; several sentences give a captioned grid (one image each).
    #[arg(required_unless_present = "interpolate")]
    captions: Vec<String>,
    /// A strip between two captions, same noise, the text embedding walked
    /// from A to B (GAN-INT-CLS checkpoints: `--model`).
    #[arg(long, num_args = 2, value_names = ["A", "B"], conflicts_with = "captions")]
    interpolate: Option<Vec<String>>,
    /// Images in the --interpolate strip.
    #[arg(long, default_value_t = 8)]
    steps: usize,
    /// Where to write the image (PNG); the attention maps go beside it as NAME-attention.png.
    #[arg(short, long, default_value = "sample.png")]
    output: PathBuf,
    /// An AttnGAN checkpoint or exported model, or a DCGAN or GAN-INT-CLS checkpoint [default: the world model built into engine].
    #[arg(long)]
    model: Option<PathBuf>,
    /// Images to draw (different noise), side by side.
    #[arg(short, long, default_value_t = 1)]
    n: usize,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Sample from the generator's last weights instead of their moving average.
    #[arg(long)]
    no_ema: bool,
    /// Condition on the mean mu of conditioning augmentation (eps = 0)
    /// instead of sampling c = mu + sigma * eps as the released AttnGAN does.
    #[arg(long)]
    no_ca_noise: bool,
}

/// A caption as messages quote it: whole up to 80 characters, else its start.
fn short(caption: &str) -> String {
    if caption.chars().count() <= 80 {
        format!("{caption:?}")
    } else {
        let head: String = caption.chars().take(60).collect();
        format!("\"{head}...\" ({} characters)", caption.chars().count())
    }
}

/// `engine generate --model` with a DCGAN, GAN-INT-CLS or StackGAN++
/// checkpoint: the images side by side (no attention maps: these models
/// have none), or the --interpolate strip.
fn generate_without_attention(
    rt: &Runtime,
    args: &GenerateArgs,
    path: &std::path::Path,
) -> Result<()> {
    let (s, _, kind) =
        wgpu_attngan::train::eval::load_generator(rt, path, !args.no_ema, !args.no_ca_noise)?;
    let (images, what) = if let Some(ab) = &args.interpolate {
        let images = s.walk(rt, &ab[0], &ab[1], args.steps, args.seed)?;
        (
            images,
            format!("from {} to {}", short(&ab[0]), short(&ab[1])),
        )
    } else {
        let caps: Vec<String> = args
            .captions
            .iter()
            .flat_map(|c| std::iter::repeat_n(c.trim().to_string(), args.n))
            .collect();
        let images = s.draw(rt, &caps, args.seed)?;
        let what = if args.captions.len() == 1 {
            short(&args.captions[0])
        } else {
            format!("{} captions", args.captions.len())
        };
        (images, what)
    };
    let side = s.image_size() as u32;
    let mut strip = image::RgbImage::new(side * images.len() as u32, side);
    for (i, img) in images.iter().enumerate() {
        image::imageops::replace(&mut strip, img, (i as u32 * side) as i64, 0);
    }
    strip.save(&args.output).map_err(|e| {
        wgpu_attngan::Error::invalid(
            "generate",
            format!("cannot write {}: {e}", args.output.display()),
        )
    })?;
    println!(
        "wrote {} ({} image(s), {side}x{side}) {what}; no attention maps: a {kind} has no word attention",
        args.output.display(),
        images.len()
    );
    Ok(())
}

pub fn generate(args: &GenerateArgs) -> Result<()> {
    use wgpu_attngan::train::attngan::Sampler;
    if let Some(empty) = args.captions.iter().position(|c| c.trim().is_empty()) {
        return Err(wgpu_attngan::Error::invalid(
            "generate",
            format!(
                "caption {} is empty; say what to draw, e.g. \"a small red circle\"",
                empty + 1
            ),
        ));
    }
    if !(1..=64).contains(&args.n) {
        return Err(wgpu_attngan::Error::invalid(
            "generate",
            format!("-n {} must be between 1 and 64", args.n),
        ));
    }
    if let Some(model) = args.model.as_ref().filter(|m| !m.exists()) {
        return Err(wgpu_attngan::Error::invalid(
            "generate",
            format!("no model at {}: train one with `engine train --model attngan`, or leave out --model to use the built-in one", model.display()),
        ));
    }
    if args.model.is_none() && args.no_ema {
        return Err(wgpu_attngan::Error::invalid(
            "generate",
            "the built-in model holds only its moving average; --no-ema needs a training checkpoint (--model PATH)".to_string(),
        ));
    }
    let rt = Runtime::new()?;
    if let Some(path) = &args.model {
        let ck = wgpu_attngan::nn::checkpoint::Checkpoint::load(path)?;
        let kind = ck.meta("engine.model", path)?;
        if !kind.starts_with("attngan") {
            return generate_without_attention(&rt, args, path);
        }
    }
    if args.interpolate.is_some() {
        return Err(wgpu_attngan::Error::invalid(
            "generate",
            "--interpolate walks a sentence embedding, which GAN-INT-CLS is conditioned on alone; AttnGAN also attends to every word, so a strip between two captions is not defined for it: pass --model with a dcgan-cls checkpoint",
        ));
    }
    let mut sampler = match &args.model {
        Some(m) => Sampler::load(&rt, m, !args.no_ema)?,
        None => Sampler::shipped(&rt)?,
    };
    sampler.ca_noise = !args.no_ca_noise;
    let save = |img: &image::RgbImage, path: &std::path::Path| {
        img.save(path).map_err(|e| {
            wgpu_attngan::Error::invalid(
                "generate",
                format!("cannot write {}: {e}", path.display()),
            )
        })
    };
    let mut first = None;
    let mut grid_items = Vec::new();
    for caption in &args.captions {
        let caption = caption.trim();
        let out = sampler.generate(&rt, caption, args.n, args.seed)?;
        let unknown = &out.unknown;
        if !unknown.is_empty() {
            let mut names: Vec<&str> = Vec::new();
            for w in unknown {
                if !names.contains(&w.as_str()) {
                    names.push(w);
                }
            }
            let more = names.len().saturating_sub(20);
            names.truncate(20);
            eprintln!(
                "note: words the model never saw, left out of {}: {}{}",
                short(caption),
                names.join(", "),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                }
            );
        }
        let known = wgpu_attngan::data::vocab::tokenize(caption).len() - unknown.len();
        if known > sampler.max_words() {
            eprintln!(
                "note: {} has {known} known words; the first {} were used",
                short(caption),
                sampler.max_words()
            );
        }
        grid_items.push((out.images[0].clone(), caption.to_string()));
        if first.is_none() {
            first = Some((caption.to_string(), out));
        }
    }
    if args.captions.len() > 1 {
        let grid = wgpu_attngan::data::grid::caption_grid(&grid_items, grid_items.len().min(4));
        save(&grid, &args.output)?;
        println!(
            "wrote {} ({} captions)",
            args.output.display(),
            grid_items.len()
        );
    }
    let (caption, out) = first.expect("at least one caption");
    let (images, words, maps, side) = (out.images, out.words, out.maps, out.map_side);
    let s = images[0].width();
    let mut strip = image::RgbImage::new(s * images.len() as u32, s);
    for (i, img) in images.iter().enumerate() {
        image::imageops::replace(&mut strip, img, (i as u32 * s) as i64, 0);
    }
    if args.captions.len() == 1 {
        save(&strip, &args.output)?;
        println!(
            "wrote {} ({} image(s), {}x{}) for {}",
            args.output.display(),
            images.len(),
            s,
            s,
            short(&caption)
        );
    }
    if maps.is_empty() {
        println!(
            "no attention maps: this model has one stage, and word attention lives in the refinement stages (train with --stages 2 or more)"
        );
    }
    if !maps.is_empty() {
        // The first image, then one panel per word: the image dimmed, the word's attention in red.
        let panels: Vec<(image::RgbImage, String)> =
            std::iter::once((images[0].clone(), String::from("image")))
                .chain(words.iter().zip(&maps[0]).map(|(w, m)| {
                    let max = m.iter().cloned().fold(f32::MIN, f32::max);
                    let min = m.iter().cloned().fold(f32::MAX, f32::min);
                    let panel = image::RgbImage::from_fn(s, s, |x, y| {
                        let (mx, my) = (
                            (x as usize * side) / s as usize,
                            (y as usize * side) / s as usize,
                        );
                        let a = (m[my * side + mx] - min) / (max - min + 1e-6);
                        let p = images[0].get_pixel(x, y).0;
                        let dim = |c: u8| (c as f32 * 0.4) as u8;
                        image::Rgb([(dim(p[0]) as f32 + 153.0 * a) as u8, dim(p[1]), dim(p[2])])
                    });
                    (panel, w.clone())
                }))
                .collect();
        let grid = wgpu_attngan::data::grid::caption_grid(&panels, panels.len().min(6));
        let path = args.output.with_file_name(format!(
            "{}-attention.png",
            args.output
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("sample")
        ));
        save(&grid, &path)?;
        println!(
            "wrote {} (attention of the last stage over each word)",
            path.display()
        );
    }
    Ok(())
}
