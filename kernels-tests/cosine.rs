//! Cosine similarity along an axis, forward and backward to both inputs,
//! against f64 references.

use wgpu_attngan::ops::cosine::{cosine_similarity, cosine_similarity_backward, COSINE_EPS};
use wgpu_attngan::Tensor;

use crate::common::{assert_close, assert_close_to_scale, random_vec, rng, rt, seed, ODD};
use crate::gradcheck::{check_grad, projection, to_f64};

const EPS: f64 = COSINE_EPS as f64;

/// Element offsets of the D values of output k of [outer, d, inner].
fn lane(k: usize, d: usize, inner: usize) -> impl Iterator<Item = usize> {
    let base = (k / inner) * d * inner + k % inner;
    (0..d).map(move |j| base + j * inner)
}

fn reference(x: &[f64], y: &[f64], outer: usize, d: usize, inner: usize) -> Vec<f64> {
    (0..outer * inner)
        .map(|k| {
            let (mut dot, mut xx, mut yy) = (0.0, 0.0, 0.0);
            for e in lane(k, d, inner) {
                dot += x[e] * y[e];
                xx += x[e] * x[e];
                yy += y[e] * y[e];
            }
            dot / (xx.sqrt() * yy.sqrt()).max(EPS)
        })
        .collect()
}

fn reference_backward(
    x: &[f64],
    y: &[f64],
    g: &[f64],
    (outer, d, inner): (usize, usize, usize),
) -> (Vec<f64>, Vec<f64>) {
    assert_eq!(g.len(), outer * inner);
    let mut dx = vec![0.0; x.len()];
    let mut dy = vec![0.0; y.len()];
    for (k, &gk) in g.iter().enumerate() {
        let (mut dot, mut xx, mut yy) = (0.0, 0.0, 0.0);
        for e in lane(k, d, inner) {
            dot += x[e] * y[e];
            xx += x[e] * x[e];
            yy += y[e] * y[e];
        }
        let n = xx.sqrt() * yy.sqrt();
        for e in lane(k, d, inner) {
            if n > EPS {
                let cos = dot / n;
                dx[e] = gk * (y[e] / n - cos * x[e] / xx);
                dy[e] = gk * (x[e] / n - cos * y[e] / yy);
            } else {
                dx[e] = gk * y[e] / EPS;
                dy[e] = gk * x[e] / EPS;
            }
        }
    }
    (dx, dy)
}

#[test]
fn cosine_reference_backward_matches_finite_differences() {
    let s = seed();
    let mut r = rng(s);
    let dims = (2, 5, 3);
    let n = 30;
    let xy = to_f64(&random_vec(&mut r, 2 * n, -1.0, 1.0));
    let proj = projection(&mut r, 6);
    let (dx, dy) = reference_backward(&xy[..n], &xy[n..], &proj, dims);
    let f = |xy: &[f64]| reference(&xy[..n], &xy[n..], dims.0, dims.1, dims.2);
    check_grad(
        &format!("cosine seed {s}"),
        f,
        &xy,
        &proj,
        &[dx, dy].concat(),
    );
}

fn run(shape: &[usize], axis: usize) {
    let rt = rt();
    let s = seed();
    let mut r = rng(s);
    let n: usize = shape.iter().product();
    let outer: usize = shape[..axis].iter().product();
    let inner: usize = shape[axis + 1..].iter().product();
    let d = shape[axis];
    let mut out_shape = shape.to_vec();
    out_shape.remove(axis);
    let x = random_vec(&mut r, n, -1.0, 1.0);
    let y = random_vec(&mut r, n, -1.0, 1.0);
    let g = random_vec(&mut r, outer * inner, -1.0, 1.0);
    let tx = Tensor::from_slice(&rt, &x, shape).unwrap();
    let ty = Tensor::from_slice(&rt, &y, shape).unwrap();
    let tg = Tensor::from_slice(&rt, &g, &out_shape).unwrap();
    let out = cosine_similarity(&tx, &ty, axis).unwrap();
    assert_eq!(out.shape(), out_shape.as_slice());
    let (dx, dy) = cosine_similarity_backward(&tx, &ty, &tg, axis).unwrap();
    let (x, y, g) = (to_f64(&x), to_f64(&y), to_f64(&g));
    let what = format!("cosine {shape:?} axis {axis}");
    let expect = reference(&x, &y, outer, d, inner);
    // The scale of each cosine: sum |x_k y_k| / (|x| |y|), the size of the
    // terms its dot product sums (random vectors are nearly orthogonal).
    let scale: Vec<f64> = (0..outer * inner)
        .map(|o| {
            let (a, i) = (o / inner, o % inner);
            let at = |v: &[f64], k: usize| v[(a * d + k) * inner + i];
            let (mut dot, mut nx, mut ny) = (0.0, 0.0, 0.0);
            for k in 0..d {
                dot += (at(&x, k) * at(&y, k)).abs();
                nx += at(&x, k).powi(2);
                ny += at(&y, k).powi(2);
            }
            dot / (nx.sqrt() * ny.sqrt()).max(1e-12)
        })
        .collect();
    assert_close_to_scale(&what, s, &out.to_vec().unwrap(), &expect, &scale, 1e-5);
    let (ex, ey) = reference_backward(&x, &y, &g, (outer, d, inner));
    let (dx, dy) = (dx.to_vec().unwrap(), dy.to_vec().unwrap());
    if d > 1 {
        assert_close(&format!("{what} dx"), s, &dx, &ex, 1e-5);
        assert_close(&format!("{what} dy"), s, &dy, &ey, 1e-5);
    } else {
        // With D = 1 the cosine is a sign and both gradients are exactly 0: the
        // two terms cancel, so compare with the size of the terms instead.
        for k in 0..outer * inner {
            let n = (x[k] * y[k]).abs();
            let tx = g[k].abs() * (y[k].abs() / n + 1.0 / x[k].abs());
            let ty = g[k].abs() * (x[k].abs() / n + 1.0 / y[k].abs());
            assert!(
                (dx[k] as f64 - ex[k]).abs() <= 1e-6 * tx,
                "{what} dx[{k}] (seed {s})"
            );
            assert!(
                (dy[k] as f64 - ey[k]).abs() <= 1e-6 * ty,
                "{what} dy[{k}] (seed {s})"
            );
        }
    }
}

#[test]
fn cosine_matches_reference_on_odd_shapes() {
    for &a in ODD {
        for &b in ODD {
            run(&[a, b], 1);
        }
        run(&[3, a, 7], 1);
        run(&[7, 3, a], 1);
        run(&[a, 5, 3], 0);
        run(&[3, 5, a], 2);
    }
}

#[test]
fn cosine_matches_reference_on_damsm_shapes() {
    // Sentence level: [batch, 256]; word level: contexts and words [batch, 256, 18].
    run(&[48, 256], 1);
    run(&[20, 256, 18], 1);
    // The word loss: every caption against every image, along the last axis
    // (rows of vec4s), and a short row of a multiple of 4.
    run(&[4, 4, 18, 256], 3);
    run(&[5, 12], 1);
}

#[test]
fn cosine_of_a_zero_vector_uses_eps() {
    let rt = rt();
    let x = Tensor::from_slice(&rt, &[0.0, 0.0, 0.0, 1.0, 2.0, 2.0], &[2, 3]).unwrap();
    let y = Tensor::from_slice(&rt, &[1.0, 2.0, 3.0, 2.0, 4.0, 4.0], &[2, 3]).unwrap();
    let out = cosine_similarity(&x, &y, 1).unwrap().to_vec().unwrap();
    assert_eq!(out[0], 0.0);
    assert!((out[1] - 1.0).abs() < 1e-6, "{out:?}");
    let g = Tensor::from_slice(&rt, &[0.5, 1.0], &[2]).unwrap();
    let (dx, dy) = cosine_similarity_backward(&x, &y, &g, 1).unwrap();
    let (ex, ey) = reference_backward(
        &[0.0, 0.0, 0.0, 1.0, 2.0, 2.0],
        &[1.0, 2.0, 3.0, 2.0, 4.0, 4.0],
        &[0.5, 1.0],
        (2, 3, 1),
    );
    // The zero row's gradient is g * y / eps, large: compare row by row.
    let dx = dx.to_vec().unwrap();
    assert_close("zero row dx", 0, &dx[..3], &ex[..3], 1e-6);
    assert_close("dy", 0, &dy.to_vec().unwrap(), &ey, 1e-6);
    assert!(dx[3..].iter().all(|v| v.abs() < 1e-6), "{dx:?}");
}

#[test]
fn cosine_rejects_bad_shapes() {
    let rt = rt();
    let x = Tensor::from_slice(&rt, &[0.0; 6], &[2, 3]).unwrap();
    let y = Tensor::from_slice(&rt, &[0.0; 6], &[3, 2]).unwrap();
    let e = cosine_similarity(&x, &y, 1).unwrap_err().to_string();
    assert!(e.contains("[2, 3]") && e.contains("[3, 2]"), "{e}");
    let e = cosine_similarity(&x, &x, 2).unwrap_err().to_string();
    assert!(e.contains("axis 2") && e.contains("[2, 3]"), "{e}");
    let g = Tensor::from_slice(&rt, &[0.0; 3], &[3]).unwrap();
    let e = cosine_similarity_backward(&x, &x, &g, 1)
        .unwrap_err()
        .to_string();
    assert!(e.contains("[3]") && e.contains("[2]"), "{e}");
}
