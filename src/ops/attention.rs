//! Word-level attention as AttnGAN uses it (GlobalAttentionGeneral), forward
//! and backward, and a masked softmax along any axis with a temperature (the
//! building block of DAMSM's word-region attention, composed with
//! [`super::matmul()`]).
//!
//! Shapes: queries q [B, C, P] (pixels or regions), words w [B, C, T], mask
//! [B, T] with 1.0 for a padding word and 0.0 for a real one.

use super::matmul::{matmul, matmul_into};
use super::reduce::{reduce, ReduceOp};
use super::softmax::LONG_LINE;
use super::unary::{unary, UnaryOp};
use super::{grid_1d, vec4_fits};
use crate::runtime::{Error, Flavour, KernelSpec, Result, Runtime, Tensor};

/// Longest sentence of the fused kernels (their private arrays); longer ones
/// go through matmul + softmax + matmul.
/// An invocation of the fused kernels loops about (2C + 5) T times (scores and
/// context over C channels and T words), so llvmpipe's cap of 65,535 loop
/// iterations per invocation is far off for AttnGAN's C = ngf and the world's
/// T = 42 (WORLD_MAX_WORDS); kernels-tests/attention.rs runs T = 42 and T = 64
/// with C = 256.
pub const FUSED_MAX_WORDS: usize = 64;
/// The most loop iterations the fused kernels may take per invocation, about
/// 2 C (T + 1) + 4 T: llvmpipe ends the loops of one invocation after 65,535
/// iterations in all, with no error, and cut C = 512, T = 64 and C = 2048,
/// T = 18 short. Wider problems go through matmul + softmax + matmul.
const FUSED_LOOP_BUDGET: usize = 32768;

/// Whether the fused kernels take C channels and T words (see above).
fn fused(c: usize, t: usize) -> bool {
    t <= FUSED_MAX_WORDS && 2 * c * (t + 1) + 4 * t <= FUSED_LOOP_BUDGET
}

/// Whether to run attention.wgsl's fused kernels on this runtime: not with
/// the subgroups flavour, which has its own (attention_vec4.wgsl, vec4_on);
/// its matmul + softmax + matmul path beat these (word attention
/// q [8,32,4096], words [8,32,18] on lavapipe, Mesa 25, back to back:
/// forward 83 ms fused, 30 ms unfused; see README).
fn fused_on(rt: &Runtime, c: usize, t: usize) -> bool {
    fused(c, t) && rt.flavour() != Flavour::Subgroups
}

/// Whether the subgroups flavour's fused kernels (attention_vec4.wgsl) take
/// B items of C channels, P pixels and T words: those of the other fused
/// kernels (loops within llvmpipe's budget), and the grid [P / 256, B] fits
/// the device.
fn vec4_on(rt: &Runtime, b: usize, c: usize, p: usize, t: usize) -> bool {
    let max = rt.limits().max_compute_workgroups_per_dimension as usize;
    rt.flavour() == Flavour::Subgroups
        && t > 0
        && fused(c, t)
        && b * p > 0
        && b <= max
        && p.div_ceil(256) <= max
}

/// `vec4`: the queries (or d_context) and the output move a vec4 per channel
/// row ([`super::vec4_fits`] on P and their offsets).
fn spec_vec4(backward: bool, extra: bool, t: usize, vec4: bool) -> KernelSpec {
    KernelSpec::new("attention_vec4")
        .define("VEC4", vec4 as u32)
        .define("BACKWARD", backward as u32)
        .define("MASK", (!backward && extra) as u32)
        .define("DATTN", (backward && extra) as u32)
        .define("T", t)
}

/// Pixels per partial sum of the word gradient.
const WORD_GRAD_CHUNK: usize = 256;

fn spec_forward(mask: bool) -> KernelSpec {
    KernelSpec::new("attention")
        .define("TMAX", FUSED_MAX_WORDS)
        .define("MASK", mask as u32)
}

fn spec_backward(dattn: bool) -> KernelSpec {
    KernelSpec::new("attention_backward")
        .define("TMAX", FUSED_MAX_WORDS)
        .define("DATTN", dattn as u32)
}

fn spec_words() -> KernelSpec {
    KernelSpec::new("attention_backward_words")
}

fn spec_softmax(backward: bool, mask: bool) -> KernelSpec {
    KernelSpec::new("attention_softmax")
        .define("BACKWARD", backward as u32)
        .define("MASK", mask as u32)
}

pub(crate) fn all_specs() -> Vec<KernelSpec> {
    let mut v = vec![spec_words(), spec_softmax(true, false)];
    // One pipeline per caption length; these cover the lengths whose
    // constant tests fold differently (one word, a part or a whole last
    // group of 8, the longest).
    for t in [1, 7, 8, 9, 18, 42, FUSED_MAX_WORDS] {
        for (backward, extra) in [(false, false), (false, true), (true, false), (true, true)] {
            v.push(spec_vec4(backward, extra, t, false));
            v.push(spec_vec4(backward, extra, t, true));
        }
    }
    for f in [false, true] {
        v.push(spec_forward(f));
        v.push(spec_backward(f));
        v.push(spec_softmax(false, f));
    }
    v
}

/// The result of [`attention`].
#[derive(Clone, Debug)]
pub struct Attention {
    /// [B, C, P]
    pub context: Tensor,
    /// [B, P, T]: the attention of each pixel over the words (rows sum to 1,
    /// all zeros where every word is padding).
    pub attn: Tensor,
}

/// Gradients of [`attention_backward`].
#[derive(Clone, Debug)]
pub struct AttentionGrads {
    /// [B, C, P]
    pub dq: Tensor,
    /// [B, C, T]
    pub dw: Tensor,
}

/// (B, C, P, T) after checking q, w and the mask.
fn check(
    op: &'static str,
    q: &Tensor,
    w: &Tensor,
    mask: Option<&Tensor>,
) -> Result<(usize, usize, usize, usize)> {
    let (&[b, c, p], &[bw, cw, t]) = (q.shape(), w.shape()) else {
        return Err(Error::shape_hint(
            op,
            q.shape(),
            w.shape(),
            "queries must be [B, C, P] and words [B, C, T]",
        ));
    };
    if b != bw || c != cw {
        return Err(Error::shape_hint(
            op,
            q.shape(),
            w.shape(),
            "queries [B, C, P] and words [B, C, T] must agree in B and C",
        ));
    }
    if let Some(m) = mask {
        if m.shape() != [b, t] {
            return Err(Error::shape_hint(
                op,
                m.shape(),
                &[b, t],
                "the mask must be [B, T] for these words",
            ));
        }
    }
    Ok((b, c, p, t))
}

/// One launch of attention_vec4.wgsl: [B, C, P, T] and the six offsets of
/// its Params; a workgroup per 256 pixels of one batch item.
fn dispatch_vec4(
    rt: &Runtime,
    spec: &KernelSpec,
    [b, c, p, t]: [usize; 4],
    offsets: [usize; 6],
    buffers: &[&wgpu::Buffer],
) -> Result<()> {
    let params: Vec<u32> = [b, c, p, t]
        .into_iter()
        .chain(offsets)
        .map(|v| v as u32)
        .collect();
    rt.dispatch(
        spec,
        &params,
        buffers,
        [p.div_ceil(256) as u32, b as u32, 1],
    )
}

/// Attention of every query over the words, masked softmax over words.
// q: [B, C, P], w: [B, C, T], mask: [B, T] (1 = padding) -> context [B, C, P], attn [B, P, T]
pub fn attention(q: &Tensor, w: &Tensor, mask: Option<&Tensor>) -> Result<Attention> {
    let (b, c, p, t) = check("attention", q, w, mask)?;
    let rt = q.runtime();
    if vec4_on(rt, b, c, p, t) {
        let context = Tensor::uninit(rt, &[b, c, p])?;
        let attn = Tensor::uninit(rt, &[b, p, t])?;
        let mut buffers = vec![q.buffer(), w.buffer(), context.buffer(), attn.buffer()];
        if let Some(m) = mask {
            buffers.push(m.buffer());
        }
        dispatch_vec4(
            rt,
            &spec_vec4(false, mask.is_some(), t, vec4_fits(&[p], &[q, &context])),
            [b, c, p, t],
            [
                q.offset(),
                w.offset(),
                context.offset(),
                attn.offset(),
                mask.map_or(0, |m| m.offset()),
                0,
            ],
            &buffers,
        )?;
        return Ok(Attention { context, attn });
    }
    if !fused_on(rt, c, t) || b * p == 0 {
        // scores [B, P, T] = q^T w; context [B, C, P] = w attn^T.
        let scores = matmul(q, w, true, false)?.reshape(&[b, p, t])?;
        let attn = masked_softmax(&scores, 2, 1.0, mask)?;
        let context = matmul(w, &attn, false, true)?.reshape(&[b, c, p])?;
        return Ok(Attention { context, attn });
    }
    let context = Tensor::uninit(rt, &[b, c, p])?;
    let attn = Tensor::uninit(rt, &[b, p, t])?;
    let mut buffers = vec![q.buffer(), w.buffer(), context.buffer(), attn.buffer()];
    if let Some(m) = mask {
        buffers.push(m.buffer());
    }
    rt.dispatch(
        &spec_forward(mask.is_some()),
        &[
            b as u32,
            c as u32,
            p as u32,
            t as u32,
            q.offset() as u32,
            w.offset() as u32,
            context.offset() as u32,
            attn.offset() as u32,
            mask.map_or(0, |m| m.offset()) as u32,
        ],
        &buffers,
        grid_1d(rt, b * p, 64),
    )?;
    Ok(Attention { context, attn })
}

/// Backward of [`attention`] from the context's gradient and, optionally, a
/// gradient on the attention maps too.
// q: [B, C, P], w: [B, C, T], attn: [B, P, T], d_context: [B, C, P],
// d_attn: [B, P, T] -> dq [B, C, P], dw [B, C, T]
pub fn attention_backward(
    q: &Tensor,
    w: &Tensor,
    attn: &Tensor,
    d_context: &Tensor,
    d_attn: Option<&Tensor>,
) -> Result<AttentionGrads> {
    const OP: &str = "attention_backward";
    let (b, c, p, t) = check(OP, q, w, None)?;
    if attn.shape() != [b, p, t] {
        return Err(Error::shape_hint(
            OP,
            attn.shape(),
            &[b, p, t],
            "attn must be [B, P, T]",
        ));
    }
    if d_context.shape() != q.shape() {
        return Err(Error::shape_hint(
            OP,
            d_context.shape(),
            q.shape(),
            "d_context must have the queries' shape [B, C, P]",
        ));
    }
    if let Some(da) = d_attn {
        if da.shape() != attn.shape() {
            return Err(Error::shape_hint(
                OP,
                da.shape(),
                attn.shape(),
                "d_attn must have attn's shape [B, P, T]",
            ));
        }
    }
    let rt = q.runtime();
    let (ds, dq) = if vec4_on(rt, b, c, p, t) {
        let ds = Tensor::uninit(rt, &[b, p, t])?;
        let dq = Tensor::uninit(rt, &[b, c, p])?;
        let mut buffers = vec![
            d_context.buffer(),
            w.buffer(),
            dq.buffer(),
            attn.buffer(),
            ds.buffer(),
        ];
        if let Some(da) = d_attn {
            buffers.push(da.buffer());
        }
        dispatch_vec4(
            rt,
            &spec_vec4(
                true,
                d_attn.is_some(),
                t,
                vec4_fits(&[p], &[d_context, &dq]),
            ),
            [b, c, p, t],
            [
                d_context.offset(),
                w.offset(),
                dq.offset(),
                attn.offset(),
                d_attn.map_or(0, |d| d.offset()),
                ds.offset(),
            ],
            &buffers,
        )?;
        (ds, dq)
    } else if !fused_on(rt, c, t) || b * p == 0 {
        // dattn = dctx^T w; ds = softmax backward; dq = w ds^T.
        let mut g = matmul(d_context, w, true, false)?.reshape(&[b, p, t])?;
        if let Some(da) = d_attn {
            g = g.add(da)?;
        }
        let ds = masked_softmax_backward(attn, &g, 2, 1.0)?;
        let dq = matmul(w, &ds, false, true)?.reshape(&[b, c, p])?;
        (ds, dq)
    } else {
        let ds = Tensor::uninit(rt, &[b, p, t])?;
        let dq = Tensor::uninit(rt, &[b, c, p])?;
        let mut buffers = vec![
            w.buffer(),
            attn.buffer(),
            d_context.buffer(),
            ds.buffer(),
            dq.buffer(),
        ];
        if let Some(da) = d_attn {
            buffers.push(da.buffer());
        }
        rt.dispatch(
            &spec_backward(d_attn.is_some()),
            &[
                b as u32,
                c as u32,
                p as u32,
                t as u32,
                w.offset() as u32,
                attn.offset() as u32,
                d_context.offset() as u32,
                ds.offset() as u32,
                dq.offset() as u32,
                d_attn.map_or(0, |d| d.offset()) as u32,
            ],
            &buffers,
            grid_1d(rt, b * p, 64),
        )?;
        (ds, dq)
    };
    // dw [B, C, T] = q ds + d_context attn, both sums over the pixels.
    if rt.flavour() == Flavour::Subgroups && b * p > 0 {
        // Two matmuls on the subgroup GEMM core rather than the kernel below,
        // whose per-thread sums over pixels gather: word attention backward,
        // q [8,32,4096], 18 words, lavapipe Mesa 25, 2-core Zen 4 EPYC,
        // back to back: 37.4 -> 11.8 ms.
        let dw = matmul(q, &ds, false, false)?;
        matmul_into(d_context, attn, &dw, false, false, 1.0, 1.0)?;
        return Ok(AttentionGrads { dq, dw });
    }
    // Otherwise in chunks of pixels, then over the chunks.
    let chunks = p.div_ceil(WORD_GRAD_CHUNK).max(1);
    let partial = Tensor::uninit(rt, &[b, chunks, c, t])?;
    let n = b * chunks * c * t;
    if n > 0 {
        rt.dispatch(
            &spec_words(),
            &[
                b as u32,
                c as u32,
                p as u32,
                t as u32,
                WORD_GRAD_CHUNK as u32,
                chunks as u32,
                q.offset() as u32,
                ds.offset() as u32,
                attn.offset() as u32,
                d_context.offset() as u32,
                partial.offset() as u32,
            ],
            &[
                q.buffer(),
                ds.buffer(),
                attn.buffer(),
                d_context.buffer(),
                partial.buffer(),
            ],
            grid_1d(rt, n, 64),
        )?;
    }
    let dw = if chunks == 1 {
        partial.reshape(&[b, c, t])?
    } else {
        reduce(&partial, 1, ReduceOp::Sum, false)?
    };
    Ok(AttentionGrads { dq, dw })
}

/// Padding mask `[B, T]` (1 = a padding word, 0 = a word) from caption
/// lengths; T is the model's `max_words`. The masked softmax takes it.
pub fn padding_mask(rt: &Runtime, lengths: &[usize], max_words: usize) -> Result<Tensor> {
    let mut m = vec![1.0f32; lengths.len() * max_words];
    for (i, &l) in lengths.iter().enumerate() {
        m[i * max_words..i * max_words + l.min(max_words)].fill(0.0);
    }
    Tensor::from_slice(rt, &m, &[lengths.len(), max_words])
}

/// The attention maps on the host as [B, T, P] (one picture per word, as
/// AttnGAN draws them), from attn [B, P, T]. Reads back (waits for the device).
pub fn word_attention_maps(attn: &Tensor) -> Result<Vec<f32>> {
    let &[b, p, t] = attn.shape() else {
        return Err(Error::invalid(
            "word_attention_maps",
            format!("attn must be [B, P, T], got {:?}", attn.shape()),
        ));
    };
    let a = attn.to_vec()?;
    let mut out = vec![0.0; a.len()];
    for bi in 0..b {
        for pi in 0..p {
            for ti in 0..t {
                out[(bi * t + ti) * p + pi] = a[(bi * p + pi) * t + ti];
            }
        }
    }
    Ok(out)
}

/// (outer, len, inner) of x around `axis`.
fn axis_dims(op: &'static str, x: &Tensor, axis: usize) -> Result<(usize, usize, usize)> {
    let shape = x.shape();
    if axis >= shape.len() {
        return Err(Error::invalid(
            op,
            format!("axis {axis} out of range for shape {shape:?}"),
        ));
    }
    Ok((
        shape[..axis].iter().product(),
        shape[axis],
        shape[axis + 1..].iter().product(),
    ))
}

/// y = softmax(scale * x) along `axis`, over the entries whose mask is 0;
/// masked entries get 0 and a fully masked line all zeros (never NaN).
/// The mask is [M, L] with L the axis length and M dividing the product of
/// the axes before `axis` (outer): line o uses mask row o / (outer / M), and
/// the axes after `axis` share it. E.g. x [B, P, T], axis 2, mask [B, T];
/// or DAMSM's similarities [B, T, R] softmaxed over words (axis 1), mask [B, T].
// x: [.., L, ..], mask: [M, L] -> like x
pub fn masked_softmax(
    x: &Tensor,
    axis: usize,
    scale: f32,
    mask: Option<&Tensor>,
) -> Result<Tensor> {
    const OP: &str = "masked_softmax";
    let (outer, len, inner) = axis_dims(OP, x, axis)?;
    let mut group = 1;
    if let Some(m) = mask {
        let ok = match *m.shape() {
            [rows, l] => l == len && rows > 0 && outer % rows == 0,
            _ => false,
        };
        if !ok {
            return Err(Error::shape_hint(
                OP,
                x.shape(),
                m.shape(),
                format!(
                    "the mask must be [M, {len}] with M dividing {outer}, the product of the axes before axis {axis}"
                ),
            ));
        }
        group = outer / m.dim(0);
    }
    if len > LONG_LINE && outer * inner > 0 {
        return long_masked_softmax(x, (outer, len, inner), scale, mask);
    }
    let rt = x.runtime();
    let y = Tensor::uninit(rt, x.shape())?;
    let lines = outer * inner;
    if lines > 0 {
        let mut buffers = vec![x.buffer(), y.buffer()];
        if let Some(m) = mask {
            buffers.push(m.buffer());
        }
        rt.dispatch(
            &spec_softmax(false, mask.is_some()),
            &[
                outer as u32,
                len as u32,
                inner as u32,
                x.offset() as u32,
                0,
                y.offset() as u32,
                mask.map_or(0, |m| m.offset()) as u32,
                group as u32,
                scale.to_bits(),
            ],
            &buffers,
            grid_1d(rt, lines, 64),
        )?;
    }
    Ok(y)
}

/// [`masked_softmax`] of lines over [`LONG_LINE`], where the kernel's thread
/// per line would run into llvmpipe's loop cap (65,535 iterations per
/// invocation in all; three passes over a line of 30,000 were cut short):
/// the line maxima and sums come from chunked reductions, the rest is
/// elementwise. x is viewed as [mask rows, group, len, inner].
fn long_masked_softmax(
    x: &Tensor,
    (outer, len, inner): (usize, usize, usize),
    scale: f32,
    mask: Option<&Tensor>,
) -> Result<Tensor> {
    let rows = mask.map_or(1, |m| m.dim(0));
    let lines = [rows, outer / rows, len, inner];
    let z = x.reshape(&lines)?.mul_scalar(scale)?;
    // keep = 1 where the mask is below 0.5 (a real entry), as in the kernel.
    let keep = match mask {
        Some(m) => {
            Some(unary(&m.rsub_scalar(0.5)?, UnaryOp::Step, 0.0)?.reshape(&[rows, 1, len, 1])?)
        }
        None => None,
    };
    // Masked entries sit at -3.4e38 for the max, and are zeroed after exp.
    let z = match &keep {
        Some(k) => z.add(&k.add_scalar(-1.0)?.mul_scalar(3.4e38)?)?,
        None => z,
    };
    let mx = reduce(&z, 2, ReduceOp::Max, true)?;
    let e = z.sub(&mx)?.exp()?;
    let e = match &keep {
        Some(k) => e.mul(k)?,
        None => e,
    };
    // A fully masked line sums to 0 (else at least 1): its zeros stay zeros.
    let floor = super::fill::full(x.runtime(), &[1], 0.5)?;
    let sum = reduce(&e, 2, ReduceOp::Sum, true)?.maximum(&floor)?;
    e.div(&sum)?.reshape(x.shape())
}

/// Backward of [`masked_softmax`] from its output y: dx = scale * y * (dy - sum(y * dy)).
// y, dy: like x -> dx like x
pub fn masked_softmax_backward(y: &Tensor, dy: &Tensor, axis: usize, scale: f32) -> Result<Tensor> {
    const OP: &str = "masked_softmax_backward";
    if y.shape() != dy.shape() {
        return Err(Error::shape_hint(
            OP,
            y.shape(),
            dy.shape(),
            "y and dy must agree",
        ));
    }
    let (outer, len, inner) = axis_dims(OP, y, axis)?;
    if len > LONG_LINE && outer * inner > 0 {
        // As in long_masked_softmax: the dot along each line by chunked reductions.
        let (y3, dy3) = (
            y.reshape(&[outer, len, inner])?,
            dy.reshape(&[outer, len, inner])?,
        );
        let dot = reduce(&y3.mul(&dy3)?, 1, ReduceOp::Sum, true)?;
        return y3
            .mul(&dy3.sub(&dot)?)?
            .mul_scalar(scale)?
            .reshape(y.shape());
    }
    let rt = y.runtime();
    let dx = Tensor::uninit(rt, y.shape())?;
    let lines = outer * inner;
    if lines > 0 {
        rt.dispatch(
            &spec_softmax(true, false),
            &[
                outer as u32,
                len as u32,
                inner as u32,
                y.offset() as u32,
                dy.offset() as u32,
                dx.offset() as u32,
                0,
                1,
                scale.to_bits(),
            ],
            &[y.buffer(), dx.buffer(), dy.buffer()],
            grid_1d(rt, lines, 64),
        )?;
    }
    Ok(dx)
}
