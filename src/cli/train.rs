//! `engine train` and `engine eval`.

use std::path::PathBuf;

use engine::train::damsm::{load_damsm, r_precision, train_damsm, DamsmTrainOptions};
use engine::{Result, Runtime};

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Model {
    /// AttnGAN's text-image matching model (text and image encoders).
    Damsm,
}

#[derive(clap::Args, Debug)]
pub struct TrainArgs {
    /// Which model to train (the generators land in later versions).
    #[arg(long, value_enum, default_value = "damsm")]
    model: Model,
    /// Folder for the checkpoint and loss curve.
    #[arg(long, default_value = "runs/damsm")]
    out: PathBuf,
    /// Total steps (counting those before a resume).
    #[arg(long, default_value_t = 1000)]
    steps: u64,
    /// Stop after this many minutes (a checkpoint is written), whichever comes first.
    #[arg(long)]
    minutes: Option<f64>,
    #[arg(long, default_value_t = 16)]
    batch: usize,
    #[arg(long, default_value_t = 0.002)]
    lr: f32,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Training scenes of the built-in world.
    #[arg(long, default_value_t = 4000)]
    scenes: usize,
    /// Image side (32 to 256).
    #[arg(long, default_value_t = 64)]
    image_size: usize,
    /// Write a checkpoint every this many steps.
    #[arg(long, default_value_t = 100)]
    checkpoint_every: u64,
    /// Continue from <out>/checkpoint.safetensors.
    #[arg(long)]
    resume: bool,
    /// Plain log lines instead of a progress bar.
    #[arg(long)]
    quiet: bool,
}

fn check(args: &TrainArgs) -> Result<()> {
    let bad = |m: String| Err(engine::Error::invalid("train", m));
    if args.batch < 2 {
        return bad(format!(
            "--batch {} is too small: the matching loss needs at least 2 pairs",
            args.batch
        ));
    }
    if !(32..=256).contains(&args.image_size) || !args.image_size.is_multiple_of(8) {
        return bad(format!(
            "--image-size {} must be a multiple of 8 between 32 and 256",
            args.image_size
        ));
    }
    if args.scenes < args.batch {
        return bad(format!(
            "--scenes {} is smaller than one batch ({})",
            args.scenes, args.batch
        ));
    }
    if !(args.lr > 0.0 && args.lr.is_finite()) {
        return bad(format!("--lr {} must be a positive number", args.lr));
    }
    if args.checkpoint_every == 0 {
        return bad("--checkpoint-every must be at least 1".into());
    }
    let existing = args.out.join("checkpoint.safetensors");
    if !args.resume && existing.exists() {
        return bad(format!(
            "{} already holds a run; pass --resume to continue it, or --out DIR for a new one",
            existing.display()
        ));
    }
    Ok(())
}

pub fn train(args: &TrainArgs) -> Result<()> {
    check(args)?;
    let rt = Runtime::new()?;
    println!(
        "training {:?} on the built-in world ({} scenes) on {}",
        args.model,
        args.scenes,
        rt.adapter_info().name
    );
    let opts = DamsmTrainOptions {
        out: args.out.clone(),
        steps: args.steps,
        minutes: args.minutes,
        batch: args.batch,
        lr: args.lr,
        seed: args.seed,
        scenes: args.scenes,
        image_size: args.image_size,
        base_channels: 16,
        checkpoint_every: args.checkpoint_every,
        resume: args.resume,
        quiet: args.quiet,
    };
    let report = train_damsm(&rt, &opts)?;
    let tail = &report.losses[report.losses.len().saturating_sub(20)..];
    let last = tail.iter().sum::<f32>() / tail.len().max(1) as f32;
    println!(
        "{} steps in {:.0} s; mean loss of the last {} steps {last:.3}; checkpoint {}; loss curve {}",
        report.steps,
        report.seconds,
        tail.len(),
        report.checkpoint.display(),
        args.out.join("loss.png").display()
    );
    println!(
        "peak device memory held by tensors: {:.0} MiB",
        rt.memory().peak_in_use as f64 / (1 << 20) as f64
    );
    println!(
        "R-precision: engine eval r-precision --damsm {}",
        report.checkpoint.display()
    );
    Ok(())
}

#[derive(clap::Subcommand, Debug)]
pub enum EvalCommand {
    /// Rank each held-out image's true caption against 99 mismatched ones by the DAMSM score.
    RPrecision {
        /// A DAMSM checkpoint from `engine train --model damsm`.
        #[arg(long)]
        damsm: PathBuf,
        /// Held-out images of the built-in world.
        #[arg(long, default_value_t = 500)]
        images: usize,
        /// Random draws of the mismatched captions.
        #[arg(long, default_value_t = 10)]
        draws: usize,
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
}

pub fn eval(cmd: &EvalCommand) -> Result<()> {
    match cmd {
        EvalCommand::RPrecision {
            damsm,
            images,
            draws,
            seed,
        } => {
            let rt = Runtime::new()?;
            let (model, vocab, _) = load_damsm(&rt, damsm)?;
            let r = r_precision(&rt, &model, &vocab, *seed, *images, 100, (*draws).max(1))?;
            println!(
                "R-precision (top-1 of 100, {} held-out images of the built-in world, {} draws): {:.2}% ± {:.2}% (chance: 1%)",
                r.images,
                r.draws,
                100.0 * r.mean,
                100.0 * r.std
            );
            Ok(())
        }
    }
}
