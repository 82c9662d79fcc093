//! Training and evaluation loops (the layer the CLI calls).

pub mod attngan;
pub mod damsm;
pub mod eval;
pub mod lock;
pub mod plot;

use std::path::Path;

use crate::runtime::{Error, Result};

/// The options of a run that its checkpoint records ("key=value" lines), so
/// that a resume with other ones is refused instead of silently mixing two
/// runs.
pub fn options_text(options: &[(&str, String)]) -> String {
    options.iter().map(|(k, v)| format!("{k}={v}\n")).collect()
}

/// Refuses a resume whose options differ from those `stored` in the
/// checkpoint at `path`, listing each difference. A checkpoint from before
/// options were recorded (`None`) is not checked.
pub fn check_resume_options(
    stored: Option<&String>,
    now: &[(&str, String)],
    path: &Path,
) -> Result<()> {
    let Some(stored) = stored else {
        return Ok(());
    };
    let old: std::collections::HashMap<&str, &str> =
        stored.lines().filter_map(|l| l.split_once('=')).collect();
    let diffs: Vec<String> = now
        .iter()
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
