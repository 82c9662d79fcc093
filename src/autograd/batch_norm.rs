//! Differentiable batch norm.
//! Each forward keeps what its backward (in ops/batch_norm.rs) needs.

use super::Var;
use crate::ops::batch_norm;
use crate::runtime::{Result, Tensor};

/// Batch norm over channels, training mode (batch statistics; the running
/// statistics are updated in place when given) or eval mode (running statistics).
/// x: `[N, C, H, W]` or `[N, C]`; gamma, beta: `[C]`.
pub fn batch_norm(
    x: &Var,
    gamma: &Var,
    beta: &Var,
    running: (&Tensor, &Tensor),
    training: bool,
) -> Result<Var> {
    if !training {
        let y = batch_norm::batch_norm_eval(
            x.value(),
            gamma.value(),
            beta.value(),
            running.0,
            running.1,
            batch_norm::BN_EPS,
        )?;
        // Eval mode is an affine map per channel: y = a x + b with a = gamma / sqrt(var + eps).
        let (xv, gv, rv) = (x.value().clone(), gamma.value().clone(), running.1.clone());
        return Ok(Var::from_op(y, &[x], move |g| {
            let c = gv.numel();
            let mut shape = vec![1; xv.rank()];
            shape[1] = c;
            let a = gv
                .div(&rv.add_scalar(batch_norm::BN_EPS)?.sqrt()?)?
                .reshape(&shape)?;
            Ok(vec![Some(g.mul(&a)?)])
        }));
    }
    let (y, saved) = batch_norm::batch_norm_train(
        x.value(),
        gamma.value(),
        beta.value(),
        Some(running),
        batch_norm::BN_MOMENTUM,
        batch_norm::BN_EPS,
    )?;
    let (xv, gv) = (x.value().clone(), gamma.value().clone());
    Ok(Var::from_op(y, &[x, gamma, beta], move |g| {
        let grads = batch_norm::batch_norm_backward(g, &xv, &gv, &saved)?;
        Ok(vec![Some(grads.dx), Some(grads.dgamma), Some(grads.dbeta)])
    }))
}
