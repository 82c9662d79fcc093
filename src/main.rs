//! The `engine` command line.

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "engine", version, about = "Text-to-image GANs on a GPU runtime of our own")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {}

fn main() {
    let cli = Cli::parse();
    match cli.command {}
}
