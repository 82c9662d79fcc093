//! Dropout: the device mask follows the seed (host mirror), drops about p of
//! the elements, scales the survivors, and the backward uses the same mask.

use wgpu_attngan::ops::dropout::{dropout_backward, dropout_forward, keep};
use wgpu_attngan::Tensor;

use crate::common::{random_vec, rng, rt, seed};

#[test]
fn dropout_mask_follows_seed_and_rate() {
    let rt = rt();
    let n = 100_003;
    for &p in &[0.0f32, 0.1, 0.5, 0.9, 1.0] {
        let s = seed();
        let x = random_vec(&mut rng(s), n, 0.5, 2.0);
        let xt = Tensor::from_slice(&rt, &x, &[n]).unwrap();
        let (y, mask) = dropout_forward(&xt, p, s).unwrap();
        let (y, mask) = (y.to_vec().unwrap(), mask.to_vec().unwrap());
        let scale = if p < 1.0 { 1.0 / (1.0 - p) } else { 0.0 };
        let mut dropped = 0usize;
        for i in 0..n {
            let k = keep(s, i as u32, p);
            assert_eq!(mask[i], if k { 1.0 } else { 0.0 }, "p={p} seed {s} i={i}");
            assert_eq!(
                y[i],
                if k { x[i] * scale } else { 0.0 },
                "p={p} seed {s} i={i}"
            );
            dropped += !k as usize;
        }
        let rate = dropped as f64 / n as f64;
        // Binomial spread: sd = sqrt(p(1-p)/n) <= 0.0016; allow 5 sd.
        assert!(
            (rate - p as f64).abs() < 0.008,
            "p={p} seed {s}: rate {rate}"
        );

        // Same seed -> same mask; another seed -> another mask.
        let (_, again) = dropout_forward(&xt, p, s).unwrap();
        assert_eq!(again.to_vec().unwrap(), mask, "p={p} seed {s}");
        if p == 0.5 {
            let (_, other) = dropout_forward(&xt, p, s ^ 1).unwrap();
            let other = other.to_vec().unwrap();
            let same = other.iter().zip(&mask).filter(|(a, b)| a == b).count();
            assert!(
                (same as f64 / n as f64 - 0.5).abs() < 0.01,
                "seeds {s}, {}",
                s ^ 1
            );
        }

        // Backward: dy * mask / (1 - p).
        let dy = random_vec(&mut rng(s + 1), n, -1.0, 1.0);
        let dyt = Tensor::from_slice(&rt, &dy, &[n]).unwrap();
        let mt = Tensor::from_slice(&rt, &mask, &[n]).unwrap();
        let dx = dropout_backward(&dyt, &mt, p).unwrap().to_vec().unwrap();
        for i in 0..n {
            assert_eq!(dx[i], dy[i] * mask[i] * scale, "p={p} seed {s} i={i}");
        }
    }
}

#[test]
fn dropout_rejects_bad_p_and_shapes() {
    let rt = rt();
    let x = Tensor::from_slice(&rt, &[1.0; 6], &[2, 3]).unwrap();
    let e = dropout_forward(&x, 1.5, 0).unwrap_err().to_string();
    assert!(e.contains("p = 1.5"), "{e}");
    let m = Tensor::from_slice(&rt, &[1.0; 6], &[3, 2]).unwrap();
    let e = dropout_backward(&x, &m, 0.5).unwrap_err().to_string();
    assert!(e.contains("[2, 3]") && e.contains("[3, 2]"), "{e}");
}
