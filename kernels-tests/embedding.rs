//! Embedding gather and its scatter-add gradient against f64 references.

use rand::Rng;
use wgpu_attngan::ops::embedding::{embedding_backward, embedding_forward, ids_tensor, ONEHOT_MAX};
use wgpu_attngan::Tensor;

use crate::common::{assert_close, random_vec, rng, rt, seed};

#[test]
fn embedding_forward_and_backward_match_reference() {
    let rt = rt();
    for &(vocab, dim, b, t) in &[
        (1, 1, 1, 1),
        (7, 3, 3, 5),
        (33, 129, 2, 7),
        (129, 300, 2, 18),
        // Positions x vocabulary over ONEHOT_MAX: the loop instead of one-hot + matmul.
        (70_000, 2, 1, 64),
    ] {
        if vocab == 70_000 {
            assert!(
                b * t * vocab > ONEHOT_MAX,
                "the last case must take the loop"
            );
        }
        let s = seed();
        let mut r = rng(s);
        let table = random_vec(&mut r, vocab * dim, -1.0, 1.0);
        // Repeated ids (few distinct values) exercise the summing in the backward.
        let ids: Vec<u32> = (0..b * t)
            .map(|_| r.random_range(0..vocab as u32))
            .collect();
        let d_out = random_vec(&mut r, b * t * dim, -1.0, 1.0);
        let table_t = Tensor::from_slice(&rt, &table, &[vocab, dim]).unwrap();
        let ids_t = ids_tensor(&rt, &ids, &[b, t], vocab).unwrap();
        let out = embedding_forward(&table_t, &ids_t).unwrap();
        assert_eq!(out.shape(), &[b, t, dim]);
        let reference: Vec<f64> = ids
            .iter()
            .flat_map(|&id| (0..dim).map(move |d| (id as usize, d)))
            .map(|(id, d)| table[id * dim + d] as f64)
            .collect();
        let what = format!("embedding V={vocab} D={dim} B={b} T={t}");
        assert_close(&what, s, &out.to_vec().unwrap(), &reference, 1e-6);

        let d_out_t = Tensor::from_slice(&rt, &d_out, &[b, t, dim]).unwrap();
        let d_table = embedding_backward(&d_out_t, &ids_t, vocab).unwrap();
        assert_eq!(d_table.shape(), &[vocab, dim]);
        let mut reference = vec![0.0f64; vocab * dim];
        for (n, &id) in ids.iter().enumerate() {
            for d in 0..dim {
                reference[id as usize * dim + d] += d_out[n * dim + d] as f64;
            }
        }
        let got = d_table.to_vec().unwrap();
        assert_close(&format!("{what} backward"), s, &got, &reference, 1e-6);
        // Deterministic: a second run gives the same bits.
        let again = embedding_backward(&d_out_t, &ids_t, vocab).unwrap();
        assert_eq!(
            again.to_vec().unwrap(),
            got,
            "{what}: backward not deterministic"
        );
    }
}

#[test]
fn embedding_rejects_bad_ids_and_shapes() {
    let rt = rt();
    let e = ids_tensor(&rt, &[0, 5, 2], &[3], 5)
        .unwrap_err()
        .to_string();
    assert!(e.contains("id 5") && e.contains("vocabulary of 5"), "{e}");
    let table = Tensor::from_slice(&rt, &[0.0; 6], &[6]).unwrap();
    let ids = ids_tensor(&rt, &[0, 1], &[2], 6).unwrap();
    let e = embedding_forward(&table, &ids).unwrap_err().to_string();
    assert!(e.contains("[V, D]") && e.contains("[6]"), "{e}");
    let d_out = Tensor::from_slice(&rt, &[0.0; 6], &[3, 2]).unwrap();
    let e = embedding_backward(&d_out, &ids, 4).unwrap_err().to_string();
    assert!(e.contains("[3, 2]") && e.contains("[2]"), "{e}");
}
