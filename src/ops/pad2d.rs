//! pad2d: zeros around the last two axes, x `[N, C, H, W]` ->
//! `[N, C, H + 2p, W + 2p]` (shaders/pad2d.wgsl). The register convolution
//! pads its input once with it, so its inner loop needs no bounds checks;
//! the convolution's backward takes the padding off again, so pad2d needs no
//! backward rule of its own.

use super::grid_1d;
use crate::runtime::{Error, KernelSpec, Result, Tensor};

pub(crate) fn spec() -> KernelSpec {
    KernelSpec::new("pad2d")
}

// x: [N, C, H, W] -> [N, C, H + 2p, W + 2p]
pub fn pad2d(x: &Tensor, p: usize) -> Result<Tensor> {
    let [n, c, h, w] = *x.shape() else {
        return Err(Error::invalid(
            "pad2d",
            format!(
                "input must be [N, C, H, W]-like (rank 4), got {:?}",
                x.shape()
            ),
        ));
    };
    if p == 0 {
        return Ok(x.clone());
    }
    let rt = x.runtime();
    let out = Tensor::uninit(rt, &[n, c, h + 2 * p, w + 2 * p])?;
    let total = out.numel();
    if total > 0 {
        rt.dispatch(
            &spec(),
            &[total, h, w, p, x.offset(), out.offset()].map(|v| v as u32),
            &[x.buffer(), out.buffer()],
            grid_1d(rt, total, 256),
        )?;
    }
    Ok(out)
}
