//! The `engine` subcommands, one file each.

pub mod bench;
pub mod caption;
pub mod devices;
pub mod eval;
pub mod eval_attributes;
pub mod eval_caption;
pub mod export;
pub mod generate;
pub mod train;
pub mod world;
