//! `engine caption`: describe images with a trained STREAM captioner.

use std::path::PathBuf;

use wgpu_attngan::data::decode::load_rgb;
use wgpu_attngan::train::stream::open_captioner;
use wgpu_attngan::{Error, Result, Runtime};

#[derive(clap::Args, Debug)]
pub struct CaptionArgs {
    /// Images to describe (PNG, JPEG, ...; a centred square crop is read).
    #[arg(required = true)]
    images: Vec<PathBuf>,
    /// A captioner checkpoint (`engine train --model stream`) or export [default: the
    /// world captioner built into engine].
    #[arg(long)]
    model: Option<PathBuf>,
    /// Hypotheses kept by the beam search; 1 decodes greedily.
    #[arg(long, default_value_t = 3)]
    beam: usize,
}

pub fn caption(args: &CaptionArgs) -> Result<()> {
    if !(1..=32).contains(&args.beam) {
        return Err(Error::invalid(
            "caption",
            format!("--beam {} must be between 1 and 32", args.beam),
        ));
    }
    if let Some(model) = args.model.as_ref().filter(|m| !m.exists()) {
        return Err(Error::invalid(
            "caption",
            format!(
                "{} does not exist: train a captioner with engine train --model stream, pass another --model PATH, or leave --model out for the built-in one",
                model.display()
            ),
        ));
    }
    // Every image is read before the device starts: a bad one is named at once.
    let mut images = Vec::with_capacity(args.images.len());
    for path in &args.images {
        images.push(load_rgb(path).map_err(|e| Error::invalid("caption", e.to_string()))?);
    }
    let rt = Runtime::new()?;
    let captioner = open_captioner(&rt, args.model.as_deref())?;
    let captions = captioner.caption(&images, args.beam)?;
    for (path, caption) in args.images.iter().zip(&captions) {
        if args.images.len() == 1 {
            println!("{caption}");
        } else {
            println!("{}: {caption}", path.display());
        }
    }
    Ok(())
}
