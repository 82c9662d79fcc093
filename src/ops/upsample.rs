//! Nearest-neighbour x2 upsampling (AttnGAN's upsample blocks) and its backward.

use super::grid_1d;
use crate::runtime::{Error, KernelSpec, Result, Tensor};

/// `vec`: W (the input's) even, the larger tensor's offset a multiple of 4
/// and the smaller's of 2.
pub(crate) fn spec(backward: bool, vec: bool) -> KernelSpec {
    KernelSpec::new("upsample")
        .define("BACKWARD", backward as u32)
        .define("VEC", vec as u32)
}

fn check_4d(op: &'static str, shape: &[usize]) -> Result<()> {
    if shape.len() != 4 {
        return Err(Error::invalid(
            op,
            format!("needs a tensor [N, C, H, W], got shape {shape:?}"),
        ));
    }
    Ok(())
}

// x: [N, C, H, W] -> [N, C, 2H, 2W]
pub fn upsample_nearest2x(x: &Tensor) -> Result<Tensor> {
    check_4d("upsample_nearest2x", x.shape())?;
    let [n, c, h, w] = [x.dim(0), x.dim(1), x.dim(2), x.dim(3)];
    let rt = x.runtime();
    let out = Tensor::uninit(rt, &[n, c, 2 * h, 2 * w])?;
    let total = out.numel();
    if total > 0 {
        let vec =
            w.is_multiple_of(2) && x.offset().is_multiple_of(2) && out.offset().is_multiple_of(4);
        rt.dispatch(
            &spec(false, vec),
            &[
                (n * c) as u32,
                h as u32,
                w as u32,
                x.offset() as u32,
                out.offset() as u32,
            ],
            &[x.buffer(), out.buffer()],
            grid_1d(rt, if vec { total / 4 } else { total }, 256),
        )?;
    }
    Ok(out)
}

// dy: [N, C, 2H, 2W] -> dx: [N, C, H, W]
pub fn upsample_nearest2x_backward(dy: &Tensor) -> Result<Tensor> {
    let op = "upsample_nearest2x_backward";
    check_4d(op, dy.shape())?;
    let [n, c, h2, w2] = [dy.dim(0), dy.dim(1), dy.dim(2), dy.dim(3)];
    if !h2.is_multiple_of(2) || !w2.is_multiple_of(2) {
        return Err(Error::invalid(
            op,
            format!("dy of shape {:?} must have even H and W", dy.shape()),
        ));
    }
    let (h, w) = (h2 / 2, w2 / 2);
    let rt = dy.runtime();
    let dx = Tensor::uninit(rt, &[n, c, h, w])?;
    let total = dx.numel();
    if total > 0 {
        let vec =
            w.is_multiple_of(2) && dy.offset().is_multiple_of(4) && dx.offset().is_multiple_of(2);
        rt.dispatch(
            &spec(true, vec),
            &[
                (n * c) as u32,
                h as u32,
                w as u32,
                dy.offset() as u32,
                dx.offset() as u32,
            ],
            &[dy.buffer(), dx.buffer()],
            grid_1d(rt, if vec { total / 2 } else { total }, 256),
        )?;
    }
    Ok(dx)
}
