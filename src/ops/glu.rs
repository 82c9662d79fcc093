//! Gated linear unit over channels (AttnGAN's GLU): for x of shape
//! [N, C, ...], out = x[:, :C/2] * sigmoid(x[:, C/2:]).

use super::{grid_values, vec4_fits};
use crate::runtime::{Error, KernelSpec, Result, Tensor};

/// `vec4`: half * inner and every offset are multiples of 4.
pub(crate) fn spec(backward: bool, vec4: bool) -> KernelSpec {
    KernelSpec::new("glu")
        .define("BACKWARD", backward as u32)
        .define("VEC4", vec4 as u32)
}

/// (outer, half, inner) of the [N, C, rest] view, after checking C is even.
fn split_dims(op: &'static str, shape: &[usize]) -> Result<(usize, usize, usize)> {
    if shape.len() < 2 {
        return Err(Error::invalid(
            op,
            format!("needs a tensor [N, C, ...] with a channel axis, got shape {shape:?}"),
        ));
    }
    let c = shape[1];
    if !c.is_multiple_of(2) {
        return Err(Error::invalid(
            op,
            format!("the channel count C = {c} of shape {shape:?} must be even"),
        ));
    }
    Ok((shape[0], c / 2, shape[2..].iter().product()))
}

// x: [N, C, ...] -> [N, C/2, ...]
pub fn glu(x: &Tensor) -> Result<Tensor> {
    let (outer, half, inner) = split_dims("glu", x.shape())?;
    let mut shape = x.shape().to_vec();
    shape[1] = half;
    let rt = x.runtime();
    let out = Tensor::uninit(rt, &shape)?;
    let n = out.numel();
    if n > 0 {
        let vec4 = vec4_fits(&[half * inner], &[x, &out]);
        rt.dispatch(
            &spec(false, vec4),
            &[
                outer as u32,
                half as u32,
                inner as u32,
                x.offset() as u32,
                0,
                out.offset() as u32,
            ],
            &[x.buffer(), out.buffer()],
            grid_values(rt, n, vec4),
        )?;
    }
    Ok(out)
}

// x: [N, C, ...], dy: [N, C/2, ...] -> dx: [N, C, ...]
pub fn glu_backward(x: &Tensor, dy: &Tensor) -> Result<Tensor> {
    let (outer, half, inner) = split_dims("glu_backward", x.shape())?;
    let mut expect = x.shape().to_vec();
    expect[1] = half;
    if dy.shape() != expect.as_slice() {
        return Err(Error::shape_hint(
            "glu_backward",
            x.shape(),
            dy.shape(),
            format!("dy must be {expect:?}, half the channels of x"),
        ));
    }
    let rt = x.runtime();
    let dx = Tensor::uninit(rt, x.shape())?;
    let n = dy.numel();
    if n > 0 {
        let vec4 = vec4_fits(&[half * inner], &[x, dy, &dx]);
        rt.dispatch(
            &spec(true, vec4),
            &[
                outer as u32,
                half as u32,
                inner as u32,
                x.offset() as u32,
                dy.offset() as u32,
                dx.offset() as u32,
            ],
            &[x.buffer(), dy.buffer(), dx.buffer()],
            grid_values(rt, n, vec4),
        )?;
    }
    Ok(dx)
}
