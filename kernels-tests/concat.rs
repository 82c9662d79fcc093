//! concat, split and narrow_copy along every axis, against host references.

use wgpu_attngan::ops::concat::{concat, concat_backward, narrow_copy, split, split_backward};
use wgpu_attngan::Tensor;

use crate::common::{assert_close, random_vec, rng, rt, seed, ODD};
use crate::gradcheck::{check_grad, projection, to_f64};

/// Reference concat of row-major tensors along `axis`.
fn reference(parts: &[(Vec<f64>, Vec<usize>)], axis: usize) -> Vec<f64> {
    let shape = &parts[0].1;
    let outer: usize = shape[..axis].iter().product();
    let inner: usize = shape[axis + 1..].iter().product();
    let mut out = Vec::new();
    for o in 0..outer {
        for (data, shape) in parts {
            let block = shape[axis] * inner;
            out.extend_from_slice(&data[o * block..(o + 1) * block]);
        }
    }
    out
}

/// Reference split (concat's backward): the pieces of `dy` along `axis`.
fn reference_split(dy: &[f64], shape: &[usize], axis: usize, sizes: &[usize]) -> Vec<Vec<f64>> {
    let outer: usize = shape[..axis].iter().product();
    let inner: usize = shape[axis + 1..].iter().product();
    let mut parts = vec![Vec::new(); sizes.len()];
    for o in 0..outer {
        let mut start = 0;
        for (p, &len) in sizes.iter().enumerate() {
            let base = (o * shape[axis] + start) * inner;
            parts[p].extend_from_slice(&dy[base..base + len * inner]);
            start += len;
        }
    }
    parts
}

#[test]
fn concat_reference_backward_matches_finite_differences() {
    let s = seed();
    let mut r = rng(s);
    let (shape_a, shape_b) = ([2, 3, 4], [2, 1, 4]);
    let (na, nb) = (24, 8);
    let x = to_f64(&random_vec(&mut r, na + nb, -1.0, 1.0));
    let proj = projection(&mut r, na + nb);
    let f = |x: &[f64]| {
        reference(
            &[
                (x[..na].to_vec(), shape_a.to_vec()),
                (x[na..].to_vec(), shape_b.to_vec()),
            ],
            1,
        )
    };
    let grad = reference_split(&proj, &[2, 4, 4], 1, &[3, 1]).concat();
    check_grad(&format!("concat seed {s}"), f, &x, &proj, &grad);
}

/// Concatenates pieces of `base` shape with `sizes` along `axis`, then splits
/// the result back (concat's backward) and checks both.
fn run(base: &[usize], axis: usize, sizes: &[usize]) {
    let rt = rt();
    let s = seed();
    let mut r = rng(s);
    let mut parts = Vec::new();
    let mut tensors = Vec::new();
    for &len in sizes {
        let mut shape = base.to_vec();
        shape[axis] = len;
        let n: usize = shape.iter().product();
        let data = random_vec(&mut r, n, -1.0, 1.0);
        tensors.push(Tensor::from_slice(&rt, &data, &shape).unwrap());
        parts.push((to_f64(&data), shape));
    }
    let refs: Vec<&Tensor> = tensors.iter().collect();
    let out = concat(&refs, axis).unwrap();
    let mut out_shape = base.to_vec();
    out_shape[axis] = sizes.iter().sum();
    assert_eq!(out.shape(), out_shape.as_slice());
    let what = format!("concat {base:?} axis {axis} sizes {sizes:?}");
    let expect = reference(&parts, axis);
    assert_close(&what, s, &out.to_vec().unwrap(), &expect, 1e-7);

    // Backward: split a fresh gradient, and concat (split's backward) it back.
    let n: usize = out_shape.iter().product();
    let dy = random_vec(&mut r, n, -1.0, 1.0);
    let tdy = Tensor::from_slice(&rt, &dy, &out_shape).unwrap();
    let grads = concat_backward(&tdy, axis, sizes).unwrap();
    let expect = reference_split(&to_f64(&dy), &out_shape, axis, sizes);
    for (i, (g, e)) in grads.iter().zip(&expect).enumerate() {
        assert_eq!(g.shape(), parts[i].1.as_slice());
        assert_close(
            &format!("{what} backward part {i}"),
            s,
            &g.to_vec().unwrap(),
            e,
            1e-7,
        );
    }
    let grefs: Vec<&Tensor> = grads.iter().collect();
    let back = split_backward(&grefs, axis).unwrap();
    assert_close(
        &format!("{what} split backward"),
        s,
        &back.to_vec().unwrap(),
        &to_f64(&dy),
        1e-7,
    );
}

#[test]
fn concat_and_split_match_reference_on_odd_shapes() {
    for &k in ODD {
        run(&[k, 5], 0, &[1, k, 3]);
        run(&[3, 0, 7], 1, &[k, 1]);
        run(&[2, 3, 0], 2, &[k, 33, 7]);
        run(&[2, 0, 3, 5], 1, &[1, k]);
        run(&[0], 0, &[k, 2]);
        // inner = 4: vec4s, pieces of odd lengths.
        run(&[2, 0, 4], 1, &[k, 3]);
    }
}

#[test]
fn concat_matches_reference_on_attngan_shapes() {
    // [h, context] along channels in the refinement stages.
    run(&[2, 0, 64, 64], 1, &[32, 32]);
    // Discriminator: [x_code, sentence vector tiled over 4x4] along channels.
    run(&[2, 0, 4, 4], 1, &[512, 256]);
}

#[test]
fn concat_reads_views_at_their_offset() {
    let rt = rt();
    let data: Vec<f32> = (0..24).map(|i| i as f32).collect();
    let x = Tensor::from_slice(&rt, &data, &[4, 2, 3]).unwrap();
    let a = x.narrow(1, 2).unwrap(); // elements 6..18 as [2, 2, 3]
    let out = concat(&[&a, &a], 2).unwrap();
    assert_eq!(out.shape(), &[2, 2, 6]);
    let mut expect = Vec::new();
    for row in 0..4 {
        let r: Vec<f32> = (0..3).map(|j| (6 + row * 3 + j) as f32).collect();
        expect.extend_from_slice(&r);
        expect.extend_from_slice(&r);
    }
    assert_eq!(out.to_vec().unwrap(), expect);
    let mid = narrow_copy(&a, 2, 1, 2).unwrap();
    assert_eq!(
        mid.to_vec().unwrap(),
        vec![7.0, 8.0, 10.0, 11.0, 13.0, 14.0, 16.0, 17.0]
    );
}

#[test]
fn concat_and_split_reject_bad_shapes() {
    let rt = rt();
    let a = Tensor::from_slice(&rt, &[0.0; 6], &[2, 3]).unwrap();
    let b = Tensor::from_slice(&rt, &[0.0; 8], &[4, 2]).unwrap();
    let e = concat(&[&a, &b], 1).unwrap_err().to_string();
    assert!(
        e.contains("[2, 3]") && e.contains("[4, 2]") && e.contains("axis 1"),
        "{e}"
    );
    let c = Tensor::from_slice(&rt, &[0.0; 6], &[2, 3, 1]).unwrap();
    let e = concat(&[&a, &c], 0).unwrap_err().to_string();
    assert!(e.contains("[2, 3]") && e.contains("[2, 3, 1]"), "{e}");
    let e = concat(&[&a], 2).unwrap_err().to_string();
    assert!(e.contains("axis 2") && e.contains("[2, 3]"), "{e}");
    assert!(concat(&[], 0).is_err());
    let e = split(&a, 1, &[1, 1]).unwrap_err().to_string();
    assert!(e.contains("[1, 1]") && e.contains("[2, 3]"), "{e}");
    let e = narrow_copy(&a, 0, 1, 2).unwrap_err().to_string();
    assert!(e.contains("1..3") && e.contains("[2, 3]"), "{e}");
}
