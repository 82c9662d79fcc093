//! conv2d and conv_transpose2d, NCHW, any kernel size, stride and padding
//! (dilation 1, one group), forward and both backwards.
//!
//! Three kernels do all six jobs (see shaders/conv2d*.wgsl):
//! - `conv2d`: conv forward, and conv_transpose backward to the input;
//! - `conv2d_backward_data`: conv backward to the input, and conv_transpose forward;
//! - `conv2d_backward_weight`: both backwards to the weight (roles swapped for the transpose).
//!
//! Those are the registers flavour's (software GPUs). The tiled flavour (real
//! GPUs) runs all three as implicit GEMMs on workgroup-memory tiles, one
//! kernel with three modes (shaders/conv_tiled.wgsl).

use super::matmul::{
    core_defines, gemm_tile, subgroup_rb, GEMM_FILL_GROUPS, GEMM_K_CHUNK, SUBGROUP_TILE_N,
};
use super::pad2d::pad2d;
use super::reduce::{reduce, ReduceOp};
use super::swap01::swap01;
use crate::runtime::{Error, Flavour, KernelSpec, Result, Runtime, Tensor};

/// Output side of a convolution: floor((in + 2p - k) / s) + 1.
pub fn conv_out(input: usize, k: usize, stride: usize, pad: usize) -> Option<usize> {
    let padded = input + 2 * pad;
    (padded >= k && stride > 0).then(|| (padded - k) / stride + 1)
}

/// Output side of a transposed convolution: (in - 1) * s - 2p + k.
pub fn conv_transpose_out(input: usize, k: usize, stride: usize, pad: usize) -> Option<usize> {
    if input == 0 {
        return None;
    }
    ((input - 1) * stride + k)
        .checked_sub(2 * pad)
        .filter(|&v| v > 0)
}

fn dims4(op: &'static str, what: &str, t: &Tensor) -> Result<[usize; 4]> {
    match *t.shape() {
        [a, b, c, d] => Ok([a, b, c, d]),
        _ => Err(Error::invalid(
            op,
            format!(
                "{what} must be [N, C, H, W]-like (rank 4), got {:?}",
                t.shape()
            ),
        )),
    }
}

fn check_stride(op: &'static str, stride: usize, k: [usize; 2], pad: usize) -> Result<()> {
    if stride == 0 || stride > 16 {
        return Err(Error::invalid(
            op,
            format!("stride {stride} must be between 1 and 16"),
        ));
    }
    if k[0] == 0 || k[1] == 0 || k[1] > 16 {
        return Err(Error::invalid(
            op,
            format!("kernel {}x{} must be between 1x1 and Kx16", k[0], k[1]),
        ));
    }
    if pad >= k[0].max(k[1]) + 16 {
        return Err(Error::invalid(
            op,
            format!("padding {pad} is too large for a {}x{} kernel", k[0], k[1]),
        ));
    }
    Ok(())
}

/// The upstream gradient must have the forward output's shape.
fn check_dy(op: &'static str, dy: &Tensor, expect: [usize; 4]) -> Result<()> {
    if dy.shape() != expect {
        return Err(Error::shape_hint(
            op,
            dy.shape(),
            &expect,
            "dy does not match the forward output",
        ));
    }
    Ok(())
}

fn check_bias(op: &'static str, bias: Option<&Tensor>, channels: usize) -> Result<()> {
    if let Some(b) = bias {
        if b.shape() != [channels] {
            return Err(Error::shape_hint(
                op,
                b.shape(),
                &[channels],
                "bias must have one value per output channel",
            ));
        }
    }
    Ok(())
}

pub(crate) fn all_specs() -> Vec<KernelSpec> {
    let mut v = Vec::new();
    // The geometries the models use; others compile on first use.
    for (kw, s) in [(1, 1), (3, 1), (4, 2), (4, 1), (4, 4), (3, 2)] {
        for bias in [false, true] {
            v.push(forward_spec(kw, s, bias, true));
            v.push(forward_spec(kw, s, bias, false));
            v.push(backward_data_spec(kw, s, bias));
        }
    }
    v.push(KernelSpec::new("conv2d_backward_weight"));
    for (k, s) in [(1, 1), (3, 1), (4, 2)] {
        for mode in [Mode::Forward, Mode::BackwardData, Mode::BackwardWeight] {
            let a4 = mode != Mode::BackwardData || !stride_classes(mode, k, k, s);
            let cores = [
                (false, 64, 1, false),
                (false, 128, 1, false),
                (true, 0, 1, false),
                (true, 0, 2, false),
                (true, 0, 2, a4),
            ];
            for core in cores {
                // Backward-data swaps the weights for the subgroup core
                // where there are no stride classes.
                let wt_t = core.0 && mode == Mode::BackwardData && !stride_classes(mode, k, k, s);
                v.push(tiled_spec(mode, k, k, s, false, core, wt_t, false));
                if mode == Mode::BackwardWeight {
                    // Its f32 pixel decoding (the subgroup core, K <= 2^20).
                    v.push(tiled_spec(mode, k, k, s, false, core, wt_t, core.0));
                } else {
                    v.push(tiled_spec(mode, k, k, s, true, core, wt_t, false));
                }
            }
        }
    }
    v
}

/// The three implicit GEMMs of the tiled flavour (shaders/conv_tiled.wgsl).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Forward,
    BackwardData,
    BackwardWeight,
}

/// `core`: the GEMM core, as (subgroups, tile side, row groups, vec4 loads of
/// A) for core_defines.
#[allow(clippy::too_many_arguments)]
fn tiled_spec(
    mode: Mode,
    kh: usize,
    kw: usize,
    s: usize,
    bias: bool,
    core: (bool, usize, usize, bool),
    wt_t: bool,
    f32_quot: bool,
) -> KernelSpec {
    let spec = KernelSpec::new("conv_tiled")
        .define("FWD", (mode == Mode::Forward) as u32)
        .define("BWD_DATA", (mode == Mode::BackwardData) as u32)
        .define("BWD_WEIGHT", (mode == Mode::BackwardWeight) as u32)
        .define("KH", kh)
        .define("KW", kw)
        .define("S", s)
        .define("HAS_BIAS", bias as u32)
        // Every mode's A is contiguous along K; B is contiguous along N
        // (output pixels) except for the weight gradient, whose K is the pixels.
        .define("A_KC", 1)
        .define("B_NC", (mode != Mode::BackwardWeight) as u32)
        .define("CLASSES", stride_classes(mode, kh, kw, s) as u32)
        .define("CUSTOM_FETCH", (mode == Mode::BackwardWeight) as u32)
        .define("WT_T", wt_t as u32)
        .define("F32_QUOT", f32_quot as u32);
    core_defines(spec, core.0, core.1, core.2, core.3)
}

/// Whether backward-data runs as S*S GEMMs, one per class of output pixels
/// (ih % S, iw % S), each with only its own taps (see shaders/conv_tiled.wgsl):
/// for strides above 1 that divide the kernel.
fn stride_classes(mode: Mode, kh: usize, kw: usize, s: usize) -> bool {
    mode == Mode::BackwardData && s > 1 && kh.is_multiple_of(s) && kw.is_multiple_of(s)
}

/// Workgroups (of 8 invocations) that keep a software GPU's threads busy:
/// the subgroups flavour splits K only below this many tiles.
const SUBGROUP_FILL_GROUPS: usize = 64;

/// The largest K (the weight gradient's pixels, N * OH * OW) decoded by f32
/// division in the subgroups flavour: its quotients are within 1 of exact
/// (then corrected) up to here; larger K divides as integers.
pub const F32_QUOT_MAX_K: usize = 1 << 20;

/// K of one workgroup at least, when K is split to fill the GPU.
const MIN_SPLIT_K: usize = 256;

/// The tiled flavour's convolutions: one implicit GEMM (in forward-conv
/// terms, `src` is x for the forward and weight modes, dy for backward-data;
/// `wt` is the weight, or dy for the weight gradient). When the output tiles
/// alone are too few to fill a large GPU, K is split and the partial sums
/// are added up by a reduction.
fn launch_tiled(
    rt: &Runtime,
    mode: Mode,
    g: Geometry,
    src: &Tensor,
    wt: &Tensor,
    bias: Option<&Tensor>,
) -> Result<Tensor> {
    let kk = g.kh * g.kw;
    let (m, mut gn, mut k, shape) = match mode {
        Mode::Forward => (g.o, g.n * g.oh * g.ow, g.c * kk, [g.n, g.o, g.oh, g.ow]),
        Mode::BackwardData => (g.c, g.n * g.h * g.w, g.o * kk, [g.n, g.c, g.h, g.w]),
        Mode::BackwardWeight => (g.o, g.c * kk, g.n * g.oh * g.ow, [g.o, g.c, g.kh, g.kw]),
    };
    let numel = shape.iter().product::<usize>();
    let classes = if stride_classes(mode, g.kh, g.kw, g.s) {
        // The largest class (0, 0) sizes the grid; K is one class's taps.
        gn = g.n * g.h.div_ceil(g.s) * g.w.div_ceil(g.s);
        k = g.o * (g.kh / g.s) * (g.kw / g.s);
        g.s * g.s
    } else {
        1
    };
    let subgroups = rt.flavour() == Flavour::Subgroups;
    // The subgroup core's backward-data without stride classes reads the
    // weights swapped to [C, O, KH, KW]: rows of A contiguous along K, so
    // vec4 loads (the swap is one small pass over the weights).
    let wt_t = subgroups && mode == Mode::BackwardData && classes == 1;
    let swapped;
    let wt = if wt_t {
        swapped = swap01(&wt.reshape(&[g.o, g.c, kk])?)?;
        &swapped
    } else {
        wt
    };
    let (core, tile_m, tile_n, bk, fill) = if subgroups {
        // A software GPU runs a few threads: split K only for those.
        let rb = subgroup_rb(m);
        // vec4 loads of A where it is contiguous along K: the forward's
        // weights (K a multiple of 4), the weight gradient's dy (4 pixels
        // never straddling two images).
        let a4 = wt.offset().is_multiple_of(4)
            && match mode {
                Mode::Forward => k.is_multiple_of(4),
                Mode::BackwardWeight => (g.oh * g.ow).is_multiple_of(4),
                Mode::BackwardData => wt_t && k.is_multiple_of(4),
            };
        (
            (true, 0, rb, a4),
            8 * rb,
            SUBGROUP_TILE_N,
            4,
            SUBGROUP_FILL_GROUPS,
        )
    } else {
        let tile = gemm_tile(m, gn, classes, true)?;
        let bk = if tile == 128 { 8 } else { 16 };
        ((false, tile, 1, false), tile, tile, bk, GEMM_FILL_GROUPS)
    };
    let (tiles_m, tiles_n) = (m.div_ceil(tile_m), gn.div_ceil(tile_n));
    let tiles = tiles_m * tiles_n * classes;
    let want = fill.div_ceil(tiles).min((k / MIN_SPLIT_K).max(1));
    let k_len = k
        .div_ceil(want.max(k.div_ceil(GEMM_K_CHUNK)))
        .next_multiple_of(bk);
    let splits = k.div_ceil(k_len);
    let out = Tensor::uninit(rt, &[splits * numel])?;
    let params = [
        g.n,
        g.c,
        g.h,
        g.w,
        g.o,
        g.oh,
        g.ow,
        g.p,
        src.offset(),
        wt.offset(),
        bias.map_or(0, |b| b.offset()),
        out.offset(),
        m,
        gn,
        k,
        tiles_m,
        tiles_n,
        k_len,
        splits,
        numel,
    ]
    .map(|v| v as u32);
    // The weight gradient decodes its K (pixels) by f32 division where that
    // is exact (shaders/conv_tiled.wgsl, quot): on the software GPU only.
    let f32_quot = subgroups && k <= F32_QUOT_MAX_K;
    let spec = tiled_spec(mode, g.kh, g.kw, g.s, bias.is_some(), core, wt_t, f32_quot);
    let groups = rt.fold_grid((tiles * splits) as u32);
    dispatch_with_bias(rt, &spec, &params, src, wt, bias, &out, groups)?;
    let out = if splits > 1 {
        reduce(&out.reshape(&[splits, numel])?, 0, ReduceOp::Sum, false)?
    } else {
        out
    };
    out.reshape(&shape)
}

/// The most channel-times-tap iterations one launch of a register kernel
/// loops over per invocation: llvmpipe ends the loops of one invocation after
/// 65,535 iterations in all, with no error (70,000 channels at 1x1 were
/// summed short), so the forward and backward-data launchers split the
/// summed channels into launches that accumulate.
const REGISTER_LOOP_BUDGET: usize = 16384;

/// Channels from which the forward kernel loops over them innermost.
const C_INNER_FROM: usize = 16;

fn forward_spec(kw: usize, s: usize, bias: bool, c_inner: bool) -> KernelSpec {
    KernelSpec::new("conv2d")
        .define("KW", kw)
        .define("S", s)
        .define("HAS_BIAS", bias as u32)
        .define("C_INNER", c_inner as u32)
}

fn backward_data_spec(kw: usize, s: usize, bias: bool) -> KernelSpec {
    KernelSpec::new("conv2d_backward_data")
        .define("KW", kw)
        .define("S", s)
        .define("HAS_BIAS", bias as u32)
}

/// Geometry shared by the three kernels, in the forward convolution's terms:
/// x [n, c, h, w] -> y [n, o, oh, ow] with weight [o, c, kh, kw].
#[derive(Clone, Copy, Debug)]
struct Geometry {
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    o: usize,
    oh: usize,
    ow: usize,
    kh: usize,
    kw: usize,
    s: usize,
    p: usize,
}

/// y = conv(x, weight) + bias, the forward kernel (on the zero-padded input,
/// so that the kernel's inner loop has no bounds checks).
fn launch_forward(
    rt: &Runtime,
    g: Geometry,
    x: &Tensor,
    wt: &Tensor,
    bias: Option<&Tensor>,
) -> Result<Tensor> {
    if rt.flavour() != Flavour::Registers {
        return launch_tiled(rt, Mode::Forward, g, x, wt, bias);
    }
    let x = &pad2d(x, g.p)?;
    let g = Geometry {
        h: g.h + 2 * g.p,
        w: g.w + 2 * g.p,
        p: 0,
        ..g
    };
    let y = Tensor::uninit(rt, &[g.n, g.o, g.oh, g.ow])?;
    let wblocks = g.ow.div_ceil(8);
    let tasks = g.n * g.oh * wblocks;
    let oblocks = g.o.div_ceil(8);
    let task_groups = tasks.div_ceil(64);
    let spec = forward_spec(g.kw, g.s, bias.is_some(), g.c >= C_INNER_FROM);
    let groups = rt.fold_grid((oblocks * task_groups) as u32);
    // Channels in launches that accumulate (llvmpipe's loop cap).
    let chunk = (REGISTER_LOOP_BUDGET / (g.kh * g.kw)).max(1);
    for c_begin in (0..g.c.max(1)).step_by(chunk) {
        let params = [
            g.n,
            g.c,
            g.h,
            g.w,
            g.o,
            g.oh,
            g.ow,
            g.kh,
            g.p,
            x.offset(),
            wt.offset(),
            bias.map_or(0, |b| b.offset()),
            y.offset(),
            tasks,
            wblocks,
            oblocks,
            task_groups,
            c_begin,
            (c_begin + chunk).min(g.c),
            (c_begin > 0) as usize,
        ]
        .map(|v| v as u32);
        dispatch_with_bias(rt, &spec, &params, x, wt, bias, &y, groups)?;
    }
    Ok(y)
}

/// dx = conv backward to the input (+ bias per input channel, for the transpose).
fn launch_backward_data(
    rt: &Runtime,
    g: Geometry,
    dy: &Tensor,
    wt: &Tensor,
    bias: Option<&Tensor>,
) -> Result<Tensor> {
    if rt.flavour() != Flavour::Registers {
        return launch_tiled(rt, Mode::BackwardData, g, dy, wt, bias);
    }
    let dx = Tensor::uninit(rt, &[g.n, g.c, g.h, g.w])?;
    // Blocks of 8 pixels within each of the S residue classes of a row.
    let wblocks = g.w.div_ceil(g.s).div_ceil(8);
    let tasks = g.n * g.h * g.s * wblocks;
    let cblocks = g.c.div_ceil(8);
    let task_groups = tasks.div_ceil(64);
    let spec = backward_data_spec(g.kw, g.s, bias.is_some());
    let groups = rt.fold_grid((cblocks * task_groups) as u32);
    // Output channels in launches that accumulate (llvmpipe's loop cap); a
    // thread visits only the taps of its stride class.
    let taps = g.kh.div_ceil(g.s) * g.kw.div_ceil(g.s);
    let chunk = (REGISTER_LOOP_BUDGET / taps).max(1);
    for o_begin in (0..g.o.max(1)).step_by(chunk) {
        let params = [
            g.n,
            g.c,
            g.h,
            g.w,
            g.o,
            g.oh,
            g.ow,
            g.kh,
            g.p,
            dy.offset(),
            wt.offset(),
            bias.map_or(0, |b| b.offset()),
            dx.offset(),
            tasks,
            wblocks,
            cblocks,
            task_groups,
            o_begin,
            (o_begin + chunk).min(g.o),
            (o_begin > 0) as usize,
        ]
        .map(|v| v as u32);
        dispatch_with_bias(rt, &spec, &params, dy, wt, bias, &dx, groups)?;
    }
    Ok(dx)
}

/// Threads below which the K axis of the weight gradient is split.
const WEIGHT_GRAD_THREADS: usize = 8192;

/// dw [o, c, kh, kw] = sum over the batch's pixels of dy x im2col(x).
fn launch_backward_weight(rt: &Runtime, g: Geometry, x: &Tensor, dy: &Tensor) -> Result<Tensor> {
    if g.n * g.c * g.o == 0 {
        // An empty batch sums nothing (dw is zeros); no channels leave dw
        // empty. Both kernels' split arithmetic assumes neither.
        return super::fill::zeros(rt, &[g.o, g.c, g.kh, g.kw]);
    }
    if rt.flavour() != Flavour::Registers {
        return launch_tiled(rt, Mode::BackwardWeight, g, x, dy, None);
    }
    let cols = g.c * g.kh * g.kw;
    let colblocks = cols.div_ceil(8);
    let oblocks = g.o.div_ceil(8);
    let rows = g.n * g.oh;
    let threads = colblocks * oblocks;
    // Also enough splits that a thread loops over at most REGISTER_LOOP_BUDGET
    // pixels (about OW + 1 iterations a row).
    let splits = WEIGHT_GRAD_THREADS
        .div_ceil(threads)
        .max((rows * (g.ow + 1)).div_ceil(REGISTER_LOOP_BUDGET))
        .clamp(1, rows);
    let rows_per_split = rows.div_ceil(splits);
    let splits = rows.div_ceil(rows_per_split);
    let col_groups = colblocks.div_ceil(64);
    let partial = Tensor::uninit(rt, &[splits, g.o * cols])?;
    let params = [
        g.n,
        g.c,
        g.h,
        g.w,
        g.o,
        g.oh,
        g.ow,
        g.kh,
        g.kw,
        g.s,
        g.p,
        x.offset(),
        dy.offset(),
        partial.offset(),
        cols,
        colblocks,
        oblocks,
        col_groups,
        rows_per_split,
        splits,
    ]
    .map(|v| v as u32);
    rt.dispatch(
        &KernelSpec::new("conv2d_backward_weight"),
        &params,
        &[x.buffer(), dy.buffer(), partial.buffer()],
        rt.fold_grid((splits * oblocks * col_groups) as u32),
    )?;
    let dw = if splits > 1 {
        reduce(&partial, 0, ReduceOp::Sum, false)?
    } else {
        partial
    };
    dw.reshape(&[g.o, g.c, g.kh, g.kw])
}

/// Sum of dy over all axes but the channel axis 1: the bias gradient. dy: `[N, C, H, W]` -> `[C]`
pub fn bias_grad(dy: &Tensor) -> Result<Tensor> {
    let [n, c, h, w] = dims4("bias_grad", "dy", dy)?;
    let per_image = reduce(&dy.reshape(&[n, c, h * w])?, 2, ReduceOp::Sum, false)?; // [N, C]
    reduce(&per_image, 0, ReduceOp::Sum, false) // [C]
}

// ---------------------------------------------------------------- conv2d

/// Geometry of conv2d(x, weight): x [N, C, H, W], weight [O, C, KH, KW].
fn conv_geometry(
    op: &'static str,
    x: [usize; 4],
    wt: [usize; 4],
    stride: usize,
    pad: usize,
) -> Result<Geometry> {
    let [n, c, h, w] = x;
    let [o, wc, kh, kw] = wt;
    if wc != c {
        return Err(Error::shape_hint(
            op,
            &x,
            &wt,
            format!("input has {c} channels, weight expects {wc}"),
        ));
    }
    check_stride(op, stride, [kh, kw], pad)?;
    let (Some(oh), Some(ow)) = (conv_out(h, kh, stride, pad), conv_out(w, kw, stride, pad)) else {
        return Err(Error::shape_hint(
            op,
            &x,
            &wt,
            format!("the {kh}x{kw} kernel is larger than the padded input"),
        ));
    };
    Ok(Geometry {
        n,
        c,
        h,
        w,
        o,
        oh,
        ow,
        kh,
        kw,
        s: stride,
        p: pad,
    })
}

/// conv2d forward. x: `[N, C, H, W]`, weight: `[O, C, KH, KW]`, bias: `[O]` -> `[N, O, OH, OW]`
pub fn conv2d(
    x: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
    stride: usize,
    pad: usize,
) -> Result<Tensor> {
    let g = conv_geometry(
        "conv2d",
        dims4("conv2d", "input", x)?,
        dims4("conv2d", "weight", weight)?,
        stride,
        pad,
    )?;
    check_bias("conv2d", bias, g.o)?;
    launch_forward(x.runtime(), g, x, weight, bias)
}

/// conv2d backward to the input. dy: [N, O, OH, OW], weight: [O, C, KH, KW] -> dx [N, C, H, W]
/// (`input_hw` is the forward input's size, which the stride leaves ambiguous).
pub fn conv2d_backward_data(
    dy: &Tensor,
    weight: &Tensor,
    input_hw: [usize; 2],
    stride: usize,
    pad: usize,
) -> Result<Tensor> {
    let op = "conv2d_backward_data";
    let [n, _, _, _] = dims4(op, "dy", dy)?;
    let wt = dims4(op, "weight", weight)?;
    let g = conv_geometry(op, [n, wt[1], input_hw[0], input_hw[1]], wt, stride, pad)?;
    check_dy(op, dy, [n, g.o, g.oh, g.ow])?;
    launch_backward_data(dy.runtime(), g, dy, weight, None)
}

/// conv2d backward to the weight. x: [N, C, H, W], dy: [N, O, OH, OW] -> dw [O, C, KH, KW]
pub fn conv2d_backward_weight(
    x: &Tensor,
    dy: &Tensor,
    kernel: [usize; 2],
    stride: usize,
    pad: usize,
) -> Result<Tensor> {
    let op = "conv2d_backward_weight";
    let xd = dims4(op, "input", x)?;
    let [_, o, _, _] = dims4(op, "dy", dy)?;
    let g = conv_geometry(op, xd, [o, xd[1], kernel[0], kernel[1]], stride, pad)?;
    check_dy(op, dy, [g.n, o, g.oh, g.ow])?;
    launch_backward_weight(x.runtime(), g, x, dy)
}

// ---------------------------------------------------------------- conv_transpose2d

/// conv_transpose2d(x) is the input gradient of conv2d(y) with the same weight,
/// where y is the transposed convolution's output: so its geometry is conv2d's
/// with x and y swapped. x: [N, Cin, H, W], weight: [Cin, Cout, KH, KW].
fn transpose_geometry(
    op: &'static str,
    x: [usize; 4],
    wt: [usize; 4],
    stride: usize,
    pad: usize,
) -> Result<Geometry> {
    let [n, cin, h, w] = x;
    let [wcin, cout, kh, kw] = wt;
    if wcin != cin {
        return Err(Error::shape_hint(
            op,
            &x,
            &wt,
            format!("input has {cin} channels, weight expects {wcin}"),
        ));
    }
    check_stride(op, stride, [kh, kw], pad)?;
    let (Some(oh), Some(ow)) = (
        conv_transpose_out(h, kh, stride, pad),
        conv_transpose_out(w, kw, stride, pad),
    ) else {
        return Err(Error::shape_hint(
            op,
            &x,
            &wt,
            format!("padding {pad} leaves no output"),
        ));
    };
    // Forward-conv terms: "x" is the transpose's output [n, cout, oh, ow], "y" is its input.
    Ok(Geometry {
        n,
        c: cout,
        h: oh,
        w: ow,
        o: cin,
        oh: h,
        ow: w,
        kh,
        kw,
        s: stride,
        p: pad,
    })
}

/// conv_transpose2d forward. x: `[N, Cin, H, W]`, weight: `[Cin, Cout, KH, KW]`, bias: `[Cout]`
/// -> [N, Cout, (H-1)S - 2P + KH, (W-1)S - 2P + KW]
pub fn conv_transpose2d(
    x: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
    stride: usize,
    pad: usize,
) -> Result<Tensor> {
    let op = "conv_transpose2d";
    let g = transpose_geometry(
        op,
        dims4(op, "input", x)?,
        dims4(op, "weight", weight)?,
        stride,
        pad,
    )?;
    check_bias(op, bias, g.c)?;
    launch_backward_data(x.runtime(), g, x, weight, bias)
}

/// conv_transpose2d backward to the input. dy: [N, Cout, OH, OW], weight: [Cin, Cout, KH, KW] -> dx [N, Cin, H, W]
pub fn conv_transpose2d_backward_data(
    dy: &Tensor,
    weight: &Tensor,
    input_hw: [usize; 2],
    stride: usize,
    pad: usize,
) -> Result<Tensor> {
    let op = "conv_transpose2d_backward_data";
    let [n, _, _, _] = dims4(op, "dy", dy)?;
    let wt = dims4(op, "weight", weight)?;
    let g = transpose_geometry(op, [n, wt[0], input_hw[0], input_hw[1]], wt, stride, pad)?;
    check_dy(op, dy, [n, g.c, g.h, g.w])?;
    launch_forward(dy.runtime(), g, dy, weight, None)
}

/// conv_transpose2d backward to the weight. x: [N, Cin, H, W], dy: [N, Cout, OH, OW] -> dw [Cin, Cout, KH, KW]
pub fn conv_transpose2d_backward_weight(
    x: &Tensor,
    dy: &Tensor,
    kernel: [usize; 2],
    stride: usize,
    pad: usize,
) -> Result<Tensor> {
    let op = "conv_transpose2d_backward_weight";
    let xd = dims4(op, "input", x)?;
    let [_, cout, _, _] = dims4(op, "dy", dy)?;
    let g = transpose_geometry(op, xd, [xd[1], cout, kernel[0], kernel[1]], stride, pad)?;
    check_dy(op, dy, [g.n, g.c, g.h, g.w])?;
    // In forward-conv terms the weight gradient pairs "x" = dy with "dy" = x.
    launch_backward_weight(x.runtime(), g, dy, x)
}

/// Dispatches a convolution kernel over (input, weight, [bias,] output): the
/// bias is bound only when there is one (the kernel is built without it).
#[allow(clippy::too_many_arguments)]
fn dispatch_with_bias(
    rt: &Runtime,
    spec: &KernelSpec,
    params: &[u32],
    input: &Tensor,
    wt: &Tensor,
    bias: Option<&Tensor>,
    out: &Tensor,
    groups: [u32; 3],
) -> Result<()> {
    match bias {
        Some(b) => rt.dispatch(
            spec,
            params,
            &[input.buffer(), wt.buffer(), b.buffer(), out.buffer()],
            groups,
        ),
        None => rt.dispatch(
            spec,
            params,
            &[input.buffer(), wt.buffer(), out.buffer()],
            groups,
        ),
    }
}
