//! The fused Adam step (with clipping by global norm) against an f64 reference.

use wgpu_attngan::ops::adam::{adam_step, AdamStep};
use wgpu_attngan::Tensor;

use crate::common::{assert_close, random_vec, rng, rt, seed};

#[test]
fn adam_matches_reference_over_several_steps() {
    let rt = rt();
    for (n, max_norm, wd) in [
        (1usize, 0.0f32, 0.0f32),
        (129, 0.0, 0.01),
        (1031, 0.25, 0.0),
        (1024, 0.25, 0.01),
    ] {
        let s = seed();
        let mut r = rng(s);
        let p0 = random_vec(&mut r, n, -1.0, 1.0);
        let (mut p, mut m, mut v) = (
            p0.iter().map(|&x| x as f64).collect::<Vec<_>>(),
            vec![0.0f64; n],
            vec![0.0f64; n],
        );
        let param = Tensor::from_slice(&rt, &p0, &[n]).unwrap();
        let mt = Tensor::from_slice(&rt, &vec![0.0; n], &[n]).unwrap();
        let vt = Tensor::from_slice(&rt, &vec![0.0; n], &[n]).unwrap();
        let (lr, b1, b2, eps) = (0.01f64, 0.5f64, 0.999f64, 1e-8f64);
        for t in 1..=4u64 {
            let g = random_vec(&mut r, n, -2.0, 2.0);
            let grad = Tensor::from_slice(&rt, &g, &[n]).unwrap();
            let sumsq_host: f64 = g.iter().map(|&x| (x as f64).powi(2)).sum();
            let sumsq = Tensor::from_slice(&rt, &[sumsq_host as f32], &[1]).unwrap();
            let h = AdamStep {
                lr: lr as f32,
                beta1: b1 as f32,
                beta2: b2 as f32,
                eps: eps as f32,
                weight_decay: wd,
                t,
                max_norm,
            };
            adam_step(&param, &grad, &mt, &vt, &sumsq, h).unwrap();
            let clip = if max_norm > 0.0 {
                (max_norm as f64 / (sumsq_host.sqrt() + 1e-6)).min(1.0)
            } else {
                1.0
            };
            for i in 0..n {
                let gi = clip * g[i] as f64 + wd as f64 * p[i];
                m[i] = b1 * m[i] + (1.0 - b1) * gi;
                v[i] = b2 * v[i] + (1.0 - b2) * gi * gi;
                let mh = m[i] / (1.0 - b1.powi(t as i32));
                let vh = v[i] / (1.0 - b2.powi(t as i32));
                p[i] -= lr * mh / (vh.sqrt() + eps);
            }
        }
        assert_close(
            &format!("adam n={n} clip={max_norm}"),
            s,
            &param.to_vec().unwrap(),
            &p,
            1e-5,
        );
        assert_close(&format!("adam m n={n}"), s, &mt.to_vec().unwrap(), &m, 1e-5);
    }
}
