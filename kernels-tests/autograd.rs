//! The autodiff tape: gradients of a small composite network against central
//! finite differences of an f64 CPU forward, and the graph controls GAN
//! training needs (detach, no_grad, accumulation, frozen leaves).

use wgpu_attngan::autograd::{self, conv, Var};
use wgpu_attngan::Tensor;

use crate::common::{random_vec, rng, rt, seed};
use crate::conv::{conv_taps, Case};

const G: Case = Case {
    n: 2,
    c: 3,
    h: 5,
    w: 4,
    o: 4,
    k: 3,
    s: 1,
    p: 1,
};
const HIDDEN: usize = 4 * 5 * 4; // o * h * w per image
const OUT: usize = 3;

/// The network in f64: conv(x, w) + b -> leaky_relu(0.2) -> [N, 80] @ w2 [80, 3]
/// -> sigmoid -> * t -> mean.
fn cpu_loss(x: &[f64], w: &[f64], b: &[f64], w2: &[f64], t: &[f64]) -> f64 {
    let mut y = vec![0.0; G.n * HIDDEN];
    for (i, v) in y.iter_mut().enumerate() {
        *v = b[(i / 20) % G.o];
    }
    conv_taps(G, |xi, wi, yi| y[yi] += x[xi] * w[wi]);
    for v in y.iter_mut() {
        if *v <= 0.0 {
            *v *= 0.2;
        }
    }
    let mut total = 0.0;
    for n in 0..G.n {
        for j in 0..OUT {
            let z: f64 = (0..HIDDEN)
                .map(|k| y[n * HIDDEN + k] * w2[k * OUT + j])
                .sum();
            total += t[n * OUT + j] / (1.0 + (-z).exp());
        }
    }
    total / (G.n * OUT) as f64
}

#[test]
fn composite_network_gradients_match_finite_differences() {
    let rt = rt();
    let s = seed();
    let mut r = rng(s);
    let mut data: Vec<Vec<f32>> = [
        G.n * G.c * G.h * G.w,
        G.o * G.c * 9,
        G.o,
        HIDDEN * OUT,
        G.n * OUT,
    ]
    .iter()
    .map(|&n| random_vec(&mut r, n, -1.0, 1.0))
    .collect();
    // Keep pre-activations away from leaky_relu's kink, where differences are not smooth.
    data[2].iter_mut().for_each(|v| *v *= 0.1);
    let shapes: [&[usize]; 5] = [
        &[G.n, G.c, G.h, G.w],
        &[G.o, G.c, 3, 3],
        &[G.o],
        &[HIDDEN, OUT],
        &[G.n, OUT],
    ];
    let vars: Vec<Var> = data
        .iter()
        .zip(shapes)
        .enumerate()
        .map(|(i, (d, sh))| {
            let t = Tensor::from_slice(&rt, d, sh).unwrap();
            if i == 4 {
                Var::constant(t)
            } else {
                Var::leaf(t)
            }
        })
        .collect();
    let h = conv::conv2d(&vars[0], &vars[1], Some(&vars[2]), 1, 1)
        .unwrap()
        .leaky_relu(0.2)
        .unwrap();
    let z = h
        .reshape(&[G.n, HIDDEN])
        .unwrap()
        .matmul(&vars[3], false, false)
        .unwrap();
    let loss = z
        .sigmoid()
        .unwrap()
        .mul(&vars[4])
        .unwrap()
        .mean_all()
        .unwrap();
    loss.backward().unwrap();

    let f64s: Vec<Vec<f64>> = data
        .iter()
        .map(|d| d.iter().map(|&v| v as f64).collect())
        .collect();
    let gpu_loss = loss.value().to_vec().unwrap()[0] as f64;
    let cpu = cpu_loss(&f64s[0], &f64s[1], &f64s[2], &f64s[3], &f64s[4]);
    assert!(
        (gpu_loss - cpu).abs() < 1e-5,
        "loss {gpu_loss} vs {cpu} (seed {s})"
    );
    let eps = 1e-6;
    for which in 0..4 {
        let grad = vars[which].grad().unwrap().to_vec().unwrap();
        let mut num = vec![0.0; grad.len()];
        for i in 0..grad.len() {
            let mut p = f64s.clone();
            p[which][i] += eps;
            let mut m = f64s.clone();
            m[which][i] -= eps;
            num[i] = (cpu_loss(&p[0], &p[1], &p[2], &p[3], &p[4])
                - cpu_loss(&m[0], &m[1], &m[2], &m[3], &m[4]))
                / (2.0 * eps);
        }
        crate::common::assert_close(&format!("gradient of input {which}"), s, &grad, &num, 1e-4);
    }
}

#[test]
fn detach_no_grad_accumulation_and_frozen_leaves() {
    let rt = rt();
    let t = |v: &[f32]| Tensor::from_slice(&rt, v, &[v.len()]).unwrap();
    let a = Var::leaf(t(&[1.0, 2.0, 3.0]));
    let b = Var::leaf(t(&[4.0, 5.0, 6.0]));

    // Two backward passes accumulate: d/da sum(a*b) = b, twice.
    for _ in 0..2 {
        a.mul(&b).unwrap().sum_all().unwrap().backward().unwrap();
    }
    assert_eq!(a.grad().unwrap().to_vec().unwrap(), vec![8.0, 10.0, 12.0]);
    a.zero_grad().unwrap();

    // detach: no gradient reaches a through the detached branch.
    let c = a
        .mul_scalar(3.0)
        .unwrap()
        .detach()
        .mul(&b)
        .unwrap()
        .add(&a)
        .unwrap();
    c.sum_all().unwrap().backward().unwrap();
    assert_eq!(a.grad().unwrap().to_vec().unwrap(), vec![1.0, 1.0, 1.0]);

    // no_grad: nothing is recorded.
    let d = autograd::no_grad(|| a.mul(&b).unwrap());
    assert!(!d.requires_grad());

    // A frozen leaf gets no gradient; the other still does.
    let frozen = Var::leaf(t(&[1.0, 1.0, 1.0]));
    frozen.set_requires_grad(false);
    let e = Var::leaf(t(&[2.0, 2.0, 2.0]));
    frozen
        .mul(&e)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    assert!(frozen.grad().is_none());
    assert_eq!(e.grad().unwrap().to_vec().unwrap(), vec![1.0, 1.0, 1.0]);
}

#[test]
fn broadcast_and_batched_matmul_gradients() {
    let rt = rt();
    let s = seed();
    let mut r = rng(s);
    // y = sum((A [3,4,5] @ B [5,2]) + bias [2]) : dB = sum_b A_b^T 1, dbias = 3*4 per element.
    let ad = random_vec(&mut r, 60, -1.0, 1.0);
    let bd = random_vec(&mut r, 10, -1.0, 1.0);
    let a = Var::leaf(Tensor::from_slice(&rt, &ad, &[3, 4, 5]).unwrap());
    let b = Var::leaf(Tensor::from_slice(&rt, &bd, &[5, 2]).unwrap());
    let bias = Var::leaf(Tensor::from_slice(&rt, &[0.5, -0.5], &[2]).unwrap());
    a.matmul(&b, false, false)
        .unwrap()
        .add(&bias)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    assert_eq!(bias.grad().unwrap().to_vec().unwrap(), vec![12.0, 12.0]);
    let db = b.grad().unwrap().to_vec().unwrap();
    for k in 0..5 {
        let expect: f64 = (0..12).map(|row| ad[row * 5 + k] as f64).sum();
        for j in 0..2 {
            assert!((db[k * 2 + j] as f64 - expect).abs() < 1e-5, "seed {s}");
        }
    }
    let da = a.grad().unwrap().to_vec().unwrap();
    for row in 0..12 {
        for k in 0..5 {
            let expect = (bd[k * 2] + bd[k * 2 + 1]) as f64;
            assert!((da[row * 5 + k] as f64 - expect).abs() < 1e-5, "seed {s}");
        }
    }
}

/// conv -> batch norm -> GLU -> word attention -> loss, the chain of an
/// AttnGAN refinement stage, against finite differences of the f64 references.
#[test]
fn gan_chain_gradients_match_finite_differences() {
    use crate::attention::{forward_ref, Dims};
    use wgpu_attngan::autograd as ag;
    const CONV: Case = Case {
        n: 2,
        c: 3,
        h: 3,
        w: 3,
        o: 8,
        k: 3,
        s: 1,
        p: 1,
    };
    let (t_words, p_pix, half) = (5usize, 9usize, 4usize);
    let rt = rt();
    let s = seed();
    let mut r = rng(s);
    let sizes = [
        2 * 3 * 9,
        8 * 3 * 9,
        8,
        8,
        2 * half * t_words,
        2 * half * p_pix,
    ];
    let mut data: Vec<Vec<f32>> = sizes
        .iter()
        .map(|&n| random_vec(&mut r, n, -1.0, 1.0))
        .collect();
    data[2].iter_mut().for_each(|g| *g += 1.5); // gamma away from zero
    let mask: Vec<f32> = vec![0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0]; // [2, 5]: two padding words in the first
    let cpu = |d: &[Vec<f64>]| -> f64 {
        let mut y = vec![0.0; 2 * 8 * 9];
        conv_taps(CONV, |xi, wi, yi| y[yi] += d[0][xi] * d[1][wi]);
        let shape = [2, 8, 3, 3];
        let st = crate::batch_norm::stats(&y, &shape);
        let z = crate::batch_norm::normalise(&y, &shape, &st, &d[2], &d[3]);
        let h = crate::glu::reference(&z, 2, half, 9);
        let m: Vec<f64> = mask.iter().map(|&v| v as f64).collect();
        let (ctx, _) = forward_ref(
            &h,
            &d[4],
            &m,
            &Dims {
                b: 2,
                c: half,
                p: p_pix,
                t: t_words,
            },
        );
        ctx.iter().zip(&d[5]).map(|(a, b)| a * b).sum()
    };
    let shapes: [&[usize]; 6] = [
        &[2, 3, 3, 3],
        &[8, 3, 3, 3],
        &[8],
        &[8],
        &[2, half, t_words],
        &[2, half, p_pix],
    ];
    let vars: Vec<Var> = data
        .iter()
        .zip(shapes)
        .enumerate()
        .map(|(i, (d, sh))| {
            let t = Tensor::from_slice(&rt, d, sh).unwrap();
            if i == 5 {
                Var::constant(t)
            } else {
                Var::leaf(t)
            }
        })
        .collect();
    let (rm, rv) = (
        wgpu_attngan::ops::fill::zeros(&rt, &[8]).unwrap(),
        wgpu_attngan::ops::fill::full(&rt, &[8], 1.0).unwrap(),
    );
    let mask_t = Tensor::from_slice(&rt, &mask, &[2, 5]).unwrap();
    let y = conv::conv2d(&vars[0], &vars[1], None, 1, 1).unwrap();
    let z = ag::batch_norm(&y, &vars[2], &vars[3], (&rm, &rv), true).unwrap();
    let h = ag::glu(&z).unwrap().reshape(&[2, half, p_pix]).unwrap();
    let (ctx, _) = ag::word_attention(&h, &vars[4], Some(&mask_t)).unwrap();
    let loss = ctx.mul(&vars[5]).unwrap().sum_all().unwrap();
    loss.backward().unwrap();

    let f64s: Vec<Vec<f64>> = data
        .iter()
        .map(|d| d.iter().map(|&v| v as f64).collect())
        .collect();
    let got = loss.value().to_vec().unwrap()[0] as f64;
    assert!(
        (got - cpu(&f64s)).abs() < 1e-4 * (1.0 + got.abs()),
        "loss {got} vs {} (seed {s})",
        cpu(&f64s)
    );
    let eps = 1e-6;
    for which in 0..5 {
        let grad = vars[which].grad().unwrap().to_vec().unwrap();
        let num: Vec<f64> = (0..grad.len())
            .map(|i| {
                let (mut p, mut m) = (f64s.clone(), f64s.clone());
                p[which][i] += eps;
                m[which][i] -= eps;
                (cpu(&p) - cpu(&m)) / (2.0 * eps)
            })
            .collect();
        crate::common::assert_close(&format!("gradient of input {which}"), s, &grad, &num, 1e-3);
    }
}

/// A bidirectional LSTM module over padded sequences (its outputs and final
/// states) against central differences of the f64 reference LSTM.
#[test]
fn bidirectional_lstm_over_padded_sequences_matches_finite_differences() {
    use crate::lstm::{ref_forward, Dims, Weights};
    use wgpu_attngan::nn::modules::BiLstm;
    use wgpu_attngan::nn::ParamBuilder;
    let (b, t, inp, h) = (2usize, 3usize, 3usize, 2usize);
    let lens = [3usize, 2];
    let rt = rt();
    let s = seed();
    let mut pb = ParamBuilder::new(s);
    let lstm = BiLstm::new(&mut pb, "rnn", inp, h);
    let ps = pb.build(&rt).unwrap();
    let mut r = rng(s);
    let xd = random_vec(&mut r, b * t * inp, -1.0, 1.0);
    let r1: Vec<f64> = random_vec(&mut r, b * t * 2 * h, -1.0, 1.0)
        .into_iter()
        .map(f64::from)
        .collect();
    let r2: Vec<f64> = random_vec(&mut r, b * 2 * h, -1.0, 1.0)
        .into_iter()
        .map(f64::from)
        .collect();
    let x = Var::leaf(Tensor::from_slice(&rt, &xd, &[b, t, inp]).unwrap());
    let (out, last) = lstm.forward(&ps, &x, &lens).unwrap();
    let c1 = Var::constant(
        Tensor::from_slice(
            &rt,
            &r1.iter().map(|&v| v as f32).collect::<Vec<_>>(),
            &[b, t, 2 * h],
        )
        .unwrap(),
    );
    let c2 = Var::constant(
        Tensor::from_slice(
            &rt,
            &r2.iter().map(|&v| v as f32).collect::<Vec<_>>(),
            &[b, 2 * h],
        )
        .unwrap(),
    );
    let loss = out
        .mul(&c1)
        .unwrap()
        .sum_all()
        .unwrap()
        .add(&last.mul(&c2).unwrap().sum_all().unwrap())
        .unwrap();
    loss.backward().unwrap();

    // params: [fwd w_ih, w_hh, b_ih, b_hh, rev w_ih, w_hh, b_ih, b_hh] in the store's order.
    let state: Vec<Vec<f64>> = ps
        .state()
        .unwrap()
        .into_iter()
        .map(|(_, _, d)| d.into_iter().map(f64::from).collect())
        .collect();
    let cpu = |x: &[f64], p: &[Vec<f64>]| -> f64 {
        let d = Dims { b, t, inp, h };
        let wf = Weights {
            w_ih: p[0].clone(),
            w_hh: p[1].clone(),
            b_ih: p[2].clone(),
            b_hh: p[3].clone(),
        };
        let wr = Weights {
            w_ih: p[4].clone(),
            w_hh: p[5].clone(),
            b_ih: p[6].clone(),
            b_hh: p[7].clone(),
        };
        let (yf, hf, _) = ref_forward(Dims { ..d }, x, &lens, &wf, false);
        let (yr, hr, _) = ref_forward(Dims { b, t, inp, h }, x, &lens, &wr, true);
        let mut total = 0.0;
        for bi in 0..b {
            for ti in 0..t {
                for j in 0..h {
                    total += yf[(bi * t + ti) * h + j] * r1[(bi * t + ti) * 2 * h + j];
                    total += yr[(bi * t + ti) * h + j] * r1[(bi * t + ti) * 2 * h + h + j];
                }
            }
            for j in 0..h {
                total +=
                    hf[bi * h + j] * r2[bi * 2 * h + j] + hr[bi * h + j] * r2[bi * 2 * h + h + j];
            }
        }
        total
    };
    let xf: Vec<f64> = xd.iter().map(|&v| v as f64).collect();
    let got = loss.value().to_vec().unwrap()[0] as f64;
    assert!(
        (got - cpu(&xf, &state)).abs() < 1e-5,
        "loss {got} vs {} (seed {s})",
        cpu(&xf, &state)
    );
    let eps = 1e-6;
    let num_x: Vec<f64> = (0..xf.len())
        .map(|i| {
            let (mut p, mut m) = (xf.clone(), xf.clone());
            p[i] += eps;
            m[i] -= eps;
            (cpu(&p, &state) - cpu(&m, &state)) / (2.0 * eps)
        })
        .collect();
    crate::common::assert_close(
        "BiLSTM dx",
        s,
        &x.grad().unwrap().to_vec().unwrap(),
        &num_x,
        1e-4,
    );
    let ids = [lstm.forward, lstm.reverse].concat();
    for (k, id) in ids.iter().enumerate() {
        let num: Vec<f64> = (0..state[k].len())
            .map(|i| {
                let (mut p, mut m) = (state.clone(), state.clone());
                p[k][i] += eps;
                m[k][i] -= eps;
                (cpu(&xf, &p) - cpu(&xf, &m)) / (2.0 * eps)
            })
            .collect();
        let g = ps.var(*id).grad().unwrap().to_vec().unwrap();
        crate::common::assert_close(&format!("BiLSTM parameter {k}"), s, &g, &num, 1e-4);
    }
}
