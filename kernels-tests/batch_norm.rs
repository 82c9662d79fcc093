//! Batch norm: training forward (batch statistics, running-statistics update),
//! eval forward and the training backward, against f64 references, on inputs
//! centred far from zero (around 100, small spread) so that an unstable
//! variance formula fails.

use rand::Rng;
use wgpu_attngan::ops::batch_norm::{
    batch_norm_backward, batch_norm_eval, batch_norm_train, BN_EPS, BN_MOMENTUM,
};
use wgpu_attngan::Tensor;

use crate::common::{assert_close, assert_close_to_scale, random_vec, rng, rt, seed};

/// (n, c, inner) of a shape [N, C, ...].
fn dims(shape: &[usize]) -> (usize, usize, usize) {
    (shape[0], shape[1], shape[2..].iter().product())
}

/// Per channel: (mean, biased variance) in f64.
pub(crate) fn stats(x: &[f64], shape: &[usize]) -> Vec<(f64, f64)> {
    let (n, c, inner) = dims(shape);
    (0..c)
        .map(|ci| {
            let vals: Vec<f64> = (0..n)
                .flat_map(|ni| (0..inner).map(move |i| (ni * c + ci) * inner + i))
                .map(|i| x[i])
                .collect();
            let m = vals.iter().sum::<f64>() / vals.len() as f64;
            let v = vals.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / vals.len() as f64;
            (m, v)
        })
        .collect()
}

/// y = gamma * (x - mean) / sqrt(var + eps) + beta with the given statistics.
pub(crate) fn normalise(
    x: &[f64],
    shape: &[usize],
    st: &[(f64, f64)],
    g: &[f64],
    b: &[f64],
) -> Vec<f64> {
    let (_, c, inner) = dims(shape);
    x.iter()
        .enumerate()
        .map(|(i, &xv)| {
            let ci = (i / inner) % c;
            let (m, v) = st[ci];
            g[ci] * (xv - m) / (v + BN_EPS as f64).sqrt() + b[ci]
        })
        .collect()
}

/// Training-mode backward in f64: (dx, dgamma, dbeta).
fn backward_ref(
    dy: &[f64],
    x: &[f64],
    shape: &[usize],
    g: &[f64],
) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let (n, c, inner) = dims(shape);
    let st = stats(x, shape);
    let m = (n * inner) as f64;
    let xhat = |i: usize| {
        let ci = (i / inner) % c;
        (x[i] - st[ci].0) / (st[ci].1 + BN_EPS as f64).sqrt()
    };
    let mut dg = vec![0.0; c];
    let mut db = vec![0.0; c];
    for (i, &d) in dy.iter().enumerate() {
        let ci = (i / inner) % c;
        db[ci] += d;
        dg[ci] += d * xhat(i);
    }
    let dx = (0..x.len())
        .map(|i| {
            let ci = (i / inner) % c;
            let invstd = 1.0 / (st[ci].1 + BN_EPS as f64).sqrt();
            g[ci] * invstd * (dy[i] - db[ci] / m - xhat(i) * dg[ci] / m)
        })
        .collect();
    (dx, dg, db)
}

/// The magnitude of the terms of xhat = (x - mean) invstd, that is
/// (|x| + |mean|) invstd. Where a channel's few values nearly agree, x - mean
/// cancels, and float rounding of x and the mean, not of the small
/// difference, sets the attainable accuracy (an H200 missed 1e-4 by 9% at
/// [3, 129] against |xhat|).
fn xhat_scale(x: &[f64], shape: &[usize]) -> Vec<f64> {
    let (_, c, inner) = dims(shape);
    let st = stats(x, shape);
    (0..x.len())
        .map(|i| {
            let ci = (i / inner) % c;
            (x[i].abs() + st[ci].0.abs()) / (st[ci].1 + BN_EPS as f64).sqrt()
        })
        .collect()
}

/// Per element of dx, the magnitudes of the three terms it sums:
/// |g / sigma| (|dy| + |mean dy| + |xhat| mean(|dy xhat|)), with |xhat| from
/// [`xhat_scale`].
fn backward_dx_scale(dy: &[f64], x: &[f64], shape: &[usize], g: &[f64]) -> Vec<f64> {
    let (n, c, inner) = dims(shape);
    let st = stats(x, shape);
    let m = (n * inner) as f64;
    let xhat = xhat_scale(x, shape);
    let (dg, db) = backward_param_scale(dy, x, shape);
    (0..x.len())
        .map(|i| {
            let ci = (i / inner) % c;
            (g[ci] / (st[ci].1 + BN_EPS as f64).sqrt()).abs()
                * (dy[i].abs() + db[ci] / m + xhat[i] * dg[ci] / m)
        })
        .collect()
}

/// Per channel, sum |dy| |xhat| (|xhat| from [`xhat_scale`]) and sum |dy|.
fn backward_param_scale(dy: &[f64], x: &[f64], shape: &[usize]) -> (Vec<f64>, Vec<f64>) {
    let (_, c, inner) = dims(shape);
    let xhat = xhat_scale(x, shape);
    let mut dg = vec![0.0; c];
    let mut db = vec![0.0; c];
    for (i, &d) in dy.iter().enumerate() {
        let ci = (i / inner) % c;
        dg[ci] += (d * xhat[i]).abs();
        db[ci] += d.abs();
    }
    (dg, db)
}

fn f64s(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| x as f64).collect()
}

/// Values around 100 (a different centre per channel) with a small spread.
fn far_from_zero(rng: &mut impl Rng, shape: &[usize]) -> Vec<f32> {
    let (_, c, inner) = dims(shape);
    let centres = random_vec(rng, c, 90.0, 110.0);
    (0..shape.iter().product::<usize>())
        .map(|i| centres[(i / inner) % c] + rng.random_range(-0.5..0.5))
        .collect()
}

/// Train forward, running update, eval forward and backward at one shape.
fn check_shape(shape: &[usize], with_running: bool) {
    check_shape_at(shape, with_running, 0);
}

/// A tensor of shape `shape` holding v, `lead` elements into its buffer.
fn placed(rt: &wgpu_attngan::Runtime, v: &[f32], shape: &[usize], lead: usize) -> Tensor {
    let mut buf = vec![f32::NAN; lead];
    buf.extend_from_slice(v);
    Tensor::from_slice(rt, &buf, &[buf.len()])
        .unwrap()
        .narrow(lead, v.len())
        .unwrap()
        .reshape(shape)
        .unwrap()
}

/// check_shape with x and dy `lead` elements into their buffers: the
/// kernels read vec4s only where the offsets are multiples of 4.
fn check_shape_at(shape: &[usize], with_running: bool, lead: usize) {
    let rt = rt();
    let s = seed();
    let mut r = rng(s);
    let c = shape[1];
    let xv = far_from_zero(&mut r, shape);
    let gv = random_vec(&mut r, c, 0.5, 1.5);
    let bv = random_vec(&mut r, c, -1.0, 1.0);
    let rmv = random_vec(&mut r, c, -1.0, 1.0);
    let rvv = random_vec(&mut r, c, 0.5, 2.0);
    let dyv = random_vec(&mut r, xv.len(), -1.0, 1.0);
    let x = placed(&rt, &xv, shape, lead);
    let g = Tensor::from_slice(&rt, &gv, &[c]).unwrap();
    let b = Tensor::from_slice(&rt, &bv, &[c]).unwrap();
    let rm = Tensor::from_slice(&rt, &rmv, &[c]).unwrap();
    let rv = Tensor::from_slice(&rt, &rvv, &[c]).unwrap();
    let running = with_running.then_some((&rm, &rv));
    let (y, saved) = batch_norm_train(&x, &g, &b, running, BN_MOMENTUM, BN_EPS).unwrap();
    assert_eq!(y.shape(), shape);

    let (x64, g64, b64) = (f64s(&xv), f64s(&gv), f64s(&bv));
    let st = stats(&x64, shape);
    let what = format!("batch_norm_train {shape:?} at {lead}");
    assert_close(
        &what,
        s,
        &y.to_vec().unwrap(),
        &normalise(&x64, shape, &st, &g64, &b64),
        1e-4,
    );
    let mean_ref: Vec<f64> = st.iter().map(|s| s.0).collect();
    let invstd_ref: Vec<f64> = st
        .iter()
        .map(|s| 1.0 / (s.1 + BN_EPS as f64).sqrt())
        .collect();
    assert_close(
        &format!("{what} mean"),
        s,
        &saved.mean().unwrap().to_vec().unwrap(),
        &mean_ref,
        1e-6,
    );
    assert_close(
        &format!("{what} invstd"),
        s,
        &saved.invstd().unwrap().to_vec().unwrap(),
        &invstd_ref,
        1e-4,
    );

    if with_running {
        let count = (shape[0] * dims(shape).2) as f64;
        let mom = BN_MOMENTUM as f64;
        let rm_ref: Vec<f64> = (0..c)
            .map(|i| (1.0 - mom) * rmv[i] as f64 + mom * st[i].0)
            .collect();
        let rv_ref: Vec<f64> = (0..c)
            .map(|i| (1.0 - mom) * rvv[i] as f64 + mom * st[i].1 * count / (count - 1.0))
            .collect();
        assert_close(
            &format!("{what} running_mean"),
            s,
            &rm.to_vec().unwrap(),
            &rm_ref,
            1e-6,
        );
        assert_close(
            &format!("{what} running_var"),
            s,
            &rv.to_vec().unwrap(),
            &rv_ref,
            1e-4,
        );

        // Eval with the updated running statistics.
        let run_st: Vec<(f64, f64)> = rm_ref.iter().zip(&rv_ref).map(|(&m, &v)| (m, v)).collect();
        let ye = batch_norm_eval(&x, &g, &b, &rm, &rv, BN_EPS).unwrap();
        assert_close(
            &format!("batch_norm_eval {shape:?}"),
            s,
            &ye.to_vec().unwrap(),
            &normalise(&x64, shape, &run_st, &g64, &b64),
            1e-5,
        );
    }

    let dy = placed(&rt, &dyv, shape, lead);
    let grads = batch_norm_backward(&dy, &x, &g, &saved).unwrap();
    let (dx_ref, dg_ref, db_ref) = backward_ref(&f64s(&dyv), &x64, shape, &g64);
    let what = format!("batch_norm_backward {shape:?} at {lead}");
    assert_close_to_scale(
        &format!("{what} dx"),
        s,
        &grads.dx.to_vec().unwrap(),
        &dx_ref,
        &backward_dx_scale(&f64s(&dyv), &x64, shape, &g64),
        1e-4,
    );
    // dgamma and dbeta sum dy * xhat and dy over a channel: judged against
    // the sums of magnitudes (an H200 with the register kernels missed 1e-4
    // relative to the result by 4x at 21 values per channel).
    let (dg_scale, db_scale) = backward_param_scale(&f64s(&dyv), &x64, shape);
    assert_close_to_scale(
        &format!("{what} dgamma"),
        s,
        &grads.dgamma.to_vec().unwrap(),
        &dg_ref,
        &dg_scale,
        1e-4,
    );
    assert_close_to_scale(
        &format!("{what} dbeta"),
        s,
        &grads.dbeta.to_vec().unwrap(),
        &db_ref,
        &db_scale,
        1e-4,
    );
}

#[test]
fn batch_norm_2d_odd_sizes() {
    // Both paths: a thread per channel (short channels) and a workgroup per
    // channel (N*H*W >= 1024).
    for n in [1, 3] {
        for c in [1, 3, 7, 33] {
            for (h, w) in [(1, 1), (3, 7), (7, 3), (1, 33), (33, 33)] {
                if n * h * w < 2 {
                    continue;
                }
                check_shape(&[n, c, h, w], (c + h) % 2 == 0);
            }
        }
    }
}

/// Runs of 4k values per channel (H*W), read as vec4s where x and dy start
/// at multiples of 4 and as f32 elsewhere, in both paths (a thread or a
/// workgroup per channel).
#[test]
fn batch_norm_vec4_runs_and_offsets() {
    for shape in [[3, 5, 2, 2], [2, 3, 4, 9], [1, 2, 32, 36]] {
        for lead in [0, 4, 2, 3] {
            check_shape_at(&shape, lead % 2 == 0, lead);
        }
    }
}

#[test]
fn batch_norm_1d_odd_sizes() {
    for n in [3, 7, 33, 1031] {
        for c in [1, 3, 33, 129] {
            check_shape(&[n, c], true);
        }
    }
}

#[test]
fn batch_norm_attngan_shape() {
    check_shape(&[2, 64, 64, 64], true);
}

/// llvmpipe ends the loops of one invocation after 65,535 iterations in all:
/// a workgroup of 256 per channel looping three times over it was cut short
/// at 6.5M values per channel. Such channels take chunked reductions.
#[test]
fn batch_norm_long_channels() {
    check_shape(&[2, 1, 3_250_000], true);
}

#[test]
fn batch_norm_views_with_offsets() {
    // x and gamma as views into larger buffers: the kernels must add offsets.
    let rt = rt();
    let s = seed();
    let mut r = rng(s);
    let shape = [3, 5, 4, 4];
    let c = shape[1];
    let n: usize = shape.iter().product();
    let big = far_from_zero(&mut r, &[4, 5, 4, 4]);
    let x = Tensor::from_slice(&rt, &big, &[4, 5, 4, 4])
        .unwrap()
        .narrow(1, 3)
        .unwrap();
    let gb = random_vec(&mut r, 2 * c, 0.5, 1.5);
    let g = Tensor::from_slice(&rt, &gb, &[2, c])
        .unwrap()
        .narrow(1, 1)
        .unwrap()
        .reshape(&[c])
        .unwrap();
    let bv = random_vec(&mut r, c, -1.0, 1.0);
    let b = Tensor::from_slice(&rt, &bv, &[c]).unwrap();
    let (y, _) = batch_norm_train(&x, &g, &b, None, BN_MOMENTUM, BN_EPS).unwrap();
    let x64 = f64s(&big[n / 3..]);
    let st = stats(&x64, &shape);
    assert_close(
        "batch_norm views",
        s,
        &y.to_vec().unwrap(),
        &normalise(&x64, &shape, &st, &f64s(&gb[c..]), &f64s(&bv)),
        1e-4,
    );
}

/// The f64 reference backward against central differences of the f64
/// reference forward, loss = sum(y * r).
#[test]
fn batch_norm_reference_backward_matches_finite_differences() {
    let s = seed();
    let mut r = rng(s);
    let shape = [3, 2, 2, 3];
    let c = shape[1];
    let n: usize = shape.iter().product();
    let x: Vec<f64> = (0..n).map(|_| r.random_range(-2.0..2.0)).collect();
    let g: Vec<f64> = (0..c).map(|_| r.random_range(0.5..1.5)).collect();
    let b: Vec<f64> = (0..c).map(|_| r.random_range(-1.0..1.0)).collect();
    let proj: Vec<f64> = (0..n).map(|_| r.random_range(-1.0..1.0)).collect();
    let loss = |x: &[f64], g: &[f64], b: &[f64]| -> f64 {
        let y = normalise(x, &shape, &stats(x, &shape), g, b);
        y.iter().zip(&proj).map(|(a, b)| a * b).sum()
    };
    let (dx, dg, db) = backward_ref(&proj, &x, &shape, &g);
    let eps = 1e-6;
    let mut num_dx = vec![0.0; n];
    for i in 0..n {
        let mut xp = x.clone();
        xp[i] += eps;
        let mut xm = x.clone();
        xm[i] -= eps;
        num_dx[i] = (loss(&xp, &g, &b) - loss(&xm, &g, &b)) / (2.0 * eps);
    }
    let mut num_dg = vec![0.0; c];
    let mut num_db = vec![0.0; c];
    for i in 0..c {
        let (mut gp, mut gm) = (g.clone(), g.clone());
        gp[i] += eps;
        gm[i] -= eps;
        num_dg[i] = (loss(&x, &gp, &b) - loss(&x, &gm, &b)) / (2.0 * eps);
        let (mut bp, mut bm) = (b.clone(), b.clone());
        bp[i] += eps;
        bm[i] -= eps;
        num_db[i] = (loss(&x, &g, &bp) - loss(&x, &g, &bm)) / (2.0 * eps);
    }
    let close = |what: &str, a: &[f64], b: &[f64]| {
        let a32: Vec<f32> = a.iter().map(|&v| v as f32).collect();
        assert_close(what, s, &a32, b, 1e-5);
    };
    close("reference dx vs finite differences", &dx, &num_dx);
    close("reference dgamma vs finite differences", &dg, &num_dg);
    close("reference dbeta vs finite differences", &db, &num_db);
}

#[test]
fn batch_norm_rejects_bad_shapes() {
    let rt = rt();
    let x = Tensor::from_slice(&rt, &[1.0; 24], &[2, 3, 2, 2]).unwrap();
    let g3 = Tensor::from_slice(&rt, &[1.0; 3], &[3]).unwrap();
    let g4 = Tensor::from_slice(&rt, &[1.0; 4], &[4]).unwrap();
    let e = batch_norm_train(&x, &g4, &g3, None, BN_MOMENTUM, BN_EPS)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("gamma") && e.contains("[2, 3, 2, 2]") && e.contains("[4]"),
        "{e}"
    );
    let e = batch_norm_eval(&x, &g3, &g3, &g3, &g4, BN_EPS)
        .unwrap_err()
        .to_string();
    assert!(e.contains("running_var") && e.contains("[4]"), "{e}");
    let one = Tensor::from_slice(&rt, &[1.0; 3], &[1, 3, 1, 1]).unwrap();
    let e = batch_norm_train(&one, &g3, &g3, None, BN_MOMENTUM, BN_EPS)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("more than 1 value per channel") && e.contains("[1, 3, 1, 1]"),
        "{e}"
    );
    let flat = Tensor::from_slice(&rt, &[1.0; 3], &[3]).unwrap();
    let e = batch_norm_train(&flat, &g3, &g3, None, BN_MOMENTUM, BN_EPS)
        .unwrap_err()
        .to_string();
    assert!(e.contains("[N, C]") && e.contains("[3]"), "{e}");
    let (_, saved) = batch_norm_train(&x, &g3, &g3, None, BN_MOMENTUM, BN_EPS).unwrap();
    let dy = Tensor::from_slice(&rt, &[1.0; 12], &[2, 3, 2]).unwrap();
    let e = batch_norm_backward(&dy, &x, &g3, &saved)
        .unwrap_err()
        .to_string();
    assert!(e.contains("dy") && e.contains("[2, 3, 2]"), "{e}");
}
