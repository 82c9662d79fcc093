//! `--data SOURCE`: which captioned images a command trains or scores on.
//! `world` (the built-in generated world), a folder of images with
//! same-named `.txt` captions, or a CUB-200-2011 root in AttnGAN's layout
//! (recognised by its `CUB_200_2011/` folder).

use std::path::PathBuf;
use std::sync::Arc;

use super::cub::{Cub, CubConfig};
use super::error::{DataError, SkipReport};
use super::folder::{Folder, FolderConfig};
use super::source::Source;
use super::world::Split;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DataSpec {
    World,
    Folder(PathBuf),
    Cub(PathBuf),
}

/// More than this share of unreadable images stops the run.
pub const MAX_BAD_SHARE: f64 = 0.05;

impl DataSpec {
    /// `world`, or a folder (CUB when it holds `CUB_200_2011/`).
    pub fn parse(s: &str) -> Result<DataSpec, DataError> {
        if s == "world" {
            return Ok(DataSpec::World);
        }
        let p = PathBuf::from(s);
        if !p.is_dir() {
            return Err(DataError::MissingDir {
                path: p,
                hint: "--data takes `world` or a folder: images with same-named .txt captions, or a CUB-200-2011 root".into(),
            });
        }
        let p = p.canonicalize().unwrap_or(p);
        if p.join("CUB_200_2011").is_dir() {
            Ok(DataSpec::Cub(p))
        } else {
            Ok(DataSpec::Folder(p))
        }
    }

    /// What checkpoints record (`world`, `folder <path>`, `cub <path>`), so
    /// that a run refuses to resume, or to be guided, on other data.
    pub fn id(&self) -> String {
        match self {
            DataSpec::World => "world".into(),
            DataSpec::Folder(p) => format!("folder {}", p.display()),
            DataSpec::Cub(p) => format!("cub {}", p.display()),
        }
    }

    /// The data a checkpoint says it was trained on (written before this
    /// was recorded: the world, the only data the commands reached then).
    pub fn id_of(meta: &std::collections::HashMap<String, String>) -> String {
        meta.get("data").cloned().unwrap_or_else(|| "world".into())
    }

    pub fn is_world(&self) -> bool {
        *self == DataSpec::World
    }

    /// Whether training takes random crops (folders and CUB; never the
    /// world, whose captions say where things are).
    pub fn augment(&self) -> bool {
        !self.is_world()
    }

    /// One split of a folder or CUB root, skipping unreadable images (one
    /// line each on stderr) and refusing when more than [`MAX_BAD_SHARE`]
    /// of them are bad. Returns the source and a one-line summary. The
    /// world is built by the trainers (it needs a seed and a scene count).
    pub fn open(&self, split: Split) -> Result<(Arc<dyn Source>, String), DataError> {
        let (source, skipped, how): (Arc<dyn Source>, SkipReport, String) = match self {
            DataSpec::World => {
                return Err(DataError::Empty {
                    what: "--data world".into(),
                    hint: "the built-in world is made by the trainer, not opened".into(),
                })
            }
            DataSpec::Folder(root) => {
                let cfg = FolderConfig {
                    split: Some(split),
                    skip_bad: true,
                    held_out_without_split: true,
                    ..FolderConfig::new(root)
                };
                let how = if root.join("split.txt").is_file() {
                    format!("the {split:?} lines of split.txt")
                } else {
                    format!(
                        "no split.txt: {} chosen by path hash",
                        if split == Split::Test {
                            "the held-out tenth"
                        } else {
                            "the other nine tenths"
                        }
                    )
                };
                let f = Folder::open_with_progress(&cfg, &mut indexing_progress(root))?;
                let skipped = f.skipped.clone();
                (Arc::new(f), skipped, how)
            }
            DataSpec::Cub(root) => {
                let cfg = CubConfig {
                    skip_bad: true,
                    ..CubConfig::new(root, split)
                };
                let c = Cub::open_with_progress(&cfg, &mut indexing_progress(root))?;
                let skipped = c.skipped.clone();
                (Arc::new(c), skipped, format!("AttnGAN's {split:?} list"))
            }
        };
        for r in skipped.reasons.iter().take(20) {
            eprintln!("skipped: {r}");
        }
        if skipped.reasons.len() > 20 {
            eprintln!("skipped: ... and {} more", skipped.reasons.len() - 20);
        }
        let total = source.len() + skipped.skipped;
        if skipped.skipped as f64 > MAX_BAD_SHARE * total as f64 {
            return Err(DataError::TooManyBad {
                what: format!("{} ({split:?})", self.id()),
                bad: skipped.skipped,
                total,
                max_percent: (MAX_BAD_SHARE * 100.0) as u32,
            });
        }
        let summary = format!(
            "{}: {} images ({how}), {} skipped",
            self.id(),
            source.len(),
            skipped.skipped
        );
        Ok((source, summary))
    }
}

/// Prints how far the indexing of a large folder got, one line every 5
/// seconds (nothing for a folder indexed sooner).
fn indexing_progress(root: &std::path::Path) -> impl FnMut(usize, usize) + '_ {
    let start = std::time::Instant::now();
    let mut last = start;
    move |checked, total| {
        if last.elapsed().as_secs_f64() >= 5.0 && checked < total {
            last = std::time::Instant::now();
            eprintln!(
                "indexing {}: {checked} of {total} images checked ({:.0}%, {:.0} s)",
                root.display(),
                100.0 * checked as f64 / total as f64,
                start.elapsed().as_secs_f64()
            );
        }
    }
}

impl std::fmt::Display for DataSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.id())
    }
}

/// For clap: `--data world|DIR`.
pub fn parse_arg(s: &str) -> Result<DataSpec, String> {
    DataSpec::parse(s).map_err(|e| e.to_string())
}
