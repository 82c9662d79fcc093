//! Concatenation and splitting along any axis (AttnGAN concatenates [h, context]
//! along channels). Each is a strided block copy per piece; the backward of
//! concat is split and the backward of split is concat.

use super::{grid_values, vec4_fits};
use crate::runtime::{Error, KernelSpec, Result, Tensor};

/// `vec4`: inner and both offsets are multiples of 4.
pub(crate) fn spec(vec4: bool) -> KernelSpec {
    KernelSpec::new("concat").define("VEC4", vec4 as u32)
}

fn check_axis(op: &'static str, shape: &[usize], axis: usize) -> Result<()> {
    if axis >= shape.len() {
        return Err(Error::invalid(
            op,
            format!("axis {axis} out of range for shape {shape:?}"),
        ));
    }
    Ok(())
}

/// Copies `src[.., src_start .. src_start + len, ..]` into
/// `dst[.., dst_start .. dst_start + len, ..]` along `axis`; the other axes
/// of both must match (checked by the callers).
fn copy_block(
    src: &Tensor,
    src_start: usize,
    dst: &Tensor,
    dst_start: usize,
    axis: usize,
    len: usize,
) -> Result<()> {
    let outer: usize = src.shape()[..axis].iter().product();
    let inner: usize = src.shape()[axis + 1..].iter().product();
    let n = outer * len * inner;
    if n == 0 {
        return Ok(());
    }
    let rt = src.runtime();
    let vec4 = vec4_fits(&[inner], &[src, dst]);
    rt.dispatch(
        &spec(vec4),
        &[
            outer as u32,
            len as u32,
            inner as u32,
            src.offset() as u32,
            src.dim(axis) as u32,
            src_start as u32,
            dst.offset() as u32,
            dst.dim(axis) as u32,
            dst_start as u32,
        ],
        &[src.buffer(), dst.buffer()],
        grid_values(rt, n, vec4),
    )
}

// xs[i]: [..., d_i, ...] (equal on every other axis) -> [..., sum d_i, ...]
pub fn concat(xs: &[&Tensor], axis: usize) -> Result<Tensor> {
    let first = xs
        .first()
        .ok_or_else(|| Error::invalid("concat", "needs at least one tensor, got none"))?;
    check_axis("concat", first.shape(), axis)?;
    let mut shape = first.shape().to_vec();
    shape[axis] = 0;
    for x in xs {
        let agrees = x.rank() == first.rank()
            && (0..first.rank()).all(|a| a == axis || x.dim(a) == first.dim(a));
        if !agrees {
            return Err(Error::shape_hint(
                "concat",
                first.shape(),
                x.shape(),
                format!("all axes but the concatenated axis {axis} must match"),
            ));
        }
        shape[axis] += x.dim(axis);
    }
    let out = Tensor::uninit(first.runtime(), &shape)?;
    let mut start = 0;
    for x in xs {
        copy_block(x, 0, &out, start, axis, x.dim(axis))?;
        start += x.dim(axis);
    }
    Ok(out)
}

// dy: [..., sum sizes, ...] -> one [..., sizes[i], ...] per input of concat
pub fn concat_backward(dy: &Tensor, axis: usize, sizes: &[usize]) -> Result<Vec<Tensor>> {
    split(dy, axis, sizes)
}

// x: [..., sum sizes, ...] -> one [..., sizes[i], ...] per size (copies)
pub fn split(x: &Tensor, axis: usize, sizes: &[usize]) -> Result<Vec<Tensor>> {
    check_axis("split", x.shape(), axis)?;
    let total: usize = sizes.iter().sum();
    if total != x.dim(axis) {
        return Err(Error::invalid(
            "split",
            format!(
                "sizes {sizes:?} sum to {total}, but axis {axis} of shape {:?} has {}",
                x.shape(),
                x.dim(axis)
            ),
        ));
    }
    let mut start = 0;
    let mut parts = Vec::with_capacity(sizes.len());
    for &len in sizes {
        parts.push(narrow_copy(x, axis, start, len)?);
        start += len;
    }
    Ok(parts)
}

// dys[i]: [..., sizes[i], ...] -> [..., sum sizes, ...]
pub fn split_backward(dys: &[&Tensor], axis: usize) -> Result<Tensor> {
    concat(dys, axis)
}

// x: [..., d, ...] -> [..., len, ...], elements start .. start + len of the axis (a copy)
pub fn narrow_copy(x: &Tensor, axis: usize, start: usize, len: usize) -> Result<Tensor> {
    check_axis("narrow_copy", x.shape(), axis)?;
    if start + len > x.dim(axis) {
        return Err(Error::invalid(
            "narrow_copy",
            format!(
                "range {start}..{} out of bounds for axis {axis} of shape {:?}",
                start + len,
                x.shape()
            ),
        ));
    }
    let mut shape = x.shape().to_vec();
    shape[axis] = len;
    let out = Tensor::uninit(x.runtime(), &shape)?;
    copy_block(x, start, &out, 0, axis, len)?;
    Ok(out)
}

/// The values of several small tensors with one readback (one submit and
/// wait) instead of one each: e.g. a training step's losses.
pub fn read_scalars(ts: &[&Tensor]) -> Result<Vec<f32>> {
    if ts.is_empty() {
        return Ok(Vec::new());
    }
    let flat: Vec<Tensor> = ts
        .iter()
        .map(|t| t.reshape(&[t.numel()]))
        .collect::<Result<_>>()?;
    let refs: Vec<&Tensor> = flat.iter().collect();
    concat(&refs, 0)?.to_vec()
}
