//! sum, mean and max along each axis, against f64 references.

use wgpu_attngan::ops::{reduce::reduce, ReduceOp};
use wgpu_attngan::Tensor;

use crate::common::{assert_close, random_vec, rng, rt, seed};

fn reference(data: &[f32], shape: &[usize], axis: usize, op: ReduceOp) -> Vec<f64> {
    let outer: usize = shape[..axis].iter().product();
    let len = shape[axis];
    let inner: usize = shape[axis + 1..].iter().product();
    let mut out = Vec::with_capacity(outer * inner);
    for o in 0..outer {
        for i in 0..inner {
            let vals = (0..len).map(|j| data[(o * len + j) * inner + i] as f64);
            out.push(match op {
                ReduceOp::Sum => vals.sum(),
                ReduceOp::Mean => vals.sum::<f64>() / len as f64,
                ReduceOp::Max => vals.fold(f64::NEG_INFINITY, f64::max),
            });
        }
    }
    out
}

#[test]
fn reductions_along_every_axis() {
    let rt = rt();
    let shapes: &[&[usize]] = &[
        &[7],
        &[3, 33],
        &[7, 1, 129],
        &[2, 3, 7, 5],
        &[1, 3000],
        &[5000],
        &[3, 1031, 2],
    ];
    for &op in ReduceOp::ALL {
        for shape in shapes {
            for axis in 0..shape.len() {
                let s = seed();
                let n: usize = shape.iter().product();
                // Mean 0.5, so that a sum of thousands is not a near-cancellation
                // whose relative error would measure luck rather than the kernel.
                let data = random_vec(&mut rng(s), n, -0.5, 1.5);
                let x = Tensor::from_slice(&rt, &data, shape).unwrap();
                let out = reduce(&x, axis, op, false).unwrap();
                let mut expect_shape = shape.to_vec();
                expect_shape.remove(axis);
                if expect_shape.is_empty() {
                    expect_shape.push(1);
                }
                assert_eq!(out.shape(), &expect_shape[..]);
                let what = format!("{op:?} {shape:?} axis {axis}");
                assert_close(
                    &what,
                    s,
                    &out.to_vec().unwrap(),
                    &reference(&data, shape, axis, op),
                    1e-5,
                );
                let kept = reduce(&x, axis, op, true).unwrap();
                assert_eq!(kept.shape().len(), shape.len());
            }
        }
    }
}

#[test]
fn reduce_rejects_a_bad_axis() {
    let rt = rt();
    let x = Tensor::from_slice(&rt, &[1.0; 6], &[2, 3]).unwrap();
    let e = x.sum(2, false).unwrap_err().to_string();
    assert!(e.contains("axis 2") && e.contains("[2, 3]"), "{e}");
}
