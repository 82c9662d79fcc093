//! Captioned image data: the built-in generated world, CUB-200-2011 in
//! AttnGAN's layout, and any folder of captioned images. Needs no GPU.
//!
//! - [`world`], [`render`]: the built-in procedural world (default data set);
//!   [`oracle`] scores images against the scenes they should show.
//! - [`cub`]: CUB-200-2011 as AttnGAN lays it out. Split lists are read by a
//!   tiny reader for pickled lists of str ([`pickle`]); a `filenames.txt`
//!   (one `<class>/<name>` per line) beside the pickle takes precedence.
//! - [`folder`]: images with same-named `.txt` captions, optional `split.txt`.
//! - [`vocab`]: AttnGAN's tokenizer and vocabulary, plus `<unk>`.
//! - [`loader`]: background threads turning a [`Source`] into batches.
//! - [`error`]: every refusal names the file and the fix; `skip_bad` options
//!   skip and count instead.
//! - sample grids with captions ([`grid`], [`font`]; `engine world` draws one).

pub mod caption_score;
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
pub mod spec;
pub mod swaps;
pub mod vocab;
pub mod world;

pub use cub::{Cub, CubConfig};
pub use error::{DataError, SkipReport};
pub use folder::{Folder, FolderConfig};
pub use loader::{Batch, Loader, LoaderConfig};
pub use oracle::{Oracle, OracleScores};
pub use source::{Item, Source, WorldSource};
pub use spec::DataSpec;
pub use vocab::{Vocab, DEFAULT_MAX_WORDS};
pub use world::{Scene, Split, World, WorldConfig};
