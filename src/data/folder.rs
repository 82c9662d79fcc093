//! Any folder of captioned images, the way users bring their own data:
//!
//! ```text
//! <root>/**/<name>.png|.jpg|.jpeg   an image (any depth)
//! <root>/**/<name>.txt              beside it: one caption per line
//! <root>/split.txt                  optional: "<train|test> <relative path>"
//! ```
//!
//! In `split.txt`, each non-blank line not starting with `#` names a split
//! and an image path relative to the root with `/` separators (e.g.
//! `test birds/crow_01.jpg`). Without a split (`split: None`) every image
//! is used. Images in a first-level subfolder get that subfolder's class id
//! (1 + its rank among subfolder names); images at the root get 0.
//! Preprocessing: scale the shorter side to `size * 76 / 64`, crop `size`
//! (random when augmenting, centred otherwise), flip only when `flip` is set
//! (off by default: captions may say "left" and "right").

use super::decode::is_image_name;
use super::error::{read_text, DataError, SkipReport};
use super::source::{ImageEntry, Item, Source};
use super::world::Split;
use rand::RngCore;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug)]
pub struct FolderConfig {
    pub root: PathBuf,
    /// Which split of `split.txt` to use; `None` uses every image.
    pub split: Option<Split>,
    pub skip_bad: bool,
    pub flip: bool,
    /// With a split asked for and no `split.txt`: take the deterministic
    /// held-out tenth ([`held_out`]) instead of refusing.
    pub held_out_without_split: bool,
}

/// Whether an image belongs to the held-out tenth of a folder without
/// `split.txt`: FNV-1a of its path relative to the root (with `/`) is 0
/// mod 10. Stable when images are added or removed.
pub fn held_out(root: &Path, image: &Path) -> bool {
    let rel = image.strip_prefix(root).unwrap_or(image);
    let rel: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in rel.join("/").bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h.is_multiple_of(10)
}

impl FolderConfig {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        FolderConfig {
            root: root.into(),
            split: None,
            skip_bad: false,
            flip: false,
            held_out_without_split: false,
        }
    }
}

pub struct Folder {
    entries: Vec<ImageEntry>,
    flip: bool,
    pub skipped: SkipReport,
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), DataError> {
    let rd = std::fs::read_dir(dir).map_err(|e| DataError::io(dir, e))?;
    for ent in rd {
        let ent = ent.map_err(|e| DataError::io(dir, e))?;
        let p = ent.path();
        if p.is_dir() {
            walk(&p, out)?;
        } else if is_image_name(&p) {
            out.push(p);
        }
    }
    Ok(())
}

fn read_split(root: &Path, split: Split) -> Result<Vec<PathBuf>, DataError> {
    let path = root.join("split.txt");
    if !path.is_file() {
        return Err(DataError::MissingFile {
            path,
            hint: "a split was requested; write lines \"train <relative image path>\" / \"test <relative image path>\", or load without a split".into(),
        });
    }
    let text = read_text(&path)?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (s, rel) = line
            .split_once(char::is_whitespace)
            .ok_or_else(|| DataError::Parse {
                path: path.clone(),
                line: n + 1,
                reason: "expected \"<train|test> <relative image path>\"".into(),
            })?;
        let s: Split = s.parse().map_err(|reason| DataError::Parse {
            path: path.clone(),
            line: n + 1,
            reason,
        })?;
        if s == split {
            out.push(root.join(rel.trim()));
        }
    }
    Ok(out)
}

impl Folder {
    pub fn open(cfg: &FolderConfig) -> Result<Folder, DataError> {
        Self::open_with_progress(cfg, &mut |_, _| {})
    }

    /// [`Folder::open`], calling `progress(checked, total)` after each image
    /// is checked (its header read, its captions found): a large folder takes
    /// a while to index, and the caller says how far it got.
    pub fn open_with_progress(
        cfg: &FolderConfig,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<Folder, DataError> {
        if !cfg.root.is_dir() {
            return Err(DataError::MissingDir {
                path: cfg.root.clone(),
                hint: "point it at a folder of images (PNG/JPEG), each with a same-named .txt of captions beside it".into(),
            });
        }
        let has_split_file = cfg.root.join("split.txt").is_file();
        let mut images = match cfg.split {
            Some(s) if has_split_file || !cfg.held_out_without_split => read_split(&cfg.root, s)?,
            _ => {
                let mut v = Vec::new();
                walk(&cfg.root, &mut v)?;
                if let Some(s) = cfg.split {
                    v.retain(|p| held_out(&cfg.root, p) == (s == Split::Test));
                }
                v
            }
        };
        images.sort();
        let mut classes: BTreeMap<String, u32> = BTreeMap::new();
        for p in &images {
            if let Some(c) = first_dir(&cfg.root, p) {
                classes.insert(c, 0);
            }
        }
        for (i, v) in classes.values_mut().enumerate() {
            *v = i as u32 + 1;
        }
        let mut entries = Vec::new();
        let mut skipped = SkipReport::default();
        let total = images.len();
        for (checked, image) in images.into_iter().enumerate() {
            progress(checked + 1, total);
            let class_id = first_dir(&cfg.root, &image)
                .map(|c| classes[&c])
                .unwrap_or(0);
            match Self::entry(image, class_id) {
                Ok(e) => entries.push(e),
                Err(e) if cfg.skip_bad => skipped.add(&e),
                Err(e) => return Err(e),
            }
        }
        if entries.is_empty() {
            return Err(DataError::Empty {
                what: format!("image folder {}", cfg.root.display()),
                hint: format!(
                    "found no usable captioned PNG/JPEG images ({} skipped)",
                    skipped.skipped
                ),
            });
        }
        Ok(Folder {
            entries,
            flip: cfg.flip,
            skipped,
        })
    }

    fn entry(image: PathBuf, class_id: u32) -> Result<ImageEntry, DataError> {
        let text = image.with_extension("txt");
        ImageEntry::open(image, &text, None, class_id)
    }

    /// Image paths in load order.
    pub fn paths(&self) -> impl Iterator<Item = &Path> {
        self.entries.iter().map(|e| e.image.as_path())
    }
}

fn first_dir(root: &Path, p: &Path) -> Option<String> {
    let rel = p.strip_prefix(root).ok()?;
    let mut comps = rel.components();
    let first = comps.next()?;
    comps.next()?; // must have a file below it
    Some(first.as_os_str().to_string_lossy().into_owned())
}

impl Source for Folder {
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
        self.entries[index].item(size, augment, self.flip, rng)
    }
}
