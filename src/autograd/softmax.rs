//! Differentiable the masked softmax and cross-entropy.
//! Each forward keeps what its backward (in ops/softmax.rs) needs.

use super::Var;
use crate::ops::{attention, softmax};
use crate::runtime::{Result, Tensor};

/// Cross-entropy of logits `[R, C]` against class indices `[R]` (as f32), mean over rows: `[1]`.
pub fn cross_entropy(logits: &Var, targets: &Tensor) -> Result<Var> {
    let (lv, t) = (logits.value().clone(), targets.clone());
    Ok(Var::from_op(
        softmax::cross_entropy(&lv, &t)?,
        &[logits],
        move |g| Ok(vec![Some(softmax::cross_entropy_backward(&lv, &t, g)?)]),
    ))
}

/// Softmax of scale * x along `axis` over unmasked entries (mask: 1 = excluded).
pub fn masked_softmax(x: &Var, axis: usize, scale: f32, mask: Option<&Tensor>) -> Result<Var> {
    let y = attention::masked_softmax(x.value(), axis, scale, mask)?;
    let yc = y.clone();
    Ok(Var::from_op(y, &[x], move |g| {
        Ok(vec![Some(attention::masked_softmax_backward(
            &yc, g, axis, scale,
        )?)])
    }))
}
