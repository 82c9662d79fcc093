//! GLU over channels, forward and backward, against f64 references.

use wgpu_attngan::ops::glu::{glu, glu_backward};
use wgpu_attngan::Tensor;

use crate::common::{assert_close, random_vec, rng, rt, seed, ODD};
use crate::gradcheck::{check_grad, projection, to_f64};

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// x: [n, 2 * half, inner] -> [n, half, inner]
pub(crate) fn reference(x: &[f64], n: usize, half: usize, inner: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(n * half * inner);
    for o in 0..n {
        for c in 0..half {
            for i in 0..inner {
                let a = x[(o * 2 * half + c) * inner + i];
                let b = x[(o * 2 * half + half + c) * inner + i];
                out.push(a * sigmoid(b));
            }
        }
    }
    out
}

fn reference_backward(x: &[f64], dy: &[f64], n: usize, half: usize, inner: usize) -> Vec<f64> {
    let mut dx = vec![0.0; x.len()];
    for o in 0..n {
        for c in 0..half {
            for i in 0..inner {
                let ia = (o * 2 * half + c) * inner + i;
                let ib = (o * 2 * half + half + c) * inner + i;
                let g = dy[(o * half + c) * inner + i];
                let s = sigmoid(x[ib]);
                dx[ia] = g * s;
                dx[ib] = g * x[ia] * s * (1.0 - s);
            }
        }
    }
    dx
}

#[test]
fn glu_reference_backward_matches_finite_differences() {
    let s = seed();
    let mut r = rng(s);
    let (n, half, inner) = (2, 3, 5);
    let x = to_f64(&random_vec(&mut r, n * 2 * half * inner, -3.0, 3.0));
    let proj = projection(&mut r, n * half * inner);
    let grad = reference_backward(&x, &proj, n, half, inner);
    let f = |x: &[f64]| reference(x, n, half, inner);
    check_grad(&format!("glu seed {s}"), f, &x, &proj, &grad);
}

fn run(shape: &[usize]) {
    let rt = rt();
    let s = seed();
    let mut r = rng(s);
    let (n, half) = (shape[0], shape[1] / 2);
    let inner: usize = shape[2..].iter().product();
    let numel: usize = shape.iter().product();
    let x = random_vec(&mut r, numel, -4.0, 4.0);
    let dy = random_vec(&mut r, numel / 2, -1.0, 1.0);
    let tx = Tensor::from_slice(&rt, &x, shape).unwrap();
    let mut out_shape = shape.to_vec();
    out_shape[1] = half;
    let tdy = Tensor::from_slice(&rt, &dy, &out_shape).unwrap();
    let out = glu(&tx).unwrap();
    assert_eq!(out.shape(), out_shape.as_slice());
    let dx = glu_backward(&tx, &tdy).unwrap();
    assert_eq!(dx.shape(), shape);
    let (x, dy) = (to_f64(&x), to_f64(&dy));
    let what = format!("glu {shape:?}");
    assert_close(
        &what,
        s,
        &out.to_vec().unwrap(),
        &reference(&x, n, half, inner),
        1e-5,
    );
    assert_close(
        &format!("{what} backward"),
        s,
        &dx.to_vec().unwrap(),
        &reference_backward(&x, &dy, n, half, inner),
        1e-5,
    );
}

#[test]
fn glu_matches_reference_on_odd_shapes() {
    for &k in ODD {
        run(&[k, 2 * k]);
        run(&[3, 2 * k, k, 7]);
        run(&[1, 2, 3, k]);
    }
}

#[test]
fn glu_matches_reference_on_attngan_shapes() {
    // Conditioning augmentation's Linear(256 -> 400) -> GLU, and an upsample block's GLU.
    run(&[2, 400]);
    run(&[2, 64, 64, 64]);
    // half * inner a multiple of 4 with an odd half (vec4s across channels).
    run(&[3, 6, 4, 1]);
}

#[test]
fn glu_rejects_odd_channels() {
    let rt = rt();
    let x = Tensor::from_slice(&rt, &[0.0; 2 * 7 * 3], &[2, 7, 3]).unwrap();
    let e = glu(&x).unwrap_err().to_string();
    assert!(e.contains("C = 7") && e.contains("[2, 7, 3]"), "{e}");
    let x = Tensor::from_slice(&rt, &[0.0; 4], &[4]).unwrap();
    let e = glu(&x).unwrap_err().to_string();
    assert!(e.contains("[4]"), "{e}");
    let x = Tensor::from_slice(&rt, &[0.0; 8], &[2, 4]).unwrap();
    let dy = Tensor::from_slice(&rt, &[0.0; 8], &[2, 4]).unwrap();
    let e = glu_backward(&x, &dy).unwrap_err().to_string();
    assert!(e.contains("[2, 4]") && e.contains("[2, 2]"), "{e}");
}
