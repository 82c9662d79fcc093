//! conv2d and conv_transpose2d, forward and both backwards, against f64 CPU
//! references whose backwards are checked by finite differences.

use wgpu_attngan::ops::conv::*;
use wgpu_attngan::Tensor;

use crate::common::{assert_close, flavour_runtimes, random_vec, rng, rt, seed};

/// Geometry of one case: x [n, c, h, w], weight [o, c, k, k] (conv) or [c, o, k, k] (transpose).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Case {
    pub n: usize,
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub o: usize,
    pub k: usize,
    pub s: usize,
    pub p: usize,
}

// ---------------------------------------------------------------- CPU references (f64)

/// Calls f(x_index, w_index, y_index) for every multiply of conv2d.
/// x [n, c, h, w], w [o, c, k, k], y [n, o, oh, ow].
pub(crate) fn conv_taps(g: Case, mut f: impl FnMut(usize, usize, usize)) -> (usize, usize) {
    let oh = conv_out(g.h, g.k, g.s, g.p).unwrap();
    let ow = conv_out(g.w, g.k, g.s, g.p).unwrap();
    for n in 0..g.n {
        for o in 0..g.o {
            for y in 0..oh {
                for x in 0..ow {
                    let yi = ((n * g.o + o) * oh + y) * ow + x;
                    for c in 0..g.c {
                        for kh in 0..g.k {
                            for kw in 0..g.k {
                                let ih = (y * g.s + kh) as isize - g.p as isize;
                                let iw = (x * g.s + kw) as isize - g.p as isize;
                                if ih < 0 || iw < 0 || ih >= g.h as isize || iw >= g.w as isize {
                                    continue;
                                }
                                let xi = ((n * g.c + c) * g.h + ih as usize) * g.w + iw as usize;
                                let wi = ((o * g.c + c) * g.k + kh) * g.k + kw;
                                f(xi, wi, yi);
                            }
                        }
                    }
                }
            }
        }
    }
    (oh, ow)
}

fn conv_ref(g: Case, x: &[f32], w: &[f32], b: Option<&[f32]>) -> Vec<f64> {
    let oh = conv_out(g.h, g.k, g.s, g.p).unwrap();
    let ow = conv_out(g.w, g.k, g.s, g.p).unwrap();
    let mut y = vec![0.0f64; g.n * g.o * oh * ow];
    if let Some(b) = b {
        for (i, v) in y.iter_mut().enumerate() {
            *v = b[(i / (oh * ow)) % g.o] as f64;
        }
    }
    conv_taps(g, |xi, wi, yi| y[yi] += x[xi] as f64 * w[wi] as f64);
    y
}

/// (dx, dw) of conv2d for upstream gradient dy.
fn conv_backward_ref(g: Case, x: &[f64], w: &[f64], dy: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let mut dx = vec![0.0; x.len()];
    let mut dw = vec![0.0; w.len()];
    conv_taps(g, |xi, wi, yi| {
        dx[xi] += w[wi] * dy[yi];
        dw[wi] += x[xi] * dy[yi];
    });
    (dx, dw)
}

/// conv_transpose2d as PyTorch defines it: each input pixel scatters weight * x.
/// x [n, c, h, w], w [c, o, k, k], y [n, o, (h-1)s - 2p + k, ..]. Calls f(x_index, w_index, y_index).
fn transpose_taps(g: Case, mut f: impl FnMut(usize, usize, usize)) -> (usize, usize) {
    let oh = conv_transpose_out(g.h, g.k, g.s, g.p).unwrap();
    let ow = conv_transpose_out(g.w, g.k, g.s, g.p).unwrap();
    for n in 0..g.n {
        for c in 0..g.c {
            for y in 0..g.h {
                for x in 0..g.w {
                    let xi = ((n * g.c + c) * g.h + y) * g.w + x;
                    for o in 0..g.o {
                        for kh in 0..g.k {
                            for kw in 0..g.k {
                                let ty = (y * g.s + kh) as isize - g.p as isize;
                                let tx = (x * g.s + kw) as isize - g.p as isize;
                                if ty < 0 || tx < 0 || ty >= oh as isize || tx >= ow as isize {
                                    continue;
                                }
                                let yi = ((n * g.o + o) * oh + ty as usize) * ow + tx as usize;
                                let wi = ((c * g.o + o) * g.k + kh) * g.k + kw;
                                f(xi, wi, yi);
                            }
                        }
                    }
                }
            }
        }
    }
    (oh, ow)
}

fn transpose_ref(g: Case, x: &[f32], w: &[f32], b: Option<&[f32]>) -> Vec<f64> {
    let oh = conv_transpose_out(g.h, g.k, g.s, g.p).unwrap();
    let ow = conv_transpose_out(g.w, g.k, g.s, g.p).unwrap();
    let mut y = vec![0.0f64; g.n * g.o * oh * ow];
    if let Some(b) = b {
        for (i, v) in y.iter_mut().enumerate() {
            *v = b[(i / (oh * ow)) % g.o] as f64;
        }
    }
    transpose_taps(g, |xi, wi, yi| y[yi] += x[xi] as f64 * w[wi] as f64);
    y
}

fn transpose_backward_ref(g: Case, x: &[f64], w: &[f64], dy: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let mut dx = vec![0.0; x.len()];
    let mut dw = vec![0.0; w.len()];
    transpose_taps(g, |xi, wi, yi| {
        dx[xi] += w[wi] * dy[yi];
        dw[wi] += x[xi] * dy[yi];
    });
    (dx, dw)
}

// ---------------------------------------------------------------- the references' own check

/// Central differences of loss = sum(forward(x, w) * r) against the analytic backward.
fn check_by_finite_differences(
    g: Case,
    forward: impl Fn(&[f64], &[f64]) -> Vec<f64>,
    backward: impl Fn(&[f64], &[f64], &[f64]) -> (Vec<f64>, Vec<f64>),
    w_len: usize,
) {
    let s = seed();
    let mut r = rng(s);
    let x: Vec<f64> = random_vec(&mut r, g.n * g.c * g.h * g.w, -1.0, 1.0)
        .into_iter()
        .map(f64::from)
        .collect();
    let w: Vec<f64> = random_vec(&mut r, w_len, -1.0, 1.0)
        .into_iter()
        .map(f64::from)
        .collect();
    let y = forward(&x, &w);
    let proj: Vec<f64> = random_vec(&mut r, y.len(), -1.0, 1.0)
        .into_iter()
        .map(f64::from)
        .collect();
    let loss = |x: &[f64], w: &[f64]| {
        forward(x, w)
            .iter()
            .zip(&proj)
            .map(|(a, b)| a * b)
            .sum::<f64>()
    };
    let (dx, dw) = backward(&x, &w, &proj);
    let eps = 1e-6;
    for i in 0..x.len() {
        let (mut xp, mut xm) = (x.clone(), x.clone());
        xp[i] += eps;
        xm[i] -= eps;
        let num = (loss(&xp, &w) - loss(&xm, &w)) / (2.0 * eps);
        assert!(
            (num - dx[i]).abs() < 1e-6 * (1.0 + num.abs()),
            "{g:?} dx[{i}] {num} vs {} (seed {s})",
            dx[i]
        );
    }
    for i in 0..w.len() {
        let (mut wp, mut wm) = (w.clone(), w.clone());
        wp[i] += eps;
        wm[i] -= eps;
        let num = (loss(&x, &wp) - loss(&x, &wm)) / (2.0 * eps);
        assert!(
            (num - dw[i]).abs() < 1e-6 * (1.0 + num.abs()),
            "{g:?} dw[{i}] {num} vs {} (seed {s})",
            dw[i]
        );
    }
}

fn as_f32(v: &[f64]) -> Vec<f32> {
    v.iter().map(|&x| x as f32).collect()
}

#[test]
fn conv_reference_backward_matches_finite_differences() {
    for g in [
        Case {
            n: 2,
            c: 2,
            h: 5,
            w: 4,
            o: 3,
            k: 3,
            s: 1,
            p: 1,
        },
        Case {
            n: 1,
            c: 2,
            h: 6,
            w: 7,
            o: 2,
            k: 4,
            s: 2,
            p: 1,
        },
        Case {
            n: 1,
            c: 1,
            h: 5,
            w: 5,
            o: 2,
            k: 2,
            s: 3,
            p: 0,
        },
    ] {
        let fwd = |x: &[f64], w: &[f64]| conv_ref(g, &as_f32(x), &as_f32(w), None);
        // Exact f64 forward for the differences (the f32 round trip above would add noise).
        let exact = |x: &[f64], w: &[f64]| {
            let mut y = vec![0.0; fwd(x, w).len()];
            conv_taps(g, |xi, wi, yi| y[yi] += x[xi] * w[wi]);
            y
        };
        check_by_finite_differences(
            g,
            exact,
            |x, w, dy| conv_backward_ref(g, x, w, dy),
            g.o * g.c * g.k * g.k,
        );
    }
}

#[test]
fn transpose_reference_backward_matches_finite_differences() {
    for g in [
        Case {
            n: 2,
            c: 2,
            h: 3,
            w: 4,
            o: 3,
            k: 4,
            s: 2,
            p: 1,
        },
        Case {
            n: 1,
            c: 3,
            h: 4,
            w: 3,
            o: 2,
            k: 3,
            s: 1,
            p: 1,
        },
        Case {
            n: 1,
            c: 1,
            h: 2,
            w: 3,
            o: 2,
            k: 3,
            s: 3,
            p: 0,
        },
    ] {
        let exact = |x: &[f64], w: &[f64]| {
            let oh = conv_transpose_out(g.h, g.k, g.s, g.p).unwrap();
            let ow = conv_transpose_out(g.w, g.k, g.s, g.p).unwrap();
            let mut y = vec![0.0; g.n * g.o * oh * ow];
            transpose_taps(g, |xi, wi, yi| y[yi] += x[xi] * w[wi]);
            y
        };
        check_by_finite_differences(
            g,
            exact,
            |x, w, dy| transpose_backward_ref(g, x, w, dy),
            g.c * g.o * g.k * g.k,
        );
    }
}

// ---------------------------------------------------------------- GPU against the references

const CASES: &[Case] = &[
    Case {
        n: 1,
        c: 1,
        h: 1,
        w: 1,
        o: 1,
        k: 1,
        s: 1,
        p: 0,
    },
    Case {
        n: 2,
        c: 3,
        h: 7,
        w: 5,
        o: 7,
        k: 3,
        s: 1,
        p: 1,
    },
    Case {
        n: 1,
        c: 7,
        h: 33,
        w: 9,
        o: 3,
        k: 3,
        s: 1,
        p: 1,
    },
    Case {
        n: 3,
        c: 3,
        h: 7,
        w: 7,
        o: 33,
        k: 4,
        s: 2,
        p: 1,
    },
    Case {
        n: 1,
        c: 33,
        h: 8,
        w: 8,
        o: 9,
        k: 3,
        s: 2,
        p: 0,
    },
    Case {
        n: 2,
        c: 5,
        h: 9,
        w: 11,
        o: 3,
        k: 1,
        s: 1,
        p: 0,
    },
    Case {
        n: 1,
        c: 3,
        h: 8,
        w: 8,
        o: 4,
        k: 4,
        s: 4,
        p: 0,
    },
    Case {
        n: 1,
        c: 2,
        h: 5,
        w: 6,
        o: 3,
        k: 5,
        s: 1,
        p: 2,
    },
    Case {
        n: 1,
        c: 3,
        h: 129,
        w: 3,
        o: 1,
        k: 3,
        s: 1,
        p: 1,
    },
];

fn check_conv(g: Case, with_bias: bool) {
    for rt in flavour_runtimes() {
        check_conv_on(rt, g, with_bias);
    }
}

fn check_transpose(g: Case, with_bias: bool) {
    for rt in flavour_runtimes() {
        check_transpose_on(rt, g, with_bias);
    }
}

/// The tolerance for sums of `terms` f32 products: 1e-5, or more for very
/// long sums, whose rounding grows about as the square root of their length
/// (70,000 channels: 5.3e-5).
fn tol(terms: usize) -> f64 {
    1e-5_f64.max(2e-7 * (terms as f64).sqrt())
}

fn check_conv_on(rt: wgpu_attngan::Runtime, g: Case, with_bias: bool) {
    let what = format!("{:?}", rt.flavour());
    let tol = tol((g.c.max(g.o) * g.k * g.k).max(g.n * g.h * g.w));
    let s = seed();
    let mut r = rng(s);
    let xd = random_vec(&mut r, g.n * g.c * g.h * g.w, -1.0, 1.0);
    let wd = random_vec(&mut r, g.o * g.c * g.k * g.k, -1.0, 1.0);
    let bd = random_vec(&mut r, g.o, -1.0, 1.0);
    let x = Tensor::from_slice(&rt, &xd, &[g.n, g.c, g.h, g.w]).unwrap();
    let w = Tensor::from_slice(&rt, &wd, &[g.o, g.c, g.k, g.k]).unwrap();
    let b = Tensor::from_slice(&rt, &bd, &[g.o]).unwrap();
    let y = conv2d(&x, &w, with_bias.then_some(&b), g.s, g.p).unwrap();
    let expect = conv_ref(g, &xd, &wd, with_bias.then_some(&bd[..]));
    assert_close(
        &format!("{what} conv2d {g:?} bias={with_bias}"),
        s,
        &y.to_vec().unwrap(),
        &expect,
        tol,
    );

    let dyd = random_vec(&mut r, y.numel(), -1.0, 1.0);
    let dy = Tensor::from_slice(&rt, &dyd, y.shape()).unwrap();
    let f64v = |v: &[f32]| v.iter().map(|&a| a as f64).collect::<Vec<_>>();
    let (dx_ref, dw_ref) = conv_backward_ref(g, &f64v(&xd), &f64v(&wd), &f64v(&dyd));
    let dx = conv2d_backward_data(&dy, &w, [g.h, g.w], g.s, g.p).unwrap();
    assert_close(
        &format!("{what} conv2d dx {g:?}"),
        s,
        &dx.to_vec().unwrap(),
        &dx_ref,
        tol,
    );
    let dw = conv2d_backward_weight(&x, &dy, [g.k, g.k], g.s, g.p).unwrap();
    assert_eq!(dw.shape(), &[g.o, g.c, g.k, g.k]);
    assert_close(
        &format!("{what} conv2d dw {g:?}"),
        s,
        &dw.to_vec().unwrap(),
        &dw_ref,
        tol,
    );
    let db = bias_grad(&dy).unwrap();
    let oh = y.dim(2) * y.dim(3);
    let db_ref: Vec<f64> = (0..g.o)
        .map(|o| {
            (0..g.n)
                .flat_map(|n| (0..oh).map(move |i| (n * g.o + o) * oh + i))
                .map(|i| dyd[i] as f64)
                .sum()
        })
        .collect();
    assert_close(
        &format!("{what} conv2d db {g:?}"),
        s,
        &db.to_vec().unwrap(),
        &db_ref,
        tol,
    );
}

fn check_transpose_on(rt: wgpu_attngan::Runtime, g: Case, with_bias: bool) {
    let what = format!("{:?}", rt.flavour());
    let tol = tol((g.c.max(g.o) * g.k * g.k).max(g.n * g.h * g.w));
    let s = seed();
    let mut r = rng(s);
    let xd = random_vec(&mut r, g.n * g.c * g.h * g.w, -1.0, 1.0);
    let wd = random_vec(&mut r, g.c * g.o * g.k * g.k, -1.0, 1.0);
    let bd = random_vec(&mut r, g.o, -1.0, 1.0);
    let x = Tensor::from_slice(&rt, &xd, &[g.n, g.c, g.h, g.w]).unwrap();
    let w = Tensor::from_slice(&rt, &wd, &[g.c, g.o, g.k, g.k]).unwrap();
    let b = Tensor::from_slice(&rt, &bd, &[g.o]).unwrap();
    let y = conv_transpose2d(&x, &w, with_bias.then_some(&b), g.s, g.p).unwrap();
    let expect = transpose_ref(g, &xd, &wd, with_bias.then_some(&bd[..]));
    assert_close(
        &format!("{what} conv_transpose2d {g:?} bias={with_bias}"),
        s,
        &y.to_vec().unwrap(),
        &expect,
        tol,
    );

    let dyd = random_vec(&mut r, y.numel(), -1.0, 1.0);
    let dy = Tensor::from_slice(&rt, &dyd, y.shape()).unwrap();
    let f64v = |v: &[f32]| v.iter().map(|&a| a as f64).collect::<Vec<_>>();
    let (dx_ref, dw_ref) = transpose_backward_ref(g, &f64v(&xd), &f64v(&wd), &f64v(&dyd));
    let dx = conv_transpose2d_backward_data(&dy, &w, [g.h, g.w], g.s, g.p).unwrap();
    assert_close(
        &format!("{what} conv_transpose2d dx {g:?}"),
        s,
        &dx.to_vec().unwrap(),
        &dx_ref,
        tol,
    );
    let dw = conv_transpose2d_backward_weight(&x, &dy, [g.k, g.k], g.s, g.p).unwrap();
    assert_eq!(dw.shape(), &[g.c, g.o, g.k, g.k]);
    assert_close(
        &format!("{what} conv_transpose2d dw {g:?}"),
        s,
        &dw.to_vec().unwrap(),
        &dw_ref,
        tol,
    );
}

#[test]
fn conv2d_odd_sizes_forward_and_backward() {
    for (i, &g) in CASES.iter().enumerate() {
        check_conv(g, i % 2 == 0);
    }
}

#[test]
fn conv_transpose2d_odd_sizes_forward_and_backward() {
    for (i, &g) in CASES.iter().enumerate() {
        if conv_transpose_out(g.h, g.k, g.s, g.p).is_some() {
            check_transpose(g, i % 2 == 1);
        }
    }
}

#[test]
fn attngan_shapes() {
    // 3x3 convolution of the generator's refinement stages on [N, 64, 64, 64] (N = 1 here).
    check_conv(
        Case {
            n: 1,
            c: 64,
            h: 64,
            w: 64,
            o: 64,
            k: 3,
            s: 1,
            p: 1,
        },
        false,
    );
    // The discriminators' first 4x4 stride-2 layer on [N, 3, 64, 64].
    check_conv(
        Case {
            n: 2,
            c: 3,
            h: 64,
            w: 64,
            o: 64,
            k: 4,
            s: 2,
            p: 1,
        },
        true,
    );
    // The DCGAN / GAN-INT-CLS 4x4 stride-2 upsampler.
    check_transpose(
        Case {
            n: 2,
            c: 32,
            h: 16,
            w: 16,
            o: 16,
            k: 4,
            s: 2,
            p: 1,
        },
        true,
    );
}

/// Paths of the implicit GEMMs (tiled and subgroups cores) that the small cases miss
/// (both flavours run them): 128x128 tiles (many output pixels and more than
/// 64 channels), a 1x1 stride-2 kernel, and a K (C*KH*KW) longer than one
/// split may sum.
#[test]
fn gemm_paths() {
    check_conv(
        Case {
            n: 1,
            c: 3,
            h: 184,
            w: 183,
            o: 65,
            k: 3,
            s: 1,
            p: 1,
        },
        true,
    );
    check_transpose(
        Case {
            n: 1,
            c: 5,
            h: 92,
            w: 92,
            o: 67,
            k: 4,
            s: 2,
            p: 1,
        },
        false,
    );
    // The subgroup core's vec4 loads of dy in the weight gradient (OH * OW
    // a multiple of 4) across three images, and of the weights (K = 36).
    check_conv(
        Case {
            n: 3,
            c: 4,
            h: 6,
            w: 6,
            o: 10,
            k: 3,
            s: 1,
            p: 1,
        },
        true,
    );
    check_conv(
        Case {
            n: 2,
            c: 17,
            h: 9,
            w: 9,
            o: 19,
            k: 1,
            s: 2,
            p: 0,
        },
        false,
    );
    check_conv(
        Case {
            n: 1,
            c: 2100,
            h: 5,
            w: 4,
            o: 3,
            k: 4,
            s: 1,
            p: 1,
        },
        true,
    );
}

/// llvmpipe ends the loops of one invocation after 65,535 iterations in all:
/// 70,000 channels of a 1x1 kernel summed in one register-kernel launch were
/// cut short. The conv forward sums the input channels (conv2d), the
/// backward-data kernel the transpose's input channels (conv_transpose2d).
#[test]
fn long_channel_sums() {
    let g = Case {
        n: 1,
        c: 70_000,
        h: 1,
        w: 2,
        o: 2,
        k: 1,
        s: 1,
        p: 0,
    };
    check_conv(g, true);
    check_transpose(g, true);
}

#[test]
fn invalid_shapes_are_named() {
    let rt = rt();
    let x = Tensor::from_slice(&rt, &[0.0; 2 * 3 * 5 * 5], &[2, 3, 5, 5]).unwrap();
    let w = Tensor::from_slice(&rt, &[0.0; 4 * 2 * 9], &[4, 2, 3, 3]).unwrap();
    let e = conv2d(&x, &w, None, 1, 1).unwrap_err().to_string();
    assert!(
        e.contains("[2, 3, 5, 5]") && e.contains("[4, 2, 3, 3]") && e.contains("channels"),
        "{e}"
    );
    let w = Tensor::from_slice(&rt, &[0.0; 4 * 3 * 49], &[4, 3, 7, 7]).unwrap();
    let e = conv2d(&x, &w, None, 1, 0).unwrap_err().to_string();
    assert!(e.contains("larger than the padded input"), "{e}");
    let e = conv2d(&x, &w, None, 0, 3).unwrap_err().to_string();
    assert!(e.contains("stride 0"), "{e}");
    let b = Tensor::from_slice(&rt, &[0.0; 5], &[5]).unwrap();
    let e = conv2d(&x, &w, Some(&b), 1, 3).unwrap_err().to_string();
    assert!(
        e.contains("bias") && e.contains("[5]") && e.contains("[4]"),
        "{e}"
    );
    let flat = Tensor::from_slice(&rt, &[0.0; 6], &[2, 3]).unwrap();
    assert!(conv2d(&flat, &w, None, 1, 1)
        .unwrap_err()
        .to_string()
        .contains("rank 4"));
}

/// An empty batch, or no channels, gives a weight gradient of zeros of the
/// weight's shape (an empty one when it has no elements); the split
/// arithmetic of both flavours used to panic ("min > max", division by zero).
#[test]
fn weight_gradients_of_empty_inputs() {
    let mut all = flavour_runtimes();
    all.push(rt().with_flavour(wgpu_attngan::Flavour::Tiled));
    for rt in all {
        let flavour = rt.flavour();
        let t = |shape: &[usize]| {
            let n = shape.iter().product();
            Tensor::from_slice(&rt, &vec![1.0; n], shape).unwrap()
        };
        let check = |what: &str, dw: Tensor, shape: &[usize]| {
            assert_eq!(dw.shape(), shape, "{flavour:?} {what}");
            let v = dw.to_vec().unwrap();
            assert!(v.iter().all(|&x| x == 0.0), "{flavour:?} {what}: {v:?}");
        };
        // conv2d 3x3, pad 1: x [N, C, 5, 5], dy [N, O, 5, 5] -> dw [O, C, 3, 3].
        let dw = conv2d_backward_weight(&t(&[0, 3, 5, 5]), &t(&[0, 4, 5, 5]), [3, 3], 1, 1);
        check("conv2d N=0", dw.unwrap(), &[4, 3, 3, 3]);
        let dw = conv2d_backward_weight(&t(&[2, 0, 5, 5]), &t(&[2, 4, 5, 5]), [3, 3], 1, 1);
        check("conv2d C=0", dw.unwrap(), &[4, 0, 3, 3]);
        let dw = conv2d_backward_weight(&t(&[2, 3, 5, 5]), &t(&[2, 0, 5, 5]), [3, 3], 1, 1);
        check("conv2d O=0", dw.unwrap(), &[0, 3, 3, 3]);
        // conv_transpose2d 4x4 stride 2 pad 1: x [N, Cin, 5, 5], dy [N, Cout, 10, 10]
        // -> dw [Cin, Cout, 4, 4].
        let dw =
            conv_transpose2d_backward_weight(&t(&[0, 3, 5, 5]), &t(&[0, 4, 10, 10]), [4, 4], 2, 1);
        check("conv_transpose2d N=0", dw.unwrap(), &[3, 4, 4, 4]);
        let dw =
            conv_transpose2d_backward_weight(&t(&[2, 0, 5, 5]), &t(&[2, 4, 10, 10]), [4, 4], 2, 1);
        check("conv_transpose2d Cin=0", dw.unwrap(), &[0, 4, 4, 4]);
        let dw =
            conv_transpose2d_backward_weight(&t(&[2, 3, 5, 5]), &t(&[2, 0, 10, 10]), [4, 4], 2, 1);
        check("conv_transpose2d Cout=0", dw.unwrap(), &[3, 0, 4, 4]);
    }
}

/// The subgroups flavour's weight gradient decodes its K (the batch's pixels)
/// with an f32 quotient and one correction each way (shaders/common.wgsl,
/// quot_f32). The same rule on the CPU is exact for every k up to the limit and
/// divisors around it, also when the division is off by 3 ulps either way
/// (Vulkan allows 2.5): k near each multiple of d, where truncation errs.
/// The GPU test below cannot tell a missing upward correction on llvmpipe,
/// whose division is correctly rounded (checked by deleting it); a real
/// GPU's approximate division needs it, and this test is what guards it.
#[test]
fn f32_quotient_rule_is_exact_below_its_limit() {
    let limit = F32_QUOT_MAX_K as u32;
    let quot = |k: u32, d: u32, ulps: i32| {
        let mut f = k as f32 / d as f32;
        for _ in 0..ulps.abs() {
            f = if ulps > 0 { f.next_up() } else { f.next_down() };
        }
        let mut q = f as u32;
        if q * d > k {
            q -= 1;
        }
        if (q + 1) * d <= k {
            q += 1;
        }
        q
    };
    let mut divisors: Vec<u32> = (1..=70).collect();
    divisors.extend([
        97,
        255,
        256,
        1023,
        1024,
        4095,
        16_384,
        65_521,
        limit / 3,
        limit,
    ]);
    for d in divisors {
        let step = (d as usize).max(1);
        for m in (0..=limit as usize).step_by(step) {
            for k in [m.saturating_sub(1), m, m + 1] {
                let k = k as u32;
                if k > limit {
                    continue;
                }
                for ulps in -3..=3 {
                    assert_eq!(quot(k, d, ulps), k / d, "k {k} d {d} ulps {ulps}");
                }
            }
        }
    }
}

/// The weight gradient at K = N * OH * OW just below and just above
/// F32_QUOT_MAX_K: f32 pixel decoding below, integer division above (the
/// subgroups flavour); 15 pixels an image, so the decoding crosses an image
/// boundary every 4 steps of 4 pixels.
#[test]
fn weight_gradient_pixel_decoding_at_its_limit() {
    for n in [F32_QUOT_MAX_K / 15, F32_QUOT_MAX_K / 15 + 1] {
        let g = Case {
            n,
            c: 2,
            h: 3,
            w: 5,
            o: 2,
            k: 3,
            s: 1,
            p: 1,
        };
        check_conv(g, false);
    }
}
