//! swap01: the first two axes of a [A, B, C] tensor swapped (the LSTM's
//! batch-major <-> time-major, and the convolution weights the subgroup
//! backward-data kernel reads as [C, O, KK]). Its backward is itself.

use crate::runtime::{Error, KernelSpec, Result, Tensor};

/// How an invocation copies: a vec4 (C and the offsets multiples of 4), a
/// whole row of C (C short), or one value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Copies {
    Vec4,
    Row,
    Value,
}

/// Rows this short or shorter go one per invocation (their loop stays far
/// under llvmpipe's 65,535 iterations).
const SHORT_ROW: usize = 64;

pub(crate) fn spec(copies: Copies) -> KernelSpec {
    KernelSpec::new("swap01")
        .define("VEC4", (copies == Copies::Vec4) as u32)
        .define("ROWS", (copies == Copies::Row) as u32)
}

pub fn swap01(x: &Tensor) -> Result<Tensor> {
    let [a, b, c] = *x.shape() else {
        return Err(Error::invalid(
            "swap01",
            format!("expects [A, B, C], got {:?}", x.shape()),
        ));
    };
    let rt = x.runtime();
    let out = Tensor::uninit(rt, &[b, a, c])?;
    let n = out.numel();
    if n == 0 {
        return Ok(out);
    }
    let copies = if super::vec4_fits(&[c], &[x, &out]) {
        Copies::Vec4
    } else if c <= SHORT_ROW {
        Copies::Row
    } else {
        Copies::Value
    };
    let invocations = match copies {
        Copies::Vec4 => n / 4,
        Copies::Row => a * b,
        Copies::Value => n,
    };
    rt.dispatch(
        &spec(copies),
        &[
            a as u32,
            b as u32,
            c as u32,
            x.offset() as u32,
            out.offset() as u32,
        ],
        &[x.buffer(), out.buffer()],
        super::grid_1d(rt, invocations, 256),
    )?;
    Ok(out)
}
