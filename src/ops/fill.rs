//! fill and copy.

use super::{grid_values, vec4_fits};
use crate::runtime::{KernelSpec, Result, Runtime, Tensor};

/// `vec4`: n and the offset are multiples of 4.
pub(crate) fn spec(vec4: bool) -> KernelSpec {
    KernelSpec::new("fill").define("VEC4", vec4 as u32)
}

/// Sets every element of `t` to `value` (in place, recorded in the batch).
pub fn fill_(t: &Tensor, value: f32) -> Result<()> {
    let n = t.numel();
    if n == 0 {
        return Ok(());
    }
    let rt = t.runtime();
    let vec4 = vec4_fits(&[n], &[t]);
    rt.dispatch(
        &spec(vec4),
        &[n as u32, t.offset() as u32, value.to_bits()],
        &[t.buffer()],
        grid_values(rt, n, vec4),
    )
}

/// A new tensor of `shape` filled with `value`.
pub fn full(rt: &Runtime, shape: &[usize], value: f32) -> Result<Tensor> {
    let t = Tensor::uninit(rt, shape)?;
    fill_(&t, value)?;
    Ok(t)
}

pub fn zeros(rt: &Runtime, shape: &[usize]) -> Result<Tensor> {
    full(rt, shape, 0.0)
}

/// A new tensor with the same shape and contents (a buffer copy in the batch).
pub fn copy(t: &Tensor) -> Result<Tensor> {
    let out = Tensor::uninit(t.runtime(), t.shape())?;
    copy_into(t, &out)?;
    Ok(out)
}

/// Copies the elements of `src` into `dst` (same element count).
pub fn copy_into(src: &Tensor, dst: &Tensor) -> Result<()> {
    if src.numel() != dst.numel() {
        return Err(crate::Error::shape("copy", src.shape(), dst.shape()));
    }
    if src.numel() == 0 {
        return Ok(());
    }
    src.runtime().copy_buffer(
        src.buffer(),
        src.offset() as u64 * 4,
        dst.buffer(),
        dst.offset() as u64 * 4,
        src.numel() as u64 * 4,
    );
    Ok(())
}
