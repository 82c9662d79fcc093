//! Batched matmul, every transpose combination, both kernel flavours.

use wgpu_attngan::ops::matmul::{matmul, matmul_into, matmul_sum};
use wgpu_attngan::{Flavour, Tensor};

use crate::common::{assert_close, has_subgroups, random_vec, rng, rt, seed};

/// C[b] = op(A[b]) op(B[b]) in f64; a batch of 1 broadcasts.
#[allow(clippy::too_many_arguments)]
fn reference(
    a: &[f32],
    b: &[f32],
    batch: usize,
    ba: usize,
    bb: usize,
    m: usize,
    n: usize,
    k: usize,
    ta: bool,
    tb: bool,
) -> Vec<f64> {
    let mut c = vec![0.0; batch * m * n];
    for bi in 0..batch {
        let a0 = (bi % ba) * m * k;
        let b0 = (bi % bb) * k * n;
        for i in 0..m {
            for j in 0..n {
                let mut acc = 0.0f64;
                for p in 0..k {
                    let av = if ta {
                        a[a0 + p * m + i]
                    } else {
                        a[a0 + i * k + p]
                    };
                    let bv = if tb {
                        b[b0 + j * k + p]
                    } else {
                        b[b0 + p * n + j]
                    };
                    acc += av as f64 * bv as f64;
                }
                c[bi * m * n + i * n + j] = acc;
            }
        }
    }
    c
}

fn shape(batch: usize, rows: usize, cols: usize, t: bool) -> Vec<usize> {
    let (r, c) = if t { (cols, rows) } else { (rows, cols) };
    if batch == 0 {
        vec![r, c]
    } else {
        vec![batch, r, c]
    }
}

/// Random A and B of the batches (0: rank 2), on `flavour`, with the seed
/// and the f64 reference's products.
fn operands(
    flavour: Flavour,
    (ba, bb): (usize, usize),
    m: usize,
    n: usize,
    k: usize,
    ta: bool,
    tb: bool,
) -> (u64, (Tensor, Tensor), Vec<f64>) {
    let rt = rt().with_flavour(flavour);
    let s = seed();
    let mut r = rng(s);
    let batch = ba.max(bb).max(1);
    let da = random_vec(&mut r, ba.max(1) * m * k, -1.0, 1.0);
    let db = random_vec(&mut r, bb.max(1) * k * n, -1.0, 1.0);
    let a = Tensor::from_slice(&rt, &da, &shape(ba, m, k, ta)).unwrap();
    let b = Tensor::from_slice(&rt, &db, &shape(bb, k, n, tb)).unwrap();
    let expect = reference(&da, &db, batch, ba.max(1), bb.max(1), m, n, k, ta, tb);
    (s, (a, b), expect)
}

fn check(
    flavour: Flavour,
    (ba, bb): (usize, usize),
    m: usize,
    n: usize,
    k: usize,
    ta: bool,
    tb: bool,
) {
    let (s, (a, b), expect) = operands(flavour, (ba, bb), m, n, k, ta, tb);
    let c = matmul(&a, &b, ta, tb).unwrap();
    let what = format!("{flavour:?} batch ({ba},{bb}) M={m} N={n} K={k} ta={ta} tb={tb}");
    assert_close(&what, s, &c.to_vec().unwrap(), &expect, 1e-5);
}

const SHAPES: &[(usize, usize, usize)] = &[
    (1, 1, 1),
    (3, 7, 33),
    (33, 129, 7),
    (129, 33, 65),
    (64, 64, 64),
    (4, 8, 12),
    (68, 36, 132),
    (7, 1, 129),
    (1, 3, 4),
];

#[test]
fn registers_flavour_all_transposes() {
    for &(m, n, k) in SHAPES {
        for t in 0..4 {
            check(Flavour::Registers, (0, 0), m, n, k, t & 1 != 0, t & 2 != 0);
        }
    }
}

#[test]
fn tiled_flavour_all_transposes() {
    for &(m, n, k) in SHAPES {
        for t in 0..4 {
            check(Flavour::Tiled, (0, 0), m, n, k, t & 1 != 0, t & 2 != 0);
        }
    }
}

/// The subgroup GEMM core (where the device has subgroups of 8 or more):
/// row groups of 1, 2 and 4 (M up to 8, 16, above), edges of every tile.
#[test]
fn subgroups_flavour_all_transposes() {
    if !has_subgroups() {
        return;
    }
    for &(m, n, k) in SHAPES
        .iter()
        .chain(&[(17, 9, 13), (40, 23, 66), (9, 31, 5)])
    {
        for t in 0..4 {
            check(Flavour::Subgroups, (0, 0), m, n, k, t & 1 != 0, t & 2 != 0);
        }
    }
}

fn flavours() -> Vec<Flavour> {
    let mut v = vec![Flavour::Registers, Flavour::Tiled];
    if has_subgroups() {
        v.push(Flavour::Subgroups);
    }
    v
}

#[test]
fn batched_and_broadcast() {
    for flavour in flavours() {
        for t in 0..4 {
            let (ta, tb) = (t & 1 != 0, t & 2 != 0);
            check(flavour, (3, 3), 33, 7, 20, ta, tb);
            check(flavour, (5, 1), 8, 12, 16, ta, tb);
            check(flavour, (0, 4), 7, 9, 3, ta, tb);
            // Cyclic repetition of the smaller batch.
            check(flavour, (6, 2), 5, 9, 7, ta, tb);
            check(flavour, (3, 12), 8, 4, 12, ta, tb);
            // A repeated with a short N: the batches sharing an A are one
            // GEMM's columns (matmul_tiled.wgsl, MERGE), across tile edges.
            check(flavour, (0, 16), 33, 18, 9, ta, tb);
            check(flavour, (2, 8), 17, 18, 21, ta, tb);
            check(flavour, (4, 12), 9, 7, 6, ta, tb);
            // B repeated with a short M: C^T's batches merge, stored
            // transposed (C_T).
            check(flavour, (16, 0), 18, 20, 9, ta, tb);
            check(flavour, (8, 2), 18, 33, 13, ta, tb);
        }
    }
}

/// matmul_sum: the products of every batch summed down to `out` batches
/// (C[j] = sum over i = j mod out), against the f64 reference's products
/// summed on the host; the output starts as poison (NaN) where a launch
/// could skip an element.
fn check_sum(
    flavour: Flavour,
    (ba, bb): (usize, usize),
    out: usize,
    (m, n, k): (usize, usize, usize),
    ta: bool,
    tb: bool,
) {
    let (s, (a, b), each) = operands(flavour, (ba, bb), m, n, k, ta, tb);
    let c = matmul_sum(&a, &b, ta, tb, out).unwrap();
    assert_eq!(c.shape(), &[out, m, n]);
    let mut expect = vec![0.0f64; out * m * n];
    for (i, v) in each.iter().enumerate() {
        expect[i % (out * m * n)] += v;
    }
    let what = format!("{flavour:?} sum ({ba},{bb}) -> {out} M={m} N={n} K={k} ta={ta} tb={tb}");
    assert_close(&what, s, &c.to_vec().unwrap(), &expect, 1e-5);
}

#[test]
fn sums_over_batches() {
    for flavour in flavours() {
        for t in 0..4 {
            let (ta, tb) = (t & 1 != 0, t & 2 != 0);
            // A broadcast operand's gradient (everything to one), cyclic
            // repetition (12 to 4), no sum (3 to 3), odd sizes.
            check_sum(flavour, (6, 0), 1, (17, 9, 18), ta, tb);
            check_sum(flavour, (12, 4), 4, (5, 18, 7), ta, tb);
            check_sum(flavour, (3, 3), 3, (33, 7, 20), ta, tb);
            check_sum(flavour, (2, 6), 3, (9, 31, 5), ta, tb);
        }
        // Each product's K is a whole launch's loop budget: one launch per
        // product, the later ones accumulating.
        check_sum(flavour, (3, 3), 1, (3, 5, 40_000), false, false);
    }
    let rt = rt();
    let a = Tensor::from_slice(&rt, &[0.0; 24], &[6, 2, 2]).unwrap();
    let err = matmul_sum(&a, &a, false, false, 4).unwrap_err().to_string();
    assert!(err.contains("6 batches down to 4"), "{err}");
}

#[test]
fn accumulates_into_c_with_alpha_and_beta() {
    for flavour in flavours() {
        let rt = rt().with_flavour(flavour);
        let s = seed();
        let mut r = rng(s);
        let (m, n, k) = (9, 13, 17);
        let da = random_vec(&mut r, m * k, -1.0, 1.0);
        let db = random_vec(&mut r, k * n, -1.0, 1.0);
        let dc = random_vec(&mut r, m * n, -1.0, 1.0);
        let a = Tensor::from_slice(&rt, &da, &[m, k]).unwrap();
        let b = Tensor::from_slice(&rt, &db, &[k, n]).unwrap();
        let c = Tensor::from_slice(&rt, &dc, &[m, n]).unwrap();
        matmul_into(&a, &b, &c, false, false, 0.5, -2.0).unwrap();
        let ab = reference(&da, &db, 1, 1, 1, m, n, k, false, false);
        let expect: Vec<f64> = ab
            .iter()
            .zip(&dc)
            .map(|(x, y)| 0.5 * x - 2.0 * *y as f64)
            .collect();
        assert_close(
            &format!("{flavour:?} alpha/beta"),
            s,
            &c.to_vec().unwrap(),
            &expect,
            1e-5,
        );
    }
}

#[test]
fn inner_dimension_mismatch_names_both_shapes() {
    let rt = rt();
    let a = Tensor::from_slice(&rt, &[0.0; 6], &[2, 3]).unwrap();
    let b = Tensor::from_slice(&rt, &[0.0; 8], &[4, 2]).unwrap();
    let e = matmul(&a, &b, false, false).unwrap_err().to_string();
    assert!(
        e.contains("[2, 3]") && e.contains("[4, 2]") && e.contains("inner"),
        "{e}"
    );
}

/// The tiled kernel's other paths: 128x128 tiles (taken when there are
/// enough of them, here through the batch), and a K longer than one launch
/// sums (chunks accumulating into C), with beta applied once.
#[test]
fn tiled_big_tiles_and_long_k() {
    for t in 0..4 {
        let (ta, tb) = (t & 1 != 0, t & 2 != 0);
        check(Flavour::Tiled, (270, 1), 129, 130, 21, ta, tb);
        check(Flavour::Tiled, (0, 0), 3, 5, 70_001, ta, tb);
    }
    let rt = rt().with_flavour(Flavour::Tiled);
    let s = seed();
    let mut r = rng(s);
    let (m, n, k) = (5, 3, 40_000);
    let da = random_vec(&mut r, m * k, -1.0, 1.0);
    let db = random_vec(&mut r, k * n, -1.0, 1.0);
    let dc = random_vec(&mut r, m * n, -1.0, 1.0);
    let a = Tensor::from_slice(&rt, &da, &[m, k]).unwrap();
    let b = Tensor::from_slice(&rt, &db, &[k, n]).unwrap();
    let c = Tensor::from_slice(&rt, &dc, &[m, n]).unwrap();
    matmul_into(&a, &b, &c, false, false, 0.5, -2.0).unwrap();
    let ab = reference(&da, &db, 1, 1, 1, m, n, k, false, false);
    let expect: Vec<f64> = ab
        .iter()
        .zip(&dc)
        .map(|(&v, &c)| 0.5 * v - 2.0 * c as f64)
        .collect();
    assert_close(
        "tiled long K into C",
        s,
        &c.to_vec().unwrap(),
        &expect,
        1e-5,
    );
}

/// llvmpipe ends the loops of one invocation after 65,535 iterations in all:
/// a whole K of 70,001 in one register-kernel launch was summed only to
/// about 43,690, and rows 1-7 of the 8x8 block were never written. Both
/// flavours chunk K (the tiled one's other transposes are in
/// tiled_big_tiles_and_long_k). 70,001 takes the scalar loads and the K % 4
/// tail, 70,000 the vec4 loads. About 6 s a case on lavapipe.
#[test]
fn long_k_every_flavour_and_transpose() {
    for t in 0..4 {
        check(
            Flavour::Registers,
            (0, 0),
            8,
            8,
            70_001,
            t & 1 != 0,
            t & 2 != 0,
        );
    }
    check(Flavour::Registers, (0, 0), 8, 8, 70_000, false, false);
    check(Flavour::Tiled, (0, 0), 8, 8, 70_001, false, false);
    if has_subgroups() {
        check(Flavour::Subgroups, (0, 0), 8, 8, 70_001, true, false);
    }
}

/// K up to SMALL_K with N a multiple of 4 goes to shaders/matmul_smallk.wgsl
/// on every flavour: M off the 4-row groups and the 32-row blocks, N of one
/// vec4 and of many (the lanes of a subgroup cross rows), every K the kernel
/// takes (1 to 16), cyclic batches, every transpose; outputs start as poison
/// (NaN).
#[test]
fn small_k_every_flavour_transpose_and_batch() {
    use wgpu_attngan::ops::matmul::SMALL_K;
    for flavour in flavours() {
        for t in 0..4 {
            let (ta, tb) = (t & 1 != 0, t & 2 != 0);
            for &(m, n, k) in &[
                (1, 4, 1),
                (5, 8, 3),
                (33, 200, 4),
                (130, 20, 8),
                (7, 260, 7),
                (64, 128, SMALL_K),
                (12, 8, 5),
                // A^T as vec4s (M a multiple of 4) over several 32-row
                // blocks, the last part full; K past 8 to the kernel's 16.
                (100, 8, 3),
                (36, 44, 11),
                (68, 16, 16),
                (8, 4, 9),
            ] {
                check(flavour, (0, 0), m, n, k, ta, tb);
            }
            check(flavour, (3, 12), 9, 12, 5, ta, tb);
            check(flavour, (6, 2), 6, 36, 8, ta, tb);
            check(flavour, (0, 4), 3, 4, 2, ta, tb);
            check(flavour, (2, 6), 8, 12, 7, ta, tb);
        }
    }
}

/// The short-K kernel reads operands at their offsets (A^T and B as vec4s
/// only at multiples of 4) and accumulates into C with alpha and beta; a C view
/// off a multiple of 4 goes to the GEMM cores instead, with the same result.
#[test]
fn small_k_views_alpha_and_beta() {
    // A flat view of `len` elements at element `at` of a new [at + len] buffer.
    fn view(rt: &wgpu_attngan::Runtime, data: &[f32], at: usize, shape: &[usize]) -> Tensor {
        let len = data.len() - at;
        let whole = Tensor::from_slice(rt, data, &[data.len(), 1]).unwrap();
        whole.narrow(at, len).unwrap().reshape(shape).unwrap()
    }
    for flavour in flavours() {
        let rt = rt().with_flavour(flavour);
        let s = seed();
        let mut r = rng(s);
        let (m, n, k) = (12, 24, 6);
        for (ta, (a_at, b_at, c_at)) in [false, true]
            .into_iter()
            .flat_map(|ta| [(1, 4, 4), (4, 8, 8), (0, 2, 1), (5, 0, 3)].map(|o| (ta, o)))
        {
            let da = random_vec(&mut r, a_at + m * k, -1.0, 1.0);
            let db = random_vec(&mut r, b_at + k * n, -1.0, 1.0);
            let dc = random_vec(&mut r, c_at + m * n, -1.0, 1.0);
            let a = view(&rt, &da, a_at, &if ta { [k, m] } else { [m, k] });
            let b = view(&rt, &db, b_at, &[k, n]);
            let c = view(&rt, &dc, c_at, &[m, n]);
            matmul_into(&a, &b, &c, ta, false, 0.5, -2.0).unwrap();
            let ab = reference(&da[a_at..], &db[b_at..], 1, 1, 1, m, n, k, ta, false);
            let expect: Vec<f64> = ab
                .iter()
                .zip(&dc[c_at..])
                .map(|(x, y)| 0.5 * x - 2.0 * *y as f64)
                .collect();
            let what = format!("{flavour:?} ta={ta} views at {a_at}, {b_at}, {c_at}");
            assert_close(&what, s, &c.to_vec().unwrap(), &expect, 1e-5);
        }
    }
}
