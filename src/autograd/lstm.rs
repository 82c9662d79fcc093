//! Differentiable one LSTM direction and its final states.
//! Each forward keeps what its backward (in ops/lstm.rs) needs.

use super::Var;
use crate::ops::{fill, lstm};
use crate::runtime::{Result, Tensor};

/// One LSTM direction over padded sequences (zero initial state).
/// x: `[B, T, In]`, w_ih: `[4H, In]`, w_hh: `[4H, H]`, b_ih, b_hh: `[4H]` -> outputs `[B, T, H]`,
/// zero at padded steps. The final state of sequence b is outputs[b, len_b - 1]
/// (forward) or outputs[b, 0] (reverse): see [`last_state`].
pub fn lstm(x: &Var, lengths: &[usize], w: [&Var; 4], reverse: bool) -> Result<Var> {
    let (out, _h_n, saved) = lstm::lstm_forward(
        x.value(),
        lengths,
        w[0].value(),
        w[1].value(),
        w[2].value(),
        w[3].value(),
        reverse,
    )?;
    let (b, hidden) = (out.dim(0), out.dim(2));
    Ok(Var::from_op(out, &[x, w[0], w[1], w[2], w[3]], move |g| {
        let zero_h_n = fill::zeros(g.runtime(), &[b, hidden])?;
        let grads = lstm::lstm_backward(&saved, g, &zero_h_n)?;
        Ok(vec![
            Some(grads.dx),
            Some(grads.dw_ih),
            Some(grads.dw_hh),
            Some(grads.db_ih),
            Some(grads.db_hh),
        ])
    }))
}

/// The final hidden state of each sequence from an LSTM's outputs [B, T, H]:
/// step len_b - 1 for the forward direction, step 0 for the reverse one -> [B, H].
/// A differentiable pick (a one-hot row times each sequence's outputs).
pub fn last_state(outputs: &Var, lengths: &[usize], reverse: bool) -> Result<Var> {
    let (b, t, h) = (outputs.shape()[0], outputs.shape()[1], outputs.shape()[2]);
    let mut pick = vec![0.0f32; b * t];
    for (i, &len) in lengths.iter().enumerate() {
        let step = if reverse { 0 } else { len.saturating_sub(1) };
        if len > 0 {
            pick[i * t + step] = 1.0;
        }
    }
    let pick = Var::constant(Tensor::from_slice(
        outputs.value().runtime(),
        &pick,
        &[b, 1, t],
    )?);
    pick.matmul(outputs, false, false)?.reshape(&[b, h])
}
