//! Training and evaluation loops (the layer the CLI calls).

pub mod damsm;
pub mod plot;
