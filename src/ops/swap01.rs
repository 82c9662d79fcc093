//! swap01: the first two axes of a [A, B, C] tensor swapped (the LSTM's
//! batch-major <-> time-major, and the convolution weights the subgroup
//! backward-data kernel reads as [C, O, KK]). Its backward is itself.

use crate::runtime::{Error, KernelSpec, Result, Tensor};

pub(crate) fn spec() -> KernelSpec {
    KernelSpec::new("swap01")
}

/// Swaps the first two axes. x: `[A, B, C]` -> `[B, A, C]`
pub fn swap01(x: &Tensor) -> Result<Tensor> {
    let [a, b, c] = *x.shape() else {
        return Err(Error::invalid(
            "swap01",
            format!("expects [A, B, C], got {:?}", x.shape()),
        ));
    };
    super::map_to_new(x, &[b, a, c], &spec(), |out| {
        vec![
            a as u32,
            b as u32,
            c as u32,
            x.offset() as u32,
            out.offset() as u32,
        ]
    })
}
