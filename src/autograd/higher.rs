//! Gradients as differentiable values: [`grad`] with `create_graph` records
//! the backward pass itself as ops of the tape, so that a loss built from
//! gradients (DF-GAN's matching-aware gradient penalty, a gradient norm)
//! backpropagates to the weights in turn.
//!
//! First-order backward closures (the rest of this module) compute tensors
//! and are consumed as they run. For a second order, an op also records its
//! `Rule`: what it was, with the constants its backward needs. [`grad`]
//! walks the graph without consuming anything and applies each node's rule
//! with Var ops, so the gradients it returns are themselves in the graph.
//!
//! The ops with a rule are those a discriminator uses: conv2d (input,
//! weight and bias), matmul / linear, leaky ReLU and ReLU, add, sub, mul,
//! scalar scale and shift, reshape, concat and narrow, sum and mean along an
//! axis, and average pooling. [`grad`] names any other op it meets on the
//! way to the inputs. The rules' own backwards (the ops below: the conv
//! gradients as ops, pooling's adjoint) are first-order only: gradients of
//! gradients, not a third order.

use std::collections::{HashMap, HashSet};

use super::Var;
use crate::ops::{activation, conv, fill, pool};
use crate::runtime::{Error, Result, Tensor};

/// How a node's inputs' gradients follow from its output's, as Var ops.
#[derive(Debug, Clone)]
pub(crate) enum Rule {
    Add,
    Sub,
    Mul,
    Scale(f32),
    Shift,
    Reshape,
    Sum { axis: usize, scale: f32 },
    Matmul { ta: bool, tb: bool },
    LeakyRelu(f32),
    Concat { axis: usize },
    Narrow { axis: usize, start: usize },
    Conv2d { stride: usize, pad: usize },
    AvgPool { k: usize, s: usize },
}

/// The gradients of `output` (seeded with ones, as PyTorch's
/// `grad_outputs=ones`) with respect to `inputs`, each of its input's shape
/// (zeros where the output does not depend on it). With `create_graph` they
/// are recorded (differentiable: a loss made of them backpropagates into
/// whatever the output was computed from); without, they are constants.
/// Nothing is consumed: `output.backward()` still works afterwards.
pub fn grad(output: &Var, inputs: &[&Var], create_graph: bool) -> Result<Vec<Var>> {
    if create_graph {
        grad_inner(output, inputs)
    } else {
        let gs = super::no_grad(|| grad_inner(output, inputs))?;
        Ok(gs.into_iter().map(|g| g.detach()).collect())
    }
}

fn parents_of(v: &Var) -> Option<Vec<Var>> {
    v.0.grad_fn
        .lock()
        .unwrap()
        .as_ref()
        .map(|(_, parents)| parents.clone())
}

fn grad_inner(output: &Var, inputs: &[&Var]) -> Result<Vec<Var>> {
    let rt = output.value().runtime().clone();
    let wanted: HashSet<u64> = inputs.iter().map(|v| v.0.id).collect();
    // Post-order: every node after its parents.
    let mut order: Vec<(Var, Vec<Var>)> = Vec::new();
    let mut seen: HashSet<u64> = HashSet::new();
    let mut stack: Vec<(Var, bool)> = vec![(output.clone(), false)];
    while let Some((v, expanded)) = stack.pop() {
        let parents = parents_of(&v).unwrap_or_default();
        if expanded {
            order.push((v, parents));
            continue;
        }
        if !seen.insert(v.0.id) {
            continue;
        }
        stack.push((v.clone(), true));
        for p in &parents {
            if p.requires_grad() && !seen.contains(&p.0.id) {
                stack.push((p.clone(), false));
            }
        }
    }
    // Nodes from which a wanted input is reached: only their gradients are made.
    let mut leads: HashSet<u64> = HashSet::new();
    for (v, parents) in &order {
        if wanted.contains(&v.0.id) || parents.iter().any(|p| leads.contains(&p.0.id)) {
            leads.insert(v.0.id);
        }
    }
    let mut grads: HashMap<u64, Var> = HashMap::new();
    grads.insert(
        output.0.id,
        Var::constant(fill::full(&rt, output.shape(), 1.0)?),
    );
    let mut found: HashMap<u64, Var> = HashMap::new();
    for (v, parents) in order.iter().rev() {
        if !leads.contains(&v.0.id) {
            continue;
        }
        let Some(g) = grads.remove(&v.0.id) else {
            continue;
        };
        if wanted.contains(&v.0.id) {
            found.insert(v.0.id, g.clone());
        }
        if parents.is_empty() {
            continue;
        }
        let need: Vec<bool> = parents
            .iter()
            .map(|p| p.requires_grad() && leads.contains(&p.0.id))
            .collect();
        if !need.iter().any(|&n| n) {
            continue;
        }
        let Some(rule) = v.0.rule.get() else {
            return Err(Error::invalid(
                "grad",
                format!(
                    "an op making a {:?} value on the way to the inputs has no second-order rule; grad(create_graph) supports conv2d, matmul, leaky ReLU, add, sub, mul, scale and shift, reshape, concat, narrow, sum, mean and average pooling",
                    v.shape()
                ),
            ));
        };
        let pgs = apply(rule, &g, v, parents, &need)?;
        for ((p, pg), n) in parents.iter().zip(pgs).zip(&need) {
            let (Some(pg), true) = (pg, *n) else { continue };
            let merged = match grads.remove(&p.0.id) {
                Some(acc) => acc.add(&pg)?,
                None => pg,
            };
            grads.insert(p.0.id, merged);
        }
    }
    inputs
        .iter()
        .map(|x| match found.remove(&x.0.id) {
            Some(g) => Ok(g),
            None => Ok(Var::constant(fill::zeros(&rt, x.shape())?)),
        })
        .collect()
}

/// Sums a broadcast gradient back down to `shape`, as Var ops.
fn sum_to(g: &Var, shape: &[usize]) -> Result<Var> {
    if g.shape() == shape {
        return Ok(g.clone());
    }
    let mut t = g.clone();
    while t.shape().len() > shape.len() {
        t = t.sum(0, false)?;
    }
    for (axis, &d) in shape.iter().enumerate() {
        if d == 1 && t.shape()[axis] != 1 {
            t = t.sum(axis, true)?;
        }
    }
    t.reshape(shape)
}

fn maybe(need: bool, f: impl FnOnce() -> Result<Var>) -> Result<Option<Var>> {
    if need {
        f().map(Some)
    } else {
        Ok(None)
    }
}

/// The inputs' gradients of node `v` (made from `parents`) given its
/// output's gradient `g`, where `need` says.
fn apply(rule: &Rule, g: &Var, v: &Var, p: &[Var], need: &[bool]) -> Result<Vec<Option<Var>>> {
    let rt = g.value().runtime();
    Ok(match *rule {
        Rule::Add => vec![
            maybe(need[0], || sum_to(g, p[0].shape()))?,
            maybe(need[1], || sum_to(g, p[1].shape()))?,
        ],
        Rule::Sub => vec![
            maybe(need[0], || sum_to(g, p[0].shape()))?,
            maybe(need[1], || sum_to(&g.neg()?, p[1].shape()))?,
        ],
        Rule::Mul => vec![
            maybe(need[0], || sum_to(&g.mul(&p[1])?, p[0].shape()))?,
            maybe(need[1], || sum_to(&g.mul(&p[0])?, p[1].shape()))?,
        ],
        Rule::Scale(s) => vec![maybe(need[0], || g.mul_scalar(s))?],
        Rule::Shift => vec![Some(g.clone())],
        Rule::Reshape => vec![maybe(need[0], || g.reshape(p[0].shape()))?],
        Rule::Sum { axis, scale } => vec![maybe(need[0], || {
            let shape = p[0].shape();
            let mut kept = shape.to_vec();
            kept[axis] = 1;
            let spread = Var::constant(fill::full(rt, shape, scale)?);
            spread.mul(&g.reshape(&kept)?)
        })?],
        Rule::Matmul { ta, tb } => {
            let (a, b) = (&p[0], &p[1]);
            // C = A B: dA = G B^T, dB = A^T G (transposes folded in), then
            // summed over a broadcast batch, as the first order.
            vec![
                maybe(need[0], || {
                    let d = if ta {
                        b.matmul(g, tb, true)?
                    } else {
                        g.matmul(b, false, !tb)?
                    };
                    fold(&d, a.shape())
                })?,
                maybe(need[1], || {
                    let d = if tb {
                        g.matmul(a, true, ta)?
                    } else {
                        a.matmul(g, !ta, false)?
                    };
                    fold(&d, b.shape())
                })?,
            ]
        }
        Rule::LeakyRelu(slope) => vec![maybe(need[0], || {
            // The slope where the input was negative, 1 elsewhere: constant
            // in the input (its derivative is zero almost everywhere).
            let x = p[0].value();
            let mask = activation::leaky_relu_backward(x, &fill::full(rt, x.shape(), 1.0)?, slope)?;
            g.mul(&Var::constant(mask))
        })?],
        Rule::Concat { axis } => {
            let mut start = 0;
            let mut out = Vec::new();
            for (x, &n) in p.iter().zip(need) {
                let len = x.shape()[axis];
                out.push(maybe(n, || super::narrow(g, axis, start, len))?);
                start += len;
            }
            out
        }
        Rule::Narrow { axis, start } => vec![maybe(need[0], || {
            let shape = p[0].shape();
            let len = v.shape()[axis];
            let mut parts: Vec<Var> = Vec::new();
            let mut before = shape.to_vec();
            before[axis] = start;
            let mut after = shape.to_vec();
            after[axis] = shape[axis] - start - len;
            if start > 0 {
                parts.push(Var::constant(fill::zeros(rt, &before)?));
            }
            parts.push(g.clone());
            if after[axis] > 0 {
                parts.push(Var::constant(fill::zeros(rt, &after)?));
            }
            let refs: Vec<&Var> = parts.iter().collect();
            super::concat(&refs, axis)
        })?],
        Rule::Conv2d { stride, pad } => {
            let (x, w) = (&p[0], &p[1]);
            let mut out = vec![
                maybe(need[0], || {
                    conv2d_input_grad(g, w, [x.shape()[2], x.shape()[3]], stride, pad)
                })?,
                maybe(need[1], || {
                    conv2d_weight_grad(x, g, [w.shape()[2], w.shape()[3]], stride, pad)
                })?,
            ];
            if p.len() == 3 {
                out.push(maybe(need[2], || {
                    let o = g.shape()[1];
                    g.sum(3, false)?.sum(2, false)?.sum(0, false)?.reshape(&[o])
                })?);
            }
            out
        }
        Rule::AvgPool { k, s } => vec![maybe(need[0], || {
            avg_pool2d_adjoint(g, p[0].shape(), k, s)
        })?],
    })
}

/// The backward of matmul's batch broadcast as Var ops: d `[batch, r, c]`
/// summed down to an operand of shape `[r, c]` or `[nb, r, c]`.
fn fold(d: &Var, shape: &[usize]) -> Result<Var> {
    if d.shape() == shape {
        return Ok(d.clone());
    }
    let (batch, r, c) = (d.shape()[0], d.shape()[1], d.shape()[2]);
    let nb = if shape.len() == 3 { shape[0] } else { 1 };
    d.reshape(&[batch / nb, nb * r * c])?
        .sum(0, false)?
        .reshape(shape)
}

/// conv2d's input gradient as an op: dy `[N, O, OH, OW]`, weight `[O, C,
/// KH, KW]` -> dx `[N, C, H, W]`. It is bilinear in (dy, weight): for an
/// upstream gradient u of dx, dy gets conv2d(u, weight) and the weight
/// conv2d's weight gradient of input u against dy.
pub fn conv2d_input_grad(
    dy: &Var,
    weight: &Var,
    hw: [usize; 2],
    stride: usize,
    pad: usize,
) -> Result<Var> {
    let dx = conv::conv2d_backward_data(dy.value(), weight.value(), hw, stride, pad)?;
    let (dyv, wv) = (dy.value().clone(), weight.value().clone());
    let (rd, rw) = (dy.requires_grad(), weight.requires_grad());
    let kernel = [wv.dim(2), wv.dim(3)];
    Ok(Var::from_op(dx, &[dy, weight], move |u| {
        Ok(vec![
            if rd {
                Some(conv::conv2d(u, &wv, None, stride, pad)?)
            } else {
                None
            },
            if rw {
                Some(conv::conv2d_backward_weight(u, &dyv, kernel, stride, pad)?)
            } else {
                None
            },
        ])
    }))
}

/// conv2d's weight gradient as an op: x `[N, C, H, W]`, dy `[N, O, OH, OW]`
/// -> dw `[O, C, KH, KW]`. For an upstream gradient u of dw, x gets
/// conv2d's input gradient of dy through u, and dy gets conv2d(x, u).
pub fn conv2d_weight_grad(
    x: &Var,
    dy: &Var,
    kernel: [usize; 2],
    stride: usize,
    pad: usize,
) -> Result<Var> {
    let dw = conv::conv2d_backward_weight(x.value(), dy.value(), kernel, stride, pad)?;
    let (xv, dyv) = (x.value().clone(), dy.value().clone());
    let (rx, rd) = (x.requires_grad(), dy.requires_grad());
    let hw = [xv.dim(2), xv.dim(3)];
    Ok(Var::from_op(dw, &[x, dy], move |u| {
        Ok(vec![
            if rx {
                Some(conv::conv2d_backward_data(&dyv, u, hw, stride, pad)?)
            } else {
                None
            },
            if rd {
                Some(conv::conv2d(&xv, u, None, stride, pad)?)
            } else {
                None
            },
        ])
    }))
}

/// Average pooling's backward as an op (its adjoint): dy `[N, C, OH, OW]`
/// -> `[N, C, H, W]`; its own backward is the pooling.
fn avg_pool2d_adjoint(dy: &Var, x_shape: &[usize], k: usize, s: usize) -> Result<Var> {
    let dx = pool::avg_pool2d_backward(dy.value(), x_shape, k, s)?;
    Ok(Var::from_op(dx, &[dy], move |u: &Tensor| {
        Ok(vec![Some(pool::avg_pool2d(u, k, s)?)])
    }))
}

impl Var {
    /// Records how this node's inputs' gradients follow as Var ops (for
    /// [`grad`] with `create_graph`); a no-op on constants.
    pub(crate) fn with_rule(self, rule: Rule) -> Var {
        if self.0.grad_fn.lock().unwrap().is_some() {
            let _ = self.0.rule.set(rule);
        }
        self
    }
}
