//! Differentiable GLU.
//! Each forward keeps what its backward (in ops/glu.rs) needs.

use super::Var;
use crate::ops::glu;
use crate::runtime::Result;

/// GLU over channels. x: [N, C, ...] -> [N, C/2, ...]
pub fn glu(x: &Var) -> Result<Var> {
    let xv = x.value().clone();
    Ok(Var::from_op(glu::glu(&xv)?, &[x], move |g| {
        Ok(vec![Some(glu::glu_backward(&xv, g)?)])
    }))
}
