//! What the loader reads from: anything that can produce item `i` (an
//! image at a requested side, its captions and a class id). The built-in
//! world, CUB and caption folders all implement [`Source`].

use super::error::{read_captions, DataError};
use super::swaps::Attribute;
use super::world::{Split, World};
use image::RgbImage;
use rand::RngCore;
use std::path::{Path, PathBuf};

/// One captioned image, preprocessed to a square of the requested side.
#[derive(Clone, Debug)]
pub struct Item {
    pub image: RgbImage,
    pub captions: Vec<String>,
    /// Class label (CUB: 1..=200); items of one class are not treated as
    /// negatives of each other by DAMSM. 0 means "no class".
    pub class_id: u32,
    /// Class labels of what the image shows, for an auxiliary loss on the
    /// image encoder: the built-in world's [`super::world::Scene::labels`];
    /// empty for images that have none (folders, CUB).
    pub labels: Vec<u32>,
}

pub trait Source: Send + Sync {
    fn len(&self) -> usize;

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Captions of item `index` without decoding its image (for building
    /// a vocabulary).
    fn captions(&self, index: usize) -> Vec<String>;

    /// Words per caption a model of this data set takes (longer captions
    /// lose random words): AttnGAN's 18 unless the data set says otherwise.
    fn max_words(&self) -> usize {
        super::vocab::DEFAULT_MAX_WORDS
    }

    /// A caption that says of item `index` what its caption number
    /// `caption` says, except one attribute of one object (a hard negative
    /// for a matching-aware discriminator): None where the source cannot
    /// tell (only the built-in world knows its scenes).
    fn contrast_caption(
        &self,
        _index: usize,
        _caption: usize,
        _rng: &mut dyn RngCore,
    ) -> Option<String> {
        None
    }

    /// Item `index`'s twin for `--twins`: its scene with one attribute of one
    /// object changed (object and attribute, one of `attributes`, drawn with
    /// `rng`), rendered at `size`, with class 0 (no class) and the changed
    /// scene's captions in the same phrasings (caption k says what caption k
    /// of item `index` says but that attribute). None where the source
    /// cannot tell (only the built-in world knows its scenes).
    fn twin(
        &self,
        _index: usize,
        _attributes: &[Attribute],
        _size: u32,
        _rng: &mut dyn RngCore,
    ) -> Option<Item> {
        None
    }

    /// Item `index` with its image a `size` x `size` square; `augment`
    /// enables the source's random crop/flip.
    fn item(
        &self,
        index: usize,
        size: u32,
        augment: bool,
        rng: &mut dyn RngCore,
    ) -> Result<Item, DataError>;
}

/// The built-in world as a source of `len` scenes of one split. It renders
/// in memory at the requested size (no augmentation: a flip would turn
/// "left" into "right"). Each scene is its own class (`1 + index`), so
/// DAMSM treats every other scene as a negative.
pub struct WorldSource {
    pub world: World,
    pub split: Split,
    pub len: usize,
}

impl WorldSource {
    pub fn new(world: World, split: Split, len: usize) -> Self {
        WorldSource { world, split, len }
    }
}

impl WorldSource {
    /// Scene `index` one attribute away: object, attribute (of
    /// `attributes`) and new value drawn at random from its one-attribute
    /// swaps (data/swaps.rs). A training scene's swaps skip the (shape,
    /// colour) pairs held out for the test split, so no training caption or
    /// image, not even a negative, shows one. None for a scene without
    /// objects or an empty `attributes`.
    fn swap(
        &self,
        index: usize,
        attributes: &[Attribute],
        rng: &mut dyn RngCore,
    ) -> Option<super::world::Scene> {
        use super::swaps::swapped_object;
        use super::world::is_held_out;
        use rand::Rng;
        if attributes.is_empty() {
            return None;
        }
        let scene = self.world.scene(self.split, index as u64);
        let k = rng.random_range(0..scene.objects.len().max(1));
        let attribute = attributes[rng.random_range(0..attributes.len())];
        let mut swaps = swapped_object(&scene, k, attribute);
        if self.split == Split::Train {
            swaps.retain(|s| !is_held_out(s.objects[k].shape, s.objects[k].colour));
        }
        // Never empty in this world: every attribute of every object has
        // another allowed value (a scene without objects gives None).
        swaps.get(rng.random_range(0..swaps.len().max(1))).cloned()
    }
}

impl Source for WorldSource {
    fn len(&self) -> usize {
        self.len
    }

    fn captions(&self, index: usize) -> Vec<String> {
        self.world
            .scene_captions(&self.world.scene(self.split, index as u64))
    }

    /// Every world caption whole: cutting one drops colour, shape or
    /// position words the image shows.
    fn max_words(&self) -> usize {
        super::world::WORLD_MAX_WORDS
    }

    /// The caption of a swap of any attribute (`WorldSource::swap`).
    fn contrast_caption(
        &self,
        index: usize,
        caption: usize,
        rng: &mut dyn RngCore,
    ) -> Option<String> {
        let swap = self.swap(index, &Attribute::ALL, rng)?;
        self.world.scene_captions(&swap).get(caption).cloned()
    }

    fn twin(
        &self,
        index: usize,
        attributes: &[Attribute],
        size: u32,
        rng: &mut dyn RngCore,
    ) -> Option<Item> {
        let swap = self.swap(index, attributes, rng)?;
        Some(Item {
            image: swap.render(size),
            captions: self.world.scene_captions(&swap),
            class_id: 0,
            labels: swap.labels(),
        })
    }

    fn item(
        &self,
        index: usize,
        size: u32,
        _augment: bool,
        _rng: &mut dyn RngCore,
    ) -> Result<Item, DataError> {
        let scene = self.world.scene(self.split, index as u64);
        Ok(Item {
            image: scene.render(size),
            captions: self.world.scene_captions(&scene),
            class_id: 1 + index as u32,
            labels: scene.labels(),
        })
    }
}

/// A vocabulary of every caption of `source` (AttnGAN builds CUB's from
/// train and test captions; pass both sources' captions to
/// [`super::vocab::Vocab::build`] for that).
pub fn vocab_of(source: &dyn Source, min_count: usize) -> super::vocab::Vocab {
    super::vocab::Vocab::build(
        (0..source.len()).flat_map(|i| source.captions(i)),
        min_count,
    )
}

/// One captioned image file on disk: an item of a folder or of CUB.
#[derive(Clone, Debug)]
pub(crate) struct ImageEntry {
    pub image: PathBuf,
    /// CUB's bird box (x, y, width, height), cropped to before scaling.
    pub bbox: Option<[f32; 4]>,
    pub captions: Vec<String>,
    pub class_id: u32,
}

impl ImageEntry {
    /// The entry for `image`, its captions read from `text`; an image that
    /// cannot be opened, or has no caption file, is refused naming both.
    pub fn open(
        image: PathBuf,
        text: &Path,
        bbox: Option<[f32; 4]>,
        class_id: u32,
    ) -> Result<ImageEntry, DataError> {
        super::decode::check_image(&image)?;
        if !text.is_file() {
            return Err(DataError::NoCaptions {
                path: image,
                expected: text.to_path_buf(),
            });
        }
        Ok(ImageEntry {
            captions: read_captions(text)?,
            image,
            bbox,
            class_id,
        })
    }

    /// Decoded, cropped to its box, scaled to `size` x `size`; `augment`
    /// adds the random crop, and the random flip where `flip` allows it.
    pub fn item(
        &self,
        size: u32,
        augment: bool,
        flip: bool,
        rng: &mut dyn RngCore,
    ) -> Result<Item, DataError> {
        let mut img = super::decode::load_rgb(&self.image)?;
        if let Some(b) = self.bbox {
            img = super::imageops::bbox_crop(&img, b);
        }
        Ok(Item {
            image: super::imageops::scale_crop_flip(&img, size, augment, flip, rng),
            captions: self.captions.clone(),
            class_id: self.class_id,
            labels: Vec::new(),
        })
    }
}
