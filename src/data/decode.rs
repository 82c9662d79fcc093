//! Opening image files with errors that name the file.

use super::error::DataError;
use image::{ImageReader, RgbImage};
use std::path::Path;

/// Check that `path` exists and starts like a PNG or JPEG we can read
/// (header only; cheap enough to run over a whole data set at open time).
pub fn check_image(path: &Path) -> Result<(), DataError> {
    let reader = ImageReader::open(path)
        .map_err(|e| DataError::io(path, e))?
        .with_guessed_format()
        .map_err(|e| DataError::io(path, e))?;
    reader.into_dimensions().map_err(|e| DataError::BadImage {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    Ok(())
}

/// Decode `path` to RGB8.
pub fn load_rgb(path: &Path) -> Result<RgbImage, DataError> {
    let reader = ImageReader::open(path)
        .map_err(|e| DataError::io(path, e))?
        .with_guessed_format()
        .map_err(|e| DataError::io(path, e))?;
    let img = reader.decode().map_err(|e| DataError::BadImage {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    Ok(img.to_rgb8())
}

pub fn is_image_name(path: &Path) -> bool {
    matches!(
        path.extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref(),
        Some("png" | "jpg" | "jpeg")
    )
}
