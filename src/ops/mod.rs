//! Ops: the launchers of the kernels in shaders/, one file per family.
//! Each op checks shapes (errors name both), allocates its output from the
//! pool and records its dispatch in the runtime's current batch.

pub mod activation;
pub mod adam;
pub mod attention;
pub mod axpby;
pub mod batch_norm;
pub mod bce;
pub mod binary;
pub mod concat;
pub mod conv;
pub mod cosine;
pub mod dropout;
pub mod embedding;
pub mod fill;
pub mod glu;
pub mod lstm;
pub mod matmul;
pub mod pad2d;
pub mod pool;
pub mod reduce;
pub mod rgba;
pub mod softmax;
pub mod swap01;
pub mod transpose;
pub mod unary;
pub mod upsample;

pub use binary::BinaryOp;
pub use matmul::matmul;
pub use reduce::ReduceOp;
pub use unary::UnaryOp;

use crate::runtime::{Error, KernelSpec, Result, Runtime, Tensor};

/// A new `shape` tensor computed from `x` alone by `spec`, one thread per
/// output element (256 to a workgroup); `params(out)` gives the kernel's
/// parameters, which name the output's offset. Nothing runs for an empty one.
pub(crate) fn map_to_new(
    x: &Tensor,
    shape: &[usize],
    spec: &KernelSpec,
    params: impl FnOnce(&Tensor) -> Vec<u32>,
) -> Result<Tensor> {
    let rt = x.runtime();
    let out = Tensor::uninit(rt, shape)?;
    let n = out.numel();
    if n > 0 {
        rt.dispatch(
            spec,
            &params(&out),
            &[x.buffer(), out.buffer()],
            grid_1d(rt, n, 256),
        )?;
    }
    Ok(out)
}

/// A loss's upstream gradient must be a `[1]` tensor (kept on the device).
pub(crate) fn check_scalar_grad(op: &'static str, dloss: &Tensor) -> Result<()> {
    if dloss.numel() == 1 {
        return Ok(());
    }
    Err(Error::shape_hint(
        op,
        &[1],
        dloss.shape(),
        "the upstream gradient of the scalar loss must be a [1] tensor",
    ))
}

/// A mean loss from the per-chunk partial sums a loss kernel wrote (each
/// already divided by the count): `[1]`.
pub(crate) fn sum_partials(partial: Tensor) -> Result<Tensor> {
    if partial.numel() == 1 {
        Ok(partial)
    } else {
        partial.sum(0, false)
    }
}

/// Whether a kernel with the vec4 fragment (shaders/vec4.wgsl) may move
/// these tensors 4 values at a time: every size given (the element count,
/// or the run the kernel walks) and every tensor's offset a multiple of 4.
pub(crate) fn vec4_fits(sizes: &[usize], tensors: &[&Tensor]) -> bool {
    sizes.iter().all(|s| s.is_multiple_of(4))
        && tensors.iter().all(|t| t.offset().is_multiple_of(4))
}

/// grid_1d for `n` values in workgroups of 256, 4 values per thread with `vec4`.
pub(crate) fn grid_values(rt: &Runtime, n: usize, vec4: bool) -> [u32; 3] {
    grid_1d(rt, if vec4 { n / 4 } else { n }, 256)
}

/// Workgroups of `per_group` threads for `n` threads in all, as a folded grid.
pub(crate) fn grid_1d(rt: &Runtime, n: usize, per_group: usize) -> [u32; 3] {
    rt.fold_grid(n.div_ceil(per_group) as u32)
}

/// The ceilings probe of `engine bench-kernels` (shaders/bench.wgsl): a
/// copy, or FMA chains of `steps` steps per loop iteration (0: v1's probe,
/// two vec4 chains of one step). SETS4 and SETS8 are `steps` again, as the
/// `//#if` flags the template needs.
pub fn probe_spec(copy: bool, steps: u32) -> KernelSpec {
    KernelSpec::new("bench")
        .define("MODE_COPY", copy as u32)
        .define("V1", (!copy && steps == 0) as u32)
        .define("SETS", steps.max(1))
        .define("SETS4", (steps >= 4) as u32)
        .define("SETS8", (steps >= 8) as u32)
}

/// The steps per loop iteration of the FMA probes the ceiling is the best of.
pub const PROBE_STEPS: [u32; 3] = [2, 4, 8];

/// Every kernel specialisation the ops can ask for, so that a test can
/// validate each one with naga and build each one on the device.
pub fn all_kernel_specs() -> Vec<KernelSpec> {
    let mut specs = vec![
        fill::spec(false),
        fill::spec(true),
        axpby::spec(false),
        axpby::spec(true),
        adam::spec(false),
        adam::spec(true),
        transpose::spec(),
    ];
    for vec4 in [false, true] {
        specs.extend(unary::UnaryOp::ALL.iter().map(|op| unary::spec(*op, vec4)));
        specs.extend(
            activation::ActivationBackward::ALL
                .iter()
                .map(|op| activation::spec(*op, vec4)),
        );
    }
    for op in binary::BinaryOp::ALL {
        use binary::Width;
        specs.push(binary::spec(*op, true, Width::Vec4(true, true)));
        specs.push(binary::spec(*op, true, Width::Scalar));
        specs.push(binary::spec(*op, false, Width::Scalar));
        for (a, b) in [(true, true), (true, false), (false, true), (false, false)] {
            specs.push(binary::spec(*op, false, Width::Vec4(a, b)));
        }
    }
    specs.extend(reduce::ReduceOp::ALL.iter().map(|op| reduce::spec(*op)));
    specs.extend(matmul::all_specs());
    specs.extend(conv::all_specs());
    specs.push(probe_spec(true, 0));
    specs.push(probe_spec(false, 0));
    specs.extend(PROBE_STEPS.map(|steps| probe_spec(false, steps)));
    for backward in [false, true] {
        specs.push(glu::spec(backward, false));
        specs.push(glu::spec(backward, true));
        specs.push(upsample::spec(backward, false));
        specs.push(upsample::spec(backward, true));
        specs.push(pool::spec(backward));
        specs.push(bce::spec(backward));
        specs.push(softmax::log_softmax_spec(backward));
        specs.push(softmax::cross_entropy_spec(backward, false));
        specs.push(softmax::cross_entropy_spec(backward, true));
        specs.push(cosine::spec(backward, false));
        specs.push(cosine::spec(backward, true));
    }
    specs.push(concat::spec(false));
    specs.push(concat::spec(true));
    for copies in [
        swap01::Copies::Vec4,
        swap01::Copies::Row,
        swap01::Copies::Value,
    ] {
        specs.push(swap01::spec(copies));
    }
    specs.push(pad2d::spec());
    specs.push(rgba::spec(rgba::Format::Rgba8));
    specs.push(rgba::spec(rgba::Format::Rgba16Float));
    specs.extend(batch_norm::all_specs());
    specs.extend(attention::all_specs());
    specs.extend(embedding::all_specs());
    specs.extend(dropout::all_specs());
    specs.extend(lstm::all_specs());
    specs
}
