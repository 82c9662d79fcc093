//! In-place y = alpha * x + beta * y.

use super::grid_1d;
use crate::runtime::{Error, KernelSpec, Result, Tensor};

pub(crate) fn spec() -> KernelSpec {
    KernelSpec::new("axpby")
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
    rt.dispatch(
        &spec(),
        &[
            n as u32,
            x.offset() as u32,
            y.offset() as u32,
            alpha.to_bits(),
            beta.to_bits(),
        ],
        &[x.buffer(), y.buffer()],
        grid_1d(rt, n, 256),
    )
}
