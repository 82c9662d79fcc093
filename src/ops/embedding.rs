//! Embedding lookup (a gather of table rows) and its gradient (a deterministic
//! scatter-add written as a gather, so no atomics are needed).
//!
//! Token ids travel as an f32 tensor holding integer values (exact up to 2^24,
//! far above any vocabulary here), so they are ordinary tensors for the layers
//! above. Upload host ids with [`ids_tensor`], which rejects ids outside the
//! vocabulary; on the device an out-of-range id reads as a zero row and gets
//! no gradient.

use super::grid_1d;
use super::matmul::matmul;
use crate::runtime::{Error, KernelSpec, Result, Runtime, Tensor};

pub(crate) fn spec(backward: bool) -> KernelSpec {
    KernelSpec::new("embedding")
        .define("BACKWARD", backward as u32)
        .define("ONEHOT", 0)
}

fn onehot_spec() -> KernelSpec {
    KernelSpec::new("embedding")
        .define("BACKWARD", 0)
        .define("ONEHOT", 1)
}

pub(crate) fn all_specs() -> Vec<KernelSpec> {
    vec![spec(false), spec(true), onehot_spec()]
}

/// The largest one-hot matrix (positions x vocabulary) the backward builds
/// for its matmul; above it (a big vocabulary and many positions) it loops
/// over the positions instead (shaders/embedding.wgsl).
pub const ONEHOT_MAX: usize = 1 << 22;

/// Uploads host token ids as an f32 tensor of `shape`, checking each against
/// the vocabulary size. ids: [..] -> f32 tensor of the same shape
pub fn ids_tensor(rt: &Runtime, ids: &[u32], shape: &[usize], vocab: usize) -> Result<Tensor> {
    if let Some(pos) = ids.iter().position(|&id| id as usize >= vocab) {
        return Err(Error::invalid(
            "embedding ids",
            format!(
                "id {} at position {pos} is out of range for a vocabulary of {vocab}",
                ids[pos]
            ),
        ));
    }
    if vocab > 1 << 24 {
        return Err(Error::invalid(
            "embedding ids",
            format!("a vocabulary of {vocab} is over 2^24, which f32 ids cannot hold exactly"),
        ));
    }
    let values: Vec<f32> = ids.iter().map(|&id| id as f32).collect();
    Tensor::from_slice(rt, &values, shape)
}

/// Gathers rows of the table. table: [V, D], ids: [..] (f32 integers) -> [.., D]
pub fn embedding_forward(table: &Tensor, ids: &Tensor) -> Result<Tensor> {
    let [vocab, dim] = *table.shape() else {
        return Err(Error::invalid(
            "embedding",
            format!("the table is [V, D], got {:?}", table.shape()),
        ));
    };
    let mut shape = ids.shape().to_vec();
    shape.push(dim);
    let rt = table.runtime();
    let out = Tensor::uninit(rt, &shape)?;
    let n = ids.numel();
    if n * dim > 0 {
        rt.dispatch(
            &spec(false),
            &[
                n as u32,
                vocab as u32,
                dim as u32,
                ids.offset() as u32,
                table.offset() as u32,
                out.offset() as u32,
            ],
            &[ids.buffer(), table.buffer(), out.buffer()],
            grid_1d(rt, n * dim, 256),
        )?;
    }
    Ok(out)
}

/// Gradient of the table: each row v sums d_out over the positions whose id is v.
/// d_out: [.., D], ids: [..] -> [V, D]
pub fn embedding_backward(d_out: &Tensor, ids: &Tensor, vocab: usize) -> Result<Tensor> {
    let dim = *d_out.shape().last().unwrap_or(&0);
    if d_out.shape()[..d_out.rank() - 1] != *ids.shape() {
        return Err(Error::shape_hint(
            "embedding_backward",
            d_out.shape(),
            ids.shape(),
            "d_out must be the ids' shape plus the embedding axis",
        ));
    }
    let rt = d_out.runtime();
    let n = ids.numel();
    if n > 0 && vocab > 0 && n * vocab <= ONEHOT_MAX {
        // onehot [N, V]; d_table [V, D] = onehot^T @ d_out [N, D].
        let onehot = Tensor::uninit(rt, &[n, vocab])?;
        rt.dispatch(
            &onehot_spec(),
            &[
                n as u32,
                vocab as u32,
                dim as u32,
                ids.offset() as u32,
                0,
                onehot.offset() as u32,
            ],
            &[ids.buffer(), onehot.buffer()],
            grid_1d(rt, n * vocab, 256),
        )?;
        return matmul(&onehot, &d_out.reshape(&[n, dim])?, true, false);
    }
    let out = Tensor::uninit(rt, &[vocab, dim])?;
    if vocab * dim > 0 {
        rt.dispatch(
            &spec(true),
            &[
                n as u32,
                vocab as u32,
                dim as u32,
                ids.offset() as u32,
                d_out.offset() as u32,
                out.offset() as u32,
            ],
            &[ids.buffer(), d_out.buffer(), out.buffer()],
            grid_1d(rt, vocab * dim, 256),
        )?;
    }
    Ok(out)
}
