//! Cosine similarity along an axis (DAMSM's word and sentence relevance),
//! as PyTorch's F.cosine_similarity: x.y / max(|x| |y|, eps), eps = 1e-8.

use super::grid_1d;
use crate::runtime::{Error, KernelSpec, Result, Tensor};

/// The floor on the product of the norms.
pub const COSINE_EPS: f32 = 1e-8;

/// `row4`: inner = 1, D and the offsets of x, y (and dx, dy) multiples of 4
/// (the kernel walks each contiguous row in vec4s).
pub(crate) fn spec(backward: bool, row4: bool) -> KernelSpec {
    KernelSpec::new("cosine")
        .define("BACKWARD", backward as u32)
        .define("VEC4", row4 as u32)
}

fn row4(d: usize, inner: usize, tensors: &[&Tensor]) -> bool {
    inner == 1 && super::vec4_fits(&[d], tensors)
}

/// (outer, D, inner) and the output shape (axis removed; [1] for rank 1).
fn dims(
    op: &'static str,
    x: &Tensor,
    y: &Tensor,
    axis: usize,
) -> Result<(usize, usize, usize, Vec<usize>)> {
    if x.shape() != y.shape() {
        return Err(Error::shape(op, x.shape(), y.shape()));
    }
    let shape = x.shape();
    if axis >= shape.len() {
        return Err(Error::invalid(
            op,
            format!("axis {axis} out of range for shape {shape:?}"),
        ));
    }
    let mut out = shape.to_vec();
    out.remove(axis);
    if out.is_empty() {
        out.push(1);
    }
    Ok((
        shape[..axis].iter().product(),
        shape[axis],
        shape[axis + 1..].iter().product(),
        out,
    ))
}

// x, y: [B, D] (axis 1) -> [B]; x, y: [B, D, T] (axis 1) -> [B, T]; in general
// the shape without `axis`
pub fn cosine_similarity(x: &Tensor, y: &Tensor, axis: usize) -> Result<Tensor> {
    let (outer, d, inner, out_shape) = dims("cosine_similarity", x, y, axis)?;
    let rt = x.runtime();
    let out = Tensor::uninit(rt, &out_shape)?;
    let n = outer * inner;
    if n > 0 {
        rt.dispatch(
            &spec(false, row4(d, inner, &[x, y])),
            &[
                outer as u32,
                d as u32,
                inner as u32,
                x.offset() as u32,
                y.offset() as u32,
                0,
                out.offset() as u32,
                0,
                0,
                COSINE_EPS.to_bits(),
            ],
            &[x.buffer(), y.buffer(), out.buffer()],
            grid_1d(rt, n, 64),
        )?;
    }
    Ok(out)
}

// x, y: [.., D, ..], dout: the output's shape -> (dx, dy), each like x
pub fn cosine_similarity_backward(
    x: &Tensor,
    y: &Tensor,
    dout: &Tensor,
    axis: usize,
) -> Result<(Tensor, Tensor)> {
    let op = "cosine_similarity_backward";
    let (outer, d, inner, out_shape) = dims(op, x, y, axis)?;
    if dout.shape() != out_shape.as_slice() {
        return Err(Error::shape_hint(
            op,
            x.shape(),
            dout.shape(),
            format!("dout must be {out_shape:?}, x without axis {axis}"),
        ));
    }
    let rt = x.runtime();
    let dx = Tensor::uninit(rt, x.shape())?;
    let dy = Tensor::uninit(rt, x.shape())?;
    let n = outer * inner;
    if n > 0 {
        rt.dispatch(
            &spec(true, row4(d, inner, &[x, y, &dx, &dy])),
            &[
                outer as u32,
                d as u32,
                inner as u32,
                x.offset() as u32,
                y.offset() as u32,
                dout.offset() as u32,
                0,
                dx.offset() as u32,
                dy.offset() as u32,
                COSINE_EPS.to_bits(),
            ],
            &[
                x.buffer(),
                y.buffer(),
                dout.buffer(),
                dx.buffer(),
                dy.buffer(),
            ],
            grid_1d(rt, n, 64),
        )?;
    }
    Ok((dx, dy))
}
