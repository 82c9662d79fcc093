//! Captioned image data: the built-in generated world, CUB-200-2011 in
//! AttnGAN's layout, and any folder of captioned images. Needs no GPU.
