//! axpby (in place y = alpha x + beta y, the moving average's update) against
//! an f64 reference, on odd sizes, views with an offset and poisoned outputs.

use wgpu_attngan::ops::axpby::axpby_;
use wgpu_attngan::Tensor;

use crate::common::{assert_close, random_vec, rng, rt, seed, ODD};

#[test]
fn axpby_matches_reference_in_place_on_views() {
    let rt = rt();
    let s = seed();
    let mut r = rng(s);
    // Odd sizes (scalar), multiples of 4 (vec4s, at offset n).
    for &n in ODD.iter().chain(&[100_003, 4, 1028]) {
        let x = random_vec(&mut r, 2 * n, -1.0, 1.0);
        let y = random_vec(&mut r, 2 * n, -1.0, 1.0);
        // The second halves: views n elements into their buffers.
        let xt = Tensor::from_slice(&rt, &x, &[2, n])
            .unwrap()
            .narrow(1, 1)
            .unwrap();
        let yt = Tensor::from_slice(&rt, &y, &[2, n]).unwrap();
        let (alpha, beta) = (0.75f32, -1.5f32);
        axpby_(&xt, &yt.narrow(1, 1).unwrap(), alpha, beta).unwrap();
        let got = yt.to_vec().unwrap();
        let want: Vec<f64> = (0..2 * n)
            .map(|i| {
                if i < n {
                    y[i] as f64
                } else {
                    alpha as f64 * x[i] as f64 + beta as f64 * y[i] as f64
                }
            })
            .collect();
        assert_close(&format!("axpby n={n}"), s, &got, &want, 1e-6);
    }
    let a = Tensor::from_slice(&rt, &[0.0; 3], &[3]).unwrap();
    let b = Tensor::from_slice(&rt, &[0.0; 4], &[4]).unwrap();
    assert!(axpby_(&a, &b, 1.0, 1.0).is_err());
}
