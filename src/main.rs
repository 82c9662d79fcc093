//! The `engine` command line.

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "engine", version, about = "Text-to-image GANs on a GPU runtime of our own")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write a sample grid of the built-in world, captions under each image.
    World(engine::data::tool::WorldArgs),
}

fn main() {
    let cli = Cli::parse();
    match cli.command {
        Command::World(a) => {
            if let Err(e) = engine::data::tool::run_world(&a) {
                eprintln!("engine world: {e}");
                std::process::exit(1);
            }
        }
    }
}
