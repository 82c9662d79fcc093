//! Differentiable concatenation and narrowing.
//! Each forward keeps what its backward (in ops/concat.rs) needs.

use super::higher::Rule;
use super::Var;
use crate::ops::{concat, fill};
use crate::runtime::{Result, Tensor};

/// Concatenation along `axis`.
pub fn concat(xs: &[&Var], axis: usize) -> Result<Var> {
    let values: Vec<&Tensor> = xs.iter().map(|v| v.value()).collect();
    let y = concat::concat(&values, axis)?;
    let sizes: Vec<usize> = xs.iter().map(|v| v.shape()[axis]).collect();
    Ok(Var::from_op(y, xs, move |g| {
        Ok(concat::concat_backward(g, axis, &sizes)?
            .into_iter()
            .map(Some)
            .collect())
    })
    .with_rule(Rule::Concat { axis }))
}

/// Elements start..start+len of `axis` (a copy); the gradient is padded back with zeros.
pub fn narrow(x: &Var, axis: usize, start: usize, len: usize) -> Result<Var> {
    let y = concat::narrow_copy(x.value(), axis, start, len)?;
    let shape = x.shape().to_vec();
    Ok(Var::from_op(y, &[x], move |g| {
        let rt = g.runtime();
        let mut parts = Vec::new();
        let mut before = shape.clone();
        before[axis] = start;
        let mut after = shape.clone();
        after[axis] = shape[axis] - start - len;
        let (zb, za) = (fill::zeros(rt, &before)?, fill::zeros(rt, &after)?);
        if start > 0 {
            parts.push(&zb);
        }
        parts.push(g);
        if after[axis] > 0 {
            parts.push(&za);
        }
        Ok(vec![Some(concat::concat(&parts, axis)?)])
    })
    .with_rule(Rule::Narrow { axis, start }))
}
