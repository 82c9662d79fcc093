//! Batch norm over channels for [N, C, H, W] (BatchNorm2d) and [N, C]
//! (BatchNorm1d) tensors: training mode (batch statistics, running statistics
//! updated in place), eval mode (running statistics) and the training-mode
//! backward. Any rank >= 2 works: axis 1 is the channel, the axes after it
//! are flattened into `inner`.

use super::grid_1d;
use crate::runtime::{Error, Flavour, KernelSpec, Result, Runtime, Tensor};

/// PyTorch's defaults.
pub const BN_EPS: f32 = 1e-5;
pub const BN_MOMENTUM: f32 = 0.1;

/// Channels with at least this many elements get a workgroup each (tree
/// reduction); shorter ones a thread each (no barriers, which lavapipe pays dearly).
const TREE_MIN: usize = 1024;
/// A channel's workgroup: 256 threads on real GPUs; 64 on software GPUs
/// when the kernels move vec4s (llvmpipe pays for every thread's share of
/// the tree's barriers: forward [8,64,64,64] 3.7-4.1 ms with 256, 3.3 with
/// 128, 3.1 with 64 or 32, on the Zen 4 of batch_norm.wgsl's history).
/// Scalar kernels keep 256: with 64, a 2M-value channel's passes would
/// pass llvmpipe's 65,535 loop iterations per invocation.
const TREE_WG: u32 = 256;
const TREE_WG_SOFTWARE: u32 = 64;
/// Channels with more elements than this take chunked reductions and
/// elementwise ops instead of the kernels: llvmpipe ends the loops of one
/// invocation after 65,535 iterations in all, with no error, and the
/// kernels' three passes of count / 256 per thread were cut short at 6.5M
/// values per channel (the limit is about 5.6M).
const LONG_CHANNEL: usize = 1 << 21;
const THREAD_WG: u32 = 64;

/// The workgroup size: a channel's (tree) or a workgroup of channels'.
fn wg(rt: &Runtime, tree: bool, vec4: bool) -> u32 {
    if !tree {
        THREAD_WG
    } else if vec4 && rt.flavour() != Flavour::Tiled {
        TREE_WG_SOFTWARE
    } else {
        TREE_WG
    }
}

pub(crate) fn spec_train(tree: bool, wg: u32, running: bool, vec4: bool) -> KernelSpec {
    KernelSpec::new("batch_norm")
        .define("TREE", tree as u32)
        .define("WG", wg)
        .define("RUNNING", running as u32)
        .define("VEC4", vec4 as u32)
}

pub(crate) fn spec_backward(tree: bool, wg: u32, vec4: bool) -> KernelSpec {
    KernelSpec::new("batch_norm_backward")
        .define("TREE", tree as u32)
        .define("WG", wg)
        .define("VEC4", vec4 as u32)
}

pub(crate) fn spec_eval() -> KernelSpec {
    KernelSpec::new("batch_norm_eval")
}

pub(crate) fn all_specs() -> Vec<KernelSpec> {
    let mut v = vec![spec_eval()];
    for (tree, wg) in [
        (false, THREAD_WG),
        (true, TREE_WG),
        (true, TREE_WG_SOFTWARE),
    ] {
        for vec4 in [false, true] {
            v.push(spec_backward(tree, wg, vec4));
            for running in [false, true] {
                v.push(spec_train(tree, wg, running, vec4));
            }
        }
    }
    v
}

/// What the training forward keeps for the backward.
#[derive(Clone, Debug)]
pub struct BatchNormSaved {
    /// [3, C]: the batch mean per channel (rounded to f32), 1 / sqrt(biased
    /// var + eps), and the mean's rounding error (mean = row 0 + row 2, so
    /// that x - mean stays accurate for inputs far from zero).
    pub stats: Tensor,
}

impl BatchNormSaved {
    /// `[C]`: the batch mean.
    pub fn mean(&self) -> Result<Tensor> {
        let c = self.stats.dim(1);
        self.stats.narrow(0, 1)?.reshape(&[c])
    }
    /// `[C]`: 1 / sqrt(var + eps) of the batch.
    pub fn invstd(&self) -> Result<Tensor> {
        let c = self.stats.dim(1);
        self.stats.narrow(1, 1)?.reshape(&[c])
    }
}

/// Gradients of the batch-norm backward.
#[derive(Clone, Debug)]
pub struct BatchNormGrads {
    /// Like x.
    pub dx: Tensor,
    /// `[C]`
    pub dgamma: Tensor,
    /// `[C]`
    pub dbeta: Tensor,
}

/// (n, c, inner) of x, after checking that the per-channel tensors are [C].
fn dims(
    op: &'static str,
    x: &Tensor,
    per_channel: &[(&str, &Tensor)],
) -> Result<(usize, usize, usize)> {
    let shape = x.shape();
    if shape.len() < 2 {
        return Err(Error::invalid(
            op,
            format!("x must be [N, C] or [N, C, H, W], got {shape:?}"),
        ));
    }
    let (n, c) = (shape[0], shape[1]);
    let inner: usize = shape[2..].iter().product();
    for (name, t) in per_channel {
        if t.shape() != [c] {
            return Err(Error::shape_hint(
                op,
                shape,
                t.shape(),
                format!("{name} must be [C] = [{c}] for x"),
            ));
        }
    }
    Ok((n, c, inner))
}

/// Training mode: normalises each channel by its batch statistics.
// x: [N, C, H, W] or [N, C], gamma, beta: [C], running (mean, var): [C], [C]
// -> y like x, saved stats [3, C]. The running statistics, when given, are
// updated in place: running = (1 - momentum) * running + momentum * batch
// (unbiased batch variance for running_var).
pub fn batch_norm_train(
    x: &Tensor,
    gamma: &Tensor,
    beta: &Tensor,
    running: Option<(&Tensor, &Tensor)>,
    momentum: f32,
    eps: f32,
) -> Result<(Tensor, BatchNormSaved)> {
    const OP: &str = "batch_norm_train";
    let mut checks = vec![("gamma", gamma), ("beta", beta)];
    if let Some((rm, rv)) = running {
        checks.push(("running_mean", rm));
        checks.push(("running_var", rv));
    }
    let (n, c, inner) = dims(OP, x, &checks)?;
    let count = n * inner;
    if count < 2 {
        // As in PyTorch: the variance of one value is meaningless.
        return Err(Error::invalid(
            OP,
            format!(
                "expected more than 1 value per channel when training, got x of shape {:?}",
                x.shape()
            ),
        ));
    }
    if eps.is_nan() || eps <= 0.0 {
        return Err(Error::invalid(
            OP,
            format!("eps must be positive, got {eps}"),
        ));
    }
    if count > LONG_CHANNEL {
        return train_long(x, (n, c, inner), gamma, beta, running, momentum, eps);
    }
    let rt = x.runtime();
    let y = Tensor::uninit(rt, x.shape())?;
    let stats = Tensor::uninit(rt, &[3, c])?;
    let tree = count >= TREE_MIN;
    let (rm_off, rv_off) = running.map_or((0, 0), |(m, v)| (m.offset(), v.offset()));
    let params = [
        n as u32,
        c as u32,
        inner as u32,
        x.offset() as u32,
        gamma.offset() as u32,
        beta.offset() as u32,
        y.offset() as u32,
        stats.offset() as u32,
        rm_off as u32,
        rv_off as u32,
        momentum.to_bits(),
        eps.to_bits(),
    ];
    let mut buffers = vec![
        x.buffer(),
        gamma.buffer(),
        beta.buffer(),
        y.buffer(),
        stats.buffer(),
    ];
    if let Some((rm, rv)) = running {
        buffers.push(rm.buffer());
        buffers.push(rv.buffer());
    }
    let groups = if tree {
        rt.fold_grid(c as u32)
    } else {
        grid_1d(rt, c, THREAD_WG as usize)
    };
    let vec4 = super::vec4_fits(&[inner], &[x, &y]); // a channel's runs
    rt.dispatch(
        &spec_train(tree, wg(rt, tree, vec4), running.is_some(), vec4),
        &params,
        &buffers,
        groups,
    )?;
    Ok((y, BatchNormSaved { stats }))
}

/// Sum over all but the channel axis of t [n, c, inner] -> [1, c, 1], by
/// chunked reductions (no loop of one invocation over a whole channel).
fn per_channel_sum(t: &Tensor) -> Result<Tensor> {
    t.sum(2, true)?.sum(0, true)
}

/// [`batch_norm_train`] of channels over [`LONG_CHANNEL`] elements, with the
/// kernel's arithmetic (two-pass variance, the mean as hi + lo) in chunked
/// reductions and elementwise ops.
fn train_long(
    x: &Tensor,
    (n, c, inner): (usize, usize, usize),
    gamma: &Tensor,
    beta: &Tensor,
    running: Option<(&Tensor, &Tensor)>,
    momentum: f32,
    eps: f32,
) -> Result<(Tensor, BatchNormSaved)> {
    let count = (n * inner) as f32;
    let x3 = x.reshape(&[n, c, inner])?;
    let mean0 = per_channel_sum(&x3)?.div_scalar(count)?;
    let d = x3.sub(&mean0)?;
    let d1 = per_channel_sum(&d)?.div_scalar(count)?;
    let d2 = per_channel_sum(&d.square()?)?.div_scalar(count)?;
    let mean = mean0.add(&d1)?;
    // Fast2Sum: exact since |mean0| >= |d1|.
    let mean_lo = mean0.sub(&mean)?.add(&d1)?;
    let var_biased = d2.sub(&d1.square()?)?.relu()?;
    let invstd = var_biased.add_scalar(eps)?.sqrt()?.rdiv_scalar(1.0)?;
    let scale = gamma.reshape(&[1, c, 1])?.mul(&invstd)?;
    let y = x3
        .sub(&mean)?
        .sub(&mean_lo)?
        .mul(&scale)?
        .add(&beta.reshape(&[1, c, 1])?)?
        .reshape(x.shape())?;
    let row = |t: &Tensor| t.reshape(&[1, c]);
    let stats = super::concat::concat(&[&row(&mean)?, &row(&invstd)?, &row(&mean_lo)?], 0)?;
    if let Some((rm, rv)) = running {
        let unbiased = var_biased.mul_scalar(count / (count - 1.0).max(1.0))?;
        for (run, batch) in [(rm, &mean), (rv, &unbiased)] {
            let new = run
                .mul_scalar(1.0 - momentum)?
                .add(&batch.reshape(&[c])?.mul_scalar(momentum)?)?;
            super::fill::copy_into(&new, run)?;
        }
    }
    Ok((y, BatchNormSaved { stats }))
}

/// [`batch_norm_backward`] of channels over [`LONG_CHANNEL`] elements (see
/// [`train_long`]).
fn backward_long(
    dy: &Tensor,
    x: &Tensor,
    (n, c, inner): (usize, usize, usize),
    gamma: &Tensor,
    saved: &BatchNormSaved,
) -> Result<BatchNormGrads> {
    let count = (n * inner) as f32;
    let stat = |i: usize| saved.stats.narrow(i, 1)?.reshape(&[1, c, 1]);
    let (mean, invstd, mean_lo) = (stat(0)?, stat(1)?, stat(2)?);
    let x3 = x.reshape(&[n, c, inner])?;
    let dy3 = dy.reshape(&[n, c, inner])?;
    let xhat = x3.sub(&mean)?.sub(&mean_lo)?.mul(&invstd)?;
    let dbeta = per_channel_sum(&dy3)?;
    let dgamma = per_channel_sum(&dy3.mul(&xhat)?)?;
    let k = gamma.reshape(&[1, c, 1])?.mul(&invstd)?;
    let dx = dy3
        .sub(&dbeta.div_scalar(count)?)?
        .sub(&xhat.mul(&dgamma.div_scalar(count)?)?)?
        .mul(&k)?
        .reshape(x.shape())?;
    Ok(BatchNormGrads {
        dx,
        dgamma: dgamma.reshape(&[c])?,
        dbeta: dbeta.reshape(&[c])?,
    })
}

/// Eval mode: normalises by the running statistics.
// x: [N, C, H, W] or [N, C], gamma, beta, running_mean, running_var: [C] -> y like x
pub fn batch_norm_eval(
    x: &Tensor,
    gamma: &Tensor,
    beta: &Tensor,
    running_mean: &Tensor,
    running_var: &Tensor,
    eps: f32,
) -> Result<Tensor> {
    const OP: &str = "batch_norm_eval";
    let (n, c, inner) = dims(
        OP,
        x,
        &[
            ("gamma", gamma),
            ("beta", beta),
            ("running_mean", running_mean),
            ("running_var", running_var),
        ],
    )?;
    let rt = x.runtime();
    let y = Tensor::uninit(rt, x.shape())?;
    let total = n * c * inner;
    if total > 0 {
        rt.dispatch(
            &spec_eval(),
            &[
                total as u32,
                c as u32,
                inner as u32,
                x.offset() as u32,
                gamma.offset() as u32,
                beta.offset() as u32,
                running_mean.offset() as u32,
                running_var.offset() as u32,
                y.offset() as u32,
                eps.to_bits(),
            ],
            &[
                x.buffer(),
                gamma.buffer(),
                beta.buffer(),
                running_mean.buffer(),
                running_var.buffer(),
                y.buffer(),
            ],
            grid_1d(rt, total, 256),
        )?;
    }
    Ok(y)
}

/// Backward of [`batch_norm_train`] to x, gamma and beta.
// dy, x: [N, C, H, W] or [N, C], gamma: [C], saved: [3, C] -> dx like x, dgamma, dbeta: [C]
pub fn batch_norm_backward(
    dy: &Tensor,
    x: &Tensor,
    gamma: &Tensor,
    saved: &BatchNormSaved,
) -> Result<BatchNormGrads> {
    const OP: &str = "batch_norm_backward";
    if dy.shape() != x.shape() {
        return Err(Error::shape_hint(
            OP,
            dy.shape(),
            x.shape(),
            "dy must have x's shape",
        ));
    }
    let (n, c, inner) = dims(OP, x, &[("gamma", gamma)])?;
    if saved.stats.shape() != [3, c] {
        return Err(Error::shape_hint(
            OP,
            saved.stats.shape(),
            &[3, c],
            "saved statistics must be [3, C]",
        ));
    }
    let count = n * inner;
    if count > LONG_CHANNEL {
        return backward_long(dy, x, (n, c, inner), gamma, saved);
    }
    let rt = x.runtime();
    let dx = Tensor::uninit(rt, x.shape())?;
    let dparams = Tensor::uninit(rt, &[2, c])?;
    let tree = count >= TREE_MIN;
    let groups = if tree {
        rt.fold_grid(c as u32)
    } else {
        grid_1d(rt, c, THREAD_WG as usize)
    };
    let vec4 = super::vec4_fits(&[inner], &[dy, x, &dx]);
    rt.dispatch(
        &spec_backward(tree, wg(rt, tree, vec4), vec4),
        &[
            n as u32,
            c as u32,
            inner as u32,
            dy.offset() as u32,
            x.offset() as u32,
            gamma.offset() as u32,
            saved.stats.offset() as u32,
            dx.offset() as u32,
            dparams.offset() as u32,
        ],
        &[
            dy.buffer(),
            x.buffer(),
            gamma.buffer(),
            saved.stats.buffer(),
            dx.buffer(),
            dparams.buffer(),
        ],
        groups,
    )?;
    Ok(BatchNormGrads {
        dx,
        dgamma: dparams.narrow(0, 1)?.reshape(&[c])?,
        dbeta: dparams.narrow(1, 1)?.reshape(&[c])?,
    })
}
