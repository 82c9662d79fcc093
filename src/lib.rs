//! wgpu-attngan (the `engine` command's library): text-to-image GANs of the
//! AttnGAN line on a GPU tensor runtime of our own, built directly on wgpu
//! with hand-written WGSL kernels.
//!
//! Layers, each using only those listed before it:
//! - [`runtime`]: device, buffer pool, kernel cache, command batching, tensors.
//! - [`ops`]: the kernels' launchers, one file per op (shaders/ holds the WGSL).
//! - [`autograd`]: differentiable values and each op's backward rule.
//! - [`nn`]: parameters, layers, initialisation, optimisers, checkpoints.
//! - [`models`]: DAMSM and AttnGAN, forward passes and losses.
//! - [`data`]: captioned image sets (the built-in world, CUB, folders), the
//!   world's oracle and vocabularies; no GPU.
//! - [`train`]: the training loops, sampling ([`train::attngan::Sampler`])
//!   and evaluation.
//!
//! The command line (src/main.rs, src/cli/) sits on top of all of them.

pub mod autograd;
pub mod data;
pub mod models;
pub mod nn;
pub mod ops;
pub mod runtime;
pub mod train;

pub use runtime::{Error, Flavour, Result, Runtime, Tensor};
