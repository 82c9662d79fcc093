//! Log-softmax and cross-entropy with class targets, forward and backward,
//! against f64 references.

use rand::Rng;
use wgpu_attngan::ops::softmax::{
    cross_entropy, cross_entropy_backward, log_softmax, log_softmax_backward,
};
use wgpu_attngan::Tensor;

use crate::common::{assert_close, random_vec, rng, rt, seed, ODD};
use crate::gradcheck::{check_grad, projection, to_f64};

fn reference(x: &[f64], cols: usize) -> Vec<f64> {
    x.chunks(cols)
        .flat_map(|row| {
            let m = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let lse = m + row.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
            row.iter().map(move |v| v - lse)
        })
        .collect()
}

fn reference_backward(y: &[f64], dy: &[f64], cols: usize) -> Vec<f64> {
    y.chunks(cols)
        .zip(dy.chunks(cols))
        .flat_map(|(y, dy)| {
            let s: f64 = dy.iter().sum();
            y.iter().zip(dy).map(move |(y, d)| d - y.exp() * s)
        })
        .collect()
}

fn reference_ce(x: &[f64], t: &[usize], cols: usize) -> f64 {
    let y = reference(x, cols);
    -t.iter()
        .enumerate()
        .map(|(r, &c)| y[r * cols + c])
        .sum::<f64>()
        / t.len() as f64
}

fn reference_ce_backward(x: &[f64], t: &[usize], cols: usize, g: f64) -> Vec<f64> {
    let rows = t.len() as f64;
    let mut d: Vec<f64> = reference(x, cols).iter().map(|y| y.exp()).collect();
    for (r, &c) in t.iter().enumerate() {
        d[r * cols + c] -= 1.0;
    }
    d.iter().map(|v| v / rows * g).collect()
}

#[test]
fn softmax_reference_backwards_match_finite_differences() {
    let s = seed();
    let mut r = rng(s);
    let (rows, cols) = (3, 7);
    let x = to_f64(&random_vec(&mut r, rows * cols, -3.0, 3.0));
    let proj = projection(&mut r, rows * cols);
    let grad = reference_backward(&reference(&x, cols), &proj, cols);
    check_grad(
        &format!("log_softmax seed {s}"),
        |x| reference(x, cols),
        &x,
        &proj,
        &grad,
    );
    let t: Vec<usize> = (0..rows).map(|_| r.random_range(0..cols)).collect();
    let proj = projection(&mut r, 1);
    let grad = reference_ce_backward(&x, &t, cols, proj[0]);
    let f = |x: &[f64]| vec![reference_ce(x, &t, cols)];
    check_grad(&format!("cross_entropy seed {s}"), f, &x, &proj, &grad);
}

fn run(rows: usize, cols: usize, scale: f32) {
    let rt = rt();
    let s = seed();
    let mut r = rng(s);
    let x = random_vec(&mut r, rows * cols, -scale, scale);
    let dy = random_vec(&mut r, rows * cols, -1.0, 1.0);
    let t: Vec<usize> = (0..rows).map(|_| r.random_range(0..cols)).collect();
    let g: f32 = r.random_range(-2.0..2.0);
    let tx = Tensor::from_slice(&rt, &x, &[rows, cols]).unwrap();
    let tdy = Tensor::from_slice(&rt, &dy, &[rows, cols]).unwrap();
    let tt = Tensor::from_slice(
        &rt,
        &t.iter().map(|&c| c as f32).collect::<Vec<_>>(),
        &[rows],
    )
    .unwrap();
    let tg = Tensor::from_slice(&rt, &[g], &[1]).unwrap();
    let (xd, dyd) = (to_f64(&x), to_f64(&dy));
    let what = format!("[{rows}, {cols}] logits in +-{scale}");

    let y = log_softmax(&tx).unwrap();
    assert_eq!(y.shape(), &[rows, cols]);
    let yref = reference(&xd, cols);
    assert_close(
        &format!("log_softmax {what}"),
        s,
        &y.to_vec().unwrap(),
        &yref,
        1e-5,
    );
    let dx = log_softmax_backward(&y, &tdy).unwrap();
    let expect = reference_backward(&yref, &dyd, cols);
    // exp(y) of log-probabilities near -2000 in f32 loses a few more bits
    // than at moderate logits: 1e-5 failed about one run in six.
    assert_close(
        &format!("log_softmax backward {what}"),
        s,
        &dx.to_vec().unwrap(),
        &expect,
        1e-4,
    );

    let loss = cross_entropy(&tx, &tt).unwrap();
    assert_eq!(loss.shape(), &[1]);
    let expect = [reference_ce(&xd, &t, cols)];
    assert_close(
        &format!("cross_entropy {what}"),
        s,
        &loss.to_vec().unwrap(),
        &expect,
        1e-5,
    );
    let dx = cross_entropy_backward(&tx, &tt, &tg).unwrap();
    assert_eq!(dx.shape(), &[rows, cols]);
    let expect = reference_ce_backward(&xd, &t, cols, g as f64);
    let what = format!("cross_entropy backward {what}");
    assert_close(&what, s, &dx.to_vec().unwrap(), &expect, 1e-5);
}

#[test]
fn softmax_and_cross_entropy_match_reference() {
    for &rows in ODD {
        for &cols in ODD {
            run(rows, cols, 3.0);
        }
    }
    // DAMSM: R = C = batch size, logits scaled by gamma3 = 10.
    run(20, 20, 30.0);
    run(48, 48, 30.0);
}

#[test]
fn softmax_stays_finite_at_large_logits() {
    run(7, 33, 1000.0);
}

/// llvmpipe ends the loops of one invocation after 65,535 iterations in all:
/// a thread per row of 30,000 (three passes over it) cut the sums short.
/// Rows that long take chunked reductions instead.
#[test]
fn softmax_and_cross_entropy_of_long_rows() {
    run(3, 30_000, 3.0);
}

#[test]
fn cross_entropy_gives_nan_for_a_target_out_of_range() {
    check_nan_for_bad_targets(3);
    // The long-row kernel too.
    check_nan_for_bad_targets(9000);
}

fn check_nan_for_bad_targets(cols: usize) {
    let rt = rt();
    let x = Tensor::from_slice(&rt, &vec![0.0; 2 * cols], &[2, cols]).unwrap();
    let g = Tensor::from_slice(&rt, &[1.0], &[1]).unwrap();
    for bad in [cols as f32, -1.0, 0.5] {
        let t = Tensor::from_slice(&rt, &[0.0, bad], &[2]).unwrap();
        assert!(
            cross_entropy(&x, &t).unwrap().to_vec().unwrap()[0].is_nan(),
            "target {bad}"
        );
        let dx = cross_entropy_backward(&x, &t, &g)
            .unwrap()
            .to_vec()
            .unwrap();
        assert!(
            dx[..cols].iter().all(|v| v.is_finite()) && dx[cols..].iter().all(|v| v.is_nan()),
            "target {bad}, {cols} classes"
        );
    }
}

#[test]
fn softmax_and_cross_entropy_reject_bad_shapes() {
    let rt = rt();
    let x = Tensor::from_slice(&rt, &[0.0; 24], &[2, 3, 4]).unwrap();
    let e = log_softmax(&x).unwrap_err().to_string();
    assert!(e.contains("[2, 3, 4]"), "{e}");
    let x = Tensor::from_slice(&rt, &[0.0; 6], &[2, 3]).unwrap();
    let t = Tensor::from_slice(&rt, &[0.0; 3], &[3]).unwrap();
    let e = cross_entropy(&x, &t).unwrap_err().to_string();
    assert!(e.contains("[2, 3]") && e.contains("[3]"), "{e}");
    let dy = Tensor::from_slice(&rt, &[0.0; 6], &[3, 2]).unwrap();
    let e = log_softmax_backward(&x, &dy).unwrap_err().to_string();
    assert!(e.contains("[2, 3]") && e.contains("[3, 2]"), "{e}");
    let t = Tensor::from_slice(&rt, &[0.0; 2], &[2]).unwrap();
    let e = cross_entropy_backward(&x, &t, &t).unwrap_err().to_string();
    assert!(e.contains("[2]") && e.contains("[1]"), "{e}");
}
