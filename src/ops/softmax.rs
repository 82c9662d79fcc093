//! Log-softmax along the last axis and cross-entropy with class targets
//! (DAMSM's matching losses, with R = C = batch size). Both subtract the row
//! max before exponentiating. One thread per row: rows are short here.
//!
//! Rows over `LONG_LINE` take another path: llvmpipe ends the loops of one
//! invocation after 65,535 iterations in all, with no error, and a thread
//! looping over a row of 30,000 three times left the sums cut short. There
//! each row's max and logsumexp come from chunked reductions, and what is
//! left is elementwise (cross-entropy: the `LONG` kernel, without loops).

use super::grid_1d;
use crate::runtime::{Error, KernelSpec, Result, Tensor};

pub(crate) fn log_softmax_spec(backward: bool) -> KernelSpec {
    KernelSpec::new("log_softmax").define("BACKWARD", backward as u32)
}

pub(crate) fn cross_entropy_spec(backward: bool, long: bool) -> KernelSpec {
    KernelSpec::new("cross_entropy")
        .define("BACKWARD", backward as u32)
        .define("LONG", long as u32)
}

/// Rows longer than this go through per-row statistics from chunked
/// reductions (a few passes over every row in one thread would run into
/// llvmpipe's loop cap; see the module's comment).
pub(crate) const LONG_LINE: usize = 8192;

/// logsumexp of each row of x [R, C] -> [R, 1], from chunked reductions.
fn row_logsumexp(x: &Tensor) -> Result<Tensor> {
    let m = x.max(1, true)?;
    let s = x.sub(&m)?.exp()?.sum(1, true)?;
    m.add(&s.log()?)
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
    if cols > LONG_LINE {
        return x.sub(&row_logsumexp(x)?);
    }
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
    if cols > LONG_LINE {
        return dy.sub(&y.exp()?.mul(&dy.sum(1, true)?)?);
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
    let long = cols > LONG_LINE;
    let lse = if long {
        Some(row_logsumexp(logits)?)
    } else {
        None
    };
    let mut buffers = vec![logits.buffer(), targets.buffer(), partial.buffer()];
    if let Some(l) = &lse {
        buffers.push(l.buffer());
    }
    rt.dispatch(
        &cross_entropy_spec(false, long),
        &[
            rows as u32,
            cols as u32,
            logits.offset() as u32,
            targets.offset() as u32,
            0,
            partial.offset() as u32,
            (1.0 / rows as f32).to_bits(),
            lse.as_ref().map_or(0, |l| l.offset()) as u32,
        ],
        &buffers,
        grid_1d(rt, rows, 64),
    )?;
    super::sum_partials(partial)
}

// logits: [R, C], targets: [R], dloss: [1] (upstream gradient, on the device)
// -> dlogits: [R, C] = (softmax(logits) - onehot(targets)) / R * dloss
pub fn cross_entropy_backward(logits: &Tensor, targets: &Tensor, dloss: &Tensor) -> Result<Tensor> {
    let op = "cross_entropy_backward";
    let (rows, cols) = check_targets(op, logits, targets)?;
    super::check_scalar_grad(op, dloss)?;
    let rt = logits.runtime();
    let dx = Tensor::uninit(rt, logits.shape())?;
    let long = cols > LONG_LINE;
    let lse = if long {
        Some(row_logsumexp(logits)?)
    } else {
        None
    };
    let mut buffers = vec![
        logits.buffer(),
        targets.buffer(),
        dloss.buffer(),
        dx.buffer(),
    ];
    if let Some(l) = &lse {
        buffers.push(l.buffer());
    }
    rt.dispatch(
        &cross_entropy_spec(true, long),
        &[
            rows as u32,
            cols as u32,
            logits.offset() as u32,
            targets.offset() as u32,
            dloss.offset() as u32,
            dx.offset() as u32,
            (1.0 / rows as f32).to_bits(),
            lse.as_ref().map_or(0, |l| l.offset()) as u32,
        ],
        &buffers,
        // The long kernel has a thread per element.
        grid_1d(rt, if long { rows * cols } else { rows }, 64),
    )?;
    Ok(dx)
}
