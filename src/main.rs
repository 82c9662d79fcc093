//! The `engine` command line.

mod cli;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "engine",
    version,
    about = "Text-to-image GANs on a GPU runtime of our own"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train a model (DAMSM by default; AttnGAN with --model attngan) on the built-in world, or on your captioned images with --data DIR; no arguments needed.
    Train(Box<cli::train::TrainArgs>),
    /// Draw an image from a sentence with a trained AttnGAN, and its per-word attention maps.
    Generate(cli::generate::GenerateArgs),
    /// Describe images in words with a trained captioner (engine train --model stream).
    Caption(cli::caption::CaptionArgs),
    /// Reduce a training checkpoint (a generator, DAMSM or captioner) to what using it needs (optionally f16), for shipping.
    Export(cli::export::ExportArgs),
    /// Measure a trained model: the oracle, R-precision and FD-DAMSM on held-out captions.
    #[command(subcommand)]
    Eval(cli::eval::EvalCommand),
    /// List the GPU adapters wgpu finds, the one chosen, its limits and features.
    Devices,
    /// Time the kernels on this device.
    BenchKernels(cli::bench::BenchArgs),
    /// Write a sample grid of the built-in world, captions under each image.
    World(cli::world::WorldArgs),
}

fn main() -> ExitCode {
    // Rust ignores SIGPIPE, so printing into a closed pipe (`engine devices |
    // head -1`) panics; restore the default every Unix tool has: the process
    // ends quietly. Checkpoints are written atomically, so a training run
    // ended this way keeps its last one.
    #[cfg(unix)]
    // SAFETY: setting a signal's disposition to its default before any
    // thread is started has no memory-safety requirements.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    // Under `mpirun -n K`: joins the other workers (MPI is finalised when
    // `_mpi` is dropped, after the command).
    let _mpi = match wgpu_attngan::nn::parallel::init() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let workers = wgpu_attngan::nn::parallel::workers();
    if workers.size > 1 && !matches!(cli.command, Command::Train(_) | Command::Devices) {
        if workers.rank == 0 {
            eprintln!(
                "error: only `engine train` (and `engine devices`) run on several workers; run this command without mpirun"
            );
        }
        return ExitCode::FAILURE;
    }
    let result: Result<(), Box<dyn std::error::Error>> = match cli.command {
        Command::Train(a) => cli::train::train(&a).map_err(Into::into),
        Command::Caption(a) => cli::caption::caption(&a).map_err(Into::into),
        Command::Export(a) => cli::export::export(&a).map_err(Into::into),
        Command::Eval(c) => cli::eval::eval(&c).map_err(Into::into),
        Command::Generate(a) => cli::generate::generate(&a).map_err(Into::into),
        Command::Devices => cli::devices::run().map_err(Into::into),
        Command::BenchKernels(a) => cli::bench::run(&a).map_err(Into::into),
        Command::World(a) => cli::world::run(&a).map_err(Into::into),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if workers.size > 1 => {
            // The other workers would wait for this one forever in the
            // next all-reduce: end them all (the last checkpoint is kept).
            eprintln!("error on worker {} of {}: {e}", workers.rank, workers.size);
            wgpu_attngan::nn::parallel::abort_others(1);
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
