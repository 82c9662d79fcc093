//! Checkpoints in safetensors (so PyTorch users can open them): tensors by
//! name plus string metadata (step, configuration, vocabulary, generator
//! states). Written atomically: a temporary file beside the target is
//! written, flushed to disk, then renamed over it, so a crash at any moment
//! leaves the previous checkpoint intact.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use crate::runtime::{Error, Result};

/// Tensors by name (shape, f32 data) and metadata.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Checkpoint {
    pub tensors: HashMap<String, (Vec<usize>, Vec<f32>)>,
    pub metadata: HashMap<String, String>,
    /// Store the tensors as f16 (half the bytes; `engine export --f16`).
    /// Loading widens f16 back to f32 whatever this says.
    pub f16: bool,
}

/// The largest finite f16; a tensor with a larger magnitude cannot be stored as f16.
pub const F16_MAX: f32 = 65504.0;

fn err(path: &Path, message: impl Into<String>) -> Error {
    Error::Checkpoint {
        path: path.display().to_string(),
        message: message.into(),
    }
}

impl Checkpoint {
    pub fn insert(&mut self, name: impl Into<String>, shape: Vec<usize>, data: Vec<f32>) {
        self.tensors.insert(name.into(), (shape, data));
    }

    /// Adds every (name, shape, data) with a prefix (`gen.`, `optim.m.`).
    pub fn extend(&mut self, prefix: &str, state: Vec<super::params::NamedTensor>) {
        for (name, shape, data) in state {
            self.tensors
                .insert(format!("{prefix}{name}"), (shape, data));
        }
    }

    /// The tensors under a prefix, with the prefix removed.
    pub fn with_prefix(&self, prefix: &str) -> HashMap<String, (Vec<usize>, Vec<f32>)> {
        self.tensors
            .iter()
            .filter_map(|(k, v)| k.strip_prefix(prefix).map(|k| (k.to_string(), v.clone())))
            .collect()
    }

    pub fn meta(&self, key: &str, path: &Path) -> Result<&str> {
        self.metadata.get(key).map(String::as_str).ok_or_else(|| {
            err(
                path,
                format!("metadata {key:?} is missing; was it written by engine?"),
            )
        })
    }

    /// Writes atomically (temporary file, flush, rename). A tensor holding a
    /// non-finite value is refused, so a diverged run never replaces the
    /// last good checkpoint.
    pub fn save(&self, path: &Path) -> Result<()> {
        let mut names: Vec<&String> = self.tensors.keys().collect();
        names.sort();
        for n in &names {
            if let Some(x) = self.tensors[*n].1.iter().find(|x| !x.is_finite()) {
                return Err(err(
                    path,
                    format!("not written: tensor {n:?} holds {x} (the run diverged); the previous file, if any, is kept"),
                ));
            }
        }
        let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = names
            .iter()
            .map(|n| {
                let (shape, data) = &self.tensors[*n];
                let b = if self.f16 {
                    if let Some(x) = data.iter().find(|x| x.abs() > F16_MAX) {
                        return Err(err(
                            path,
                            format!("tensor {n:?} holds {x}, beyond f16's range; store it as f32"),
                        ));
                    }
                    let h: Vec<half::f16> = data.iter().map(|&x| half::f16::from_f32(x)).collect();
                    bytemuck::cast_slice::<half::f16, u8>(&h).to_vec()
                } else {
                    bytemuck::cast_slice::<f32, u8>(data).to_vec()
                };
                Ok(((*n).clone(), shape.clone(), b))
            })
            .collect::<Result<_>>()?;
        let dtype = if self.f16 {
            safetensors::Dtype::F16
        } else {
            safetensors::Dtype::F32
        };
        let views = bytes
            .iter()
            .map(|(n, shape, b)| {
                safetensors::tensor::TensorView::new(dtype, shape.clone(), b)
                    .map(|v| (n.clone(), v))
                    .map_err(|e| err(path, e.to_string()))
            })
            .collect::<Result<Vec<_>>>()?;
        let blob = safetensors::serialize(views, Some(self.metadata.clone()))
            .map_err(|e| err(path, e.to_string()))?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| err(path, format!("cannot create its folder: {e}")))?;
        }
        let tmp = path.with_extension("safetensors.tmp");
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&blob)?;
            f.sync_all()?;
            std::fs::rename(&tmp, path)?;
            if let Some(dir) = path.parent() {
                if let Ok(d) = std::fs::File::open(if dir.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    dir
                }) {
                    let _ = d.sync_all();
                }
            }
            Ok(())
        };
        write().map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            err(
                path,
                format!("cannot write it: {e} (is the disk full or the folder read-only?)"),
            )
        })
    }

    /// Reads and validates a checkpoint; a missing, truncated or corrupt file
    /// is an error that says which.
    pub fn load(path: &Path) -> Result<Checkpoint> {
        let bytes = std::fs::read(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => err(path, "no such file; check the path (checkpoints are written as <out>/checkpoint.safetensors)"),
            _ => err(path, format!("cannot read it: {e}")),
        })?;
        Self::from_bytes(&bytes, path)
    }

    /// Reads and validates a checkpoint held in memory (`path` names it in
    /// messages). f16 tensors are widened to f32; a tensor of another type,
    /// a size that does not match its shape, or a value that is not finite
    /// is an error.
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Checkpoint> {
        let st = safetensors::SafeTensors::deserialize(bytes)
            .map_err(|e| err(path, format!("not a valid safetensors file ({e}); it may be truncated or corrupt — resume from an earlier checkpoint")))?;
        let (_, meta) =
            safetensors::SafeTensors::read_metadata(bytes).map_err(|e| err(path, e.to_string()))?;
        let mut ck = Checkpoint {
            metadata: meta.metadata().clone().unwrap_or_default(),
            ..Default::default()
        };
        for (name, view) in st.tensors() {
            let data: Vec<f32> = match view.dtype() {
                safetensors::Dtype::F32 => bytemuck::pod_collect_to_vec(view.data()),
                safetensors::Dtype::F16 => {
                    ck.f16 = true;
                    bytemuck::pod_collect_to_vec::<u8, half::f16>(view.data())
                        .into_iter()
                        .map(f32::from)
                        .collect()
                }
                other => {
                    return Err(err(
                        path,
                        format!("tensor {name:?} is {other:?}; engine reads f32 and f16 only"),
                    ))
                }
            };
            if data.len() != view.shape().iter().product::<usize>() {
                return Err(err(
                    path,
                    format!(
                        "tensor {name:?} has {} values for shape {:?}",
                        data.len(),
                        view.shape()
                    ),
                ));
            }
            if let Some(x) = data.iter().find(|x| !x.is_finite()) {
                return Err(err(
                    path,
                    format!("tensor {name:?} holds {x}; the run that wrote it had diverged — use an earlier checkpoint"),
                ));
            }
            ck.tensors.insert(name, (view.shape().to_vec(), data));
        }
        Ok(ck)
    }
}
