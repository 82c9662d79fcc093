//! BatchNorm, Embedding and LSTM layers (one direction, and bidirectional).

use super::init::Init;
use super::params::{BufferId, ParamBuilder, ParamId, ParamStore};
use crate::autograd::{self as ag, Var};
use crate::runtime::{Result, Tensor};

/// Batch norm over channels with running statistics. x: [N, C, H, W] or [N, C].
pub struct BatchNorm {
    pub gamma: ParamId,
    pub beta: ParamId,
    pub running_mean: BufferId,
    pub running_var: BufferId,
}

impl BatchNorm {
    pub fn new(b: &mut ParamBuilder, name: &str, channels: usize) -> Self {
        BatchNorm {
            // The released AttnGAN draws these from N(1, 0.02); 1 is a
            // deterministic start the 2% spread hardly changes
            // (docs/attngan-reference.md).
            gamma: b.param(format!("{name}.weight"), &[channels], Init::Constant(1.0)),
            beta: b.param(format!("{name}.bias"), &[channels], Init::Zeros),
            running_mean: b.buffer(format!("{name}.running_mean"), &[channels], 0.0),
            running_var: b.buffer(format!("{name}.running_var"), &[channels], 1.0),
        }
    }

    /// Training mode uses (and updates) batch statistics; eval mode the running ones.
    pub fn forward(&self, ps: &ParamStore, x: &Var, training: bool) -> Result<Var> {
        ag::batch_norm(
            x,
            ps.var(self.gamma),
            ps.var(self.beta),
            (ps.buffer(self.running_mean), ps.buffer(self.running_var)),
            training,
        )
    }
}

/// A table of word vectors. ids (whole numbers as f32) [..] -> [.., dim]
pub struct Embedding {
    pub table: ParamId,
}

impl Embedding {
    pub fn new(b: &mut ParamBuilder, name: &str, vocab: usize, dim: usize, init: Init) -> Self {
        Embedding {
            table: b.param(format!("{name}.weight"), &[vocab, dim], init),
        }
    }

    pub fn forward(&self, ps: &ParamStore, ids: &Tensor) -> Result<Var> {
        ag::embedding(ps.var(self.table), ids)
    }
}

/// PyTorch's default LSTM parameters of one direction, named
/// `{name}.weight_ih_l0{suffix}` and so on:
/// `[w_ih [4H, In], w_hh [4H, H], b_ih [4H], b_hh [4H]]`, each U(-1/sqrt(H), 1/sqrt(H)).
fn lstm_params(
    b: &mut ParamBuilder,
    name: &str,
    suffix: &str,
    input: usize,
    hidden: usize,
) -> [ParamId; 4] {
    let init = Init::Uniform(1.0 / (hidden as f32).sqrt());
    [
        b.param(
            format!("{name}.weight_ih_l0{suffix}"),
            &[4 * hidden, input],
            init,
        ),
        b.param(
            format!("{name}.weight_hh_l0{suffix}"),
            &[4 * hidden, hidden],
            init,
        ),
        b.param(format!("{name}.bias_ih_l0{suffix}"), &[4 * hidden], init),
        b.param(format!("{name}.bias_hh_l0{suffix}"), &[4 * hidden], init),
    ]
}

fn lstm_vars<'a>(ps: &'a ParamStore, ids: &[ParamId; 4]) -> [&'a Var; 4] {
    [
        ps.var(ids[0]),
        ps.var(ids[1]),
        ps.var(ids[2]),
        ps.var(ids[3]),
    ]
}

/// One LSTM layer, forward in time only (a decoder), PyTorch's names and layout.
pub struct Lstm {
    pub hidden: usize,
    /// `[w_ih [4H, In], w_hh [4H, H], b_ih [4H], b_hh [4H]]`.
    pub weights: [ParamId; 4],
}

impl Lstm {
    pub fn new(b: &mut ParamBuilder, name: &str, input: usize, hidden: usize) -> Self {
        Lstm {
            hidden,
            weights: lstm_params(b, name, "", input, hidden),
        }
    }

    /// x: [B, T, In] -> outputs [B, T, H] (0 at padding), from a zero state.
    pub fn forward(&self, ps: &ParamStore, x: &Var, lengths: &[usize]) -> Result<Var> {
        ag::lstm(x, lengths, lstm_vars(ps, &self.weights), false)
    }

    /// One step outside the autograd (decoding): x `[N, In]`, state (h, c)
    /// `[N, H]` each (zeros before the first step) -> the next (h, c).
    /// The same arithmetic as [`Lstm::forward`]'s steps (tested).
    pub fn step(
        &self,
        ps: &ParamStore,
        x: &Tensor,
        state: (&Tensor, &Tensor),
    ) -> Result<(Tensor, Tensor)> {
        use crate::ops::{lstm, matmul::matmul};
        let [w_ih, w_hh, b_ih, b_hh] = lstm_vars(ps, &self.weights).map(|v| v.value());
        let n = x.dim(0);
        let gates = matmul(x, w_ih, false, true)?
            .add(&b_ih.add(b_hh)?)?
            .add(&matmul(state.0, w_hh, false, true)?)?; // [N, 4H]
        let active = lstm::lengths_tensor(x.runtime(), &vec![1; n], 1)?;
        let out = lstm::lstm_cell_forward(&gates, state.0, state.1, &active, 0)?;
        Ok((out.h, out.c))
    }
}

/// One LSTM layer run in both directions, PyTorch's parameter names and layout.
pub struct BiLstm {
    pub hidden: usize,
    /// `[w_ih [4H, In], w_hh [4H, H], b_ih [4H], b_hh [4H]]` per direction.
    pub forward: [ParamId; 4],
    pub reverse: [ParamId; 4],
}

impl BiLstm {
    pub fn new(b: &mut ParamBuilder, name: &str, input: usize, hidden: usize) -> Self {
        BiLstm {
            hidden,
            forward: lstm_params(b, name, "", input, hidden),
            reverse: lstm_params(b, name, "_reverse", input, hidden),
        }
    }

    /// x: [B, T, In] -> (outputs [B, T, 2H] (forward then reverse halves, 0 at
    /// padding), final states [B, 2H])
    pub fn forward(&self, ps: &ParamStore, x: &Var, lengths: &[usize]) -> Result<(Var, Var)> {
        let out_f = ag::lstm(x, lengths, lstm_vars(ps, &self.forward), false)?;
        let out_r = ag::lstm(x, lengths, lstm_vars(ps, &self.reverse), true)?;
        let outputs = ag::concat(&[&out_f, &out_r], 2)?;
        let last = ag::concat(
            &[
                &ag::last_state(&out_f, lengths, false)?,
                &ag::last_state(&out_r, lengths, true)?,
            ],
            1,
        )?;
        Ok((outputs, last))
    }
}
