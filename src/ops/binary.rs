//! Elementwise binary ops with NumPy-style broadcasting.

use super::grid_1d;
use crate::runtime::{Error, KernelSpec, Result, Tensor};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    Max,
    Min,
}

impl BinaryOp {
    pub const ALL: &'static [BinaryOp] = &[
        BinaryOp::Add,
        BinaryOp::Sub,
        BinaryOp::Mul,
        BinaryOp::Div,
        BinaryOp::Max,
        BinaryOp::Min,
    ];

    pub fn expr(self) -> &'static str {
        match self {
            BinaryOp::Add => "a + b",
            BinaryOp::Sub => "a - b",
            BinaryOp::Mul => "a * b",
            BinaryOp::Div => "a / b",
            BinaryOp::Max => "max(a, b)",
            BinaryOp::Min => "min(a, b)",
        }
    }

    /// The CPU reference in f64.
    pub fn reference(self, a: f64, b: f64) -> f64 {
        match self {
            BinaryOp::Add => a + b,
            BinaryOp::Sub => a - b,
            BinaryOp::Mul => a * b,
            BinaryOp::Div => a / b,
            BinaryOp::Max => a.max(b),
            BinaryOp::Min => a.min(b),
        }
    }

    fn name(self) -> &'static str {
        match self {
            BinaryOp::Add => "add",
            BinaryOp::Sub => "sub",
            BinaryOp::Mul => "mul",
            BinaryOp::Div => "div",
            BinaryOp::Max => "maximum",
            BinaryOp::Min => "minimum",
        }
    }
}

/// How an invocation reads: `Scalar`, or 4 elements of the last axis with
/// each operand's 4 values read as a vec4 (true) or one value splatted
/// (false, broadcast along the last axis). `Vec4(true, true)` with `same`
/// is the contiguous fast path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Width {
    Scalar,
    Vec4(bool, bool),
}

pub(crate) fn spec(op: BinaryOp, same: bool, width: Width) -> KernelSpec {
    let (vec4, a_vec, b_vec) = match width {
        Width::Scalar => (false, false, false),
        Width::Vec4(a, b) => (true, a, b),
    };
    KernelSpec::new("binary")
        .define("EXPR", op.expr())
        .define("SAME", same as u32)
        .define("VEC4", vec4 as u32)
        .define("A_VEC", a_vec as u32)
        .define("B_VEC", b_vec as u32)
}

/// The broadcast shape of `a` and `b` (right-aligned; each axis equal or 1).
pub fn broadcast_shape(op: &'static str, a: &[usize], b: &[usize]) -> Result<Vec<usize>> {
    let rank = a.len().max(b.len());
    let mut out = vec![0; rank];
    for i in 0..rank {
        let da = if i + a.len() >= rank {
            a[i + a.len() - rank]
        } else {
            1
        };
        let db = if i + b.len() >= rank {
            b[i + b.len() - rank]
        } else {
            1
        };
        out[i] = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => {
                return Err(Error::shape_hint(
                    op,
                    a,
                    b,
                    format!("axis {i} from the right is {da} and {db}; each must match or be 1"),
                ))
            }
        };
    }
    Ok(out)
}

/// Strides (elements) of `shape` placed right-aligned in a 5-D output view,
/// 0 on broadcast axes.
fn strides5(shape: &[usize], out: &[usize]) -> [u32; 5] {
    let mut s = [0u32; 5];
    let mut stride = 1usize;
    for i in (0..shape.len()).rev() {
        let pos = 5 - (shape.len() - i);
        let out_dim = out[out.len() - (shape.len() - i)];
        s[pos] = if shape[i] == 1 && out_dim != 1 {
            0
        } else {
            stride as u32
        };
        stride *= shape[i];
    }
    s
}

/// out = op(a, b) with broadcasting.
pub fn binary(a: &Tensor, b: &Tensor, op: BinaryOp) -> Result<Tensor> {
    let shape = broadcast_shape(op.name(), a.shape(), b.shape())?;
    let rt = a.runtime();
    let out = Tensor::uninit(rt, &shape)?;
    let n = out.numel();
    if n == 0 {
        return Ok(out);
    }
    let same = a.shape() == b.shape();
    let mut dims = [1u32; 5];
    for (i, d) in shape.iter().enumerate() {
        dims[5 - shape.len() + i] = *d as u32;
    }
    let sa = strides5(a.shape(), &shape);
    let sb = strides5(b.shape(), &shape);
    let params = [
        n as u32,
        a.offset() as u32,
        b.offset() as u32,
        out.offset() as u32,
        dims[1],
        dims[2],
        dims[3],
        dims[4],
        sa[0],
        sa[1],
        sa[2],
        sa[3],
        sa[4],
        sb[0],
        sb[1],
        sb[2],
        sb[3],
        sb[4],
    ];
    // Broadcasting: vec4s where the last axis and the offsets allow, each
    // operand's last stride 1 (read 4) or 0 (splat one); every other stride
    // of a read-4 operand is then a multiple of d4, so of 4.
    let aligned = super::vec4_fits(&[dims[4] as usize], &[&out]);
    let reads4 = |stride: u32, offset: usize| match stride {
        1 if offset.is_multiple_of(4) => Some(true),
        0 => Some(false),
        _ => None,
    };
    let width = if same {
        // Contiguous: any n and offsets that are multiples of 4.
        if super::vec4_fits(&[n], &[a, b, &out]) {
            Width::Vec4(true, true)
        } else {
            Width::Scalar
        }
    } else {
        match (
            aligned,
            reads4(sa[4], a.offset()),
            reads4(sb[4], b.offset()),
        ) {
            (true, Some(ra), Some(rb)) => Width::Vec4(ra, rb),
            _ => Width::Scalar,
        }
    };
    let per = if width == Width::Scalar { 1 } else { 4 };
    rt.dispatch(
        &spec(op, same, width),
        &params,
        &[a.buffer(), b.buffer(), out.buffer()],
        grid_1d(rt, n / per, 256),
    )?;
    Ok(out)
}

impl Tensor {
    pub fn add(&self, other: &Tensor) -> Result<Tensor> {
        binary(self, other, BinaryOp::Add)
    }
    pub fn sub(&self, other: &Tensor) -> Result<Tensor> {
        binary(self, other, BinaryOp::Sub)
    }
    pub fn mul(&self, other: &Tensor) -> Result<Tensor> {
        binary(self, other, BinaryOp::Mul)
    }
    pub fn div(&self, other: &Tensor) -> Result<Tensor> {
        binary(self, other, BinaryOp::Div)
    }
    pub fn maximum(&self, other: &Tensor) -> Result<Tensor> {
        binary(self, other, BinaryOp::Max)
    }
    pub fn minimum(&self, other: &Tensor) -> Result<Tensor> {
        binary(self, other, BinaryOp::Min)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcast_shapes() {
        assert_eq!(broadcast_shape("t", &[2, 3], &[3]).unwrap(), vec![2, 3]);
        assert_eq!(
            broadcast_shape("t", &[4, 1, 5], &[3, 1]).unwrap(),
            vec![4, 3, 5]
        );
        let e = broadcast_shape("add", &[2, 3], &[4])
            .unwrap_err()
            .to_string();
        assert!(e.contains("[2, 3]") && e.contains("[4]"), "{e}");
    }

    #[test]
    fn broadcast_strides() {
        assert_eq!(strides5(&[3], &[2, 3]), [0, 0, 0, 0, 1]);
        assert_eq!(strides5(&[2, 3], &[2, 3]), [0, 0, 0, 3, 1]);
        assert_eq!(strides5(&[3, 1], &[4, 3, 5]), [0, 0, 0, 1, 0]);
    }
}
