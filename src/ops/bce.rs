//! Binary cross-entropy with logits, mean over elements (the GAN losses of
//! the discriminators and generators), in the numerically stable form.

use super::grid_1d;
use crate::runtime::{Error, KernelSpec, Result, Tensor};

pub(crate) fn spec(backward: bool) -> KernelSpec {
    KernelSpec::new("bce").define("BACKWARD", backward as u32)
}

/// Elements summed per thread in the forward pass.
const CHUNK: usize = 256;

fn check(op: &'static str, x: &Tensor, t: &Tensor) -> Result<()> {
    if x.shape() != t.shape() {
        return Err(Error::shape_hint(
            op,
            x.shape(),
            t.shape(),
            "logits and targets must have the same shape",
        ));
    }
    if x.numel() == 0 {
        return Err(Error::invalid(
            op,
            format!(
                "the mean over no elements is undefined (shape {:?})",
                x.shape()
            ),
        ));
    }
    Ok(())
}

// x (logits): [*], t (targets in [0, 1]): [*] -> [1], mean of
// max(x, 0) - x t + log(1 + exp(-|x|))
pub fn bce_with_logits(x: &Tensor, t: &Tensor) -> Result<Tensor> {
    check("bce_with_logits", x, t)?;
    let rt = x.runtime();
    let n = x.numel();
    let chunks = n.div_ceil(CHUNK);
    let partial = Tensor::uninit(rt, &[chunks])?;
    rt.dispatch(
        &spec(false),
        &[
            n as u32,
            CHUNK as u32,
            x.offset() as u32,
            t.offset() as u32,
            0,
            partial.offset() as u32,
            (1.0 / n as f32).to_bits(),
        ],
        &[x.buffer(), t.buffer(), partial.buffer()],
        grid_1d(rt, chunks, 64),
    )?;
    super::sum_partials(partial)
}

// x: [*], t: [*], dloss: [1] (upstream gradient, kept on the device) -> dx: [*],
// (sigmoid(x) - t) / n * dloss
pub fn bce_with_logits_backward(x: &Tensor, t: &Tensor, dloss: &Tensor) -> Result<Tensor> {
    let op = "bce_with_logits_backward";
    check(op, x, t)?;
    super::check_scalar_grad(op, dloss)?;
    let rt = x.runtime();
    let n = x.numel();
    let dx = Tensor::uninit(rt, x.shape())?;
    rt.dispatch(
        &spec(true),
        &[
            n as u32,
            CHUNK as u32,
            x.offset() as u32,
            t.offset() as u32,
            dloss.offset() as u32,
            dx.offset() as u32,
            (1.0 / n as f32).to_bits(),
        ],
        &[x.buffer(), t.buffer(), dloss.buffer(), dx.buffer()],
        grid_1d(rt, n, 64),
    )?;
    Ok(dx)
}
