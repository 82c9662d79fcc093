//! Two training checkpoints of one run, compared to the bit.

#![allow(dead_code)]

use wgpu_attngan::nn::checkpoint::Checkpoint;

/// Every tensor (weights, statistics, Adam states, moving average) equal
/// to the bit, and the metadata `keys` equal.
pub fn assert_same_run(a: &Checkpoint, b: &Checkpoint, keys: &[&str]) {
    assert_eq!(a.tensors.len(), b.tensors.len());
    for (name, (shape, data)) in &a.tensors {
        let (s2, d2) = &b.tensors[name];
        assert_eq!(shape, s2, "{name}");
        assert!(
            data.iter().zip(d2).all(|(x, y)| x.to_bits() == y.to_bits()),
            "{name} differs"
        );
    }
    for key in keys {
        assert_eq!(a.metadata[*key], b.metadata[*key], "{key}");
    }
}
