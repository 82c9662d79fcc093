//! Binary cross-entropy with logits (mean), forward and backward, against f64 references.

use rand::Rng;
use wgpu_attngan::ops::bce::{bce_with_logits, bce_with_logits_backward};
use wgpu_attngan::Tensor;

use crate::common::{assert_close, random_vec, rng, rt, seed, ODD};
use crate::gradcheck::{check_grad, projection, to_f64};

fn reference(x: &[f64], t: &[f64]) -> f64 {
    let sum: f64 = x
        .iter()
        .zip(t)
        .map(|(&x, &t)| x.max(0.0) - x * t + (-x.abs()).exp().ln_1p())
        .sum();
    sum / x.len() as f64
}

fn reference_backward(x: &[f64], t: &[f64], g: f64) -> Vec<f64> {
    let n = x.len() as f64;
    x.iter()
        .zip(t)
        .map(|(&x, &t)| (1.0 / (1.0 + (-x).exp()) - t) / n * g)
        .collect()
}

#[test]
fn bce_reference_backward_matches_finite_differences() {
    let s = seed();
    let mut r = rng(s);
    let x = to_f64(&random_vec(&mut r, 33, -5.0, 5.0));
    let t = to_f64(&random_vec(&mut r, 33, 0.0, 1.0));
    let proj = projection(&mut r, 1);
    let grad = reference_backward(&x, &t, proj[0]);
    check_grad(
        &format!("bce seed {s}"),
        |x| vec![reference(x, &t)],
        &x,
        &proj,
        &grad,
    );
}

fn run(shape: &[usize], lo: f32, hi: f32, hard: bool) {
    let rt = rt();
    let s = seed();
    let mut r = rng(s);
    let n: usize = shape.iter().product();
    let x = random_vec(&mut r, n, lo, hi);
    let t: Vec<f32> = if hard {
        (0..n).map(|_| r.random_range(0..2) as f32).collect()
    } else {
        random_vec(&mut r, n, 0.0, 1.0)
    };
    let g: f32 = r.random_range(-2.0..2.0);
    let tx = Tensor::from_slice(&rt, &x, shape).unwrap();
    let tt = Tensor::from_slice(&rt, &t, shape).unwrap();
    let tg = Tensor::from_slice(&rt, &[g], &[1]).unwrap();
    let loss = bce_with_logits(&tx, &tt).unwrap();
    assert_eq!(loss.shape(), &[1]);
    let dx = bce_with_logits_backward(&tx, &tt, &tg).unwrap();
    assert_eq!(dx.shape(), shape);
    let (x, t) = (to_f64(&x), to_f64(&t));
    let what = format!("bce {shape:?} logits in [{lo}, {hi})");
    assert_close(
        &what,
        s,
        &loss.to_vec().unwrap(),
        &[reference(&x, &t)],
        1e-5,
    );
    let expect = reference_backward(&x, &t, g as f64);
    assert_close(
        &format!("{what} backward"),
        s,
        &dx.to_vec().unwrap(),
        &expect,
        1e-5,
    );
}

#[test]
fn bce_matches_reference() {
    for &n in ODD {
        run(&[n], -5.0, 5.0, false);
        run(&[n, 3], -5.0, 5.0, true);
    }
    // Several partial sums, and the discriminators' outputs [batch, 1].
    run(&[1000], -5.0, 5.0, true);
    run(&[3, 7, 129], -5.0, 5.0, false);
    run(&[2, 1], -5.0, 5.0, true);
}

#[test]
fn bce_stays_finite_at_extreme_logits() {
    run(&[33], -100.0, -50.0, true);
    run(&[33], 50.0, 100.0, true);
    let rt = rt();
    let x = Tensor::from_slice(&rt, &[-1e4, 1e4], &[2]).unwrap();
    let t = Tensor::from_slice(&rt, &[0.0, 1.0], &[2]).unwrap();
    assert_eq!(
        bce_with_logits(&x, &t).unwrap().to_vec().unwrap(),
        vec![0.0]
    );
}

#[test]
fn bce_rejects_bad_shapes() {
    let rt = rt();
    let x = Tensor::from_slice(&rt, &[0.0; 6], &[2, 3]).unwrap();
    let t = Tensor::from_slice(&rt, &[0.0; 6], &[6]).unwrap();
    let e = bce_with_logits(&x, &t).unwrap_err().to_string();
    assert!(e.contains("[2, 3]") && e.contains("[6]"), "{e}");
    let g = Tensor::from_slice(&rt, &[0.0; 2], &[2]).unwrap();
    let e = bce_with_logits_backward(&x, &x, &g)
        .unwrap_err()
        .to_string();
    assert!(e.contains("[2]") && e.contains("[1]"), "{e}");
}
