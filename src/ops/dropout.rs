//! Dropout with a device-drawn mask that depends only on (seed, element index),
//! so training resumes bit-exactly from a saved seed. The forward returns the
//! 0/1 mask for the backward (it could also be redrawn from the seed with
//! another forward call on a tensor of the same shape).

use super::grid_1d;
use crate::runtime::{Error, KernelSpec, Result, Tensor};

pub(crate) fn spec(backward: bool) -> KernelSpec {
    KernelSpec::new("dropout").define("BACKWARD", backward as u32)
}

pub(crate) fn all_specs() -> Vec<KernelSpec> {
    vec![spec(false), spec(true)]
}

/// The PCG output permutation, as in shaders/dropout.wgsl.
fn pcg(v: u32) -> u32 {
    let state = v.wrapping_mul(747796405).wrapping_add(2891336453);
    let word = ((state >> ((state >> 28) + 4)) ^ state).wrapping_mul(277803737);
    (word >> 22) ^ word
}

/// Drop threshold on the top 24 bits of the hash.
fn threshold(p: f32) -> u32 {
    (p as f64 * (1u64 << 24) as f64).round() as u32
}

/// 1 / (1 - p), and 0 for p = 1 (everything dropped).
fn scale(p: f32) -> f32 {
    if p >= 1.0 {
        0.0
    } else {
        1.0 / (1.0 - p)
    }
}

/// Whether element `index` survives dropout with rate `p` under `seed`: the
/// host mirror of the kernel's draw (tests, and debugging a resumed run).
pub fn keep(seed: u64, index: u32, p: f32) -> bool {
    let k1 = pcg(seed as u32);
    let k2 = pcg((seed >> 32) as u32 ^ 0x9e3779b9);
    let h = pcg(pcg(index ^ k1).wrapping_add(k2));
    (h >> 8) >= threshold(p)
}

fn check_p(p: f32) -> Result<()> {
    if !(0.0..=1.0).contains(&p) {
        return Err(Error::invalid(
            "dropout",
            format!("the drop probability p = {p} is outside [0, 1]"),
        ));
    }
    Ok(())
}

/// y = x * mask / (1 - p), mask drawn from (seed, index). x: [..] -> (y [..], mask [..] of 0/1)
pub fn dropout_forward(x: &Tensor, p: f32, seed: u64) -> Result<(Tensor, Tensor)> {
    check_p(p)?;
    let rt = x.runtime();
    let y = Tensor::uninit(rt, x.shape())?;
    let mask = Tensor::uninit(rt, x.shape())?;
    let n = x.numel();
    if n > 0 {
        rt.dispatch(
            &spec(false),
            &[
                n as u32,
                x.offset() as u32,
                y.offset() as u32,
                mask.offset() as u32,
                seed as u32,
                (seed >> 32) as u32,
                threshold(p),
                scale(p).to_bits(),
            ],
            &[x.buffer(), mask.buffer(), y.buffer()],
            grid_1d(rt, n, 256),
        )?;
    }
    Ok((y, mask))
}

/// dx = dy * mask / (1 - p). dy: [..], mask: [..] (from the forward) -> [..]
pub fn dropout_backward(dy: &Tensor, mask: &Tensor, p: f32) -> Result<Tensor> {
    check_p(p)?;
    if dy.shape() != mask.shape() {
        return Err(Error::shape("dropout_backward", dy.shape(), mask.shape()));
    }
    let rt = dy.runtime();
    let dx = Tensor::uninit(rt, dy.shape())?;
    let n = dy.numel();
    if n > 0 {
        rt.dispatch(
            &spec(true),
            &[
                n as u32,
                dy.offset() as u32,
                dx.offset() as u32,
                mask.offset() as u32,
                0,
                0,
                0,
                scale(p).to_bits(),
            ],
            &[dy.buffer(), mask.buffer(), dx.buffer()],
            grid_1d(rt, n, 256),
        )?;
    }
    Ok(dx)
}
