//! Nearest x2 upsampling, forward and backward, against f64 references.

use wgpu_attngan::ops::upsample::{upsample_nearest2x, upsample_nearest2x_backward};
use wgpu_attngan::Tensor;

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
    // Even W (the paired kernels) with odd H and an odd number of pairs.
    run([3, 2, 5, 6]);
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

// ---- bilinear resize (the DAMSM loss's resize of G's image)

/// PyTorch's bilinear interpolation (align_corners=False), in f64, pixel by
/// pixel: output (i, j) of [planes, h, w] -> [planes, oh, ow].
fn bilinear_reference(
    x: &[f64],
    planes: usize,
    h: usize,
    w: usize,
    oh: usize,
    ow: usize,
) -> Vec<f64> {
    let src = |i: usize, inp: usize, out: usize| {
        let s = ((i as f64 + 0.5) * inp as f64 / out as f64 - 0.5).max(0.0);
        let i0 = (s.floor() as usize).min(inp - 1);
        (i0, (i0 + 1).min(inp - 1), s - i0 as f64)
    };
    let mut out = Vec::with_capacity(planes * oh * ow);
    for p in 0..planes {
        for i in 0..oh {
            let (y0, y1, ly) = src(i, h, oh);
            for j in 0..ow {
                let (x0, x1, lx) = src(j, w, ow);
                let at = |y: usize, xx: usize| x[(p * h + y) * w + xx];
                out.push(
                    (1.0 - ly) * ((1.0 - lx) * at(y0, x0) + lx * at(y0, x1))
                        + ly * ((1.0 - lx) * at(y1, x0) + lx * at(y1, x1)),
                );
            }
        }
    }
    out
}

/// The backward of a linear map is its adjoint: dx = sum over outputs of
/// dy times d out / d x, found column by column from the reference.
fn bilinear_reference_backward(
    dy: &[f64],
    planes: usize,
    h: usize,
    w: usize,
    oh: usize,
    ow: usize,
) -> Vec<f64> {
    let mut dx = vec![0.0; planes * h * w];
    let mut e = vec![0.0; h * w];
    for k in 0..h * w {
        e[k] = 1.0;
        let col = bilinear_reference(&e, 1, h, w, oh, ow);
        e[k] = 0.0;
        for p in 0..planes {
            dx[p * h * w + k] = (0..oh * ow).map(|o| col[o] * dy[p * oh * ow + o]).sum();
        }
    }
    dx
}

#[test]
fn resize_bilinear_matches_reference_down_up_and_odd() {
    use wgpu_attngan::autograd::{resize_bilinear, Var};
    let rt = rt();
    let s = seed();
    let mut r = rng(s);
    // 128 -> 64 (G 128, DAMSM 64), 256 -> 64, odd factors, and up.
    for (n, c, h, w, oh, ow) in [
        (2, 3, 16, 16, 8, 8),
        (1, 3, 32, 32, 8, 8),
        (2, 2, 13, 9, 5, 7),
        (1, 3, 8, 8, 20, 20),
        (1, 1, 6, 11, 11, 6),
    ] {
        let planes = n * c;
        let x = random_vec(&mut r, planes * h * w, -1.0, 1.0);
        let dy = random_vec(&mut r, planes * oh * ow, -1.0, 1.0);
        let xv = Var::leaf(Tensor::from_slice(&rt, &x, &[n, c, h, w]).unwrap());
        let y = resize_bilinear(&xv, oh, ow).unwrap();
        assert_eq!(y.shape(), &[n, c, oh, ow]);
        let what = format!("resize_bilinear {h}x{w} -> {oh}x{ow}");
        assert_close(
            &what,
            s,
            &y.value().to_vec().unwrap(),
            &bilinear_reference(&to_f64(&x), planes, h, w, oh, ow),
            1e-6,
        );
        let proj = Var::constant(Tensor::from_slice(&rt, &dy, &[n, c, oh, ow]).unwrap());
        y.mul(&proj).unwrap().sum_all().unwrap().backward().unwrap();
        assert_close(
            &format!("{what} backward"),
            s,
            &xv.grad().unwrap().to_vec().unwrap(),
            &bilinear_reference_backward(&to_f64(&dy), planes, h, w, oh, ow),
            1e-6,
        );
    }
    // An exact halving is the 2x2 block mean.
    let x = random_vec(&mut r, 3 * 8 * 8, -1.0, 1.0);
    let xv = Var::constant(Tensor::from_slice(&rt, &x, &[1, 3, 8, 8]).unwrap());
    let a = resize_bilinear(&xv, 4, 4)
        .unwrap()
        .value()
        .to_vec()
        .unwrap();
    let b = wgpu_attngan::autograd::avg_pool2d(&xv, 2, 2)
        .unwrap()
        .value()
        .to_vec()
        .unwrap();
    assert_close("halving is pooling", s, &a, &to_f64(&b), 1e-6);
}
