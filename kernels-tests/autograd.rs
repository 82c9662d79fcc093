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

/// The penalty network of [`gradient_penalty_of_a_discriminator_matches_finite_differences`]
/// in f64: out_n = [avgpool2(q) flattened, s_n] . w2 with q = a (gamma a +
/// beta), a = leaky_relu(conv(x, w1) + b1). Returns d sum_n out_n / d y for
/// the conv's output y, worked out by hand.
fn cpu_output_grad(p: &[Vec<f64>]) -> Vec<f64> {
    let (x, w1, b1, gamma, beta, w2) = (&p[0], &p[1], &p[2], &p[3], &p[4], &p[5]);
    let (h, w) = (G.h, G.w);
    let mut y = vec![0.0; G.n * HIDDEN];
    for (i, v) in y.iter_mut().enumerate() {
        *v = b1[(i / (h * w)) % G.o];
    }
    conv_taps(G, |xi, wi, yi| y[yi] += x[xi] * w1[wi]);
    let mut gy = vec![0.0; y.len()];
    for n in 0..G.n {
        for c in 0..G.o {
            for r in 0..4 {
                for col in 0..4 {
                    let i = ((n * G.o + c) * h + r) * w + col;
                    let a = if y[i] > 0.0 { y[i] } else { 0.2 * y[i] };
                    let dq = w2[c * 4 + (r / 2) * 2 + col / 2] / 4.0;
                    let da = dq * (2.0 * gamma[c] * a + beta[c]);
                    gy[i] = da * if y[i] > 0.0 { 1.0 } else { 0.2 };
                }
            }
        }
    }
    gy
}

/// DF-GAN's penalty form on that network: 2 mean_n (|d out_n / d (x_n, s_n)|^2)^3.
fn cpu_penalty(p: &[Vec<f64>]) -> f64 {
    let (x, w1, w2) = (&p[0], &p[1], &p[5]);
    let gy = cpu_output_grad(p);
    let mut gx = vec![0.0; x.len()];
    conv_taps(G, |xi, wi, yi| gx[xi] += gy[yi] * w1[wi]);
    let per = G.c * G.h * G.w;
    let gs: f64 = w2[16..19].iter().map(|v| v * v).sum();
    let mut total = 0.0;
    for n in 0..G.n {
        let sq: f64 = gx[n * per..(n + 1) * per]
            .iter()
            .map(|v| v * v)
            .sum::<f64>()
            + gs;
        total += sq.powi(3);
    }
    2.0 * total / G.n as f64
}

/// sum over the conv weights of (d sum_n out_n / d w1)^2, in f64: the
/// second-order path through the weight gradient.
fn cpu_weight_penalty(p: &[Vec<f64>]) -> f64 {
    let x = &p[0];
    let gy = cpu_output_grad(p);
    let mut gw = vec![0.0; p[1].len()];
    conv_taps(G, |xi, wi, yi| gw[wi] += gy[yi] * x[xi]);
    gw.iter().map(|v| v * v).sum()
}

#[test]
fn gradient_penalty_of_a_discriminator_matches_finite_differences() {
    let rt = rt();
    let s = seed();
    let mut r = rng(s);
    let sizes = [
        G.n * G.c * G.h * G.w,
        G.o * G.c * 9,
        G.o,
        G.o,
        G.o,
        19,
        G.n * 3,
    ];
    let mut data: Vec<Vec<f32>> = sizes
        .iter()
        .map(|&n| random_vec(&mut r, n, -1.0, 1.0))
        .collect();
    data[1].iter_mut().for_each(|v| *v *= 0.5);
    data[2].iter_mut().for_each(|v| *v *= 0.1);
    let shapes: [&[usize]; 7] = [
        &[G.n, G.c, G.h, G.w],
        &[G.o, G.c, 3, 3],
        &[G.o],
        &[1, G.o, 1, 1],
        &[1, G.o, 1, 1],
        &[19, 1],
        &[G.n, 3],
    ];
    let vars: Vec<Var> = data
        .iter()
        .zip(shapes)
        .map(|(d, sh)| Var::leaf(Tensor::from_slice(&rt, d, sh).unwrap()))
        .collect();
    let (x, sent) = (&vars[0], &vars[6]);
    let out = |vars: &[Var]| {
        let a = conv::conv2d(&vars[0], &vars[1], Some(&vars[2]), 1, 1)
            .unwrap()
            .leaky_relu(0.2)
            .unwrap();
        let q = a
            .mul(&a.mul(&vars[3]).unwrap().add(&vars[4]).unwrap())
            .unwrap();
        let p = autograd::avg_pool2d(&q, 2, 2)
            .unwrap()
            .reshape(&[G.n, 16])
            .unwrap();
        autograd::concat(&[&p, &vars[6]], 1)
            .unwrap()
            .matmul(&vars[5], false, false)
            .unwrap()
    };
    let o = out(&vars);
    let g = autograd::grad(&o, &[x, sent], true).unwrap();
    assert_eq!(g[0].shape(), x.shape());
    assert_eq!(g[1].shape(), sent.shape());
    let flat =
        autograd::concat(&[&g[0].reshape(&[G.n, G.c * G.h * G.w]).unwrap(), &g[1]], 1).unwrap();
    let sq = flat.square().unwrap().sum(1, false).unwrap();
    let penalty = sq
        .mul(&sq.square().unwrap())
        .unwrap()
        .mean_all()
        .unwrap()
        .mul_scalar(2.0)
        .unwrap();
    penalty.backward().unwrap();

    let f64s: Vec<Vec<f64>> = data
        .iter()
        .map(|d| d.iter().map(|&v| v as f64).collect())
        .collect();
    let want = cpu_penalty(&f64s);
    let got = penalty.value().to_vec().unwrap()[0] as f64;
    assert!(
        (got - want).abs() < 1e-4 * want.abs(),
        "penalty {got} vs {want} (seed {s})"
    );
    let eps = 1e-6;
    // The sentence enters linearly: its gradient does not depend on it,
    // so the penalty does not reach it.
    assert!(vars[6].grad().is_none());
    for which in 0..6 {
        let grad = vars[which].grad().unwrap().to_vec().unwrap();
        let num: Vec<f64> = (0..grad.len())
            .map(|i| {
                let mut p = f64s.clone();
                p[which][i] += eps;
                let mut m = f64s.clone();
                m[which][i] -= eps;
                (cpu_penalty(&p) - cpu_penalty(&m)) / (2.0 * eps)
            })
            .collect();
        crate::common::assert_close(
            &format!("penalty gradient of input {which}"),
            s,
            &grad,
            &num,
            1e-3,
        );
    }

    // Without create_graph: the same values, as constants; the first-order
    // tape is intact (grad consumed nothing), so a plain backward still runs.
    let o2 = out(&vars);
    let plain = autograd::grad(&o2, &[x], false).unwrap();
    assert!(!plain[0].requires_grad());
    let a = plain[0].value().to_vec().unwrap();
    let b = g[0].value().to_vec().unwrap();
    assert_eq!(a, b);
    o2.sum_all().unwrap().backward().unwrap();
    // The second order through conv2d's weight gradient (an op of its own).
    let fresh: Vec<Var> = data
        .iter()
        .zip(shapes)
        .map(|(d, sh)| Var::leaf(Tensor::from_slice(&rt, d, sh).unwrap()))
        .collect();
    let o3 = out(&fresh);
    let gw = autograd::grad(&o3, &[&fresh[1]], true).unwrap();
    let pen2 = gw[0].square().unwrap().sum_all().unwrap();
    let want = cpu_weight_penalty(&f64s);
    let got = pen2.value().to_vec().unwrap()[0] as f64;
    assert!(
        (got - want).abs() < 1e-4 * want.abs(),
        "weight penalty {got} vs {want} (seed {s})"
    );
    pen2.backward().unwrap();
    for which in [0, 1, 5] {
        let grad = fresh[which].grad().unwrap().to_vec().unwrap();
        let num: Vec<f64> = (0..grad.len())
            .map(|i| {
                let mut p = f64s.clone();
                p[which][i] += eps;
                let mut m = f64s.clone();
                m[which][i] -= eps;
                (cpu_weight_penalty(&p) - cpu_weight_penalty(&m)) / (2.0 * eps)
            })
            .collect();
        crate::common::assert_close(
            &format!("weight-gradient penalty, input {which}"),
            s,
            &grad,
            &num,
            1e-3,
        );
    }
    // An op with no second-order rule on the way is named, not silently wrong.
    let e = autograd::grad(&x.sigmoid().unwrap().sum_all().unwrap(), &[x], true)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("no second-order rule"), "{e}");
}
