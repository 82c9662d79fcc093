//! Log-softmax along the last axis and cross-entropy with class targets
//! (DAMSM's matching losses, with R = C = batch size). Both subtract the row
//! max before exponentiating. One thread per row: rows are short here.

use super::grid_1d;
use crate::runtime::{Error, KernelSpec, Result, Tensor};

pub(crate) fn log_softmax_spec(backward: bool) -> KernelSpec {
    KernelSpec::new("log_softmax").define("BACKWARD", backward as u32)
}

pub(crate) fn cross_entropy_spec(backward: bool) -> KernelSpec {
    KernelSpec::new("cross_entropy").define("BACKWARD", backward as u32)
}

fn check_2d(op: &'static str, shape: &[usize]) -> Result<(usize, usize)> {
    if shape.len() != 2 || shape[0] == 0 || shape[1] == 0 {
        return Err(Error::invalid(
            op,
            format!("needs a non-empty [R, C] tensor, got shape {shape:?}"),
        ));
    }
    Ok((shape[0], shape[1]))
}

// x: [R, C] -> [R, C], log-softmax of each row
pub fn log_softmax(x: &Tensor) -> Result<Tensor> {
    let (rows, cols) = check_2d("log_softmax", x.shape())?;
    let rt = x.runtime();
    let out = Tensor::uninit(rt, x.shape())?;
    rt.dispatch(
        &log_softmax_spec(false),
        &[
            rows as u32,
            cols as u32,
            x.offset() as u32,
            0,
            out.offset() as u32,
        ],
        &[x.buffer(), out.buffer()],
        grid_1d(rt, rows, 64),
    )?;
    Ok(out)
}

// y = log_softmax(x): [R, C], dy: [R, C] -> dx: [R, C]
pub fn log_softmax_backward(y: &Tensor, dy: &Tensor) -> Result<Tensor> {
    let op = "log_softmax_backward";
    let (rows, cols) = check_2d(op, y.shape())?;
    if dy.shape() != y.shape() {
        return Err(Error::shape(op, y.shape(), dy.shape()));
    }
    let rt = y.runtime();
    let dx = Tensor::uninit(rt, y.shape())?;
    rt.dispatch(
        &log_softmax_spec(true),
        &[
            rows as u32,
            cols as u32,
            y.offset() as u32,
            dy.offset() as u32,
            dx.offset() as u32,
        ],
        &[y.buffer(), dy.buffer(), dx.buffer()],
        grid_1d(rt, rows, 64),
    )?;
    Ok(dx)
}

fn check_targets(op: &'static str, x: &Tensor, targets: &Tensor) -> Result<(usize, usize)> {
    let (rows, cols) = check_2d(op, x.shape())?;
    if targets.shape() != [rows] {
        return Err(Error::shape_hint(
            op,
            x.shape(),
            targets.shape(),
            format!("targets must be [{rows}], one class index per row"),
        ));
    }
    Ok((rows, cols))
}

// logits: [R, C], targets: [R] (class indices 0..C stored as f32) -> [1],
// mean over rows of -log_softmax(logits)[r, targets[r]]. A target that is not
// an integer in 0..C makes the loss NaN (checked on the device, not here, so
// that nothing is read back).
pub fn cross_entropy(logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
    let (rows, cols) = check_targets("cross_entropy", logits, targets)?;
    let rt = logits.runtime();
    let partial = Tensor::uninit(rt, &[rows])?;
    rt.dispatch(
        &cross_entropy_spec(false),
        &[
            rows as u32,
            cols as u32,
            logits.offset() as u32,
            targets.offset() as u32,
            0,
            partial.offset() as u32,
            (1.0 / rows as f32).to_bits(),
        ],
        &[logits.buffer(), targets.buffer(), partial.buffer()],
        grid_1d(rt, rows, 64),
    )?;
    if rows == 1 {
        Ok(partial)
    } else {
        partial.sum(0, false)
    }
}

// logits: [R, C], targets: [R], dloss: [1] (upstream gradient, on the device)
// -> dlogits: [R, C] = (softmax(logits) - onehot(targets)) / R * dloss
pub fn cross_entropy_backward(logits: &Tensor, targets: &Tensor, dloss: &Tensor) -> Result<Tensor> {
    let op = "cross_entropy_backward";
    let (rows, cols) = check_targets(op, logits, targets)?;
    if dloss.numel() != 1 {
        return Err(Error::shape_hint(
            op,
            &[1],
            dloss.shape(),
            "the upstream gradient of the scalar loss must be a [1] tensor",
        ));
    }
    let rt = logits.runtime();
    let dx = Tensor::uninit(rt, logits.shape())?;
    rt.dispatch(
        &cross_entropy_spec(true),
        &[
            rows as u32,
            cols as u32,
            logits.offset() as u32,
            targets.offset() as u32,
            dloss.offset() as u32,
            dx.offset() as u32,
            (1.0 / rows as f32).to_bits(),
        ],
        &[
            logits.buffer(),
            targets.buffer(),
            dloss.buffer(),
            dx.buffer(),
        ],
        grid_1d(rt, rows, 64),
    )?;
    Ok(dx)
}
