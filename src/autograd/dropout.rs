//! Differentiable dropout.
//! Each forward keeps what its backward (in ops/dropout.rs) needs.

use super::Var;
use crate::ops::dropout;
use crate::runtime::Result;

/// Dropout with rate p; the mask comes from `seed` (same seed, same mask).
/// Outside training (or p = 0) it is the identity.
pub fn dropout(x: &Var, p: f32, seed: u64, training: bool) -> Result<Var> {
    if !training || p == 0.0 {
        return Ok(x.clone());
    }
    let (y, mask) = dropout::dropout_forward(x.value(), p, seed)?;
    Ok(Var::from_op(y, &[x], move |g| {
        Ok(vec![Some(dropout::dropout_backward(g, &mask, p)?)])
    }))
}
