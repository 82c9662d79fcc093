//! Helpers shared by several test binaries.
pub mod kill;
pub mod perturb;
