//! One error type for everything the data layer can refuse. Every variant
//! names the offending file and says how to fix it, so a user who brings
//! their own data gets an actionable message instead of a panic.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("missing folder {path}: {hint}")]
    MissingDir { path: PathBuf, hint: String },

    #[error("missing file {path}: {hint}")]
    MissingFile { path: PathBuf, hint: String },

    #[error("cannot read {path}: {source} (check that it exists and is readable)")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("cannot decode image {path}: {reason} (re-save it as PNG or JPEG, delete it, or load with skip_bad)")]
    BadImage { path: PathBuf, reason: String },

    #[error("{path} is not valid UTF-8 (first bad byte at offset {offset}); re-save it with UTF-8 encoding")]
    NotUtf8 { path: PathBuf, offset: usize },

    #[error("caption file {path} holds no captions; write one caption per line")]
    EmptyCaptions { path: PathBuf },

    #[error("image {path} has no captions; create {expected} with one caption per line")]
    NoCaptions { path: PathBuf, expected: PathBuf },

    #[error("{path}, line {line}: {reason}")]
    Parse {
        path: PathBuf,
        line: usize,
        reason: String,
    },

    #[error("cannot read pickle {path}: {reason} (expected a Python list of str; or write the names one per line into filenames.txt beside it)")]
    Pickle { path: PathBuf, reason: String },

    #[error("{what} is empty: {hint}")]
    Empty { what: String, hint: String },

    #[error("{what}: {bad} of {total} images could not be used, more than {max_percent}%; fix or remove them (listed above)")]
    TooManyBad {
        what: String,
        bad: usize,
        total: usize,
        max_percent: u32,
    },

    #[error("vocabulary text is malformed: {0}")]
    Vocab(String),
}

impl DataError {
    /// Wrap an I/O error, turning "not found" into the friendlier variant.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        let path = path.into();
        if source.kind() == std::io::ErrorKind::NotFound {
            DataError::MissingFile {
                path,
                hint: "the file does not exist; check the data set root and layout".into(),
            }
        } else {
            DataError::Io { path, source }
        }
    }
}

/// Read a text file that must be UTF-8, with precise errors.
pub fn read_text(path: &std::path::Path) -> Result<String, DataError> {
    let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    String::from_utf8(bytes).map_err(|e| DataError::NotUtf8 {
        path: path.to_path_buf(),
        offset: e.utf8_error().valid_up_to(),
    })
}

/// Read a caption file: one caption per line, blank lines ignored.
/// An empty file is an error (an image without captions cannot be trained on).
pub fn read_captions(path: &std::path::Path) -> Result<Vec<String>, DataError> {
    let text = read_text(path)?;
    let caps: Vec<String> = text
        .lines()
        .map(|l| l.trim())
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    if caps.is_empty() {
        return Err(DataError::EmptyCaptions {
            path: path.to_path_buf(),
        });
    }
    Ok(caps)
}

/// Items skipped by a `skip_bad` load, with the reason for each.
#[derive(Debug, Default, Clone)]
pub struct SkipReport {
    pub skipped: usize,
    pub reasons: Vec<String>,
}

impl SkipReport {
    pub fn add(&mut self, e: &DataError) {
        self.skipped += 1;
        self.reasons.push(e.to_string());
    }
}
