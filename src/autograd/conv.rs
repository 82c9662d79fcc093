//! Differentiable conv2d and conv_transpose2d.

use super::higher::Rule;
use super::Var;
use crate::ops::conv::*;
use crate::runtime::{Result, Tensor};

/// The three kernels of one convolution kind: forward, backward to the
/// input (given the input's H, W), backward to the weight (given the kernel size).
struct Kernels {
    forward: fn(&Tensor, &Tensor, Option<&Tensor>, usize, usize) -> Result<Tensor>,
    backward_data: fn(&Tensor, &Tensor, [usize; 2], usize, usize) -> Result<Tensor>,
    backward_weight: fn(&Tensor, &Tensor, [usize; 2], usize, usize) -> Result<Tensor>,
}

fn record(
    k: Kernels,
    x: &Var,
    weight: &Var,
    bias: Option<&Var>,
    stride: usize,
    pad: usize,
) -> Result<Var> {
    let y = (k.forward)(
        x.value(),
        weight.value(),
        bias.map(|b| b.value()),
        stride,
        pad,
    )?;
    let (xv, wv) = (x.value().clone(), weight.value().clone());
    let (rx, rw) = (x.requires_grad(), weight.requires_grad());
    let hw = [xv.dim(2), xv.dim(3)];
    let kernel = [wv.dim(2), wv.dim(3)];
    let mut inputs = vec![x, weight];
    inputs.extend(bias);
    let has_bias = bias.is_some();
    Ok(Var::from_op(y, &inputs, move |g| {
        let dx = if rx {
            Some((k.backward_data)(g, &wv, hw, stride, pad)?)
        } else {
            None
        };
        let dw = if rw {
            Some((k.backward_weight)(&xv, g, kernel, stride, pad)?)
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

/// x: `[N, C, H, W]`, weight: `[O, C, KH, KW]`, bias: `[O]` -> `[N, O, OH, OW]`
pub fn conv2d(x: &Var, weight: &Var, bias: Option<&Var>, stride: usize, pad: usize) -> Result<Var> {
    let k = Kernels {
        forward: crate::ops::conv::conv2d,
        backward_data: conv2d_backward_data,
        backward_weight: conv2d_backward_weight,
    };
    Ok(record(k, x, weight, bias, stride, pad)?.with_rule(Rule::Conv2d { stride, pad }))
}

/// x: `[N, Cin, H, W]`, weight: `[Cin, Cout, KH, KW]`, bias: `[Cout]` -> `[N, Cout, OH, OW]`
pub fn conv_transpose2d(
    x: &Var,
    weight: &Var,
    bias: Option<&Var>,
    stride: usize,
    pad: usize,
) -> Result<Var> {
    let k = Kernels {
        forward: crate::ops::conv::conv_transpose2d,
        backward_data: conv_transpose2d_backward_data,
        backward_weight: conv_transpose2d_backward_weight,
    };
    record(k, x, weight, bias, stride, pad)
}
