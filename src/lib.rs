//! engine: text-to-image GANs of the AttnGAN line on a GPU tensor runtime of
//! our own, built directly on wgpu with hand-written WGSL kernels.
//!
//! Layers, each using only those listed before it:
//! - [`runtime`]: device, buffer pool, kernel cache, command batching, tensors.
//! - [`ops`]: the kernels' launchers, one file per family.
//! - [`data`]: captioned image sets (the built-in world, CUB, folders); no GPU.

pub mod autograd;
pub mod data;
pub mod models;
pub mod nn;
pub mod ops;
pub mod runtime;
pub mod train;

pub use runtime::{Error, Flavour, Result, Runtime, Tensor};
