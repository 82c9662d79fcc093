//! Differentiable binary cross-entropy with logits.
//! Each forward keeps what its backward (in ops/bce.rs) needs.

use super::Var;
use crate::ops::bce;
use crate::runtime::{Result, Tensor};

/// Binary cross-entropy with logits, mean over elements: `[1]`. Targets need no gradient.
pub fn bce_with_logits(x: &Var, targets: &Tensor) -> Result<Var> {
    let (xv, t) = (x.value().clone(), targets.clone());
    Ok(Var::from_op(
        bce::bce_with_logits(&xv, &t)?,
        &[x],
        move |g| Ok(vec![Some(bce::bce_with_logits_backward(&xv, &t, g)?)]),
    ))
}
