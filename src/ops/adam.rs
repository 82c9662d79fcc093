//! The fused Adam step over flat parameter buffers.

use super::grid_1d;
use crate::runtime::{Error, KernelSpec, Result, Tensor};

/// `vec4`: the launch over the first n / 4 * 4 values, as vec4s.
pub(crate) fn spec(vec4: bool) -> KernelSpec {
    KernelSpec::new("adam").define("VEC4", vec4 as u32)
}

/// Hyper-parameters of one Adam step.
#[derive(Debug, Clone, Copy)]
pub struct AdamStep {
    pub lr: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    pub weight_decay: f32,
    /// 1-based step count (bias corrections).
    pub t: u64,
    /// Clip the gradient to this global norm (0 = off); `sumsq` holds its square norm.
    pub max_norm: f32,
}

/// One Adam step in place. param, grad, m, v: `[n]` (whole flat buffers, offset 0); sumsq: `[1]`.
pub fn adam_step(
    param: &Tensor,
    grad: &Tensor,
    m: &Tensor,
    v: &Tensor,
    sumsq: &Tensor,
    h: AdamStep,
) -> Result<()> {
    let n = param.numel();
    for t in [grad, m, v] {
        if t.numel() != n {
            return Err(Error::shape("adam", param.shape(), t.shape()));
        }
    }
    if [param, grad, m, v, sumsq].iter().any(|t| t.offset() != 0) {
        return Err(Error::invalid(
            "adam",
            "flat buffers must start at offset 0",
        ));
    }
    let bc1 = 1.0 - (h.beta1 as f64).powi(h.t as i32);
    let bc2 = 1.0 - (h.beta2 as f64).powi(h.t as i32);
    let rt = param.runtime();
    let buffers = [
        param.buffer(),
        grad.buffer(),
        m.buffer(),
        v.buffer(),
        sumsq.buffer(),
    ];
    // The vec4s, then the last n % 4 values one per invocation.
    let whole = n / 4 * 4;
    for (vec4, first, count) in [(true, 0, n / 4), (false, whole, n - whole)] {
        if count == 0 {
            continue;
        }
        let params = [
            n as u32,
            h.lr.to_bits(),
            h.beta1.to_bits(),
            h.beta2.to_bits(),
            h.eps.to_bits(),
            h.weight_decay.to_bits(),
            (bc1 as f32).to_bits(),
            (bc2 as f32).to_bits(),
            h.max_norm.to_bits(),
            first as u32,
        ];
        rt.dispatch(&spec(vec4), &params, &buffers, grid_1d(rt, count, 256))?;
    }
    Ok(())
}
