//! Differentiable nearest x2 upsampling and the bilinear resize.
//! Each forward keeps what its backward (in ops/upsample.rs) needs.

use super::Var;
use crate::ops::upsample;
use crate::runtime::{Result, Tensor};

/// Nearest x2 upsampling. x: [N, C, H, W] -> [N, C, 2H, 2W]
pub fn upsample2x(x: &Var) -> Result<Var> {
    let y = upsample::upsample_nearest2x(x.value())?;
    Ok(Var::from_op(y, &[x], |g| {
        Ok(vec![Some(upsample::upsample_nearest2x_backward(g)?)])
    }))
}

/// The [out, in] matrix of 1-d bilinear interpolation as PyTorch's
/// `F.interpolate(mode="bilinear", align_corners=False)` computes it (no
/// antialiasing): output i samples the input at (i + 0.5) * in / out - 0.5,
/// clamped to the first and last pixels.
pub fn bilinear_matrix(out: usize, inp: usize) -> Vec<f32> {
    let mut m = vec![0.0f32; out * inp];
    let scale = inp as f64 / out as f64;
    for i in 0..out {
        let src = ((i as f64 + 0.5) * scale - 0.5).max(0.0);
        let i0 = (src.floor() as usize).min(inp - 1);
        let i1 = (i0 + 1).min(inp - 1);
        let l1 = src - i0 as f64;
        m[i * inp + i0] += (1.0 - l1) as f32;
        m[i * inp + i1] += l1 as f32;
    }
    m
}

/// Bilinear resize (up or down, any sizes) of x: [N, C, H, W] -> [N, C, h, w],
/// PyTorch's `interpolate(mode="bilinear", align_corners=False)`: the
/// released AttnGAN resizes every image the DAMSM image encoder scores this
/// way (`nn.Upsample(size=(299, 299), mode='bilinear')` in CNN_ENCODER).
/// Separable, so two matmuls with constant interpolation matrices
/// (x Rw^T, then Rh of that), whose backward gives the gradient. At an exact
/// factor of 2 down it equals 2x2 average pooling.
pub fn resize_bilinear(x: &Var, h: usize, w: usize) -> Result<Var> {
    let s = x.shape().to_vec();
    if s.len() != 4 || s[2] == 0 || s[3] == 0 || h == 0 || w == 0 {
        return Err(crate::runtime::Error::invalid(
            "resize_bilinear",
            format!("needs [N, C, H, W] with H, W > 0 and a size > 0, got {s:?} -> {h}x{w}"),
        ));
    }
    if (s[2], s[3]) == (h, w) {
        return Ok(x.clone());
    }
    let rt = x.value().runtime();
    let rw = Var::constant(Tensor::from_slice(
        rt,
        &bilinear_matrix(w, s[3]),
        &[w, s[3]],
    )?);
    let rh = Var::constant(Tensor::from_slice(
        rt,
        &bilinear_matrix(h, s[2]),
        &[h, s[2]],
    )?);
    let planes = x.reshape(&[s[0] * s[1], s[2], s[3]])?;
    let rows = planes.matmul(&rw, false, true)?; // [NC, H, w]
    rh.matmul(&rows, false, false)?.reshape(&[s[0], s[1], h, w])
}
