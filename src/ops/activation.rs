//! Backward of the elementwise activations (their forwards are in unary.rs):
//! (x or y, dy) -> dx, one fused kernel each.

use super::{grid_values, vec4_fits};
use crate::runtime::{Error, KernelSpec, Result, Tensor};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActivationBackward {
    /// From the input x: dy where x > 0, else 0.
    Relu,
    /// From the input x: dy where x > 0, else alpha * dy.
    LeakyRelu,
    /// From the output y: dy * y * (1 - y).
    Sigmoid,
    /// From the output y: dy * (1 - y^2).
    Tanh,
}

impl ActivationBackward {
    pub const ALL: &'static [ActivationBackward] = &[
        ActivationBackward::Relu,
        ActivationBackward::LeakyRelu,
        ActivationBackward::Sigmoid,
        ActivationBackward::Tanh,
    ];

    /// The WGSL expression in v (x or y), dy and alpha.
    pub fn expr(self) -> &'static str {
        match self {
            ActivationBackward::Relu => "select(0.0, dy, v > 0.0)",
            ActivationBackward::LeakyRelu => "select(alpha * dy, dy, v > 0.0)",
            ActivationBackward::Sigmoid => "dy * v * (1.0 - v)",
            ActivationBackward::Tanh => "dy * (1.0 - v * v)",
        }
    }

    fn name(self) -> &'static str {
        match self {
            ActivationBackward::Relu => "relu_backward",
            ActivationBackward::LeakyRelu => "leaky_relu_backward",
            ActivationBackward::Sigmoid => "sigmoid_backward",
            ActivationBackward::Tanh => "tanh_backward",
        }
    }
}

/// `vec4`: n and the offsets are multiples of 4 (vec4 loads and stores).
pub(crate) fn spec(op: ActivationBackward, vec4: bool) -> KernelSpec {
    KernelSpec::new("activation_backward")
        .define("EXPR", op.expr())
        .define("VEC4", vec4 as u32)
}

/// v: `[*]`, dy: `[*]` (same shape) -> dx: `[*]`. `v` is x for relu and leaky relu,
/// y for sigmoid and tanh; `alpha` is leaky relu's slope (ignored otherwise).
pub fn activation_backward(
    v: &Tensor,
    dy: &Tensor,
    op: ActivationBackward,
    alpha: f32,
) -> Result<Tensor> {
    if v.shape() != dy.shape() {
        return Err(Error::shape(op.name(), v.shape(), dy.shape()));
    }
    let rt = v.runtime();
    let dx = Tensor::uninit(rt, v.shape())?;
    let n = v.numel();
    if n > 0 {
        let vec4 = vec4_fits(&[n], &[v, dy, &dx]);
        rt.dispatch(
            &spec(op, vec4),
            &[
                n as u32,
                v.offset() as u32,
                dy.offset() as u32,
                dx.offset() as u32,
                alpha.to_bits(),
            ],
            &[v.buffer(), dy.buffer(), dx.buffer()],
            grid_values(rt, n, vec4),
        )?;
    }
    Ok(dx)
}

// x: [*], dy: [*] -> dx: [*]
pub fn relu_backward(x: &Tensor, dy: &Tensor) -> Result<Tensor> {
    activation_backward(x, dy, ActivationBackward::Relu, 0.0)
}

// x: [*], dy: [*] -> dx: [*]
pub fn leaky_relu_backward(x: &Tensor, dy: &Tensor, slope: f32) -> Result<Tensor> {
    activation_backward(x, dy, ActivationBackward::LeakyRelu, slope)
}

// y = sigmoid(x): [*], dy: [*] -> dx: [*]
pub fn sigmoid_backward(y: &Tensor, dy: &Tensor) -> Result<Tensor> {
    activation_backward(y, dy, ActivationBackward::Sigmoid, 0.0)
}

// y = tanh(x): [*], dy: [*] -> dx: [*]
pub fn tanh_backward(y: &Tensor, dy: &Tensor) -> Result<Tensor> {
    activation_backward(y, dy, ActivationBackward::Tanh, 0.0)
}
