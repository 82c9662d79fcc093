//! Helpers shared by several test binaries.
pub mod cli;
pub mod fixtures;
pub mod kill;
pub mod perturb;
pub mod same;
