//! Differentiable embedding lookup, dropout and one LSTM direction.

use super::Var;
use crate::ops::{dropout, embedding, fill, lstm};
use crate::runtime::{Result, Tensor};

/// Rows of `table` [V, D] picked by `ids` (whole numbers as f32, any shape) -> [.., D].
pub fn embedding(table: &Var, ids: &Tensor) -> Result<Var> {
    let y = embedding::embedding_forward(table.value(), ids)?;
    let (ids, vocab) = (ids.clone(), table.shape()[0]);
    Ok(Var::from_op(y, &[table], move |g| {
        Ok(vec![Some(embedding::embedding_backward(g, &ids, vocab)?)])
    }))
}

/// Dropout with rate p; the mask comes from `seed` (same seed, same mask).
/// Outside training (or p = 0) it is the identity.
pub fn dropout(x: &Var, p: f32, seed: u64, training: bool) -> Result<Var> {
    if !training || p == 0.0 {
        return Ok(x.clone());
    }
    let (y, mask) = dropout::dropout_forward(x.value(), p, seed)?;
    Ok(Var::from_op(y, &[x], move |g| {
        Ok(vec![Some(dropout::dropout_backward(g, &mask, p)?)])
    }))
}

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

/// Swaps the last two axes: [.., R, C] -> [.., C, R].
pub fn transpose_last2(x: &Var) -> Result<Var> {
    let y = crate::ops::transpose::transpose_last2(x.value())?;
    Ok(Var::from_op(y, &[x], |g| {
        Ok(vec![Some(crate::ops::transpose::transpose_last2(g)?)])
    }))
}
