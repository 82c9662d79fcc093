//! Small inputs several model tests share.

#![allow(dead_code)]

use wgpu_attngan::autograd::Var;
use wgpu_attngan::{Runtime, Tensor};

/// The device, or the test fails naming why there is none.
pub fn rt() -> Runtime {
    Runtime::new().unwrap_or_else(|e| panic!("{e}"))
}

/// A deterministic input in [-1, 1) of `shape`, varied by `k`.
pub fn det(rt: &Runtime, shape: &[usize], k: usize) -> Var {
    let n: usize = shape.iter().product();
    let v: Vec<f32> = (0..n)
        .map(|i| (((i + k) * 7919) % 1000) as f32 / 500.0 - 1.0)
        .collect();
    Var::constant(Tensor::from_slice(rt, &v, shape).unwrap())
}
