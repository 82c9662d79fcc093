//! Word-level attention (fused and unfused paths) and the masked softmax,
//! forward and backward, against f64 references; the references' backward
//! against finite differences.

use rand::Rng;
use wgpu_attngan::ops::attention::{
    attention, attention_backward, masked_softmax, masked_softmax_backward, word_attention_maps,
    FUSED_MAX_WORDS,
};
use wgpu_attngan::Tensor;

use crate::common::{assert_close, flavour_runtimes, random_vec, rng, rt, seed};

/// Masked softmax of one line in f64: zeros where masked or all masked.
fn softmax_line(s: &[f64], real: &[bool]) -> Vec<f64> {
    let mx = s
        .iter()
        .zip(real)
        .filter(|(_, &r)| r)
        .map(|(v, _)| *v)
        .fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = s
        .iter()
        .zip(real)
        .map(|(v, &r)| if r { (v - mx).exp() } else { 0.0 })
        .collect();
    let sum: f64 = e.iter().sum();
    e.iter()
        .map(|v| if sum > 0.0 { v / sum } else { 0.0 })
        .collect()
}

#[derive(Clone, Copy)]
pub(crate) struct Dims {
    pub b: usize,
    pub c: usize,
    pub p: usize,
    pub t: usize,
}

/// (context [B, C, P], attn [B, P, T]) in f64.
pub(crate) fn forward_ref(q: &[f64], w: &[f64], mask: &[f64], d: &Dims) -> (Vec<f64>, Vec<f64>) {
    let (b, c, p, t) = (d.b, d.c, d.p, d.t);
    let mut ctx = vec![0.0; b * c * p];
    let mut attn = vec![0.0; b * p * t];
    for bi in 0..b {
        let real: Vec<bool> = (0..t).map(|ti| mask[bi * t + ti] < 0.5).collect();
        for pi in 0..p {
            let s: Vec<f64> = (0..t)
                .map(|ti| {
                    (0..c)
                        .map(|ci| q[(bi * c + ci) * p + pi] * w[(bi * c + ci) * t + ti])
                        .sum()
                })
                .collect();
            let a = softmax_line(&s, &real);
            for ti in 0..t {
                attn[(bi * p + pi) * t + ti] = a[ti];
            }
            for ci in 0..c {
                ctx[(bi * c + ci) * p + pi] =
                    (0..t).map(|ti| a[ti] * w[(bi * c + ci) * t + ti]).sum();
            }
        }
    }
    (ctx, attn)
}

/// (dq, dw) in f64 by the formulas of the issue.
fn backward_ref(
    q: &[f64],
    w: &[f64],
    attn: &[f64],
    dctx: &[f64],
    dattn: &[f64],
    d: &Dims,
) -> (Vec<f64>, Vec<f64>) {
    let (b, c, p, t) = (d.b, d.c, d.p, d.t);
    let mut dq = vec![0.0; b * c * p];
    let mut dw = vec![0.0; b * c * t];
    for bi in 0..b {
        for pi in 0..p {
            let a = &attn[(bi * p + pi) * t..(bi * p + pi + 1) * t];
            let g: Vec<f64> = (0..t)
                .map(|ti| {
                    dattn[(bi * p + pi) * t + ti]
                        + (0..c)
                            .map(|ci| dctx[(bi * c + ci) * p + pi] * w[(bi * c + ci) * t + ti])
                            .sum::<f64>()
                })
                .collect();
            let dot: f64 = a.iter().zip(&g).map(|(x, y)| x * y).sum();
            let ds: Vec<f64> = (0..t).map(|ti| a[ti] * (g[ti] - dot)).collect();
            for ci in 0..c {
                let row = (bi * c + ci) * t;
                dq[(bi * c + ci) * p + pi] = (0..t).map(|ti| ds[ti] * w[row + ti]).sum();
                for ti in 0..t {
                    dw[row + ti] +=
                        ds[ti] * q[(bi * c + ci) * p + pi] + a[ti] * dctx[(bi * c + ci) * p + pi];
                }
            }
        }
    }
    (dq, dw)
}

fn f64s(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| x as f64).collect()
}

/// Batch 0: random padding; batch 1: all padding; batch 2: one real word.
fn make_mask(r: &mut impl Rng, b: usize, t: usize) -> Vec<f32> {
    let mut m = vec![0.0f32; b * t];
    for bi in 0..b {
        let one = r.random_range(0..t);
        for ti in 0..t {
            m[bi * t + ti] = match bi % 3 {
                0 => (r.random_range(0.0..1.0) < 0.3) as u32 as f32,
                1 => 1.0,
                _ => (ti != one) as u32 as f32,
            };
        }
    }
    m
}

/// Forward and backward (with and without d_attn) at one shape, in each
/// software flavour (registers runs attention*.wgsl's fused kernels,
/// subgroups attention_vec4.wgsl's; both take matmul + softmax + matmul
/// past 64 words).
fn check(d: Dims, masked: bool, tol: f64) {
    for rt in flavour_runtimes() {
        check_on(rt, d, masked, tol);
    }
}

fn check_on(rt: wgpu_attngan::Runtime, d: Dims, masked: bool, tol: f64) {
    let s = seed();
    let mut r = rng(s);
    let (b, c, p, t) = (d.b, d.c, d.p, d.t);
    let qv = random_vec(&mut r, b * c * p, -1.0, 1.0);
    let wv = random_vec(&mut r, b * c * t, -1.0, 1.0);
    let mv = if masked {
        make_mask(&mut r, b, t)
    } else {
        vec![0.0; b * t]
    };
    let dcv = random_vec(&mut r, b * c * p, -1.0, 1.0);
    let dav = random_vec(&mut r, b * p * t, -1.0, 1.0);
    let q = Tensor::from_slice(&rt, &qv, &[b, c, p]).unwrap();
    let w = Tensor::from_slice(&rt, &wv, &[b, c, t]).unwrap();
    let m = Tensor::from_slice(&rt, &mv, &[b, t]).unwrap();
    let out = attention(&q, &w, masked.then_some(&m)).unwrap();
    assert_eq!(out.context.shape(), [b, c, p]);
    assert_eq!(out.attn.shape(), [b, p, t]);
    let (q64, w64) = (f64s(&qv), f64s(&wv));
    let (ctx_ref, attn_ref) = forward_ref(&q64, &w64, &f64s(&mv), &d);
    let what = format!(
        "{:?} attention B{b} C{c} P{p} T{t} masked {masked}",
        rt.flavour()
    );
    assert_close(
        &format!("{what} attn"),
        s,
        &out.attn.to_vec().unwrap(),
        &attn_ref,
        tol,
    );
    assert_close(
        &format!("{what} context"),
        s,
        &out.context.to_vec().unwrap(),
        &ctx_ref,
        tol,
    );

    let dctx = Tensor::from_slice(&rt, &dcv, &[b, c, p]).unwrap();
    let dattn = Tensor::from_slice(&rt, &dav, &[b, p, t]).unwrap();
    for with_dattn in [false, true] {
        let g = attention_backward(&q, &w, &out.attn, &dctx, with_dattn.then_some(&dattn)).unwrap();
        let zeros = vec![0.0; b * p * t];
        let da64 = if with_dattn { f64s(&dav) } else { zeros };
        let (dq_ref, dw_ref) = backward_ref(&q64, &w64, &attn_ref, &f64s(&dcv), &da64, &d);
        let what = format!("{what} backward d_attn {with_dattn}");
        // The softmax backward a * (g - sum(a * g)) cancels in f32 when g is
        // nearly constant over the words; with a few pixels (and batches 1
        // and 2 masked to zero gradients), dq rests on a handful of such rows
        // whose relative error is that of one ill-conditioned number.
        let tol = if p <= 7 { 1e-3 } else { tol.max(1e-4) };
        assert_close(
            &format!("{what} dq"),
            s,
            &g.dq.to_vec().unwrap(),
            &dq_ref,
            tol,
        );
        assert_close(
            &format!("{what} dw"),
            s,
            &g.dw.to_vec().unwrap(),
            &dw_ref,
            tol,
        );
    }
}

#[test]
fn attention_odd_sizes() {
    for &c in &[1, 3, 7, 33] {
        for &p in &[1, 3, 7, 33] {
            for &t in &[1, 3, 7, 33] {
                let b = if (c + p + t) % 4 == 0 { 1 } else { 3 };
                check(Dims { b, c, p, t }, (c + p) % 3 != 0, 1e-5);
            }
        }
    }
    // Pixel counts that end inside a 256-pixel workgroup of
    // attention_vec4.wgsl (an invocation per 4 consecutive pixels): 100 on
    // its vec4 path, 150 and 257 on its scalar one, ending inside an
    // invocation's four pixels.
    for p in [100, 150, 257] {
        check(
            Dims {
                b: 2,
                c: 5,
                p,
                t: 18,
            },
            p % 2 == 0,
            1e-5,
        );
    }
}

#[test]
fn attention_long_sentences_take_the_unfused_path() {
    let t = FUSED_MAX_WORDS + 7;
    check(
        Dims {
            b: 3,
            c: 7,
            p: 33,
            t,
        },
        true,
        1e-5,
    );
    check(
        Dims {
            b: 1,
            c: 3,
            p: 5,
            t,
        },
        false,
        1e-5,
    );
}

/// llvmpipe ends the loops of one invocation after 65,535 iterations in all;
/// the fused kernels loop about 2 C (T + 1) times per pixel, and were cut
/// short at C = 512, T = 64 and at C = 2048, T = 18. Those take the
/// unfused path.
#[test]
fn attention_wide_channels_stay_under_the_loop_cap() {
    for (c, t) in [(512, 64), (2048, 18)] {
        check(Dims { b: 1, c, p: 3, t }, true, 1e-5);
    }
}

#[test]
fn attention_many_pixels_sum_word_gradient_in_chunks() {
    check(
        Dims {
            b: 3,
            c: 3,
            p: 1031,
            t: 5,
        },
        true,
        1e-5,
    );
}

#[test]
fn attention_attngan_shape() {
    // q [2, 32, 64*64], w [2, 32, 18].
    check(
        Dims {
            b: 2,
            c: 32,
            p: 4096,
            t: 18,
        },
        true,
        1e-5,
    );
}

/// The built-in world's captions are up to 42 words (WORLD_MAX_WORDS): the
/// fused kernels loop about (2C + 5) T times per invocation, far under
/// llvmpipe's 65,535, also at the fused limit T = 64 with a wide C.
#[test]
fn attention_world_caption_length_and_fused_limit() {
    check(
        Dims {
            b: 2,
            c: 32,
            p: 1024,
            t: wgpu_attngan::data::world::WORLD_MAX_WORDS,
        },
        true,
        1e-5,
    );
    check(
        Dims {
            b: 1,
            c: 256,
            p: 64,
            t: FUSED_MAX_WORDS,
        },
        true,
        1e-5,
    );
}

#[test]
fn attention_masks_fully_padded_rows_to_zero() {
    for rt in flavour_runtimes() {
        masks_fully_padded_rows_to_zero(rt);
    }
}

fn masks_fully_padded_rows_to_zero(rt: wgpu_attngan::Runtime) {
    let q = Tensor::from_slice(&rt, &[1.0, 2.0, 3.0, 4.0], &[2, 1, 2]).unwrap();
    let w = Tensor::from_slice(&rt, &[0.5, -1.0, 2.0, 0.25, 0.0, 1.0], &[2, 1, 3]).unwrap();
    let m = Tensor::from_slice(&rt, &[1.0, 1.0, 1.0, 1.0, 0.0, 1.0], &[2, 3]).unwrap();
    let out = attention(&q, &w, Some(&m)).unwrap();
    let a = out.attn.to_vec().unwrap();
    assert_eq!(&a[..6], &[0.0; 6], "fully masked batch: zeros");
    assert_eq!(
        &a[6..],
        &[0.0, 1.0, 0.0, 0.0, 1.0, 0.0],
        "one real word gets all"
    );
    let ctx = out.context.to_vec().unwrap();
    assert_eq!(ctx, vec![0.0, 0.0, 0.0, 0.0]);
    // [B, T, P] for drawing: batch 1, word 1 is all ones.
    let maps = word_attention_maps(&out.attn).unwrap();
    assert_eq!(&maps[6..], &[0.0, 0.0, 1.0, 1.0, 0.0, 0.0]);
}

/// The reference backward against central differences of the reference
/// forward, loss = sum(ctx * r1) + sum(attn * r2).
#[test]
fn attention_reference_backward_matches_finite_differences() {
    let s = seed();
    let mut r = rng(s);
    let d = Dims {
        b: 3,
        c: 2,
        p: 3,
        t: 4,
    };
    let (b, c, p, t) = (d.b, d.c, d.p, d.t);
    let rnd = |r: &mut rand::rngs::StdRng, n| {
        (0..n)
            .map(|_| r.random_range(-1.0..1.0))
            .collect::<Vec<f64>>()
    };
    let q = rnd(&mut r, b * c * p);
    let w = rnd(&mut r, b * c * t);
    let mask = f64s(&make_mask(&mut r, b, t));
    let r1 = rnd(&mut r, b * c * p);
    let r2 = rnd(&mut r, b * p * t);
    let loss = |q: &[f64], w: &[f64]| {
        let (ctx, attn) = forward_ref(q, w, &mask, &d);
        ctx.iter().zip(&r1).map(|(a, b)| a * b).sum::<f64>()
            + attn.iter().zip(&r2).map(|(a, b)| a * b).sum::<f64>()
    };
    let (_, attn) = forward_ref(&q, &w, &mask, &d);
    let (dq, dw) = backward_ref(&q, &w, &attn, &r1, &r2, &d);
    let eps = 1e-6;
    let num = |x: &[f64], f: &dyn Fn(&[f64]) -> f64| -> Vec<f64> {
        (0..x.len())
            .map(|i| {
                let (mut a, mut b) = (x.to_vec(), x.to_vec());
                a[i] += eps;
                b[i] -= eps;
                (f(&a) - f(&b)) / (2.0 * eps)
            })
            .collect()
    };
    let to32 = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<f32>>();
    assert_close(
        "reference dq vs finite differences",
        s,
        &to32(&dq),
        &num(&q, &|x| loss(x, &w)),
        1e-5,
    );
    assert_close(
        "reference dw vs finite differences",
        s,
        &to32(&dw),
        &num(&w, &|x| loss(&q, x)),
        1e-5,
    );
}

/// Masked softmax along `axis` of [outer, len, inner] in f64.
fn softmax_ref(
    x: &[f64],
    shape: &[usize],
    axis: usize,
    scale: f64,
    mask: Option<(&[f64], usize)>,
) -> Vec<f64> {
    let outer: usize = shape[..axis].iter().product();
    let len = shape[axis];
    let inner: usize = shape[axis + 1..].iter().product();
    let mut y = vec![0.0; x.len()];
    for o in 0..outer {
        let real: Vec<bool> = (0..len)
            .map(|l| mask.is_none_or(|(m, rows)| m[(o / (outer / rows)) * len + l] < 0.5))
            .collect();
        for i in 0..inner {
            let idx = |l: usize| (o * len + l) * inner + i;
            let s: Vec<f64> = (0..len).map(|l| scale * x[idx(l)]).collect();
            for (l, v) in softmax_line(&s, &real).into_iter().enumerate() {
                y[idx(l)] = v;
            }
        }
    }
    y
}

fn softmax_backward_ref(
    y: &[f64],
    dy: &[f64],
    shape: &[usize],
    axis: usize,
    scale: f64,
) -> Vec<f64> {
    let outer: usize = shape[..axis].iter().product();
    let len = shape[axis];
    let inner: usize = shape[axis + 1..].iter().product();
    let mut dx = vec![0.0; y.len()];
    for o in 0..outer {
        for i in 0..inner {
            let idx = |l: usize| (o * len + l) * inner + i;
            let dot: f64 = (0..len).map(|l| y[idx(l)] * dy[idx(l)]).sum();
            for l in 0..len {
                dx[idx(l)] = scale * y[idx(l)] * (dy[idx(l)] - dot);
            }
        }
    }
    dx
}

#[test]
fn masked_softmax_along_each_axis() {
    let rt = rt();
    // DAMSM-like: [B, T, R] softmaxed over words (axis 1) with a [B, T] mask,
    // then over regions (axis 2) with gamma1; plus odd shapes.
    let cases: &[(&[usize], usize, Option<usize>, f32)] = &[
        (&[3, 7, 33], 1, Some(3), 1.0),
        (&[3, 7, 33], 2, None, 4.0),
        (&[3, 33, 7], 2, Some(3), 5.0),
        (&[7, 129], 1, Some(7), 1.0),
        (&[3, 3, 7], 2, Some(1), 1.0),
        (&[1, 1], 1, None, 1.0),
        (&[33, 3], 0, None, 2.0),
        (&[2, 1031], 1, None, 1.0),
        // Lines of 30,000: a thread per line (three passes over it) ran into
        // llvmpipe's cap of 65,535 loop iterations per invocation and was
        // cut short; such lines take chunked reductions.
        (&[4, 30_000], 1, Some(2), 1.0),
        (&[30_000, 2], 0, None, 3.0),
    ];
    for &(shape, axis, mask_rows, scale) in cases {
        let s = seed();
        let mut r = rng(s);
        let n: usize = shape.iter().product();
        let len = shape[axis];
        let xv = random_vec(&mut r, n, -3.0, 3.0);
        let dyv = random_vec(&mut r, n, -1.0, 1.0);
        let x = Tensor::from_slice(&rt, &xv, shape).unwrap();
        let mv = mask_rows.map(|rows| make_mask(&mut r, rows, len));
        let m = mv
            .as_ref()
            .map(|v| Tensor::from_slice(&rt, v, &[v.len() / len, len]).unwrap());
        let y = masked_softmax(&x, axis, scale, m.as_ref()).unwrap();
        let m64 = mv.as_ref().map(|v| f64s(v));
        let y_ref = softmax_ref(
            &f64s(&xv),
            shape,
            axis,
            scale as f64,
            m64.as_deref().zip(mask_rows),
        );
        let what = format!("masked_softmax {shape:?} axis {axis} mask {mask_rows:?} scale {scale}");
        let yv = y.to_vec().unwrap();
        assert_close(&what, s, &yv, &y_ref, 1e-5);
        let dy = Tensor::from_slice(&rt, &dyv, shape).unwrap();
        let dx = masked_softmax_backward(&y, &dy, axis, scale).unwrap();
        let dx_ref = softmax_backward_ref(&f64s(&yv), &f64s(&dyv), shape, axis, scale as f64);
        assert_close(
            &format!("{what} backward"),
            s,
            &dx.to_vec().unwrap(),
            &dx_ref,
            1e-5,
        );
    }
}

#[test]
fn masked_softmax_reference_backward_matches_finite_differences() {
    let s = seed();
    let mut r = rng(s);
    let shape = [2, 5, 3];
    let n = 30;
    let x: Vec<f64> = (0..n).map(|_| r.random_range(-2.0..2.0)).collect();
    let proj: Vec<f64> = (0..n).map(|_| r.random_range(-1.0..1.0)).collect();
    let mask = f64s(&make_mask(&mut r, 2, 5));
    let loss = |x: &[f64]| {
        softmax_ref(x, &shape, 1, 4.0, Some((&mask, 2)))
            .iter()
            .zip(&proj)
            .map(|(a, b)| a * b)
            .sum::<f64>()
    };
    let y = softmax_ref(&x, &shape, 1, 4.0, Some((&mask, 2)));
    let dx = softmax_backward_ref(&y, &proj, &shape, 1, 4.0);
    let eps = 1e-6;
    let num: Vec<f64> = (0..n)
        .map(|i| {
            let (mut a, mut b) = (x.clone(), x.clone());
            a[i] += eps;
            b[i] -= eps;
            (loss(&a) - loss(&b)) / (2.0 * eps)
        })
        .collect();
    let dx32: Vec<f32> = dx.iter().map(|&v| v as f32).collect();
    assert_close(
        "softmax reference backward vs finite differences",
        s,
        &dx32,
        &num,
        1e-5,
    );
}

#[test]
fn attention_rejects_bad_shapes() {
    let rt = rt();
    let t = |shape: &[usize]| {
        let n: usize = shape.iter().product();
        Tensor::from_slice(&rt, &vec![0.5; n], shape).unwrap()
    };
    let (q, w) = (t(&[2, 4, 5]), t(&[2, 4, 3]));
    let e = attention(&q, &t(&[2, 5, 3]), None).unwrap_err().to_string();
    assert!(e.contains("[2, 4, 5]") && e.contains("[2, 5, 3]"), "{e}");
    let e = attention(&q, &w, Some(&t(&[2, 4])))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("mask") && e.contains("[2, 4]") && e.contains("[2, 3]"),
        "{e}"
    );
    let e = attention(&t(&[4, 5]), &w, None).unwrap_err().to_string();
    assert!(e.contains("[4, 5]") && e.contains("[B, C, P]"), "{e}");
    let a = attention(&q, &w, None).unwrap();
    let e = attention_backward(&q, &w, &a.attn, &t(&[2, 4, 3]), None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("d_context") && e.contains("[2, 4, 3]"), "{e}");
    let e = attention_backward(&q, &w, &t(&[2, 5, 4]), &q, None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("attn") && e.contains("[2, 5, 4]"), "{e}");
    let e = masked_softmax(&q, 3, 1.0, None).unwrap_err().to_string();
    assert!(e.contains("axis 3") && e.contains("[2, 4, 5]"), "{e}");
    let e = masked_softmax(&q, 2, 1.0, Some(&t(&[3, 5])))
        .unwrap_err()
        .to_string();
    assert!(e.contains("mask") && e.contains("[3, 5]"), "{e}");
    let e = masked_softmax_backward(&q, &w, 2, 1.0)
        .unwrap_err()
        .to_string();
    assert!(e.contains("[2, 4, 5]") && e.contains("[2, 4, 3]"), "{e}");
}
