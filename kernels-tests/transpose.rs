//! transpose_last2 against the index map (it was tested only through the
//! ops that use it), on odd sizes and poisoned outputs.

use wgpu_attngan::ops::transpose::transpose_last2;
use wgpu_attngan::Tensor;

use crate::common::{random_vec, rng, rt, seed, ODD};

#[test]
fn transpose_last2_matches_reference_on_odd_sizes() {
    let rt = rt();
    let s = seed();
    let mut r = rng(s);
    for &b in &ODD[..3] {
        for (m, n) in [(1, 1), (3, 7), (33, 5), (129, 2)] {
            let x = random_vec(&mut r, b * m * n, -1.0, 1.0);
            let y = transpose_last2(&Tensor::from_slice(&rt, &x, &[b, m, n]).unwrap()).unwrap();
            assert_eq!(y.shape(), &[b, n, m]);
            let y = y.to_vec().unwrap();
            for k in 0..b {
                for i in 0..m {
                    for j in 0..n {
                        assert_eq!(
                            y[(k * n + j) * m + i],
                            x[(k * m + i) * n + j],
                            "[{b}, {m}, {n}] (seed {s})"
                        );
                    }
                }
            }
        }
    }
}
