//! Nearest x2 upsampling, forward and backward, against f64 references.

use engine::ops::upsample::{upsample_nearest2x, upsample_nearest2x_backward};
use engine::Tensor;

use crate::common::{assert_close, random_vec, rng, rt, seed, ODD};
use crate::gradcheck::{check_grad, projection, to_f64};

/// x: [planes, h, w] -> [planes, 2h, 2w]
fn reference(x: &[f64], planes: usize, h: usize, w: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(planes * 4 * h * w);
    for p in 0..planes {
        for y in 0..2 * h {
            for xx in 0..2 * w {
                out.push(x[(p * h + y / 2) * w + xx / 2]);
            }
        }
    }
    out
}

fn reference_backward(dy: &[f64], planes: usize, h: usize, w: usize) -> Vec<f64> {
    let mut dx = vec![0.0; planes * h * w];
    for p in 0..planes {
        for y in 0..2 * h {
            for xx in 0..2 * w {
                dx[(p * h + y / 2) * w + xx / 2] += dy[(p * 2 * h + y) * 2 * w + xx];
            }
        }
    }
    dx
}

#[test]
fn upsample_reference_backward_matches_finite_differences() {
    let s = seed();
    let mut r = rng(s);
    let (planes, h, w) = (3, 3, 2);
    let x = to_f64(&random_vec(&mut r, planes * h * w, -1.0, 1.0));
    let proj = projection(&mut r, planes * 4 * h * w);
    let grad = reference_backward(&proj, planes, h, w);
    let f = |x: &[f64]| reference(x, planes, h, w);
    check_grad(&format!("upsample seed {s}"), f, &x, &proj, &grad);
}

fn run(shape: [usize; 4]) {
    let rt = rt();
    let s = seed();
    let mut r = rng(s);
    let [n, c, h, w] = shape;
    let planes = n * c;
    let x = random_vec(&mut r, planes * h * w, -1.0, 1.0);
    let dy = random_vec(&mut r, planes * 4 * h * w, -1.0, 1.0);
    let tx = Tensor::from_slice(&rt, &x, &shape).unwrap();
    let tdy = Tensor::from_slice(&rt, &dy, &[n, c, 2 * h, 2 * w]).unwrap();
    let out = upsample_nearest2x(&tx).unwrap();
    assert_eq!(out.shape(), &[n, c, 2 * h, 2 * w]);
    let dx = upsample_nearest2x_backward(&tdy).unwrap();
    assert_eq!(dx.shape(), &shape);
    let what = format!("upsample {shape:?}");
    assert_close(
        &what,
        s,
        &out.to_vec().unwrap(),
        &reference(&to_f64(&x), planes, h, w),
        1e-6,
    );
    assert_close(
        &format!("{what} backward"),
        s,
        &dx.to_vec().unwrap(),
        &reference_backward(&to_f64(&dy), planes, h, w),
        1e-6,
    );
}

#[test]
fn upsample_matches_reference_on_odd_shapes() {
    for &k in ODD {
        run([1, k, 3, 7]);
        run([2, 3, k, 1]);
        run([1, 1, 7, k]);
    }
}

#[test]
fn upsample_matches_reference_on_attngan_shape() {
    run([2, 32, 32, 32]);
}

#[test]
fn upsample_rejects_bad_shapes() {
    let rt = rt();
    let x = Tensor::from_slice(&rt, &[0.0; 12], &[3, 4]).unwrap();
    let e = upsample_nearest2x(&x).unwrap_err().to_string();
    assert!(e.contains("[3, 4]"), "{e}");
    let dy = Tensor::from_slice(&rt, &[0.0; 12], &[1, 1, 3, 4]).unwrap();
    let e = upsample_nearest2x_backward(&dy).unwrap_err().to_string();
    assert!(e.contains("[1, 1, 3, 4]"), "{e}");
}
