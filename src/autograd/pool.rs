//! Differentiable average pooling.
//! Each forward keeps what its backward (in ops/pool.rs) needs.

use super::higher::Rule;
use super::Var;
use crate::ops::pool;
use crate::runtime::Result;

/// Average pooling, padding 0. x: [N, C, H, W] -> [N, C, (H-k)/s+1, (W-k)/s+1]
pub fn avg_pool2d(x: &Var, k: usize, s: usize) -> Result<Var> {
    let shape = x.shape().to_vec();
    Ok(
        Var::from_op(pool::avg_pool2d(x.value(), k, s)?, &[x], move |g| {
            Ok(vec![Some(pool::avg_pool2d_backward(g, &shape, k, s)?)])
        })
        .with_rule(Rule::AvgPool { k, s }),
    )
}

/// Mean over the plane. x: [N, C, H, W] -> [N, C]
pub fn global_avg_pool(x: &Var) -> Result<Var> {
    let (h, w) = (x.shape()[2], x.shape()[3]);
    Ok(Var::from_op(
        pool::global_avg_pool(x.value())?,
        &[x],
        move |g| Ok(vec![Some(pool::global_avg_pool_backward(g, h, w)?)]),
    ))
}
