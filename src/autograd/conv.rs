//! Differentiable conv2d and conv_transpose2d.

use super::Var;
use crate::ops::conv::*;
use crate::runtime::Result;

/// x: [N, C, H, W], weight: [O, C, KH, KW], bias: [O] -> [N, O, OH, OW]
pub fn conv2d(x: &Var, weight: &Var, bias: Option<&Var>, stride: usize, pad: usize) -> Result<Var> {
    let y = crate::ops::conv::conv2d(
        x.value(),
        weight.value(),
        bias.map(|b| b.value()),
        stride,
        pad,
    )?;
    let (xv, wv) = (x.value().clone(), weight.value().clone());
    let (rx, rw) = (x.requires_grad(), weight.requires_grad());
    let hw = [xv.dim(2), xv.dim(3)];
    let k = [wv.dim(2), wv.dim(3)];
    let mut inputs = vec![x, weight];
    inputs.extend(bias);
    let has_bias = bias.is_some();
    Ok(Var::from_op(y, &inputs, move |g| {
        let dx = if rx {
            Some(conv2d_backward_data(g, &wv, hw, stride, pad)?)
        } else {
            None
        };
        let dw = if rw {
            Some(conv2d_backward_weight(&xv, g, k, stride, pad)?)
        } else {
            None
        };
        let mut out = vec![dx, dw];
        if has_bias {
            out.push(Some(bias_grad(g)?));
        }
        Ok(out)
    }))
}

/// x: [N, Cin, H, W], weight: [Cin, Cout, KH, KW], bias: [Cout] -> [N, Cout, OH, OW]
pub fn conv_transpose2d(
    x: &Var,
    weight: &Var,
    bias: Option<&Var>,
    stride: usize,
    pad: usize,
) -> Result<Var> {
    let y = crate::ops::conv::conv_transpose2d(
        x.value(),
        weight.value(),
        bias.map(|b| b.value()),
        stride,
        pad,
    )?;
    let (xv, wv) = (x.value().clone(), weight.value().clone());
    let (rx, rw) = (x.requires_grad(), weight.requires_grad());
    let hw = [xv.dim(2), xv.dim(3)];
    let k = [wv.dim(2), wv.dim(3)];
    let mut inputs = vec![x, weight];
    inputs.extend(bias);
    let has_bias = bias.is_some();
    Ok(Var::from_op(y, &inputs, move |g| {
        let dx = if rx {
            Some(conv_transpose2d_backward_data(g, &wv, hw, stride, pad)?)
        } else {
            None
        };
        let dw = if rw {
            Some(conv_transpose2d_backward_weight(&xv, g, k, stride, pad)?)
        } else {
            None
        };
        let mut out = vec![dx, dw];
        if has_bias {
            out.push(Some(bias_grad(g)?));
        }
        Ok(out)
    }))
}
