//! LSTM: the fused cell kernels and the sequence drivers (both directions,
//! variable lengths) against an f64 reference, whose backward through time is
//! itself checked by central finite differences.

// The references index several arrays with one loop variable, as the maths reads.
#![allow(clippy::needless_range_loop)]

use rand::Rng;
use wgpu_attngan::ops::lstm::{
    lengths_tensor, lstm_backward, lstm_cell_backward, lstm_cell_forward, lstm_forward,
};
use wgpu_attngan::Tensor;

use crate::common::{assert_close, random_vec, rng, rt, seed};

#[derive(Clone, Copy, Debug)]
pub(crate) struct Dims {
    pub b: usize,
    pub t: usize,
    pub inp: usize,
    pub h: usize,
}

#[derive(Clone)]
pub(crate) struct Weights {
    pub w_ih: Vec<f64>, // [4H, In]
    pub w_hh: Vec<f64>, // [4H, H]
    pub b_ih: Vec<f64>,
    pub b_hh: Vec<f64>,
}

/// Per (row, time) of an active step: activations (i, f, g, o), c_prev, c, h_prev.
pub(crate) type Cache = Vec<Option<(Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>)>>;

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

fn order(t: usize, reverse: bool) -> Vec<usize> {
    if reverse {
        (0..t).rev().collect()
    } else {
        (0..t).collect()
    }
}

/// Reference forward, one row at a time. x: [B, T, In] -> (y [B, T, H], h_n [B, H], cache)
pub(crate) fn ref_forward(
    d: Dims,
    x: &[f64],
    lens: &[usize],
    w: &Weights,
    reverse: bool,
) -> (Vec<f64>, Vec<f64>, Cache) {
    let Dims { b, t, inp, h } = d;
    let mut y = vec![0.0; b * t * h];
    let mut hn = vec![0.0; b * h];
    let mut cache: Cache = vec![None; b * t];
    for bi in 0..b {
        let mut hs = vec![0.0; h];
        let mut cs = vec![0.0; h];
        for ti in order(t, reverse) {
            if ti >= lens[bi] {
                continue;
            }
            let xt = &x[(bi * t + ti) * inp..][..inp];
            let mut act = vec![0.0; 4 * h];
            for r in 0..4 * h {
                let mut s = w.b_ih[r] + w.b_hh[r];
                for k in 0..inp {
                    s += w.w_ih[r * inp + k] * xt[k];
                }
                for k in 0..h {
                    s += w.w_hh[r * h + k] * hs[k];
                }
                act[r] = if r / h == 2 { s.tanh() } else { sigmoid(s) };
            }
            let mut c = vec![0.0; h];
            let mut hnew = vec![0.0; h];
            for j in 0..h {
                c[j] = act[h + j] * cs[j] + act[j] * act[2 * h + j];
                hnew[j] = act[3 * h + j] * c[j].tanh();
                y[(bi * t + ti) * h + j] = hnew[j];
            }
            cache[bi * t + ti] = Some((act, cs.clone(), c.clone(), hs.clone()));
            hs = hnew;
            cs = c;
        }
        hn[bi * h..][..h].copy_from_slice(&hs);
    }
    (y, hn, cache)
}

struct RefGrads {
    dx: Vec<f64>,
    dw_ih: Vec<f64>,
    dw_hh: Vec<f64>,
    db: Vec<f64>,
}

/// Reference backward through time of `ref_forward`.
#[allow(clippy::too_many_arguments)]
fn ref_backward(
    d: Dims,
    x: &[f64],
    lens: &[usize],
    w: &Weights,
    reverse: bool,
    cache: &Cache,
    dy: &[f64],
    dhn: &[f64],
) -> RefGrads {
    let Dims { b, t, inp, h } = d;
    let mut g = RefGrads {
        dx: vec![0.0; b * t * inp],
        dw_ih: vec![0.0; 4 * h * inp],
        dw_hh: vec![0.0; 4 * h * h],
        db: vec![0.0; 4 * h],
    };
    for bi in 0..b {
        let mut dh = dhn[bi * h..][..h].to_vec();
        let mut dc = vec![0.0; h];
        for ti in order(t, !reverse) {
            if ti >= lens[bi] {
                continue;
            }
            let (act, c_prev, c, h_prev) = cache[bi * t + ti].as_ref().unwrap();
            let mut dgate = vec![0.0; 4 * h];
            for j in 0..h {
                let dht = dh[j] + dy[(bi * t + ti) * h + j];
                let (i, f, gg, o) = (act[j], act[h + j], act[2 * h + j], act[3 * h + j]);
                let tc = c[j].tanh();
                let dct = dc[j] + dht * o * (1.0 - tc * tc);
                dgate[j] = dct * gg * i * (1.0 - i);
                dgate[h + j] = dct * c_prev[j] * f * (1.0 - f);
                dgate[2 * h + j] = dct * i * (1.0 - gg * gg);
                dgate[3 * h + j] = dht * tc * o * (1.0 - o);
                dc[j] = dct * f;
            }
            let xt = &x[(bi * t + ti) * inp..][..inp];
            let mut dh_prev = vec![0.0; h];
            for r in 0..4 * h {
                g.db[r] += dgate[r];
                for k in 0..inp {
                    g.dw_ih[r * inp + k] += dgate[r] * xt[k];
                    g.dx[(bi * t + ti) * inp + k] += dgate[r] * w.w_ih[r * inp + k];
                }
                for k in 0..h {
                    g.dw_hh[r * h + k] += dgate[r] * h_prev[k];
                    dh_prev[k] += dgate[r] * w.w_hh[r * h + k];
                }
            }
            dh = dh_prev;
        }
    }
    g
}

fn random_weights(r: &mut impl Rng, d: Dims) -> Weights {
    // PyTorch's init range, U(-1/sqrt(H), 1/sqrt(H)).
    let k = 1.0 / (d.h as f64).sqrt();
    let mut v = |n: usize| (0..n).map(|_| r.random_range(-k..k)).collect::<Vec<f64>>();
    Weights {
        w_ih: v(4 * d.h * d.inp),
        w_hh: v(4 * d.h * d.h),
        b_ih: v(4 * d.h),
        b_hh: v(4 * d.h),
    }
}

fn f64s(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| x as f64).collect()
}

fn f32s(v: &[f64]) -> Vec<f32> {
    v.iter().map(|&x| x as f32).collect()
}

#[test]
fn reference_backward_matches_finite_differences() {
    let d = Dims {
        b: 2,
        t: 3,
        inp: 3,
        h: 2,
    };
    let lens = [3, 2];
    let s = seed();
    let mut r = rng(s);
    let mut w = random_weights(&mut r, d);
    let mut x: Vec<f64> = (0..d.b * d.t * d.inp)
        .map(|_| r.random_range(-1.0..1.0))
        .collect();
    let ry: Vec<f64> = (0..d.b * d.t * d.h)
        .map(|_| r.random_range(-1.0..1.0))
        .collect();
    let rh: Vec<f64> = (0..d.b * d.h).map(|_| r.random_range(-1.0..1.0)).collect();
    for reverse in [false, true] {
        let loss = |x: &[f64], w: &Weights| {
            let (y, hn, _) = ref_forward(d, x, &lens, w, reverse);
            let a: f64 = y.iter().zip(&ry).map(|(a, b)| a * b).sum();
            a + hn.iter().zip(&rh).map(|(a, b)| a * b).sum::<f64>()
        };
        let (_, _, cache) = ref_forward(d, &x, &lens, &w, reverse);
        let g = ref_backward(d, &x, &lens, &w, reverse, &cache, &ry, &rh);
        let eps = 1e-6;
        let check = |name: &str, analytic: &[f64], get: &mut dyn FnMut(usize, f64) -> f64| {
            let numeric: Vec<f64> = (0..analytic.len())
                .map(|i| (get(i, eps) - get(i, -eps)) / (2.0 * eps))
                .collect();
            assert_close(
                &format!("reference {name} reverse={reverse}"),
                s,
                &f32s(analytic),
                &numeric,
                1e-5,
            );
        };
        let w0 = w.clone();
        check("dx", &g.dx, &mut |i, e| {
            let old = x[i];
            x[i] += e;
            let l = loss(&x, &w0);
            x[i] = old;
            l
        });
        let x0 = x.clone();
        check("dw_ih", &g.dw_ih, &mut |i, e| {
            w.w_ih[i] += e;
            let l = loss(&x0, &w);
            w.w_ih[i] -= e;
            l
        });
        check("dw_hh", &g.dw_hh, &mut |i, e| {
            w.w_hh[i] += e;
            let l = loss(&x0, &w);
            w.w_hh[i] -= e;
            l
        });
        check("db_ih", &g.db, &mut |i, e| {
            w.b_ih[i] += e;
            let l = loss(&x0, &w);
            w.b_ih[i] -= e;
            l
        });
        check("db_hh", &g.db, &mut |i, e| {
            w.b_hh[i] += e;
            let l = loss(&x0, &w);
            w.b_hh[i] -= e;
            l
        });
    }
}

/// GPU forward and backward of one direction against the reference.
fn check_sequence(d: Dims, lens: &[usize], reverse: bool, tol: f64) {
    let rt = rt();
    let s = seed();
    let mut r = rng(s);
    let w = random_weights(&mut r, d);
    let x = random_vec(&mut r, d.b * d.t * d.inp, -1.0, 1.0);
    let dy = random_vec(&mut r, d.b * d.t * d.h, -1.0, 1.0);
    let dhn = random_vec(&mut r, d.b * d.h, -1.0, 1.0);
    let up = |v: &[f64], shape: &[usize]| Tensor::from_slice(&rt, &f32s(v), shape).unwrap();
    let (h4, h) = (4 * d.h, d.h);
    let xt = Tensor::from_slice(&rt, &x, &[d.b, d.t, d.inp]).unwrap();
    let (out, hn, saved) = lstm_forward(
        &xt,
        lens,
        &up(&w.w_ih, &[h4, d.inp]),
        &up(&w.w_hh, &[h4, h]),
        &up(&w.b_ih, &[h4]),
        &up(&w.b_hh, &[h4]),
        reverse,
    )
    .unwrap();
    // The reference runs on the f32-rounded inputs.
    let wr = Weights {
        w_ih: f64s(&f32s(&w.w_ih)),
        w_hh: f64s(&f32s(&w.w_hh)),
        b_ih: f64s(&f32s(&w.b_ih)),
        b_hh: f64s(&f32s(&w.b_hh)),
    };
    let (y, hn_ref, cache) = ref_forward(d, &f64s(&x), lens, &wr, reverse);
    let what = format!("lstm {d:?} lengths {lens:?} reverse={reverse}");
    assert_eq!(out.shape(), &[d.b, d.t, d.h]);
    assert_close(
        &format!("{what} outputs"),
        s,
        &out.to_vec().unwrap(),
        &y,
        tol,
    );
    assert_close(
        &format!("{what} h_n"),
        s,
        &hn.to_vec().unwrap(),
        &hn_ref,
        tol,
    );

    let g = lstm_backward(
        &saved,
        &Tensor::from_slice(&rt, &dy, &[d.b, d.t, d.h]).unwrap(),
        &Tensor::from_slice(&rt, &dhn, &[d.b, d.h]).unwrap(),
    )
    .unwrap();
    let gr = ref_backward(
        d,
        &f64s(&x),
        lens,
        &wr,
        reverse,
        &cache,
        &f64s(&dy),
        &f64s(&dhn),
    );
    assert_eq!(g.dx.shape(), &[d.b, d.t, d.inp]);
    let cmp = |name: &str, t: &Tensor, r: &[f64]| {
        assert_close(&format!("{what} {name}"), s, &t.to_vec().unwrap(), r, tol)
    };
    cmp("dx", &g.dx, &gr.dx);
    cmp("dw_ih", &g.dw_ih, &gr.dw_ih);
    cmp("dw_hh", &g.dw_hh, &gr.dw_hh);
    cmp("db_ih", &g.db_ih, &gr.db);
    cmp("db_hh", &g.db_hh, &gr.db);
}

#[test]
fn lstm_matches_reference_on_odd_sizes() {
    for &(b, t, h, ref lens) in &[
        (1, 1, 3, vec![1]),
        (1, 5, 33, vec![5]),
        (3, 1, 3, vec![1, 0, 1]),
        (3, 5, 3, vec![5, 2, 3]),
        (3, 5, 33, vec![3, 5, 1]),
    ] {
        for reverse in [false, true] {
            check_sequence(Dims { b, t, inp: 7, h }, lens, reverse, 1e-5);
        }
    }
}

#[test]
fn lstm_matches_reference_at_attngan_size() {
    let d = Dims {
        b: 2,
        t: 18,
        inp: 300,
        h: 128,
    };
    let len = rng(seed()).random_range(1..18);
    for reverse in [false, true] {
        check_sequence(d, &[18, len], reverse, 1e-4);
    }
}

#[test]
fn lstm_cell_step_matches_reference() {
    let rt = rt();
    let (b, h) = (3, 33);
    let s = seed();
    let mut r = rng(s);
    let gp = random_vec(&mut r, b * 4 * h, -3.0, 3.0);
    let hp = random_vec(&mut r, b * h, -1.0, 1.0);
    let cp = random_vec(&mut r, b * h, -1.0, 1.0);
    let dh = random_vec(&mut r, b * h, -1.0, 1.0);
    let dc = random_vec(&mut r, b * h, -1.0, 1.0);
    let t_ = |v: &[f32], shape: &[usize]| Tensor::from_slice(&rt, v, shape).unwrap();
    // Row 1 has ended at t = 2.
    let lens = lengths_tensor(&rt, &[4, 2, 3], 4).unwrap();
    let out = lstm_cell_forward(
        &t_(&gp, &[b, 4 * h]),
        &t_(&hp, &[b, h]),
        &t_(&cp, &[b, h]),
        &lens,
        2,
    )
    .unwrap();
    let grads = lstm_cell_backward(
        &t_(&dh, &[b, h]),
        &t_(&dc, &[b, h]),
        &out.gates,
        &t_(&cp, &[b, h]),
        &out.c,
        &lens,
        2,
    )
    .unwrap();
    let (mut hr, mut cr, mut yr, mut ar) = (vec![], vec![], vec![], vec![0.0; b * 4 * h]);
    let (mut dgr, mut dcr, mut dhr) = (vec![0.0; b * 4 * h], vec![], vec![]);
    for bi in 0..b {
        for j in 0..h {
            let k = bi * h + j;
            if bi == 1 {
                hr.push(hp[k] as f64);
                cr.push(cp[k] as f64);
                yr.push(0.0);
                dcr.push(dc[k] as f64);
                dhr.push(dh[k] as f64);
                continue;
            }
            let pre = |q: usize| gp[bi * 4 * h + q * h + j] as f64;
            let (i, f, g, o) = (
                sigmoid(pre(0)),
                sigmoid(pre(1)),
                pre(2).tanh(),
                sigmoid(pre(3)),
            );
            let c = f * cp[k] as f64 + i * g;
            let hh = o * c.tanh();
            hr.push(hh);
            cr.push(c);
            yr.push(hh);
            for (q, a) in [i, f, g, o].into_iter().enumerate() {
                ar[bi * 4 * h + q * h + j] = a;
            }
            let tc = c.tanh();
            let dct = dc[k] as f64 + dh[k] as f64 * o * (1.0 - tc * tc);
            dgr[bi * 4 * h + j] = dct * g * i * (1.0 - i);
            dgr[bi * 4 * h + h + j] = dct * cp[k] as f64 * f * (1.0 - f);
            dgr[bi * 4 * h + 2 * h + j] = dct * i * (1.0 - g * g);
            dgr[bi * 4 * h + 3 * h + j] = dh[k] as f64 * tc * o * (1.0 - o);
            dcr.push(dct * f);
            dhr.push(0.0);
        }
    }
    let cmp = |name: &str, t: &Tensor, r: &[f64]| {
        assert_close(
            &format!("lstm cell {name}"),
            s,
            &t.to_vec().unwrap(),
            r,
            1e-5,
        )
    };
    cmp("h", &out.h, &hr);
    cmp("c", &out.c, &cr);
    cmp("y", &out.y, &yr);
    cmp("gates", &out.gates, &ar);
    cmp("d_gates_pre", &grads.d_gates_pre, &dgr);
    cmp("dc_prev", &grads.dc_prev, &dcr);
    cmp("dh_pass", &grads.dh_pass, &dhr);
}

#[test]
fn lstm_errors_name_the_bad_input() {
    let rt = rt();
    let z = |shape: &[usize]| {
        Tensor::from_slice(&rt, &vec![0.0; shape.iter().product()], shape).unwrap()
    };
    let e = lengths_tensor(&rt, &[3, 7], 5).unwrap_err().to_string();
    assert!(e.contains("length 7") && e.contains("5 time steps"), "{e}");
    let e = lstm_forward(
        &z(&[2, 5, 7]),
        &[5, 5],
        &z(&[12, 6]),
        &z(&[12, 3]),
        &z(&[12]),
        &z(&[12]),
        false,
    )
    .err()
    .unwrap()
    .to_string();
    assert!(
        e.contains("w_ih") && e.contains("[12, 6]") && e.contains("[12, 7]"),
        "{e}"
    );
    let e = lstm_forward(
        &z(&[2, 5, 7]),
        &[5],
        &z(&[12, 7]),
        &z(&[12, 3]),
        &z(&[12]),
        &z(&[12]),
        false,
    )
    .err()
    .unwrap()
    .to_string();
    assert!(e.contains("1 lengths") && e.contains("batch of 2"), "{e}");
}
