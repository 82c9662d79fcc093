//! CUB-200-2011 in the layout AttnGAN uses (its `data/birds`):
//!
//! ```text
//! <root>/CUB_200_2011/images/<class>/<name>.jpg
//! <root>/CUB_200_2011/images.txt          "<id> <class>/<name>.jpg"
//! <root>/CUB_200_2011/bounding_boxes.txt  "<id> <x> <y> <w> <h>"
//! <root>/text/<class>/<name>.txt          10 captions, one per line
//!                                         (CUB_200_2011/text/ also accepted)
//! <root>/train/filenames.pickle           pickled list of "<class>/<name>"
//! <root>/test/filenames.pickle
//! ```
//!
//! A plain `filenames.txt` (one `<class>/<name>` per line) beside a pickle is
//! read in preference to it, for lists that were never pickled. The class
//! id is the number before the dot of the class folder ("001.Black_footed_
//! Albatross" -> 1). Preprocessing is AttnGAN's: crop a square of side
//! 1.5 * max(w, h) around the bbox centre (clamped to the image), scale the
//! shorter side to 304 (for 256), crop 256 (random when augmenting, centred
//! otherwise), random horizontal flip when augmenting; the loader derives
//! 64 and 128 from the 256 image.

use super::error::{read_text, DataError, SkipReport};
use super::pickle::read_str_list;
use super::source::{ImageEntry, Item, Source};
use super::world::Split;
use rand::RngCore;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug)]
pub struct CubConfig {
    /// The folder holding `CUB_200_2011/`, `text/`, `train/`, `test/`.
    pub root: PathBuf,
    pub split: Split,
    /// Skip and count bad items instead of stopping at the first.
    pub skip_bad: bool,
    /// Captions kept per image (AttnGAN: 10).
    pub captions_per_image: usize,
}

impl CubConfig {
    pub fn new(root: impl Into<PathBuf>, split: Split) -> Self {
        CubConfig {
            root: root.into(),
            split,
            skip_bad: false,
            captions_per_image: 10,
        }
    }
}

pub struct Cub {
    entries: Vec<ImageEntry>,
    /// Items left out by `skip_bad`.
    pub skipped: SkipReport,
}

const ROOT_HINT: &str = "point it at the folder that holds CUB_200_2011/, text/, train/ and test/ (AttnGAN's data/birds)";

fn need_dir(p: &Path, hint: &str) -> Result<(), DataError> {
    if p.is_dir() {
        Ok(())
    } else {
        Err(DataError::MissingDir {
            path: p.to_path_buf(),
            hint: hint.to_string(),
        })
    }
}

/// Parse "<id> <rest...>" lines into (id, fields).
fn id_lines(path: &Path) -> Result<Vec<(u32, Vec<String>, usize)>, DataError> {
    let text = read_text(path)?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let mut f = line.split_whitespace();
        let Some(id) = f.next() else { continue };
        let id = id.parse::<u32>().map_err(|_| DataError::Parse {
            path: path.to_path_buf(),
            line: n + 1,
            reason: format!("{id:?} is not an image id"),
        })?;
        out.push((id, f.map(str::to_string).collect(), n + 1));
    }
    Ok(out)
}

/// The split's list of `<class>/<name>` keys.
pub fn read_split_list(dir: &Path) -> Result<Vec<String>, DataError> {
    let txt = dir.join("filenames.txt");
    if txt.is_file() {
        return Ok(read_text(&txt)?
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect());
    }
    let pk = dir.join("filenames.pickle");
    if !pk.is_file() {
        return Err(DataError::MissingFile {
            path: pk,
            hint: "the split list is missing; copy AttnGAN's filenames.pickle here, or write filenames.txt with one <class>/<name> per line".into(),
        });
    }
    let bytes = std::fs::read(&pk).map_err(|e| DataError::io(&pk, e))?;
    read_str_list(&bytes).map_err(|reason| DataError::Pickle { path: pk, reason })
}

/// "001.Black_footed_Albatross/..." -> 1.
pub fn class_id_of(key: &str) -> Option<u32> {
    key.split('.').next()?.parse().ok()
}

impl Cub {
    pub fn open(cfg: &CubConfig) -> Result<Cub, DataError> {
        Self::open_with_progress(cfg, &mut |_, _| {})
    }

    /// [`Cub::open`], calling `progress(checked, total)` after each image of
    /// the split is checked.
    pub fn open_with_progress(
        cfg: &CubConfig,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<Cub, DataError> {
        need_dir(&cfg.root, ROOT_HINT)?;
        let cub = cfg.root.join("CUB_200_2011");
        need_dir(&cub, "download CUB_200_2011 and unpack it here")?;
        let images_txt = cub.join("images.txt");
        let bbox_txt = cub.join("bounding_boxes.txt");
        let mut id_of: HashMap<String, u32> = HashMap::new();
        for (id, f, line) in id_lines(&images_txt)? {
            let name = f.first().ok_or_else(|| DataError::Parse {
                path: images_txt.clone(),
                line,
                reason: "expected \"<id> <class>/<name>.jpg\"".into(),
            })?;
            let key = name.strip_suffix(".jpg").unwrap_or(name);
            id_of.insert(key.to_string(), id);
        }
        let mut bbox_of: HashMap<u32, [f32; 4]> = HashMap::new();
        for (id, f, line) in id_lines(&bbox_txt)? {
            let v: Vec<f32> = f.iter().filter_map(|x| x.parse().ok()).collect();
            if v.len() != 4 {
                return Err(DataError::Parse {
                    path: bbox_txt.clone(),
                    line,
                    reason: "expected \"<id> <x> <y> <w> <h>\"".into(),
                });
            }
            bbox_of.insert(id, [v[0], v[1], v[2], v[3]]);
        }
        let split_dir = cfg.root.join(cfg.split.name());
        let keys = read_split_list(&split_dir)?;
        let text_root = if cfg.root.join("text").is_dir() {
            cfg.root.join("text")
        } else {
            cub.join("text")
        };
        need_dir(
            &text_root,
            "the captions folder text/ (from AttnGAN's birds.zip) is missing",
        )?;
        let mut entries = Vec::new();
        let mut skipped = SkipReport::default();
        let total = keys.len();
        for (checked, key) in keys.into_iter().enumerate() {
            progress(checked + 1, total);
            match Self::entry(
                cfg,
                &cub,
                &text_root,
                &key,
                &id_of,
                &bbox_of,
                &images_txt,
                &bbox_txt,
            ) {
                Ok(e) => entries.push(e),
                Err(e) if cfg.skip_bad => skipped.add(&e),
                Err(e) => return Err(e),
            }
        }
        if entries.is_empty() {
            return Err(DataError::Empty {
                what: format!("CUB split {}", split_dir.display()),
                hint: format!("no usable images ({} skipped)", skipped.skipped),
            });
        }
        Ok(Cub { entries, skipped })
    }

    #[allow(clippy::too_many_arguments)]
    fn entry(
        cfg: &CubConfig,
        cub: &Path,
        text_root: &Path,
        key: &str,
        id_of: &HashMap<String, u32>,
        bbox_of: &HashMap<u32, [f32; 4]>,
        images_txt: &Path,
        bbox_txt: &Path,
    ) -> Result<ImageEntry, DataError> {
        let image = cub.join("images").join(format!("{key}.jpg"));
        let text = text_root.join(format!("{key}.txt"));
        let id = *id_of.get(key).ok_or_else(|| DataError::MissingFile {
            path: images_txt.to_path_buf(),
            hint: format!("{key}.jpg is in the split list but not in images.txt"),
        })?;
        let bbox = *bbox_of.get(&id).ok_or_else(|| DataError::MissingFile {
            path: bbox_txt.to_path_buf(),
            hint: format!("no bounding box for image id {id} ({key})"),
        })?;
        let class_id = class_id_of(key).unwrap_or(0);
        let mut e = ImageEntry::open(image, &text, Some(bbox), class_id)?;
        e.captions.truncate(cfg.captions_per_image.max(1));
        Ok(e)
    }
}

impl Source for Cub {
    fn len(&self) -> usize {
        self.entries.len()
    }

    fn captions(&self, index: usize) -> Vec<String> {
        self.entries[index].captions.clone()
    }

    fn item(
        &self,
        index: usize,
        size: u32,
        augment: bool,
        rng: &mut dyn RngCore,
    ) -> Result<Item, DataError> {
        self.entries[index].item(size, augment, true, rng)
    }
}
