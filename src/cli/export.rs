//! `engine export`: a training checkpoint reduced to what sampling needs.

use std::path::PathBuf;

use wgpu_attngan::nn::checkpoint::Checkpoint;
use wgpu_attngan::train::attngan::Sampler;
use wgpu_attngan::{Error, Result, Runtime};

#[derive(clap::Args, Debug)]
pub struct ExportArgs {
    /// A training checkpoint: AttnGAN, DCGAN, GAN-INT-CLS, StackGAN or StackGAN++ (G
    /// and the text encoder, to generate and evaluate), DAMSM (both encoders, to score
    /// with `engine eval` or guide a generator) or a captioner (`engine caption`).
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
    let kind = ck.meta("engine.model", &args.checkpoint)?.to_string();
    use wgpu_attngan::train::dcgan::{DcganSampler, CLS_KIND, PLAIN_KIND};
    use wgpu_attngan::train::stackgan::{self, StackGanSampler};
    use wgpu_attngan::train::stackgan_pp::{self, StackGanPPSampler};
    if kind == stackgan::KIND {
        // Both generators and the text encoder (and the phase).
        export_parts(
            args,
            ck,
            &["gen1.", "gen2.", "text."],
            &["config", "damsm_config", "vocab", "data", "phase"],
        )?;
        StackGanSampler::load(&Runtime::new()?, &args.output)?;
        return said(
            args,
            &kind,
            "try: engine generate \"a big red circle\" --model",
        );
    }
    if kind == stackgan_pp::KIND {
        if args.no_ema {
            return bad("--no-ema: a StackGAN++ export holds its moving average".into());
        }
        // G, its moving average (what is sampled) and the text encoder.
        export_parts(
            args,
            ck,
            &["gen.", "ema.", "text."],
            &["config", "damsm_config", "vocab", "data"],
        )?;
        StackGanPPSampler::load(&Runtime::new()?, &args.output)?;
        return said(
            args,
            &kind,
            "try: engine generate \"a big red circle\" --model",
        );
    }
    if kind == wgpu_attngan::train::stream::KIND {
        if args.no_ema {
            return bad("--no-ema applies to AttnGAN (a captioner has no moving average)".into());
        }
        export_parts(args, ck, &["stream."], &["config", "vocab", "data"])?;
        wgpu_attngan::train::stream::load_captioner(&Runtime::new()?, &args.output)?;
        return said(
            args,
            "captioner",
            "describe images with it: engine caption IMAGE.png --model",
        );
    }
    if kind == "damsm" || kind == CLS_KIND || kind == PLAIN_KIND {
        let kind = kind.as_str();
        if args.no_ema {
            return bad(format!(
                "--no-ema applies to AttnGAN (a {kind} has no moving average)"
            ));
        }
        let rt = Runtime::new()?;
        if kind == "damsm" {
            // Both encoders: it scores (`engine eval --damsm`) and guides.
            export_parts(args, ck, &["text.", "image."], &["config", "vocab", "data"])?;
            wgpu_attngan::train::damsm::load_damsm(&rt, &args.output)?;
            return said(
                args,
                "DAMSM",
                "score with it: engine eval r-precision --damsm",
            );
        }
        // G and the text encoder: what generate and eval draw with.
        export_parts(
            args,
            ck,
            &["gen.", "text."],
            &["config", "damsm_config", "vocab", "data"],
        )?;
        DcganSampler::load(&rt, &args.output)?;
        return said(
            args,
            kind,
            "try: engine generate \"a big red circle\" --model",
        );
    }
    if kind != "attngan" {
        return bad(format!(
            "{} holds a {kind} model; engine export takes a generator's (AttnGAN, DCGAN, GAN-INT-CLS, StackGAN, StackGAN++), a DAMSM's or a captioner's training checkpoint",
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

/// The tensors under `prefixes` and the metadata `keys` of a training
/// checkpoint (no optimiser state, no discriminator, no loss history),
/// with its model kind, version, seed and step and the source's hash: a
/// model to use, not to resume.
fn export_parts(args: &ExportArgs, ck: Checkpoint, prefixes: &[&str], keys: &[&str]) -> Result<()> {
    let mut out = Checkpoint {
        f16: args.f16,
        ..Default::default()
    };
    for (name, t) in ck.tensors {
        if prefixes.iter().any(|p| name.starts_with(p)) {
            out.tensors.insert(name, t);
        }
    }
    for key in ["engine.model", "engine.version", "seed", "step"]
        .iter()
        .chain(keys)
    {
        if let Some(v) = ck.metadata.get(*key) {
            out.metadata.insert(key.to_string(), v.clone());
        }
    }
    out.metadata.insert(
        "source_fnv1a64".into(),
        wgpu_attngan::train::eval::file_hash(&args.checkpoint)?,
    );
    out.metadata.insert("exported".into(), "true".into());
    out.save(&args.output)
}

/// The line that says what was written, and what to do with it.
fn said(args: &ExportArgs, what: &str, next: &str) -> Result<()> {
    let out = Checkpoint::load(&args.output)?;
    let bytes = std::fs::metadata(&args.output)
        .map(|m| m.len())
        .unwrap_or(0);
    println!(
        "wrote {} ({:.1} MB, {}, {what} of step {}); {next} {}",
        args.output.display(),
        bytes as f64 / 1e6,
        if args.f16 { "f16" } else { "f32" },
        out.metadata.get("step").map_or("?", String::as_str),
        args.output.display()
    );
    Ok(())
}
