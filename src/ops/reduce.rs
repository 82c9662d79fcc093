//! Reductions along one axis: sum, mean, max.

use super::grid_1d;
use crate::runtime::{Error, KernelSpec, Result, Tensor};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReduceOp {
    Sum,
    Mean,
    Max,
}

impl ReduceOp {
    pub const ALL: &'static [ReduceOp] = &[ReduceOp::Sum, ReduceOp::Mean, ReduceOp::Max];
}

/// Mean shares the sum kernel (scaled on its last pass).
pub(crate) fn spec(op: ReduceOp) -> KernelSpec {
    let (init, combine) = match op {
        ReduceOp::Sum | ReduceOp::Mean => ("0.0", "acc + x"),
        ReduceOp::Max => ("bitcast<f32>(0xff800000u)", "max(acc, x)"),
    };
    KernelSpec::new("reduce")
        .define("INIT", init)
        .define("COMBINE", combine)
}

/// Outputs below which a long axis is reduced in two passes, so that enough
/// threads share the work.
const FEW_OUTPUTS: usize = 4096;
const CHUNK: usize = 256;
/// The longest axis one pass reduces per thread: llvmpipe ends the loops of
/// one invocation after 65,535 iterations in all, with no error (the sum is
/// cut short), so longer axes always go in chunks.
const MAX_PASS_LEN: usize = 16384;

/// Reduces `x` along `axis`; the axis is dropped from the shape unless `keepdim`
/// (a rank-1 input gives shape `[1]`).
pub fn reduce(x: &Tensor, axis: usize, op: ReduceOp, keepdim: bool) -> Result<Tensor> {
    let shape = x.shape();
    if axis >= shape.len() {
        return Err(Error::invalid(
            "reduce",
            format!("axis {axis} out of range for shape {shape:?}"),
        ));
    }
    let len = shape[axis];
    if len == 0 {
        return Err(Error::invalid(
            "reduce",
            format!("cannot reduce the empty axis {axis} of shape {shape:?}"),
        ));
    }
    let outer: usize = shape[..axis].iter().product();
    let inner: usize = shape[axis + 1..].iter().product();
    let mut out_shape = shape.to_vec();
    if keepdim || shape.len() == 1 {
        out_shape[axis] = 1;
    } else {
        out_shape.remove(axis);
    }
    let rt = x.runtime();
    let spec = spec(op);
    let scale = if op == ReduceOp::Mean {
        1.0 / len as f32
    } else {
        1.0
    };
    let pass = |src: &Tensor,
                len: usize,
                chunk: usize,
                scale: f32,
                dst_shape: &[usize]|
     -> Result<Tensor> {
        let chunks = len.div_ceil(chunk);
        let dst = Tensor::uninit(rt, dst_shape)?;
        let n = outer * chunks * inner;
        if n > 0 {
            rt.dispatch(
                &spec,
                &[
                    outer as u32,
                    len as u32,
                    inner as u32,
                    chunk as u32,
                    chunks as u32,
                    src.offset() as u32,
                    dst.offset() as u32,
                    scale.to_bits(),
                ],
                &[src.buffer(), dst.buffer()],
                grid_1d(rt, n, 64),
            )?;
        }
        Ok(dst)
    };
    if (outer * inner < FEW_OUTPUTS && len > 2 * CHUNK) || len > MAX_PASS_LEN {
        let mut chunks = len.div_ceil(CHUNK);
        let mut partial = pass(x, len, CHUNK, 1.0, &[outer.max(1), chunks, inner.max(1)])?;
        // Over 4M elements the chunks' partials are themselves too many for one pass.
        while chunks > MAX_PASS_LEN {
            let next = chunks.div_ceil(CHUNK);
            partial = pass(
                &partial,
                chunks,
                CHUNK,
                1.0,
                &[outer.max(1), next, inner.max(1)],
            )?;
            chunks = next;
        }
        pass(&partial, chunks, chunks, scale, &out_shape)
    } else {
        pass(x, len, len, scale, &out_shape)
    }
}

impl Tensor {
    pub fn sum(&self, axis: usize, keepdim: bool) -> Result<Tensor> {
        reduce(self, axis, ReduceOp::Sum, keepdim)
    }
    pub fn mean(&self, axis: usize, keepdim: bool) -> Result<Tensor> {
        reduce(self, axis, ReduceOp::Mean, keepdim)
    }
    pub fn max(&self, axis: usize, keepdim: bool) -> Result<Tensor> {
        reduce(self, axis, ReduceOp::Max, keepdim)
    }
}
