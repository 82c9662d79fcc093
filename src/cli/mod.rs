//! The `engine` subcommands, one file each.

pub mod devices;
