//! Differentiable the embedding lookup.
//! Each forward keeps what its backward (in ops/embedding.rs) needs.

use super::Var;
use crate::ops::embedding;
use crate::runtime::{Result, Tensor};

/// Rows of `table` [V, D] picked by `ids` (whole numbers as f32, any shape) -> [.., D].
pub fn embedding(table: &Var, ids: &Tensor) -> Result<Var> {
    let y = embedding::embedding_forward(table.value(), ids)?;
    let (ids, vocab) = (ids.clone(), table.shape()[0]);
    Ok(Var::from_op(y, &[table], move |g| {
        Ok(vec![Some(embedding::embedding_backward(g, &ids, vocab)?)])
    }))
}
