//! Swapping the last two axes.

use crate::runtime::{Error, KernelSpec, Result, Tensor};

pub(crate) fn spec() -> KernelSpec {
    KernelSpec::new("transpose")
}

/// x: [.., R, C] (rank 2 or more) -> [.., C, R], a copy.
pub fn transpose_last2(x: &Tensor) -> Result<Tensor> {
    let rank = x.rank();
    if rank < 2 {
        return Err(Error::invalid(
            "transpose",
            format!("needs rank 2 or more, got shape {:?}", x.shape()),
        ));
    }
    let (r, c) = (x.dim(rank - 2), x.dim(rank - 1));
    let mut shape = x.shape().to_vec();
    shape.swap(rank - 2, rank - 1);
    let n = x.numel();
    super::map_to_new(x, &shape, &spec(), |out| {
        vec![
            n as u32,
            r as u32,
            c as u32,
            x.offset() as u32,
            out.offset() as u32,
        ]
    })
}
