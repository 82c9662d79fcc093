//! Average pooling (the image encoder's global features): windowed 2-D and global.

use super::grid_1d;
use crate::runtime::{Error, KernelSpec, Result, Tensor};

pub(crate) fn spec(backward: bool) -> KernelSpec {
    KernelSpec::new("pool").define("BACKWARD", backward as u32)
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

/// (OH, OW) of a k x k window at stride s over [.., H, W], no padding.
fn out_size(op: &'static str, shape: &[usize], k: usize, s: usize) -> Result<(usize, usize)> {
    check_4d(op, shape)?;
    let (h, w) = (shape[2], shape[3]);
    if k == 0 || s == 0 {
        return Err(Error::invalid(
            op,
            format!("kernel size k = {k} and stride s = {s} must be at least 1"),
        ));
    }
    if k > h || k > w {
        return Err(Error::invalid(
            op,
            format!("kernel size k = {k} is larger than the input {h}x{w} of shape {shape:?}"),
        ));
    }
    Ok(((h - k) / s + 1, (w - k) / s + 1))
}

/// One launch of the shader: `src` is x (forward) or dy (backward), `out_shape` the result.
fn launch(
    src: &Tensor,
    out_shape: &[usize],
    (h, w): (usize, usize),
    (oh, ow): (usize, usize),
    (kh, kw): (usize, usize),
    stride: usize,
    backward: bool,
) -> Result<Tensor> {
    let rt = src.runtime();
    let out = Tensor::uninit(rt, out_shape)?;
    let total = out.numel();
    if total > 0 {
        rt.dispatch(
            &spec(backward),
            &[
                (out_shape[0] * out_shape[1]) as u32,
                h as u32,
                w as u32,
                oh as u32,
                ow as u32,
                kh as u32,
                kw as u32,
                stride as u32,
                stride as u32,
                src.offset() as u32,
                out.offset() as u32,
                (1.0 / (kh * kw) as f32).to_bits(),
            ],
            &[src.buffer(), out.buffer()],
            grid_1d(rt, total, 256),
        )?;
    }
    Ok(out)
}

// x: [N, C, H, W] -> [N, C, (H - k) / s + 1, (W - k) / s + 1]
pub fn avg_pool2d(x: &Tensor, k: usize, s: usize) -> Result<Tensor> {
    let (oh, ow) = out_size("avg_pool2d", x.shape(), k, s)?;
    let (n, c, h, w) = (x.dim(0), x.dim(1), x.dim(2), x.dim(3));
    launch(x, &[n, c, oh, ow], (h, w), (oh, ow), (k, k), s, false)
}

// dy: [N, C, OH, OW], x_shape = [N, C, H, W] -> dx: [N, C, H, W]
// (H and W are needed: several input sizes pool to the same output size)
pub fn avg_pool2d_backward(dy: &Tensor, x_shape: &[usize], k: usize, s: usize) -> Result<Tensor> {
    let op = "avg_pool2d_backward";
    let (oh, ow) = out_size(op, x_shape, k, s)?;
    let expect = [x_shape[0], x_shape[1], oh, ow];
    if dy.shape() != expect {
        return Err(Error::shape_hint(
            op,
            x_shape,
            dy.shape(),
            format!("dy must be {expect:?} for k = {k}, s = {s}"),
        ));
    }
    let (h, w) = (x_shape[2], x_shape[3]);
    launch(dy, x_shape, (h, w), (oh, ow), (k, k), s, true)
}

// x: [N, C, H, W] -> [N, C]
pub fn global_avg_pool(x: &Tensor) -> Result<Tensor> {
    check_4d("global_avg_pool", x.shape())?;
    let (n, c) = (x.dim(0), x.dim(1));
    x.reshape(&[n, c, usize::MAX])?.mean(2, false)
}

// dy: [N, C], (H, W) of x -> dx: [N, C, H, W], each dy spread evenly over its plane
pub fn global_avg_pool_backward(dy: &Tensor, h: usize, w: usize) -> Result<Tensor> {
    let op = "global_avg_pool_backward";
    if dy.rank() != 2 || h == 0 || w == 0 {
        return Err(Error::invalid(
            op,
            format!(
                "needs dy [N, C] and a non-empty plane, got dy of shape {:?} and H x W = {h}x{w}",
                dy.shape()
            ),
        ));
    }
    // An h x w window over an h x w plane: one output per plane.
    launch(
        dy,
        &[dy.dim(0), dy.dim(1), h, w],
        (h, w),
        (1, 1),
        (h, w),
        1,
        true,
    )
}
