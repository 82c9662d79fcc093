//! The models, one file each: DAMSM first (AttnGAN's text-image matching
//! model), then the generators and discriminators of the family.

pub mod attngan;
pub mod damsm;
pub mod dcgan;
pub mod stackgan;
pub mod stackgan_pp;
