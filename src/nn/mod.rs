//! Modules with named parameters, initialisations, the optimiser and checkpoints.
//!
//! Every parameter of a model lives in one flat device buffer (and its
//! gradient in another), each parameter a view into it: zeroing gradients,
//! Adam, gradient clipping and the moving average are then one dispatch each.
//! Modules hold [`ParamId`]s and read their tensors from the [`ParamStore`]
//! at forward time.

pub mod checkpoint;
pub mod config;
pub mod init;
pub mod layers;
pub mod modules;
pub mod optim;
pub mod parallel;
pub mod params;

pub use init::{Init, SplitMix64};
pub use params::{BufferId, ParamBuilder, ParamId, ParamStore};
