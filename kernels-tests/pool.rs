//! Average pooling (windowed and global), forward and backward, against f64 references.

use wgpu_attngan::ops::pool::{
    avg_pool2d, avg_pool2d_backward, global_avg_pool, global_avg_pool_backward,
};
use wgpu_attngan::Tensor;

use crate::common::{assert_close, random_vec, rng, rt, seed, ODD};
use crate::gradcheck::{check_grad, projection, to_f64};

/// x: [planes, h, w] -> [planes, oh, ow]
fn reference(x: &[f64], planes: usize, h: usize, w: usize, k: usize, s: usize) -> Vec<f64> {
    let (oh, ow) = ((h - k) / s + 1, (w - k) / s + 1);
    let mut out = Vec::with_capacity(planes * oh * ow);
    for p in 0..planes {
        for oy in 0..oh {
            for ox in 0..ow {
                let mut acc = 0.0;
                for ky in 0..k {
                    for kx in 0..k {
                        acc += x[(p * h + oy * s + ky) * w + ox * s + kx];
                    }
                }
                out.push(acc / (k * k) as f64);
            }
        }
    }
    out
}

/// Scatters each output gradient evenly over its window.
fn reference_backward(
    dy: &[f64],
    planes: usize,
    h: usize,
    w: usize,
    k: usize,
    s: usize,
) -> Vec<f64> {
    let (oh, ow) = ((h - k) / s + 1, (w - k) / s + 1);
    let mut dx = vec![0.0; planes * h * w];
    for p in 0..planes {
        for oy in 0..oh {
            for ox in 0..ow {
                let g = dy[(p * oh + oy) * ow + ox] / (k * k) as f64;
                for ky in 0..k {
                    for kx in 0..k {
                        dx[(p * h + oy * s + ky) * w + ox * s + kx] += g;
                    }
                }
            }
        }
    }
    dx
}

#[test]
fn pool_reference_backward_matches_finite_differences() {
    for (k, s) in [(2, 2), (3, 1), (2, 3)] {
        let seed = seed();
        let mut r = rng(seed);
        let (planes, h, w) = (2, 7, 5);
        let (oh, ow) = ((h - k) / s + 1, (w - k) / s + 1);
        let x = to_f64(&random_vec(&mut r, planes * h * w, -1.0, 1.0));
        let proj = projection(&mut r, planes * oh * ow);
        let grad = reference_backward(&proj, planes, h, w, k, s);
        let f = |x: &[f64]| reference(x, planes, h, w, k, s);
        check_grad(
            &format!("avg_pool2d k={k} s={s} seed {seed}"),
            f,
            &x,
            &proj,
            &grad,
        );
    }
}

fn run(shape: [usize; 4], k: usize, s: usize) {
    let rt = rt();
    let seed = seed();
    let mut r = rng(seed);
    let [n, c, h, w] = shape;
    let planes = n * c;
    let (oh, ow) = ((h - k) / s + 1, (w - k) / s + 1);
    let x = random_vec(&mut r, planes * h * w, -1.0, 1.0);
    let dy = random_vec(&mut r, planes * oh * ow, -1.0, 1.0);
    let tx = Tensor::from_slice(&rt, &x, &shape).unwrap();
    let tdy = Tensor::from_slice(&rt, &dy, &[n, c, oh, ow]).unwrap();
    let out = avg_pool2d(&tx, k, s).unwrap();
    assert_eq!(out.shape(), &[n, c, oh, ow]);
    let dx = avg_pool2d_backward(&tdy, &shape, k, s).unwrap();
    assert_eq!(dx.shape(), &shape);
    let what = format!("avg_pool2d {shape:?} k={k} s={s}");
    let expect = reference(&to_f64(&x), planes, h, w, k, s);
    assert_close(&what, seed, &out.to_vec().unwrap(), &expect, 1e-5);
    let expect = reference_backward(&to_f64(&dy), planes, h, w, k, s);
    assert_close(
        &format!("{what} backward"),
        seed,
        &dx.to_vec().unwrap(),
        &expect,
        1e-5,
    );
}

#[test]
fn avg_pool2d_matches_reference_on_odd_shapes() {
    for &m in ODD {
        run([1, m, 7, 7], 2, 2);
        run([2, 3, m, 7], 1, 1);
        // Overlapping windows, windows with gaps between them, and a whole plane.
        run([1, 2, 33, m.max(3)], 3, 1);
        run([3, 1, 7, m.max(2)], 2, 3);
        run([1, 3, m, m], m, m);
    }
}

#[test]
fn avg_pool2d_matches_reference_on_encoder_shape() {
    // Inception's final 8x8 average pool, at reduced width.
    run([2, 128, 8, 8], 8, 8);
    run([2, 64, 17, 17], 3, 2);
}

#[test]
fn global_avg_pool_matches_reference() {
    let rt = rt();
    for shape in [
        [1, 1, 1, 1],
        [2, 3, 7, 33],
        [3, 7, 129, 1],
        [2, 256, 17, 17],
    ] {
        let seed = seed();
        let mut r = rng(seed);
        let [n, c, h, w] = shape;
        let x = random_vec(&mut r, n * c * h * w, -1.0, 1.0);
        let dy = random_vec(&mut r, n * c, -1.0, 1.0);
        let tx = Tensor::from_slice(&rt, &x, &shape).unwrap();
        let tdy = Tensor::from_slice(&rt, &dy, &[n, c]).unwrap();
        let out = global_avg_pool(&tx).unwrap();
        assert_eq!(out.shape(), &[n, c]);
        let dx = global_avg_pool_backward(&tdy, h, w).unwrap();
        assert_eq!(dx.shape(), &shape);
        // A global pool is the window k = H = W case of the windowed reference
        // on square planes; in general, the plane mean.
        let expect: Vec<f64> = x
            .chunks(h * w)
            .map(|p| p.iter().map(|&v| v as f64).sum::<f64>() / (h * w) as f64)
            .collect();
        let what = format!("global_avg_pool {shape:?}");
        assert_close(&what, seed, &out.to_vec().unwrap(), &expect, 1e-5);
        let expect: Vec<f64> = dy
            .iter()
            .flat_map(|&g| std::iter::repeat_n(g as f64 / (h * w) as f64, h * w))
            .collect();
        assert_close(
            &format!("{what} backward"),
            seed,
            &dx.to_vec().unwrap(),
            &expect,
            1e-6,
        );
    }
}

#[test]
fn pool_rejects_bad_parameters() {
    let rt = rt();
    let x = Tensor::from_slice(&rt, &[0.0; 2 * 3 * 5 * 4], &[2, 3, 5, 4]).unwrap();
    let e = avg_pool2d(&x, 5, 1).unwrap_err().to_string();
    assert!(e.contains("k = 5") && e.contains("[2, 3, 5, 4]"), "{e}");
    let e = avg_pool2d(&x, 2, 0).unwrap_err().to_string();
    assert!(e.contains("s = 0"), "{e}");
    let e = avg_pool2d(&x.reshape(&[6, 20]).unwrap(), 2, 2)
        .unwrap_err()
        .to_string();
    assert!(e.contains("[6, 20]"), "{e}");
    let dy = Tensor::from_slice(&rt, &[0.0; 6], &[2, 3, 1, 1]).unwrap();
    let e = avg_pool2d_backward(&dy, &[2, 3, 5, 4], 2, 2)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("[2, 3, 1, 1]") && e.contains("[2, 3, 2, 2]"),
        "{e}"
    );
    let e = global_avg_pool(&dy.reshape(&[6]).unwrap())
        .unwrap_err()
        .to_string();
    assert!(e.contains("[6]"), "{e}");
}
