//! LSTM (PyTorch gate order i, f, g, o) over padded variable-length sequences.
//!
//! The matrix products go through the batched matmul; everything elementwise
//! in a time step is one fused kernel (shaders/lstm_cell.wgsl), and so is its
//! backward (shaders/lstm_cell_backward.wgsl). The sequence drivers work
//! time-major ([T, B, ..], via [`swap01`]) so that every step is a contiguous
//! [B, ..] block: the input projection of all steps is one matmul, and each
//! step adds h_{t-1} W_hh^T into its block in place.
//!
//! Lengths: row b is active at time t when t < `lengths[b]`. An ended (or not
//! yet started) row keeps h and c unchanged and outputs 0. Since the state
//! starts at zero, the reverse direction thereby starts at each sequence's own
//! last valid step t = L - 1, and its h_n is the state after t = 0; the
//! forward direction's h_n is the state after t = L - 1 (PyTorch's packed
//! sequences). On the device lengths are an f32 tensor `[B]` of integer values.

use super::fill::{copy, zeros};
use super::grid_1d;
use super::matmul::{matmul, matmul_into};
use super::reduce::{reduce, ReduceOp};
use super::swap01::swap01;
use crate::runtime::{Error, KernelSpec, Result, Runtime, Tensor};

pub(crate) fn all_specs() -> Vec<KernelSpec> {
    vec![
        KernelSpec::new("lstm_cell"),
        KernelSpec::new("lstm_cell_backward"),
    ]
}

/// Uploads sequence lengths (each at most `steps`) as the f32 tensor `[B]` the cell kernels read.
pub fn lengths_tensor(rt: &Runtime, lengths: &[usize], steps: usize) -> Result<Tensor> {
    if let Some(b) = lengths.iter().position(|&l| l > steps) {
        return Err(Error::invalid(
            "lstm lengths",
            format!(
                "length {} of row {b} is over the {steps} time steps",
                lengths[b]
            ),
        ));
    }
    let values: Vec<f32> = lengths.iter().map(|&l| l as f32).collect();
    Tensor::from_slice(rt, &values, &[lengths.len()])
}

fn expect(op: &'static str, name: &str, t: &Tensor, shape: &[usize]) -> Result<()> {
    if t.shape() != shape {
        return Err(Error::shape_hint(
            op,
            t.shape(),
            shape,
            format!("{name} has the wrong shape"),
        ));
    }
    Ok(())
}

/// (B, H) of gates_pre [B, 4H].
fn cell_dims(op: &'static str, gates: &Tensor) -> Result<(usize, usize)> {
    match *gates.shape() {
        [b, h4] if h4 % 4 == 0 && h4 > 0 => Ok((b, h4 / 4)),
        _ => Err(Error::invalid(
            op,
            format!("gates are [B, 4H], got {:?}", gates.shape()),
        )),
    }
}

/// Records the forward cell kernel; all outputs are given (views allowed).
#[allow(clippy::too_many_arguments)]
fn cell_forward_into(
    gates_pre: &Tensor,
    h_prev: &Tensor,
    c_prev: &Tensor,
    lengths: &Tensor,
    t: usize,
    h: &Tensor,
    c: &Tensor,
    act: &Tensor,
    y: &Tensor,
) -> Result<()> {
    let (b, hid) = cell_dims("lstm_cell_forward", gates_pre)?;
    let rt = gates_pre.runtime();
    if b * hid == 0 {
        return Ok(());
    }
    rt.dispatch(
        &KernelSpec::new("lstm_cell"),
        &[
            b as u32,
            hid as u32,
            t as u32,
            gates_pre.offset() as u32,
            h_prev.offset() as u32,
            c_prev.offset() as u32,
            lengths.offset() as u32,
            h.offset() as u32,
            c.offset() as u32,
            act.offset() as u32,
            y.offset() as u32,
        ],
        &[
            gates_pre.buffer(),
            h_prev.buffer(),
            c_prev.buffer(),
            lengths.buffer(),
            h.buffer(),
            c.buffer(),
            act.buffer(),
            y.buffer(),
        ],
        grid_1d(rt, b * hid, 64),
    )
}

/// Records the backward cell kernel (dh, dc updated in place; see the shader).
/// `dy`, the gradient of this step's output, is added into dh on active rows when given.
#[allow(clippy::too_many_arguments)]
fn cell_backward_into(
    dh: &Tensor,
    dc: &Tensor,
    dy: Option<&Tensor>,
    act: &Tensor,
    c_prev: &Tensor,
    c: &Tensor,
    lengths: &Tensor,
    t: usize,
    dg: &Tensor,
) -> Result<()> {
    let (b, hid) = cell_dims("lstm_cell_backward", act)?;
    let rt = act.runtime();
    if b * hid == 0 {
        return Ok(());
    }
    // Without dy, bind a read-only tensor that is there anyway (never read).
    let has_dy = dy.is_some();
    let dy = dy.unwrap_or(c);
    rt.dispatch(
        &KernelSpec::new("lstm_cell_backward"),
        &[
            b as u32,
            hid as u32,
            t as u32,
            dh.offset() as u32,
            dc.offset() as u32,
            dy.offset() as u32,
            has_dy as u32,
            act.offset() as u32,
            c_prev.offset() as u32,
            c.offset() as u32,
            lengths.offset() as u32,
            dg.offset() as u32,
        ],
        &[
            dh.buffer(),
            dc.buffer(),
            dy.buffer(),
            act.buffer(),
            c_prev.buffer(),
            c.buffer(),
            lengths.buffer(),
            dg.buffer(),
        ],
        grid_1d(rt, b * hid, 64),
    )
}

/// One step's results of [`lstm_cell_forward`].
pub struct LstmCellOut {
    /// New hidden state [B, H] (h_prev for ended rows).
    pub h: Tensor,
    /// New cell state [B, H] (c_prev for ended rows).
    pub c: Tensor,
    /// The step's output [B, H]: h, or 0 for ended rows.
    pub y: Tensor,
    /// Gate activations (i, f, g, o) [B, 4H], saved for the backward (0 for ended rows).
    pub gates: Tensor,
}

/// One LSTM step's elementwise part, row b active when t < `lengths[b]`.
/// gates_pre: [B, 4H] (x W_ih^T + b_ih + h_prev W_hh^T + b_hh), h_prev, c_prev: [B, H],
/// lengths: `[B]` -> h, c, y: `[B, H]`, gates: `[B, 4H]`
pub fn lstm_cell_forward(
    gates_pre: &Tensor,
    h_prev: &Tensor,
    c_prev: &Tensor,
    lengths: &Tensor,
    t: usize,
) -> Result<LstmCellOut> {
    let op = "lstm_cell_forward";
    let (b, hid) = cell_dims(op, gates_pre)?;
    expect(op, "h_prev", h_prev, &[b, hid])?;
    expect(op, "c_prev", c_prev, &[b, hid])?;
    expect(op, "lengths", lengths, &[b])?;
    let rt = gates_pre.runtime();
    let out = LstmCellOut {
        h: Tensor::uninit(rt, &[b, hid])?,
        c: Tensor::uninit(rt, &[b, hid])?,
        y: Tensor::uninit(rt, &[b, hid])?,
        gates: Tensor::uninit(rt, &[b, 4 * hid])?,
    };
    cell_forward_into(
        gates_pre, h_prev, c_prev, lengths, t, &out.h, &out.c, &out.gates, &out.y,
    )?;
    Ok(out)
}

/// Gradients of one step from [`lstm_cell_backward`].
pub struct LstmCellGrads {
    /// Gradient of gates_pre [B, 4H] (0 for ended rows).
    pub d_gates_pre: Tensor,
    /// Gradient of c_prev [B, H].
    pub dc_prev: Tensor,
    /// The part of dh_prev [B, H] that bypasses the gates: dh for ended rows, 0
    /// otherwise. The full dh_prev is dh_pass + d_gates_pre @ W_hh.
    pub dh_pass: Tensor,
}

/// Backward of [`lstm_cell_forward`]: dh is the whole gradient of h (from y
/// and from the next step), dc that of c from the next step.
/// dh, dc: `[B, H]`, gates: `[B, 4H]`, c_prev, c: `[B, H]`, lengths: `[B]` -> d_gates_pre `[B, 4H]`, dc_prev, dh_pass `[B, H]`
#[allow(clippy::too_many_arguments)]
pub fn lstm_cell_backward(
    dh: &Tensor,
    dc: &Tensor,
    gates: &Tensor,
    c_prev: &Tensor,
    c: &Tensor,
    lengths: &Tensor,
    t: usize,
) -> Result<LstmCellGrads> {
    let op = "lstm_cell_backward";
    let (b, hid) = cell_dims(op, gates)?;
    expect(op, "dh", dh, &[b, hid])?;
    expect(op, "dc", dc, &[b, hid])?;
    expect(op, "c_prev", c_prev, &[b, hid])?;
    expect(op, "c", c, &[b, hid])?;
    expect(op, "lengths", lengths, &[b])?;
    // The kernel updates dh and dc in place: work on copies.
    let dh_pass = copy(dh)?;
    let dc_prev = copy(dc)?;
    let d_gates_pre = Tensor::uninit(gates.runtime(), &[b, 4 * hid])?;
    cell_backward_into(
        &dh_pass,
        &dc_prev,
        None,
        gates,
        c_prev,
        c,
        lengths,
        t,
        &d_gates_pre,
    )?;
    Ok(LstmCellGrads {
        d_gates_pre,
        dc_prev,
        dh_pass,
    })
}

/// What [`lstm_backward`] needs from [`lstm_forward`].
pub struct LstmSaved {
    /// Inputs, time-major [T, B, In].
    x_tm: Tensor,
    w_ih: Tensor,
    w_hh: Tensor,
    lengths: Tensor,
    /// Gate activations, time-major [T, B, 4H].
    acts: Tensor,
    /// Outputs, time-major [T, B, H]; on active rows they are the h_{t-1} of the next step.
    y_tm: Tensor,
    /// Cell states in processing order: cs[0] = 0, cs[s + 1] after step s; each [B, H].
    cs: Vec<Tensor>,
    reverse: bool,
}

/// Gradients from [`lstm_backward`].
pub struct LstmGrads {
    pub dx: Tensor,
    pub dw_ih: Tensor,
    pub dw_hh: Tensor,
    pub db_ih: Tensor,
    pub db_hh: Tensor,
}

/// Time index of processing step s.
fn time(s: usize, steps: usize, reverse: bool) -> usize {
    if reverse {
        steps - 1 - s
    } else {
        s
    }
}

/// One LSTM direction over padded sequences, zero initial state.
/// x: [B, T, In], lengths: B values in 0..=T, w_ih: [4H, In], w_hh: [4H, H],
/// b_ih, b_hh: `[4H]` -> (outputs `[B, T, H]` (0 at padded steps), h_n `[B, H]`, saved)
pub fn lstm_forward(
    x: &Tensor,
    lengths: &[usize],
    w_ih: &Tensor,
    w_hh: &Tensor,
    b_ih: &Tensor,
    b_hh: &Tensor,
    reverse: bool,
) -> Result<(Tensor, Tensor, LstmSaved)> {
    let op = "lstm_forward";
    let [b, steps, inp] = *x.shape() else {
        return Err(Error::invalid(
            op,
            format!("x is [B, T, In], got {:?}", x.shape()),
        ));
    };
    let [h4, hid] = *w_hh.shape() else {
        return Err(Error::invalid(
            op,
            format!("w_hh is [4H, H], got {:?}", w_hh.shape()),
        ));
    };
    if h4 != 4 * hid || hid == 0 {
        return Err(Error::invalid(
            op,
            format!("w_hh is [4H, H], got {:?}", w_hh.shape()),
        ));
    }
    if b == 0 || steps == 0 {
        return Err(Error::invalid(
            op,
            format!("x {:?} has no rows or no time steps", x.shape()),
        ));
    }
    expect(op, "w_ih", w_ih, &[h4, inp])?;
    expect(op, "b_ih", b_ih, &[h4])?;
    expect(op, "b_hh", b_hh, &[h4])?;
    if lengths.len() != b {
        return Err(Error::invalid(
            op,
            format!("{} lengths for a batch of {b}", lengths.len()),
        ));
    }
    let rt = x.runtime();
    let lens = lengths_tensor(rt, lengths, steps)?;

    // Input projections and both biases of all steps at once: [T, B, 4H].
    let x_tm = swap01(x)?;
    let xp = matmul(&x_tm.reshape(&[steps * b, inp])?, w_ih, false, true)?;
    let gates_pre = xp.add(&b_ih.add(b_hh)?)?.reshape(&[steps, b, h4])?;

    let acts = Tensor::uninit(rt, &[steps, b, h4])?;
    let y_tm = Tensor::uninit(rt, &[steps, b, hid])?;
    let mut h = zeros(rt, &[b, hid])?;
    let mut cs = vec![zeros(rt, &[b, hid])?];
    for s in 0..steps {
        let t = time(s, steps, reverse);
        let gp = gates_pre.narrow(t, 1)?.reshape(&[b, h4])?;
        if s > 0 {
            // The state is zero before the first step.
            matmul_into(&h, w_hh, &gp, false, true, 1.0, 1.0)?;
        }
        let h_new = Tensor::uninit(rt, &[b, hid])?;
        let c_new = Tensor::uninit(rt, &[b, hid])?;
        cell_forward_into(
            &gp,
            &h,
            &cs[s],
            &lens,
            t,
            &h_new,
            &c_new,
            &acts.narrow(t, 1)?.reshape(&[b, h4])?,
            &y_tm.narrow(t, 1)?.reshape(&[b, hid])?,
        )?;
        h = h_new;
        cs.push(c_new);
    }
    let outputs = swap01(&y_tm)?;
    let saved = LstmSaved {
        x_tm,
        w_ih: w_ih.clone(),
        w_hh: w_hh.clone(),
        lengths: lens,
        acts,
        y_tm,
        cs,
        reverse,
    };
    Ok((outputs, h, saved))
}

/// Backward through time of [`lstm_forward`].
/// d_outputs: `[B, T, H]`, d_h_n: `[B, H]` -> dx `[B, T, In]`, dw_ih `[4H, In]`, dw_hh `[4H, H]`, db_ih, db_hh `[4H]`
pub fn lstm_backward(saved: &LstmSaved, d_outputs: &Tensor, d_h_n: &Tensor) -> Result<LstmGrads> {
    let op = "lstm_backward";
    let [steps, b, inp] = *saved.x_tm.shape() else {
        unreachable!("lstm_forward saves x as [T, B, In]")
    };
    let (h4, hid) = (saved.w_hh.dim(0), saved.w_hh.dim(1));
    expect(op, "d_outputs", d_outputs, &[b, steps, hid])?;
    expect(op, "d_h_n", d_h_n, &[b, hid])?;
    let rt = d_outputs.runtime();
    let reverse = saved.reverse;
    let dy_tm = swap01(d_outputs)?;
    let dy_at = |t: usize| dy_tm.narrow(t, 1)?.reshape(&[b, hid]);

    // dh: the gradient of the current step's h from later steps (h_n first);
    // the kernel adds the step's output gradient.
    let dh = copy(d_h_n)?;
    let dc = zeros(rt, &[b, hid])?;
    let dg = Tensor::uninit(rt, &[steps, b, h4])?;
    for s in (0..steps).rev() {
        let t = time(s, steps, reverse);
        let dg_t = dg.narrow(t, 1)?.reshape(&[b, h4])?;
        cell_backward_into(
            &dh,
            &dc,
            Some(&dy_at(t)?),
            &saved.acts.narrow(t, 1)?.reshape(&[b, h4])?,
            &saved.cs[s],
            &saved.cs[s + 1],
            &saved.lengths,
            t,
            &dg_t,
        )?;
        if s > 0 {
            matmul_into(&dg_t, &saved.w_hh, &dh, false, false, 1.0, 1.0)?;
        }
    }

    let dg2 = dg.reshape(&[steps * b, h4])?;
    let dx_tm = matmul(&dg2, &saved.w_ih, false, false)?.reshape(&[steps, b, inp])?;
    let dx = swap01(&dx_tm)?;
    let dw_ih = matmul(&dg2, &saved.x_tm.reshape(&[steps * b, inp])?, true, false)?;
    // dW_hh = sum_t dg_t^T h_prev(t). On active rows h_prev(t) is the output of
    // the step processed before, and ended rows have dg = 0; the first step's
    // h_prev is 0. So it is one matmul of time-shifted views.
    let dw_hh = if steps > 1 {
        let (g, y) = if reverse {
            (dg.narrow(0, steps - 1)?, saved.y_tm.narrow(1, steps - 1)?)
        } else {
            (dg.narrow(1, steps - 1)?, saved.y_tm.narrow(0, steps - 1)?)
        };
        matmul(
            &g.reshape(&[(steps - 1) * b, h4])?,
            &y.reshape(&[(steps - 1) * b, hid])?,
            true,
            false,
        )?
    } else {
        zeros(rt, &[h4, hid])?
    };
    let db_ih = reduce(&dg2, 0, ReduceOp::Sum, false)?;
    let db_hh = copy(&db_ih)?;
    Ok(LstmGrads {
        dx,
        dw_ih,
        dw_hh,
        db_ih,
        db_hh,
    })
}
