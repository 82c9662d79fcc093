//! `engine export`: a training checkpoint reduced to what sampling needs.

use std::path::PathBuf;

use wgpu_attngan::nn::checkpoint::Checkpoint;
use wgpu_attngan::train::attngan::Sampler;
use wgpu_attngan::{Error, Result, Runtime};

#[derive(clap::Args, Debug)]
pub struct ExportArgs {
    /// A training checkpoint: AttnGAN (its sampler: G and the text encoder)
    /// or DAMSM (both encoders, to score with `engine eval` or guide AttnGAN).
    checkpoint: PathBuf,
    /// Where to write the model (safetensors).
    #[arg(short, long)]
    output: PathBuf,
    /// Store the weights as f16 (half the size; widened to f32 on load).
    #[arg(long)]
    f16: bool,
    /// Export G's last weights instead of their moving average.
    #[arg(long)]
    no_ema: bool,
}

pub fn export(args: &ExportArgs) -> Result<()> {
    let bad = |m: String| Err(Error::invalid("export", m));
    if args.output.exists()
        && std::fs::canonicalize(&args.output).ok() == std::fs::canonicalize(&args.checkpoint).ok()
    {
        return bad(format!(
            "-o {} is the checkpoint itself; write the export to another file",
            args.output.display()
        ));
    }
    let ck = Checkpoint::load(&args.checkpoint)?;
    let kind = ck.meta("engine.model", &args.checkpoint)?;
    if kind == "damsm" {
        if args.no_ema {
            return bad("--no-ema applies to AttnGAN (a DAMSM has no moving average)".into());
        }
        return export_damsm(args, ck);
    }
    if kind != "attngan" {
        return bad(format!(
            "{} holds a {kind} model; engine export takes an AttnGAN or DAMSM training checkpoint",
            args.checkpoint.display()
        ));
    }
    let rt = Runtime::new()?;
    let sampler = Sampler::from_checkpoint(&rt, &ck, &args.checkpoint, !args.no_ema)?;
    let source = args
        .checkpoint
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut meta = vec![
        ("source", source),
        (
            "source_fnv1a64",
            wgpu_attngan::train::eval::file_hash(&args.checkpoint)?,
        ),
        (
            "weights",
            if args.no_ema { "last" } else { "ema" }.to_string(),
        ),
    ];
    for key in ["step", "seed"] {
        if let Some(v) = ck.metadata.get(key) {
            meta.push((key, v.clone()));
        }
    }
    sampler.export(&args.output, args.f16, &meta)?;
    let bytes = std::fs::metadata(&args.output)
        .map(|m| m.len())
        .unwrap_or(0);
    println!(
        "wrote {} ({:.1} MB, {}, {} weights of step {}); try: engine generate \"a big red circle\" --model {}",
        args.output.display(),
        bytes as f64 / 1e6,
        if args.f16 { "f16" } else { "f32" },
        if args.no_ema { "last" } else { "moving-average" },
        ck.metadata.get("step").map_or("?", String::as_str),
        args.output.display()
    );
    Ok(())
}

/// A DAMSM without its optimiser state and loss history: both encoders, the
/// configuration and the vocabulary, as `load_damsm` reads them. It scores
/// (`engine eval --damsm`) and guides AttnGAN; it cannot resume training.
fn export_damsm(args: &ExportArgs, ck: Checkpoint) -> Result<()> {
    let mut out = Checkpoint {
        f16: args.f16,
        ..Default::default()
    };
    for (name, t) in ck.tensors {
        if name.starts_with("text.") || name.starts_with("image.") {
            out.tensors.insert(name, t);
        }
    }
    for key in [
        "engine.model",
        "engine.version",
        "config",
        "vocab",
        "seed",
        "step",
    ] {
        if let Some(v) = ck.metadata.get(key) {
            out.metadata.insert(key.into(), v.clone());
        }
    }
    out.metadata.insert(
        "source_fnv1a64".into(),
        wgpu_attngan::train::eval::file_hash(&args.checkpoint)?,
    );
    out.metadata.insert("exported".into(), "true".into());
    out.save(&args.output)?;
    // It must load as a DAMSM.
    let rt = Runtime::new()?;
    wgpu_attngan::train::damsm::load_damsm(&rt, &args.output)?;
    let bytes = std::fs::metadata(&args.output)
        .map(|m| m.len())
        .unwrap_or(0);
    println!(
        "wrote {} ({:.1} MB, {}, DAMSM of step {}); score with it: engine eval r-precision --damsm {}",
        args.output.display(),
        bytes as f64 / 1e6,
        if args.f16 { "f16" } else { "f32" },
        out.metadata.get("step").map_or("?", String::as_str),
        args.output.display()
    );
    Ok(())
}
