//! Differentiable AttnGAN's word attention.
//! Each forward keeps what its backward (in ops/attention.rs) needs.

use super::Var;
use crate::ops::attention;
use crate::runtime::{Result, Tensor};

/// AttnGAN's word attention. q: [B, C, P], words: [B, C, T], mask: [B, T]
/// (1 = padding) -> (context [B, C, P] as a Var, attention maps [B, P, T]).
pub fn word_attention(q: &Var, words: &Var, mask: Option<&Tensor>) -> Result<(Var, Tensor)> {
    let a = attention::attention(q.value(), words.value(), mask)?;
    let (qv, wv, attn) = (q.value().clone(), words.value().clone(), a.attn.clone());
    let ctx = Var::from_op(a.context, &[q, words], move |g| {
        let grads = attention::attention_backward(&qv, &wv, &attn, g, None)?;
        Ok(vec![Some(grads.dq), Some(grads.dw)])
    });
    Ok((ctx, a.attn))
}
