//! Training and evaluation loops (the layer the CLI calls).

pub mod attngan;
pub mod damsm;
pub mod eval;
pub mod lock;
pub mod plot;
