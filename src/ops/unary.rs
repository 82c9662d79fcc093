//! Elementwise unary ops and the scalar forms of the binary ones.

use super::{grid_values, vec4_fits};
use crate::runtime::{KernelSpec, Result, Tensor};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOp {
    /// x + alpha
    AddScalar,
    /// x * alpha
    MulScalar,
    /// alpha - x
    RsubScalar,
    /// alpha / x
    RdivScalar,
    Neg,
    Relu,
    /// x for x > 0, alpha * x otherwise
    LeakyRelu,
    Sigmoid,
    Tanh,
    Exp,
    Log,
    Sqrt,
    /// x * x
    Square,
    /// 1 for x > 0, else 0 (relu's derivative)
    Step,
    /// 1 for x > 0, else alpha (leaky relu's derivative)
    LeakyStep,
}

impl UnaryOp {
    pub const ALL: &'static [UnaryOp] = &[
        UnaryOp::AddScalar,
        UnaryOp::MulScalar,
        UnaryOp::RsubScalar,
        UnaryOp::RdivScalar,
        UnaryOp::Neg,
        UnaryOp::Relu,
        UnaryOp::LeakyRelu,
        UnaryOp::Sigmoid,
        UnaryOp::Tanh,
        UnaryOp::Exp,
        UnaryOp::Log,
        UnaryOp::Sqrt,
        UnaryOp::Square,
        UnaryOp::Step,
        UnaryOp::LeakyStep,
    ];

    /// The WGSL expression in x, alpha and beta.
    pub fn expr(self) -> &'static str {
        match self {
            UnaryOp::AddScalar => "x + alpha",
            UnaryOp::MulScalar => "x * alpha",
            UnaryOp::RsubScalar => "alpha - x",
            UnaryOp::RdivScalar => "alpha / x",
            UnaryOp::Neg => "-x",
            UnaryOp::Relu => "max(x, 0.0)",
            UnaryOp::LeakyRelu => "select(alpha * x, x, x > 0.0)",
            UnaryOp::Sigmoid => "stable_sigmoid(x)",
            UnaryOp::Tanh => "stable_tanh(x)",
            UnaryOp::Exp => "exp(x)",
            UnaryOp::Log => "log(x)",
            UnaryOp::Sqrt => "sqrt(x)",
            UnaryOp::Square => "x * x",
            UnaryOp::Step => "select(0.0, 1.0, x > 0.0)",
            UnaryOp::LeakyStep => "select(alpha, 1.0, x > 0.0)",
        }
    }

    /// The same op on the host, in f64 (the CPU reference).
    pub fn reference(self, x: f64, alpha: f64) -> f64 {
        match self {
            UnaryOp::AddScalar => x + alpha,
            UnaryOp::MulScalar => x * alpha,
            UnaryOp::RsubScalar => alpha - x,
            UnaryOp::RdivScalar => alpha / x,
            UnaryOp::Neg => -x,
            UnaryOp::Relu => x.max(0.0),
            UnaryOp::LeakyRelu => {
                if x > 0.0 {
                    x
                } else {
                    alpha * x
                }
            }
            UnaryOp::Sigmoid => 1.0 / (1.0 + (-x).exp()),
            UnaryOp::Tanh => x.tanh(),
            UnaryOp::Exp => x.exp(),
            UnaryOp::Log => x.ln(),
            UnaryOp::Sqrt => x.sqrt(),
            UnaryOp::Square => x * x,
            UnaryOp::Step => (x > 0.0) as u8 as f64,
            UnaryOp::LeakyStep => {
                if x > 0.0 {
                    1.0
                } else {
                    alpha
                }
            }
        }
    }
}

/// `vec4`: n and the offsets are multiples of 4 (vec4 loads and stores).
pub(crate) fn spec(op: UnaryOp, vec4: bool) -> KernelSpec {
    KernelSpec::new("unary")
        .define("EXPR", op.expr())
        .define("VEC4", vec4 as u32)
}

/// out = op(x) with scalar parameter `alpha` (ignored by ops without one).
pub fn unary(x: &Tensor, op: UnaryOp, alpha: f32) -> Result<Tensor> {
    let rt = x.runtime();
    let out = Tensor::uninit(rt, x.shape())?;
    let n = x.numel();
    if n > 0 {
        let vec4 = vec4_fits(&[n], &[x, &out]);
        rt.dispatch(
            &spec(op, vec4),
            &[
                n as u32,
                x.offset() as u32,
                out.offset() as u32,
                alpha.to_bits(),
                0,
            ],
            &[x.buffer(), out.buffer()],
            grid_values(rt, n, vec4),
        )?;
    }
    Ok(out)
}

impl Tensor {
    pub fn add_scalar(&self, s: f32) -> Result<Tensor> {
        unary(self, UnaryOp::AddScalar, s)
    }
    pub fn mul_scalar(&self, s: f32) -> Result<Tensor> {
        unary(self, UnaryOp::MulScalar, s)
    }
    pub fn sub_scalar(&self, s: f32) -> Result<Tensor> {
        unary(self, UnaryOp::AddScalar, -s)
    }
    pub fn div_scalar(&self, s: f32) -> Result<Tensor> {
        unary(self, UnaryOp::MulScalar, 1.0 / s)
    }
    /// s - self
    pub fn rsub_scalar(&self, s: f32) -> Result<Tensor> {
        unary(self, UnaryOp::RsubScalar, s)
    }
    /// s / self
    pub fn rdiv_scalar(&self, s: f32) -> Result<Tensor> {
        unary(self, UnaryOp::RdivScalar, s)
    }
    pub fn neg(&self) -> Result<Tensor> {
        unary(self, UnaryOp::Neg, 0.0)
    }
    pub fn relu(&self) -> Result<Tensor> {
        unary(self, UnaryOp::Relu, 0.0)
    }
    pub fn leaky_relu(&self, slope: f32) -> Result<Tensor> {
        unary(self, UnaryOp::LeakyRelu, slope)
    }
    pub fn sigmoid(&self) -> Result<Tensor> {
        unary(self, UnaryOp::Sigmoid, 0.0)
    }
    pub fn tanh(&self) -> Result<Tensor> {
        unary(self, UnaryOp::Tanh, 0.0)
    }
    pub fn exp(&self) -> Result<Tensor> {
        unary(self, UnaryOp::Exp, 0.0)
    }
    pub fn log(&self) -> Result<Tensor> {
        unary(self, UnaryOp::Log, 0.0)
    }
    pub fn sqrt(&self) -> Result<Tensor> {
        unary(self, UnaryOp::Sqrt, 0.0)
    }
    pub fn square(&self) -> Result<Tensor> {
        unary(self, UnaryOp::Square, 0.0)
    }
}
