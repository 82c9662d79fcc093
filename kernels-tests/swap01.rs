//! swap01: [A, B, C] -> [B, A, C], against the index map, on odd sizes and
//! poisoned outputs; a view with an offset; the shape error.

use wgpu_attngan::ops::swap01::swap01;
use wgpu_attngan::Tensor;

use crate::common::{random_vec, rng, rt, seed, ODD};

#[test]
fn swap01_matches_the_index_map_on_odd_sizes() {
    let rt = rt();
    let s = seed();
    let mut r = rng(s);
    for &a in ODD {
        // Rows per invocation (C <= 64), single values (C = 129), vec4s
        // (C a multiple of 4).
        for (b, c) in [(1, 1), (3, 7), (33, 2), (2, 129), (5, 4), (3, 16), (2, 68)] {
            let x = random_vec(&mut r, a * b * c, -1.0, 1.0);
            let y = swap01(&Tensor::from_slice(&rt, &x, &[a, b, c]).unwrap()).unwrap();
            assert_eq!(y.shape(), &[b, a, c]);
            let y = y.to_vec().unwrap();
            for (i, j, k) in
                (0..a).flat_map(|i| (0..b).flat_map(move |j| (0..c).map(move |k| (i, j, k))))
            {
                assert_eq!(
                    y[(j * a + i) * c + k],
                    x[(i * b + j) * c + k],
                    "[{a}, {b}, {c}] at ({i}, {j}, {k}) (seed {s})"
                );
            }
        }
    }
}

#[test]
fn swap01_reads_a_view_and_refuses_other_ranks() {
    let rt = rt();
    let x: Vec<f32> = (0..2 * 2 * 3 * 4).map(|v| v as f32).collect();
    let whole = Tensor::from_slice(&rt, &x, &[2, 2, 3, 4]).unwrap();
    let second = wgpu_attngan::ops::concat::narrow_copy(&whole, 0, 1, 1).unwrap();
    let y = swap01(&second.reshape(&[2, 3, 4]).unwrap())
        .unwrap()
        .to_vec()
        .unwrap();
    assert_eq!(y[0], x[24]);
    assert_eq!(y[4], x[24 + 12]);
    // Views at offsets 4 (vec4s) and 6 (rows, not multiples of 4).
    let flat = Tensor::from_slice(&rt, &x, &[12, 4]).unwrap();
    let y = swap01(&flat.narrow(1, 8).unwrap().reshape(&[2, 4, 4]).unwrap())
        .unwrap()
        .to_vec()
        .unwrap();
    assert_eq!(
        &y[..8],
        &[x[4], x[5], x[6], x[7], x[20], x[21], x[22], x[23]]
    );
    let rows = Tensor::from_slice(&rt, &x, &[16, 3]).unwrap();
    let y = swap01(&rows.narrow(2, 8).unwrap().reshape(&[2, 4, 3]).unwrap())
        .unwrap()
        .to_vec()
        .unwrap();
    assert_eq!(&y[..6], &[x[6], x[7], x[8], x[18], x[19], x[20]]);
    let e = swap01(&whole).err().unwrap().to_string();
    assert!(e.contains("[A, B, C]") && e.contains("[2, 2, 3, 4]"), "{e}");
}
