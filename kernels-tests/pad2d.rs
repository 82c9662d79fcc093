//! pad2d against the index map (it was tested only through the register
//! convolution), on odd sizes and poisoned outputs.

use wgpu_attngan::ops::pad2d::pad2d;
use wgpu_attngan::Tensor;

use crate::common::{random_vec, rng, rt, seed, ODD};

#[test]
fn pad2d_matches_reference_on_odd_sizes() {
    let rt = rt();
    let s = seed();
    let mut r = rng(s);
    for (n, c) in [(1, 1), (2, 3)] {
        for &h in &ODD[..4] {
            for (w, p) in [(1, 1), (5, 2), (7, 3)] {
                let x = random_vec(&mut r, n * c * h * w, -1.0, 1.0);
                let y = pad2d(&Tensor::from_slice(&rt, &x, &[n, c, h, w]).unwrap(), p).unwrap();
                let (hp, wp) = (h + 2 * p, w + 2 * p);
                assert_eq!(y.shape(), &[n, c, hp, wp]);
                let y = y.to_vec().unwrap();
                for m in 0..n * c {
                    for i in 0..hp {
                        for j in 0..wp {
                            let inside = (p..p + h).contains(&i) && (p..p + w).contains(&j);
                            let want = if inside {
                                x[(m * h + i - p) * w + j - p]
                            } else {
                                0.0
                            };
                            assert_eq!(
                                y[(m * hp + i) * wp + j],
                                want,
                                "[{n}, {c}, {h}, {w}] p {p} (seed {s})"
                            );
                        }
                    }
                }
            }
        }
    }
    // p = 0 is the input itself; a rank other than 4 is refused.
    let x = Tensor::from_slice(&rt, &[1.0, 2.0], &[1, 1, 1, 2]).unwrap();
    assert_eq!(pad2d(&x, 0).unwrap().to_vec().unwrap(), [1.0, 2.0]);
    let e = pad2d(&x.reshape(&[2]).unwrap(), 1)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("rank 4"), "{e}");
}
