//! fill, copy, unary and broadcasting binary ops against f64 references.

use wgpu_attngan::ops::fill::{copy, full};
use wgpu_attngan::ops::{binary::binary, unary::unary, BinaryOp, UnaryOp};
use wgpu_attngan::Tensor;

use crate::common::{assert_close, random_vec, rng, rt, seed, ODD};

#[test]
fn fill_and_copy() {
    let rt = rt();
    for &n in ODD {
        let t = full(&rt, &[n, 3], 2.5).unwrap();
        assert_eq!(t.to_vec().unwrap(), vec![2.5; n * 3]);
        // n * 4 values: the vec4 kernel.
        let t = full(&rt, &[n, 4], -1.5).unwrap();
        assert_eq!(t.to_vec().unwrap(), vec![-1.5; n * 4]);
        let s = seed();
        let data = random_vec(&mut rng(s), n * 5, -1.0, 1.0);
        let x = Tensor::from_slice(&rt, &data, &[n, 5]).unwrap();
        let y = copy(&x).unwrap();
        assert_eq!(y.to_vec().unwrap(), data, "seed {s}");
    }
}

/// Inputs inside each op's domain.
fn domain(op: UnaryOp) -> (f32, f32) {
    match op {
        UnaryOp::Log | UnaryOp::Sqrt | UnaryOp::RdivScalar => (0.1, 4.0),
        UnaryOp::Exp => (-5.0, 5.0),
        UnaryOp::Sigmoid | UnaryOp::Tanh => (-30.0, 30.0),
        _ => (-3.0, 3.0),
    }
}

#[test]
fn unary_ops_match_reference() {
    let rt = rt();
    for &op in UnaryOp::ALL {
        // Odd sizes, and multiples of 4 for the vec4 kernels.
        for &n in ODD.iter().chain(&[4, 132]) {
            let s = seed();
            let (lo, hi) = domain(op);
            let data = random_vec(&mut rng(s), n * 7, lo, hi);
            let alpha = 0.37f32;
            let x = Tensor::from_slice(&rt, &data, &[7, n]).unwrap();
            let out = unary(&x, op, alpha).unwrap();
            assert_eq!(out.shape(), &[7, n]);
            let reference: Vec<f64> = data
                .iter()
                .map(|&v| op.reference(v as f64, alpha as f64))
                .collect();
            assert_close(
                &format!("{op:?} n={n}"),
                s,
                &out.to_vec().unwrap(),
                &reference,
                1e-5,
            );
        }
    }
}

#[test]
fn tanh_and_sigmoid_stay_finite_at_extremes() {
    let rt = rt();
    let x = Tensor::from_slice(&rt, &[-1e4, -100.0, 0.0, 100.0, 1e4], &[5]).unwrap();
    assert_eq!(
        x.tanh().unwrap().to_vec().unwrap(),
        vec![-1.0, -1.0, 0.0, 1.0, 1.0]
    );
    assert_eq!(
        x.sigmoid().unwrap().to_vec().unwrap(),
        vec![0.0, 0.0, 0.5, 1.0, 1.0]
    );
}

/// Index of the broadcast source element for output index `i`.
fn source_index(i: usize, out: &[usize], src: &[usize]) -> usize {
    let mut rem = i;
    let mut idx = 0;
    let mut stride = 1;
    let mut coords = vec![0; out.len()];
    for a in (0..out.len()).rev() {
        coords[a] = rem % out[a];
        rem /= out[a];
    }
    for a in (0..src.len()).rev() {
        let c = coords[a + out.len() - src.len()];
        if src[a] != 1 {
            idx += c * stride;
        }
        stride *= src[a];
    }
    idx
}

#[test]
fn binary_ops_broadcast_like_numpy() {
    let rt = rt();
    let cases: &[(&[usize], &[usize])] = &[
        (&[7, 33], &[7, 33]),
        (&[3, 1, 5], &[4, 1]),
        (&[129], &[1]),
        (&[2, 3, 4, 5, 6], &[3, 1, 5, 1]),
        (&[1, 7], &[3, 1]),
        (&[33, 1], &[33]),
        // Last axes of multiples of 4 (vec4s): both read, one splatted.
        (&[3, 8], &[8]),
        (&[4, 1, 12], &[5, 1]),
        (&[3, 1, 2, 8], &[1, 4, 1, 1]),
        (&[2, 1, 1], &[3, 4]),
    ];
    for &op in BinaryOp::ALL {
        for (sa, sb) in cases {
            let s = seed();
            let mut r = rng(s);
            let na: usize = sa.iter().product();
            let nb: usize = sb.iter().product();
            let da = random_vec(&mut r, na, -2.0, 2.0);
            // Divisors away from zero.
            let db: Vec<f32> = random_vec(&mut r, nb, 0.5, 2.0)
                .into_iter()
                .map(|v| if r.random_bool(0.5) { v } else { -v })
                .collect();
            let a = Tensor::from_slice(&rt, &da, sa).unwrap();
            let b = Tensor::from_slice(&rt, &db, sb).unwrap();
            let out = binary(&a, &b, op).unwrap();
            let shape = out.shape().to_vec();
            let reference: Vec<f64> = (0..out.numel())
                .map(|i| {
                    op.reference(
                        da[source_index(i, &shape, sa)] as f64,
                        db[source_index(i, &shape, sb)] as f64,
                    )
                })
                .collect();
            assert_close(
                &format!("{op:?} {sa:?} {sb:?}"),
                s,
                &out.to_vec().unwrap(),
                &reference,
                1e-6,
            );
        }
    }
}

use rand::Rng;

#[test]
fn binary_shape_mismatch_names_both_shapes() {
    let rt = rt();
    let a = Tensor::from_slice(&rt, &[0.0; 6], &[2, 3]).unwrap();
    let b = Tensor::from_slice(&rt, &[0.0; 4], &[4]).unwrap();
    let e = a.add(&b).unwrap_err().to_string();
    assert!(e.contains("[2, 3]") && e.contains("[4]"), "{e}");
}

#[test]
fn ops_on_views_read_the_right_elements() {
    let rt = rt();
    let data: Vec<f32> = (0..24).map(|i| i as f32).collect();
    let x = Tensor::from_slice(&rt, &data, &[4, 6]).unwrap();
    let rows = x.narrow(1, 2).unwrap(); // rows 1 and 2: elements 6..18
    let y = rows.mul_scalar(2.0).unwrap();
    let expect: Vec<f32> = (6..18).map(|i| 2.0 * i as f32).collect();
    assert_eq!(y.to_vec().unwrap(), expect);
    let z = rows
        .reshape(&[3, 4])
        .unwrap()
        .add(&rows.reshape(&[3, 4]).unwrap())
        .unwrap();
    assert_eq!(z.to_vec().unwrap(), expect);
    // Broadcasting a row over views: at offset 6 (scalar loads) and at
    // offset 8 (vec4 loads), the row itself a view at offset 4.
    let row = x.reshape(&[6, 4]).unwrap().narrow(1, 1).unwrap(); // elements 4..8
    for (view, first) in [
        (rows.reshape(&[3, 4]).unwrap(), 6),
        (x.reshape(&[6, 4]).unwrap().narrow(2, 3).unwrap(), 8),
    ] {
        let sum = view.add(&row).unwrap();
        let expect: Vec<f32> = (0..12)
            .map(|i| (first + i) as f32 + (4 + i % 4) as f32)
            .collect();
        assert_eq!(sum.to_vec().unwrap(), expect, "view at {first}");
        let scaled = view.mul_scalar(3.0).unwrap();
        let expect: Vec<f32> = (0..12).map(|i| 3.0 * (first + i) as f32).collect();
        assert_eq!(scaled.to_vec().unwrap(), expect, "view at {first}");
    }
}

#[test]
fn transpose_last_two_axes() {
    let rt = rt();
    for (b, r, c) in [
        (1usize, 1usize, 1usize),
        (3, 7, 33),
        (2, 129, 3),
        (1, 64, 256),
    ] {
        let s = seed();
        let data = random_vec(&mut rng(s), b * r * c, -1.0, 1.0);
        let x = Tensor::from_slice(&rt, &data, &[b, r, c]).unwrap();
        let y = wgpu_attngan::ops::transpose::transpose_last2(&x).unwrap();
        assert_eq!(y.shape(), &[b, c, r]);
        let got = y.to_vec().unwrap();
        for bi in 0..b {
            for i in 0..r {
                for j in 0..c {
                    assert_eq!(
                        got[(bi * c + j) * r + i],
                        data[(bi * r + i) * c + j],
                        "seed {s}"
                    );
                }
            }
        }
    }
    assert!(wgpu_attngan::ops::transpose::transpose_last2(
        &Tensor::from_slice(&rt, &[1.0], &[1]).unwrap()
    )
    .is_err());
}
