//! The models, one file each: DAMSM first (AttnGAN's text-image matching
//! model), then the generators and discriminators of the family, and
//! STREAM, the captioner MirrorGAN builds on.

pub mod attngan;
pub mod damsm;
pub mod dcgan;
pub mod dfgan;
pub mod labels;
pub mod stackgan;
pub mod stackgan_pp;
pub mod stream;
