//! In-place y = alpha * x + beta * y.

use super::{grid_values, vec4_fits};
use crate::runtime::{Error, KernelSpec, Result, Tensor};

/// `vec4`: n and the offsets are multiples of 4.
pub(crate) fn spec(vec4: bool) -> KernelSpec {
    KernelSpec::new("axpby").define("VEC4", vec4 as u32)
}

/// y = alpha * x + beta * y, in place in y. x and y: same number of elements.
pub fn axpby_(x: &Tensor, y: &Tensor, alpha: f32, beta: f32) -> Result<()> {
    if x.numel() != y.numel() {
        return Err(Error::shape("axpby", x.shape(), y.shape()));
    }
    let n = x.numel();
    if n == 0 {
        return Ok(());
    }
    let rt = y.runtime();
    let vec4 = vec4_fits(&[n], &[x, y]);
    rt.dispatch(
        &spec(vec4),
        &[
            n as u32,
            x.offset() as u32,
            y.offset() as u32,
            alpha.to_bits(),
            beta.to_bits(),
        ],
        &[x.buffer(), y.buffer()],
        grid_values(rt, n, vec4),
    )
}
