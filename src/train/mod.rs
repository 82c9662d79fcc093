//! Training and evaluation loops (the layer the CLI calls).

pub mod attngan;
pub mod damsm;
pub mod dcgan;
pub mod dfgan;
pub mod eval;
pub mod lock;
pub mod plot;
pub mod stackgan;
pub mod stackgan_pp;
pub mod stream;
pub mod trainer;

use std::path::Path;

use crate::runtime::{Error, Result};

/// The options of a run that its checkpoint records ("key=value" lines), so
/// that a resume with other ones is refused instead of silently mixing two
/// runs.
pub fn options_text(options: &[(&str, String)]) -> String {
    options.iter().map(|(k, v)| format!("{k}={v}\n")).collect()
}

/// Refuses a resume from checkpoint `ck` (at `path`) trained on other data
/// or with other options than `now`, naming the data or listing each
/// differing option. A checkpoint from before options were recorded is not
/// checked for them; one from before data was recorded was of the world.
pub fn check_resume(
    ck: &crate::nn::checkpoint::Checkpoint,
    data: &crate::data::DataSpec,
    now: &[(&str, String)],
    path: &Path,
) -> Result<()> {
    let trained_on = crate::data::DataSpec::id_of(&ck.metadata);
    if trained_on != data.id() {
        return Err(Error::Checkpoint {
            path: path.display().to_string(),
            message: format!(
                "was trained on {trained_on}, not {}; resume with --data as it was, or start a new run with --out DIR",
                data.id()
            ),
        });
    }
    let Some(stored) = ck.metadata.get("options") else {
        return Ok(());
    };
    let old: std::collections::HashMap<&str, &str> =
        stored.lines().filter_map(|l| l.split_once('=')).collect();
    let curriculum = trainer::CURRICULUM_KEYS;
    for key in curriculum {
        if let (Some(was), Some((_, v))) = (old.get(key), now.iter().find(|(k, _)| *k == key)) {
            if *was != v.as_str() && crate::nn::parallel::is_leader() {
                match key {
                    "world_objects" => println!(
                        "curriculum: the checkpoint's steps so far saw at most {was} object(s) per scene; this run goes on with at most {v}"
                    ),
                    "twins" => println!(
                        "curriculum: the checkpoint's steps so far had twins {was}; this run goes on with {v}"
                    ),
                    "label_guide" => println!(
                        "curriculum: the checkpoint's steps so far had label guide weight {was}; this run goes on with {v}"
                    ),
                    _ => println!(
                        "curriculum: the checkpoint's steps so far read G's images for the label guide with DAMSM {}; this run with {}",
                        if was.is_empty() { "--damsm" } else { was },
                        if v.is_empty() { "--damsm" } else { v }
                    ),
                }
            }
        }
    }
    let diffs: Vec<String> = now
        .iter()
        .filter(|(k, _)| !curriculum.contains(k))
        .filter_map(|(k, v)| {
            old.get(k)
                .filter(|o| **o != v.as_str())
                .map(|o| format!("{k}: {o} in the checkpoint, {v} now"))
        })
        .collect();
    if diffs.is_empty() {
        return Ok(());
    }
    Err(Error::Checkpoint {
        path: path.display().to_string(),
        message: format!(
            "was trained with other options; resume with the same ones, or start a new run with --out DIR:\n  {}",
            diffs.join("\n  ")
        ),
    })
}

/// The checkpoint at `path` that a run of model `kind` with `config`
/// resumes from: refused as [`check_resume`] refuses, and unless it holds
/// that model with that configuration, naming both.
pub fn open_resume<C: crate::nn::config::ModelConfig + PartialEq>(
    path: &Path,
    data: &crate::data::DataSpec,
    options: &[(&str, String)],
    kind: &str,
    config: &C,
) -> Result<crate::nn::checkpoint::Checkpoint> {
    let ck = crate::nn::checkpoint::Checkpoint::load(path)?;
    check_resume(&ck, data, options, path)?;
    let was = ck.meta("engine.model", path)?;
    let old = C::from_text(ck.meta("config", path)?)?;
    if was != kind || &old != config {
        return Err(Error::Checkpoint {
            path: path.display().to_string(),
            message: format!(
                "holds a {was} with {}; this run is a {kind} with {}: resume with the same model and sizes",
                old.to_text(),
                config.to_text()
            ),
        });
    }
    Ok(ck)
}
