//! Captioned image data: the built-in generated world, CUB-200-2011 in
//! AttnGAN's layout, and any folder of captioned images. Needs no GPU.

pub mod cub;
pub mod decode;
pub mod error;
pub mod folder;
pub mod font;
pub mod grid;
pub mod imageops;
pub mod loader;
pub mod oracle;
pub mod pickle;
pub mod render;
pub mod rng;
pub mod source;
pub mod tool;
pub mod vocab;
pub mod world;

pub use cub::{Cub, CubConfig};
pub use error::{DataError, SkipReport};
pub use folder::{Folder, FolderConfig};
pub use loader::{Batch, Loader, LoaderConfig};
pub use oracle::{Oracle, OracleScores};
pub use source::{Item, Source, WorldSource};
pub use vocab::{Vocab, MAX_WORDS};
pub use world::{Scene, Split, World, WorldConfig};
