//! Backward of relu, leaky relu, sigmoid and tanh against f64 references.

use wgpu_attngan::ops::activation::{
    activation_backward, leaky_relu_backward, relu_backward, sigmoid_backward, tanh_backward,
    ActivationBackward,
};
use wgpu_attngan::Tensor;

use crate::common::{assert_close, random_vec, rng, rt, seed, ODD};
use crate::gradcheck::{check_grad, projection, to_f64};

const SLOPE: f64 = 0.2;

fn forward(op: ActivationBackward, x: f64) -> f64 {
    match op {
        ActivationBackward::Relu => x.max(0.0),
        ActivationBackward::LeakyRelu => {
            if x > 0.0 {
                x
            } else {
                SLOPE * x
            }
        }
        ActivationBackward::Sigmoid => 1.0 / (1.0 + (-x).exp()),
        ActivationBackward::Tanh => x.tanh(),
    }
}

/// dx from the input x and dy (the reference computes y itself where needed).
fn backward(op: ActivationBackward, x: f64, dy: f64) -> f64 {
    match op {
        ActivationBackward::Relu => {
            if x > 0.0 {
                dy
            } else {
                0.0
            }
        }
        ActivationBackward::LeakyRelu => {
            if x > 0.0 {
                dy
            } else {
                SLOPE * dy
            }
        }
        ActivationBackward::Sigmoid => {
            let y = forward(op, x);
            dy * y * (1.0 - y)
        }
        ActivationBackward::Tanh => {
            let y = x.tanh();
            dy * (1.0 - y * y)
        }
    }
}

fn uses_output(op: ActivationBackward) -> bool {
    matches!(op, ActivationBackward::Sigmoid | ActivationBackward::Tanh)
}

#[test]
fn activation_reference_backward_matches_finite_differences() {
    for &op in ActivationBackward::ALL {
        let s = seed();
        let mut r = rng(s);
        let x = to_f64(&random_vec(&mut r, 33, -3.0, 3.0));
        let proj = projection(&mut r, x.len());
        let grad: Vec<f64> = x
            .iter()
            .zip(&proj)
            .map(|(&x, &d)| backward(op, x, d))
            .collect();
        let f = |x: &[f64]| x.iter().map(|&v| forward(op, v)).collect();
        check_grad(&format!("{op:?} seed {s}"), f, &x, &proj, &grad);
    }
}

#[test]
fn activation_backward_matches_reference() {
    let rt = rt();
    for &op in ActivationBackward::ALL {
        // Odd sizes, and multiples of 4 for the vec4 kernels.
        for &n in ODD.iter().chain(&[4, 132]) {
            let s = seed();
            let mut r = rng(s);
            let x = random_vec(&mut r, 3 * n, -4.0, 4.0);
            let dy = random_vec(&mut r, 3 * n, -1.0, 1.0);
            // Sigmoid and tanh take their output y (computed on the host in f32).
            let v: Vec<f32> = if uses_output(op) {
                x.iter().map(|&x| forward(op, x as f64) as f32).collect()
            } else {
                x.clone()
            };
            let tv = Tensor::from_slice(&rt, &v, &[3, n]).unwrap();
            let tdy = Tensor::from_slice(&rt, &dy, &[3, n]).unwrap();
            let dx = match op {
                ActivationBackward::Relu => relu_backward(&tv, &tdy),
                ActivationBackward::LeakyRelu => leaky_relu_backward(&tv, &tdy, SLOPE as f32),
                ActivationBackward::Sigmoid => sigmoid_backward(&tv, &tdy),
                ActivationBackward::Tanh => tanh_backward(&tv, &tdy),
            }
            .unwrap();
            assert_eq!(dx.shape(), &[3, n]);
            let reference: Vec<f64> = x
                .iter()
                .zip(&dy)
                .map(|(&x, &d)| backward(op, x as f64, d as f64))
                .collect();
            assert_close(
                &format!("{op:?} n={n}"),
                s,
                &dx.to_vec().unwrap(),
                &reference,
                1e-5,
            );
        }
    }
}

#[test]
fn activation_backward_rejects_mismatched_shapes() {
    let rt = rt();
    let x = Tensor::from_slice(&rt, &[0.5; 6], &[2, 3]).unwrap();
    let dy = Tensor::from_slice(&rt, &[0.5; 6], &[3, 2]).unwrap();
    let e = activation_backward(&x, &dy, ActivationBackward::Tanh, 0.0)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("tanh_backward") && e.contains("[2, 3]") && e.contains("[3, 2]"),
        "{e}"
    );
}
