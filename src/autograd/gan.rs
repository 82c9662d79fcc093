//! Differentiable versions of the GAN kernels: GLU, upsampling, concat,
//! pooling, batch norm, word attention, masked softmax, the losses and cosine
//! similarity. Each forward keeps what its backward needs, next to it.

use super::Var;
use crate::ops::{attention, batch_norm, bce, concat, cosine, fill, glu, pool, softmax, upsample};
use crate::runtime::{Result, Tensor};

/// GLU over channels. x: [N, C, ...] -> [N, C/2, ...]
pub fn glu(x: &Var) -> Result<Var> {
    let xv = x.value().clone();
    Ok(Var::from_op(glu::glu(&xv)?, &[x], move |g| {
        Ok(vec![Some(glu::glu_backward(&xv, g)?)])
    }))
}

/// Nearest x2 upsampling. x: [N, C, H, W] -> [N, C, 2H, 2W]
pub fn upsample2x(x: &Var) -> Result<Var> {
    let y = upsample::upsample_nearest2x(x.value())?;
    Ok(Var::from_op(y, &[x], |g| {
        Ok(vec![Some(upsample::upsample_nearest2x_backward(g)?)])
    }))
}

/// The [out, in] matrix of 1-d bilinear interpolation as PyTorch's
/// `F.interpolate(mode="bilinear", align_corners=False)` computes it (no
/// antialiasing): output i samples the input at (i + 0.5) * in / out - 0.5,
/// clamped to the first and last pixels.
pub fn bilinear_matrix(out: usize, inp: usize) -> Vec<f32> {
    let mut m = vec![0.0f32; out * inp];
    let scale = inp as f64 / out as f64;
    for i in 0..out {
        let src = ((i as f64 + 0.5) * scale - 0.5).max(0.0);
        let i0 = (src.floor() as usize).min(inp - 1);
        let i1 = (i0 + 1).min(inp - 1);
        let l1 = src - i0 as f64;
        m[i * inp + i0] += (1.0 - l1) as f32;
        m[i * inp + i1] += l1 as f32;
    }
    m
}

/// Bilinear resize (up or down, any sizes) of x: [N, C, H, W] -> [N, C, h, w],
/// PyTorch's `interpolate(mode="bilinear", align_corners=False)`: the
/// released AttnGAN resizes every image the DAMSM image encoder scores this
/// way (`nn.Upsample(size=(299, 299), mode='bilinear')` in CNN_ENCODER).
/// Separable, so two matmuls with constant interpolation matrices
/// (x Rw^T, then Rh of that), whose backward gives the gradient. At an exact
/// factor of 2 down it equals 2x2 average pooling.
pub fn resize_bilinear(x: &Var, h: usize, w: usize) -> Result<Var> {
    let s = x.shape().to_vec();
    if s.len() != 4 || s[2] == 0 || s[3] == 0 || h == 0 || w == 0 {
        return Err(crate::runtime::Error::invalid(
            "resize_bilinear",
            format!("needs [N, C, H, W] with H, W > 0 and a size > 0, got {s:?} -> {h}x{w}"),
        ));
    }
    if (s[2], s[3]) == (h, w) {
        return Ok(x.clone());
    }
    let rt = x.value().runtime();
    let rw = Var::constant(Tensor::from_slice(
        rt,
        &bilinear_matrix(w, s[3]),
        &[w, s[3]],
    )?);
    let rh = Var::constant(Tensor::from_slice(
        rt,
        &bilinear_matrix(h, s[2]),
        &[h, s[2]],
    )?);
    let planes = x.reshape(&[s[0] * s[1], s[2], s[3]])?;
    let rows = planes.matmul(&rw, false, true)?; // [NC, H, w]
    rh.matmul(&rows, false, false)?.reshape(&[s[0], s[1], h, w])
}

/// Concatenation along `axis`.
pub fn concat(xs: &[&Var], axis: usize) -> Result<Var> {
    let values: Vec<&Tensor> = xs.iter().map(|v| v.value()).collect();
    let y = concat::concat(&values, axis)?;
    let sizes: Vec<usize> = xs.iter().map(|v| v.shape()[axis]).collect();
    Ok(Var::from_op(y, xs, move |g| {
        Ok(concat::concat_backward(g, axis, &sizes)?
            .into_iter()
            .map(Some)
            .collect())
    }))
}

/// Elements start..start+len of `axis` (a copy); the gradient is padded back with zeros.
pub fn narrow(x: &Var, axis: usize, start: usize, len: usize) -> Result<Var> {
    let y = concat::narrow_copy(x.value(), axis, start, len)?;
    let shape = x.shape().to_vec();
    Ok(Var::from_op(y, &[x], move |g| {
        let rt = g.runtime();
        let mut parts = Vec::new();
        let mut before = shape.clone();
        before[axis] = start;
        let mut after = shape.clone();
        after[axis] = shape[axis] - start - len;
        let (zb, za) = (fill::zeros(rt, &before)?, fill::zeros(rt, &after)?);
        if start > 0 {
            parts.push(&zb);
        }
        parts.push(g);
        if after[axis] > 0 {
            parts.push(&za);
        }
        Ok(vec![Some(concat::concat(&parts, axis)?)])
    }))
}

/// Average pooling, padding 0. x: [N, C, H, W] -> [N, C, (H-k)/s+1, (W-k)/s+1]
pub fn avg_pool2d(x: &Var, k: usize, s: usize) -> Result<Var> {
    let shape = x.shape().to_vec();
    Ok(Var::from_op(
        pool::avg_pool2d(x.value(), k, s)?,
        &[x],
        move |g| Ok(vec![Some(pool::avg_pool2d_backward(g, &shape, k, s)?)]),
    ))
}

/// Mean over the plane. x: [N, C, H, W] -> [N, C]
pub fn global_avg_pool(x: &Var) -> Result<Var> {
    let (h, w) = (x.shape()[2], x.shape()[3]);
    Ok(Var::from_op(
        pool::global_avg_pool(x.value())?,
        &[x],
        move |g| Ok(vec![Some(pool::global_avg_pool_backward(g, h, w)?)]),
    ))
}

/// Binary cross-entropy with logits, mean over elements: `[1]`. Targets need no gradient.
pub fn bce_with_logits(x: &Var, targets: &Tensor) -> Result<Var> {
    let (xv, t) = (x.value().clone(), targets.clone());
    Ok(Var::from_op(
        bce::bce_with_logits(&xv, &t)?,
        &[x],
        move |g| Ok(vec![Some(bce::bce_with_logits_backward(&xv, &t, g)?)]),
    ))
}

/// Cross-entropy of logits `[R, C]` against class indices `[R]` (as f32), mean over rows: `[1]`.
pub fn cross_entropy(logits: &Var, targets: &Tensor) -> Result<Var> {
    let (lv, t) = (logits.value().clone(), targets.clone());
    Ok(Var::from_op(
        softmax::cross_entropy(&lv, &t)?,
        &[logits],
        move |g| Ok(vec![Some(softmax::cross_entropy_backward(&lv, &t, g)?)]),
    ))
}

/// Cosine similarity along `axis` (dropped from the shape).
pub fn cosine_similarity(x: &Var, y: &Var, axis: usize) -> Result<Var> {
    let (xv, yv) = (x.value().clone(), y.value().clone());
    Ok(Var::from_op(
        cosine::cosine_similarity(&xv, &yv, axis)?,
        &[x, y],
        move |g| {
            let (dx, dy) = cosine::cosine_similarity_backward(&xv, &yv, g, axis)?;
            Ok(vec![Some(dx), Some(dy)])
        },
    ))
}

/// Softmax of scale * x along `axis` over unmasked entries (mask: 1 = excluded).
pub fn masked_softmax(x: &Var, axis: usize, scale: f32, mask: Option<&Tensor>) -> Result<Var> {
    let y = attention::masked_softmax(x.value(), axis, scale, mask)?;
    let yc = y.clone();
    Ok(Var::from_op(y, &[x], move |g| {
        Ok(vec![Some(attention::masked_softmax_backward(
            &yc, g, axis, scale,
        )?)])
    }))
}

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

/// Batch norm over channels, training mode (batch statistics; the running
/// statistics are updated in place when given) or eval mode (running statistics).
/// x: `[N, C, H, W]` or `[N, C]`; gamma, beta: `[C]`.
pub fn batch_norm(
    x: &Var,
    gamma: &Var,
    beta: &Var,
    running: (&Tensor, &Tensor),
    training: bool,
) -> Result<Var> {
    if !training {
        let y = batch_norm::batch_norm_eval(
            x.value(),
            gamma.value(),
            beta.value(),
            running.0,
            running.1,
            batch_norm::BN_EPS,
        )?;
        // Eval mode is an affine map per channel: y = a x + b with a = gamma / sqrt(var + eps).
        let (xv, gv, rv) = (x.value().clone(), gamma.value().clone(), running.1.clone());
        return Ok(Var::from_op(y, &[x], move |g| {
            let c = gv.numel();
            let mut shape = vec![1; xv.rank()];
            shape[1] = c;
            let a = gv
                .div(&rv.add_scalar(batch_norm::BN_EPS)?.sqrt()?)?
                .reshape(&shape)?;
            Ok(vec![Some(g.mul(&a)?)])
        }));
    }
    let (y, saved) = batch_norm::batch_norm_train(
        x.value(),
        gamma.value(),
        beta.value(),
        Some(running),
        batch_norm::BN_MOMENTUM,
        batch_norm::BN_EPS,
    )?;
    let (xv, gv) = (x.value().clone(), gamma.value().clone());
    Ok(Var::from_op(y, &[x, gamma, beta], move |g| {
        let grads = batch_norm::batch_norm_backward(g, &xv, &gv, &saved)?;
        Ok(vec![Some(grads.dx), Some(grads.dgamma), Some(grads.dbeta)])
    }))
}
