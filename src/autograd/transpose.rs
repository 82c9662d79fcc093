//! Differentiable swapping the last two axes.
//! Each forward keeps what its backward (in ops/transpose.rs) needs.

use super::Var;
use crate::runtime::Result;

/// Swaps the last two axes: [.., R, C] -> [.., C, R].
pub fn transpose_last2(x: &Var) -> Result<Var> {
    let y = crate::ops::transpose::transpose_last2(x.value())?;
    Ok(Var::from_op(y, &[x], |g| {
        Ok(vec![Some(crate::ops::transpose::transpose_last2(g)?)])
    }))
}
