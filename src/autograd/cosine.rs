//! Differentiable cosine similarity.
//! Each forward keeps what its backward (in ops/cosine.rs) needs.

use super::Var;
use crate::ops::cosine;
use crate::runtime::Result;

/// Cosine similarity along `axis` (dropped from the shape).
pub fn cosine_similarity(x: &Var, y: &Var, axis: usize) -> Result<Var> {
    let (xv, yv) = (x.value().clone(), y.value().clone());
    Ok(Var::from_op(
        cosine::cosine_similarity(&xv, &yv, axis)?,
        &[x, y],
        move |g| {
            let (dx, dy) = cosine::cosine_similarity_backward(&xv, &yv, g, axis)?;
            Ok(vec![Some(dx), Some(dy)])
        },
    ))
}
