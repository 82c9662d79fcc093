//! Differentiable elementwise, broadcasting, reduction and matmul ops: each
//! forward with its backward beside it.

use super::higher::Rule;
use super::Var;
use crate::ops::activation;
use crate::ops::matmul::{matmul, matmul_sum};
use crate::ops::reduce::{reduce, ReduceOp};
use crate::runtime::{Result, Tensor};

/// Sums a broadcast gradient back down to `shape` (the backward of broadcasting).
pub fn sum_to_shape(g: &Tensor, shape: &[usize]) -> Result<Tensor> {
    if g.shape() == shape {
        return Ok(g.clone());
    }
    let mut t = g.clone();
    // Leading axes the input did not have.
    while t.rank() > shape.len() {
        t = reduce(&t, 0, ReduceOp::Sum, false)?;
        if t.rank() == 1 && shape.len() == 1 && t.shape() == shape {
            break;
        }
    }
    if t.rank() == shape.len() {
        for (axis, &d) in shape.iter().enumerate() {
            if d == 1 && t.dim(axis) != 1 {
                t = reduce(&t, axis, ReduceOp::Sum, true)?;
            }
        }
    }
    t.reshape(shape)
}

impl Var {
    // ---- broadcasting binary ops: z = x op y

    pub fn add(&self, y: &Var) -> Result<Var> {
        let z = self.value().add(y.value())?;
        let (sx, sy) = (self.shape().to_vec(), y.shape().to_vec());
        Ok(Var::from_op(z, &[self, y], move |g| {
            Ok(vec![
                Some(sum_to_shape(g, &sx)?),
                Some(sum_to_shape(g, &sy)?),
            ])
        })
        .with_rule(Rule::Add))
    }

    pub fn sub(&self, y: &Var) -> Result<Var> {
        let z = self.value().sub(y.value())?;
        let (sx, sy) = (self.shape().to_vec(), y.shape().to_vec());
        Ok(Var::from_op(z, &[self, y], move |g| {
            Ok(vec![
                Some(sum_to_shape(g, &sx)?),
                Some(sum_to_shape(&g.neg()?, &sy)?),
            ])
        })
        .with_rule(Rule::Sub))
    }

    pub fn mul(&self, y: &Var) -> Result<Var> {
        let z = self.value().mul(y.value())?;
        let (a, b) = (self.value().clone(), y.value().clone());
        let (ra, rb) = (self.requires_grad(), y.requires_grad());
        Ok(Var::from_op(z, &[self, y], move |g| {
            let ga = if ra {
                Some(sum_to_shape(&g.mul(&b)?, a.shape())?)
            } else {
                None
            };
            let gb = if rb {
                Some(sum_to_shape(&g.mul(&a)?, b.shape())?)
            } else {
                None
            };
            Ok(vec![ga, gb])
        })
        .with_rule(Rule::Mul))
    }

    pub fn div(&self, y: &Var) -> Result<Var> {
        let z = self.value().div(y.value())?;
        let (a, b, zc) = (self.value().clone(), y.value().clone(), z.clone());
        Ok(Var::from_op(z, &[self, y], move |g| {
            let ga = sum_to_shape(&g.div(&b)?, a.shape())?;
            // d(a/b)/db = -a/b^2 = -z/b
            let gb = sum_to_shape(&g.mul(&zc)?.div(&b)?.neg()?, b.shape())?;
            Ok(vec![Some(ga), Some(gb)])
        }))
    }

    // ---- scalar forms

    pub fn add_scalar(&self, s: f32) -> Result<Var> {
        Ok(Var::from_op(self.value().add_scalar(s)?, &[self], |g| {
            Ok(vec![Some(g.clone())])
        })
        .with_rule(Rule::Shift))
    }

    pub fn mul_scalar(&self, s: f32) -> Result<Var> {
        Ok(
            Var::from_op(self.value().mul_scalar(s)?, &[self], move |g| {
                Ok(vec![Some(g.mul_scalar(s)?)])
            })
            .with_rule(Rule::Scale(s)),
        )
    }

    pub fn neg(&self) -> Result<Var> {
        self.mul_scalar(-1.0)
    }

    /// s - x
    pub fn rsub_scalar(&self, s: f32) -> Result<Var> {
        Ok(Var::from_op(self.value().rsub_scalar(s)?, &[self], |g| {
            Ok(vec![Some(g.neg()?)])
        }))
    }

    // ---- unary functions; backward from the saved input or output

    pub fn relu(&self) -> Result<Var> {
        let x = self.value().clone();
        Ok(Var::from_op(x.relu()?, &[self], move |g| {
            Ok(vec![Some(activation::relu_backward(&x, g)?)])
        })
        .with_rule(Rule::LeakyRelu(0.0)))
    }

    pub fn leaky_relu(&self, slope: f32) -> Result<Var> {
        let x = self.value().clone();
        Ok(Var::from_op(x.leaky_relu(slope)?, &[self], move |g| {
            Ok(vec![Some(activation::leaky_relu_backward(&x, g, slope)?)])
        })
        .with_rule(Rule::LeakyRelu(slope)))
    }

    pub fn sigmoid(&self) -> Result<Var> {
        let y = self.value().sigmoid()?;
        let yc = y.clone();
        Ok(Var::from_op(y, &[self], move |g| {
            Ok(vec![Some(g.mul(&yc.mul(&yc.rsub_scalar(1.0)?)?)?)])
        }))
    }

    pub fn tanh(&self) -> Result<Var> {
        let y = self.value().tanh()?;
        let yc = y.clone();
        Ok(Var::from_op(y, &[self], move |g| {
            Ok(vec![Some(g.mul(&yc.square()?.rsub_scalar(1.0)?)?)])
        }))
    }

    pub fn exp(&self) -> Result<Var> {
        let y = self.value().exp()?;
        let yc = y.clone();
        Ok(Var::from_op(y, &[self], move |g| {
            Ok(vec![Some(g.mul(&yc)?)])
        }))
    }

    pub fn log(&self) -> Result<Var> {
        let x = self.value().clone();
        Ok(Var::from_op(x.log()?, &[self], move |g| {
            Ok(vec![Some(g.div(&x)?)])
        }))
    }

    pub fn square(&self) -> Result<Var> {
        let x = self.value().clone();
        Ok(Var::from_op(x.square()?, &[self], move |g| {
            Ok(vec![Some(g.mul(&x)?.mul_scalar(2.0)?)])
        }))
    }

    pub fn sqrt(&self) -> Result<Var> {
        let y = self.value().sqrt()?;
        let yc = y.clone();
        Ok(Var::from_op(y, &[self], move |g| {
            Ok(vec![Some(g.div(&yc)?.mul_scalar(0.5)?)])
        }))
    }

    // ---- shape

    /// No copy; the gradient is reshaped back.
    pub fn reshape(&self, shape: &[usize]) -> Result<Var> {
        let old = self.shape().to_vec();
        Ok(
            Var::from_op(self.value().reshape(shape)?, &[self], move |g| {
                Ok(vec![Some(g.reshape(&old)?)])
            })
            .with_rule(Rule::Reshape),
        )
    }

    // ---- reductions

    pub fn sum(&self, axis: usize, keepdim: bool) -> Result<Var> {
        let shape = self.shape().to_vec();
        let y = self.value().sum(axis, keepdim)?;
        Ok(Var::from_op(y, &[self], move |g| {
            Ok(vec![Some(expand_along(g, &shape, axis, 1.0)?)])
        })
        .with_rule(Rule::Sum { axis, scale: 1.0 }))
    }

    pub fn mean(&self, axis: usize, keepdim: bool) -> Result<Var> {
        let shape = self.shape().to_vec();
        let y = self.value().mean(axis, keepdim)?;
        let scale = 1.0 / shape[axis] as f32;
        Ok(Var::from_op(y, &[self], move |g| {
            Ok(vec![Some(expand_along(g, &shape, axis, scale)?)])
        })
        .with_rule(Rule::Sum { axis, scale }))
    }

    /// Mean of all elements, as a `[1]` tensor (the usual loss reduction).
    pub fn mean_all(&self) -> Result<Var> {
        self.reshape(&[self.value().numel()])?.mean(0, false)
    }

    /// Sum of all elements, as a `[1]` tensor.
    pub fn sum_all(&self) -> Result<Var> {
        self.reshape(&[self.value().numel()])?.sum(0, false)
    }

    // ---- matmul

    /// op(self) @ op(y), as [`crate::ops::matmul::matmul`] (batched, transposes, batch broadcast).
    pub fn matmul(&self, y: &Var, ta: bool, tb: bool) -> Result<Var> {
        let c = matmul(self.value(), y.value(), ta, tb)?;
        let (a, b) = (self.value().clone(), y.value().clone());
        let (ra, rb) = (self.requires_grad(), y.requires_grad());
        Ok(Var::from_op(c, &[self, y], move |g| {
            // C = A B: dA = G B^T, dB = A^T G (with the transposes folded in),
            // summed over the batches where an operand was repeated.
            let ga = if ra {
                Some(if ta {
                    product_for(&b, g, tb, true, a.shape())?
                } else {
                    product_for(g, &b, false, !tb, a.shape())?
                })
            } else {
                None
            };
            let gb = if rb {
                Some(if tb {
                    product_for(g, &a, true, ta, b.shape())?
                } else {
                    product_for(&a, g, !ta, false, b.shape())?
                })
            } else {
                None
            };
            Ok(vec![ga, gb])
        })
        .with_rule(Rule::Matmul { ta, tb }))
    }
}

/// op(x) @ op(y) for an operand of `shape`: summed down to its batches
/// ([r, c] one, [nb, r, c] nb) where matmul repeated it cyclically.
fn product_for(x: &Tensor, y: &Tensor, tx: bool, ty: bool, shape: &[usize]) -> Result<Tensor> {
    let nb = if shape.len() == 3 { shape[0] } else { 1 };
    matmul_sum(x, y, tx, ty, nb)?.reshape(shape)
}

/// The gradient of a reduction along `axis`: g (with or without the reduced
/// axis) broadcast back to `shape`, times `scale`.
fn expand_along(g: &Tensor, shape: &[usize], axis: usize, scale: f32) -> Result<Tensor> {
    let mut kept = shape.to_vec();
    kept[axis] = 1;
    let g = g.reshape(&kept)?;
    let ones = crate::ops::fill::full(g.runtime(), shape, scale)?;
    ones.mul(&g)
}
