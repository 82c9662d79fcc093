//! engine: text-to-image GANs of the AttnGAN line on a GPU tensor runtime of
//! our own, built directly on wgpu with hand-written WGSL kernels.

pub mod data;
