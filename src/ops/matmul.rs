//! Batched matmul with either operand transposed.
//!
//! Two kernel variants (see shaders/): `matmul` keeps an 8x8 block per thread
//! in registers (software GPUs), `matmul_tiled` stages 64x64 or 128x128
//! tiles in workgroup memory (real GPUs). The runtime's flavour picks one.
//! Products with K <= [`SMALL_K`] (a linear layer's weight gradient, whose K
//! is the batch) go to `matmul_smallk` on every flavour: 32 rows by a vec4
//! of C an invocation, with op(B)'s column held for every k.

use crate::runtime::{Error, Flavour, KernelSpec, Result, Tensor};

/// Workgroups that fill a large GPU (132 multiprocessors on an H100/H200, two
/// workgroups each): matmul uses 128x128 tiles only from this many, and the
/// convolutions split K until they have this many.
pub(crate) const GEMM_FILL_GROUPS: usize = 264;

/// The most K one launch of a tiled GEMM sums per invocation: llvmpipe ends
/// loops after 65,535 iterations per invocation in all (shaders/gemm_tile.wgsl).
pub(crate) const GEMM_K_CHUNK: usize = 32768;

/// The most K one launch of the register kernel sums: llvmpipe's loop cap
/// (above) cut a whole K short at 43,690 (shaders/matmul.wgsl); a quarter of
/// that cap leaves room for the variants whose inner loops are not unrolled.
const REGISTER_K_CHUNK: usize = 8192;

/// Side of the tiled GEMM's square tile for an M x N (times `batch`) problem.
/// 128 needs both sides above 64 (else most of the tile is padding) and,
/// unless the caller splits K to make up the parallelism (`split_k`), enough
/// tiles to fill the GPU. On the H200 (see shaders/conv_tiled.wgsl) 128 won
/// for every convolution with M >= 128 (split K or not), 64 for every one
/// with M = 64 and for matmul 1024^3 (64 tiles of 128, 0.20 ms against 0.14).
/// ENGINE_GEMM_TILE=64|128 forces one (for measuring both on a GPU); any
/// other value is an error ([`forced_gemm_tile`]).
pub(crate) fn gemm_tile(m: usize, n: usize, batch: usize, split_k: bool) -> Result<usize> {
    if let Some(t) = forced_gemm_tile()? {
        return Ok(t);
    }
    let big = m > 64
        && n > 64
        && (split_k || m.div_ceil(128) * n.div_ceil(128) * batch >= GEMM_FILL_GROUPS);
    Ok(if big { 128 } else { 64 })
}

/// ENGINE_GEMM_TILE: None when unset; an error names any value but 64 or
/// 128, as ENGINE_SMALL_K's does.
pub(crate) fn forced_gemm_tile() -> Result<Option<usize>> {
    static FORCED: std::sync::OnceLock<std::result::Result<Option<usize>, String>> =
        std::sync::OnceLock::new();
    let forced = FORCED.get_or_init(|| match std::env::var("ENGINE_GEMM_TILE") {
        Err(_) => Ok(None),
        Ok(v) => match v.trim().parse::<usize>() {
            Ok(t) if [64, 128].contains(&t) => Ok(Some(t)),
            _ => Err(format!(
                "{v:?} is not a tile side: set it to 64 or 128 (the tiled GEMM's square tile), or unset it"
            )),
        },
    });
    forced
        .clone()
        .map_err(|m| Error::invalid("ENGINE_GEMM_TILE", m))
}

/// Threads along N of the register kernel's 64-thread workgroup: 8 for
/// square problems, fewer when N is small, more when M is (each thread
/// computes 8x8, so the tile is (8 * 64 / wg_x) x (8 * wg_x)).
fn register_wg_x(m: usize, n: usize) -> usize {
    let fit = |d: usize| d.div_ceil(8).next_power_of_two().clamp(1, 64);
    if n < 64 {
        fit(n).min(8)
    } else if m < 64 {
        64 / fit(m).min(8)
    } else {
        8
    }
}

/// Row groups of 8 per subgroup tile (shaders/gemm_subgroup.wgsl): the
/// tile is (8 rb) x 16; two groups reuse each column's loads more, one
/// wastes less of a short M.
pub(crate) fn subgroup_rb(m: usize) -> usize {
    if m > 8 {
        2
    } else {
        1
    }
}

/// Columns of the subgroup core's tile.
pub(crate) const SUBGROUP_TILE_N: usize = 16;

/// The defines that pick a GEMM core in matmul_tiled and conv_tiled:
/// `tile` is gemm_tile's side for the tiled flavour, `rb` the row groups for
/// the subgroups one, `a4` whether A is read as vec4s along K (subgroups
/// core only; see gemm_subgroup.wgsl).
pub(crate) fn core_defines(
    spec: KernelSpec,
    subgroups: bool,
    tile: usize,
    rb: usize,
    a4: bool,
) -> KernelSpec {
    spec.define("SUBGROUP", subgroups as u32)
        .define("A4", (subgroups && a4) as u32)
        .define("WG", if subgroups { 8 } else { 256 })
        .define("BIG", (!subgroups && tile == 128) as u32)
        .define("RB", rb)
        .define("RB2", (subgroups && rb >= 2) as u32)
}

/// How the GEMM cores lay out a launch's batches (matmul_tiled.wgsl).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Merge {
    /// A tile per batch.
    None,
    /// The batches that share a repeated A side by side as one GEMM's columns.
    Columns,
    /// The same for C^T (the operands swapped): columns stored as C's rows.
    ColumnsOfCT,
}

fn spec(
    flavour: Flavour,
    ta: bool,
    tb: bool,
    a_vec: bool,
    b_vec: bool,
    wg_x: usize,
    merge: Merge,
) -> KernelSpec {
    match flavour {
        Flavour::Registers => KernelSpec::new("matmul")
            .define("A_T", ta as u32)
            .define("B_T", tb as u32)
            .define("A_VEC", a_vec as u32)
            .define("B_VEC", b_vec as u32)
            .define("WG_X", wg_x),
        Flavour::Tiled | Flavour::Subgroups => {
            let subgroups = flavour == Flavour::Subgroups;
            let spec = KernelSpec::new("matmul_tiled")
                .define("A_T", ta as u32)
                .define("B_T", tb as u32)
                .define("A_KC", !ta as u32)
                .define("B_NC", !tb as u32)
                .define("CUSTOM_FETCH", 0)
                .define("MERGE", (merge != Merge::None) as u32)
                .define("C_T", (merge == Merge::ColumnsOfCT) as u32);
            // wg_x carries the tile side (tiled) or the row groups (subgroups).
            let rb = if subgroups { wg_x } else { 1 };
            core_defines(spec, subgroups, wg_x, rb, a_vec && !ta)
        }
    }
}

/// The longest K that `launch` gives to shaders/matmul_smallk.wgsl
/// (where N is a multiple of 4): [8192, 200] from K = 4, 8 and 16 ran 2.5x,
/// 2x and 1.4x faster there than on the subgroup GEMM core (Mesa 25; the
/// kernel's header).
pub const SMALL_K: usize = 16;

/// The most ENGINE_SMALL_K may set: the kernel holds one vec4 of B per k,
/// in registers, for at most 16.
const SMALL_K_MAX: usize = 16;

/// [`SMALL_K`], or ENGINE_SMALL_K (0 to 16; 0: the GEMM cores for every K,
/// for measuring both on one device); an error names any other value.
fn small_k() -> Result<usize> {
    static K: std::sync::OnceLock<std::result::Result<usize, String>> = std::sync::OnceLock::new();
    let k = K.get_or_init(|| match std::env::var("ENGINE_SMALL_K") {
        Err(_) => Ok(SMALL_K),
        Ok(v) => match v.trim().parse::<usize>() {
            Ok(k) if k <= SMALL_K_MAX => Ok(k),
            _ => Err(format!(
                "{v:?} is not a K from 0 to {SMALL_K_MAX}: set it to the longest K for the short-K kernel (0: none), or unset it"
            )),
        },
    });
    k.clone().map_err(|m| Error::invalid("ENGINE_SMALL_K", m))
}

/// Rows of C per invocation of shaders/matmul_smallk.wgsl (its 4 RG).
const SMALL_K_ROWS: usize = 32;

/// shaders/matmul_smallk.wgsl for one K (1 to [`SMALL_K_MAX`]); `a_vec`:
/// A^T read as vec4s (M and A's offset multiples of 4).
fn small_k_spec(ta: bool, tb: bool, b_vec: bool, a_vec: bool, k: usize) -> KernelSpec {
    KernelSpec::new("matmul_smallk")
        .define("A_T", ta as u32)
        .define("A_VEC", (a_vec && ta) as u32)
        .define("B_T", tb as u32)
        .define("B_VEC", (b_vec && !tb) as u32)
        .define("K", k)
}

pub(crate) fn all_specs() -> Vec<KernelSpec> {
    let mut v = Vec::new();
    for t in 0..6u32 {
        let ta = t & 1 != 0;
        for a_vec in [false, true].into_iter().filter(|&v| ta || !v) {
            for k in 1..=SMALL_K_MAX {
                v.push(small_k_spec(ta, t & 2 != 0, t >= 4, a_vec, k));
            }
        }
    }
    for bits in 0..16u32 {
        let f = |i: u32| bits & (1 << i) != 0;
        for wg_x in [1, 2, 4, 8, 16, 32, 64] {
            v.push(spec(
                Flavour::Registers,
                f(0),
                f(1),
                f(2),
                f(3),
                wg_x,
                Merge::None,
            ));
        }
        if bits < 4 {
            for merge in [Merge::None, Merge::Columns, Merge::ColumnsOfCT] {
                for tile in [64, 128] {
                    v.push(spec(Flavour::Tiled, f(0), f(1), false, false, tile, merge));
                }
                for rb in [1, 2] {
                    for a4 in [false, true] {
                        v.push(spec(Flavour::Subgroups, f(0), f(1), a4, false, rb, merge));
                    }
                }
            }
        }
    }
    v
}

/// (batch, rows, cols) of a rank-2 or rank-3 operand.
fn dims3(op: &'static str, t: &Tensor) -> Result<(usize, usize, usize)> {
    match *t.shape() {
        [r, c] => Ok((1, r, c)),
        [b, r, c] => Ok((b, r, c)),
        _ => Err(Error::invalid(
            op,
            format!(
                "operands are [rows, cols] or [batch, rows, cols], got {:?}",
                t.shape()
            ),
        )),
    }
}

/// C = op(A) @ op(B), where op transposes the last two axes when asked.
/// A is [M, K] or [batch, M, K] ([.., K, M] with `ta`); B is [K, N] or
/// [batch, K, N] ([.., N, K] with `tb`). An operand with fewer batches that
/// divide the other's is repeated cyclically (batch i uses its batch i mod
/// its count): a batch of 1, or a rank-2 operand, is broadcast. C is [M, N] when both are rank 2, else
/// [batch, M, N].
pub fn matmul(a: &Tensor, b: &Tensor, ta: bool, tb: bool) -> Result<Tensor> {
    let (batch, m, n) = check(a, b, ta, tb)?;
    let shape: Vec<usize> = if a.rank() == 2 && b.rank() == 2 {
        vec![m, n]
    } else {
        vec![batch, m, n]
    };
    let c = Tensor::uninit(a.runtime(), &shape)?;
    launch(a, b, &c, ta, tb, 1.0, 0.0, batch, false)?;
    Ok(c)
}

/// The batches of op(A) @ op(B) summed down to `batches`: `C[j]` = the sum
/// over the batches `i = j (mod batches)` of `op(A[i]) @ op(B[i])`, `[batches, M, N]`
/// (`batches` divides the product's batch count; all of them: a plain
/// matmul with a batch axis). The backward of an operand
/// that [`matmul`] repeated cyclically; on the GEMM cores (tiled, subgroups)
/// one launch sums inside the tile instead of writing every product.
pub fn matmul_sum(a: &Tensor, b: &Tensor, ta: bool, tb: bool, batches: usize) -> Result<Tensor> {
    let (batch, m, n) = check(a, b, ta, tb)?;
    if batches == 0 || !batch.is_multiple_of(batches) {
        return Err(Error::invalid(
            "matmul_sum",
            format!("cannot sum {batch} batches down to {batches}"),
        ));
    }
    let rt = a.runtime();
    if batches == batch {
        return matmul(a, b, ta, tb)?.reshape(&[batches, m, n]);
    }
    if rt.flavour() == Flavour::Registers {
        let c = matmul(a, b, ta, tb)?;
        return c
            .reshape(&[batch / batches, batches * m * n])?
            .sum(0, false)?
            .reshape(&[batches, m, n]);
    }
    let c = Tensor::uninit(rt, &[batches, m, n])?;
    launch(a, b, &c, ta, tb, 1.0, 0.0, batches, false)?;
    Ok(c)
}

/// C = alpha * op(A) @ op(B) + beta * C, into an existing C (gradient
/// accumulation). C's shape must be what [`matmul`] would return.
pub fn matmul_into(
    a: &Tensor,
    b: &Tensor,
    c: &Tensor,
    ta: bool,
    tb: bool,
    alpha: f32,
    beta: f32,
) -> Result<()> {
    let (batch, m, n) = check(a, b, ta, tb)?;
    let ok = match *c.shape() {
        [cm, cn] => batch == 1 && cm == m && cn == n,
        [cb, cm, cn] => cb == batch && cm == m && cn == n,
        _ => false,
    };
    if !ok {
        return Err(Error::shape_hint(
            "matmul_into",
            c.shape(),
            &[batch, m, n],
            "C has the wrong shape",
        ));
    }
    launch(a, b, c, ta, tb, alpha, beta, batch, false)
}

/// Checks the operands; returns (batch, M, N).
fn check(a: &Tensor, b: &Tensor, ta: bool, tb: bool) -> Result<(usize, usize, usize)> {
    let (ba, ar, ac) = dims3("matmul", a)?;
    let (bb, br, bc) = dims3("matmul", b)?;
    let (m, ka) = if ta { (ac, ar) } else { (ar, ac) };
    let (kb, n) = if tb { (bc, br) } else { (br, bc) };
    if ka != kb {
        return Err(Error::shape_hint(
            "matmul",
            a.shape(),
            b.shape(),
            format!("inner dimensions differ: {ka} and {kb} (transposed: {ta}, {tb})"),
        ));
    }
    let batch = ba.max(bb);
    if !batch.is_multiple_of(ba) || !batch.is_multiple_of(bb) {
        return Err(Error::shape_hint(
            "matmul",
            a.shape(),
            b.shape(),
            "batch sizes differ and the smaller does not divide the larger",
        ));
    }
    Ok((batch, m, n))
}

/// How many batches (those sharing a batch of A, which has `ba` of `batch`)
/// the GEMM cores take side by side as one product's columns: all of them
/// where that needs fewer column tiles, else 1.
fn merged_columns(flavour: Flavour, m: usize, n: usize, batch: usize, ba: usize) -> Result<usize> {
    let tile_n = match flavour {
        Flavour::Registers => return Ok(1),
        Flavour::Tiled => gemm_tile(m, n, batch, false)?,
        Flavour::Subgroups => SUBGROUP_TILE_N,
    };
    let shared = batch / ba;
    Ok(
        if ba < batch && (n * shared).div_ceil(tile_n) < n.div_ceil(tile_n) * shared {
            shared
        } else {
            1
        },
    )
}

/// C (`out` batches) = alpha * the products summed down to `out` batches +
/// beta * C; `out` is the product's batch count for a plain matmul.
#[allow(clippy::too_many_arguments)]
fn launch(
    a: &Tensor,
    b: &Tensor,
    c: &Tensor,
    ta: bool,
    tb: bool,
    alpha: f32,
    beta: f32,
    out: usize,
    c_t: bool,
) -> Result<()> {
    let (ba, ar, ac) = dims3("matmul", a)?;
    let (bb, br, bc) = dims3("matmul", b)?;
    let (m, k) = if ta { (ac, ar) } else { (ar, ac) };
    let n = if tb { br } else { bc };
    let batch = ba.max(bb);
    let rt = a.runtime();
    if m == 0 || n == 0 {
        return Ok(());
    }
    if k == 0 {
        // An empty sum: C = beta * C.
        let scaled = if beta == 0.0 {
            super::fill::zeros(rt, c.shape())?
        } else {
            c.mul_scalar(beta)?
        };
        return super::fill::copy_into(&scaled, c);
    }
    // A bad ENGINE_GEMM_TILE is refused whatever the flavour, not only where
    // gemm_tile reads it.
    forced_gemm_tile()?;
    if k <= small_k()? && out == batch && !c_t && n % 4 == 0 && c.offset().is_multiple_of(4) {
        return launch_small_k(a, b, c, (ta, tb), (alpha, beta), (batch, ba, bb), (m, n, k));
    }
    // B repeated over batches and M short of whole tiles: C^T = op(B)^T
    // op(A)^T has a repeated A and a short N, whose batches merge; its
    // tiles store C^T's columns as C's rows.
    if !c_t
        && out == batch
        && merged_columns(rt.flavour(), m, n, batch, ba)? == 1
        && merged_columns(rt.flavour(), n, m, batch, bb)? > 1
    {
        return launch(b, a, c, !tb, !ta, alpha, beta, out, true);
    }
    let a_bstride = m * k;
    let b_bstride = k * n;
    // vec4 loads need the operand's contiguous axis and every offset to be multiples of 4.
    let a_vec = (if ta { m } else { k }) % 4 == 0 && a.offset().is_multiple_of(4);
    let b_vec = (if tb { k } else { n }) % 4 == 0 && b.offset().is_multiple_of(4);
    // For the tiled kernel, wg_x carries the tile side instead.
    let (wg_x, tile_m, tile_n) = match rt.flavour() {
        Flavour::Registers => {
            let wg_x = register_wg_x(m, n);
            (wg_x, 8 * (64 / wg_x), 8 * wg_x)
        }
        Flavour::Tiled => {
            let tile = gemm_tile(m, n, out, false)?;
            (tile, tile, tile)
        }
        Flavour::Subgroups => {
            let rb = subgroup_rb(m);
            (rb, 8 * rb, SUBGROUP_TILE_N)
        }
    };
    let merge = if out == batch {
        merged_columns(rt.flavour(), m, n, batch, ba)?
    } else {
        1
    };
    // The swap above only happens when the swapped operands merge.
    debug_assert!(merge > 1 || !c_t);
    let (launch_batches, n_cols, layout) = match (merge > 1, c_t) {
        (false, _) => (out, n, Merge::None),
        (true, false) => (ba, n * merge, Merge::Columns),
        (true, true) => (ba, n * merge, Merge::ColumnsOfCT),
    };
    let tiles_m = m.div_ceil(tile_m);
    let tiles_n = n_cols.div_ceil(tile_n);
    // Both kernels sum K in chunks that accumulate into C: llvmpipe caps the
    // loop iterations of one invocation (see GEMM_K_CHUNK, REGISTER_K_CHUNK).
    let chunk = match rt.flavour() {
        Flavour::Registers => REGISTER_K_CHUNK,
        Flavour::Tiled | Flavour::Subgroups => GEMM_K_CHUNK,
    };
    let groups = (tiles_m * tiles_n * launch_batches) as u32;
    // Sums over batches (matmul_sum) go in groups whose loops together stay
    // under the same cap.
    let folds = batch / out;
    let mut first = true;
    for k_begin in (0..k).step_by(chunk) {
        let k_end = (k_begin + chunk).min(k);
        let per_launch = (chunk / (k_end - k_begin)).max(1);
        for q_begin in (0..folds).step_by(per_launch) {
            let q_end = (q_begin + per_launch).min(folds);
            let beta = if first { beta } else { 1.0 };
            first = false;
            let params = [
                m as u32,
                n as u32,
                k as u32,
                launch_batches as u32,
                a.offset() as u32,
                b.offset() as u32,
                c.offset() as u32,
                tiles_n as u32,
                a_bstride as u32,
                b_bstride as u32,
                (m * n) as u32,
                tiles_m as u32,
                alpha.to_bits(),
                beta.to_bits(),
                ba as u32,
                bb as u32,
                k_begin as u32,
                k_end as u32,
                q_begin as u32,
                q_end as u32,
                merge as u32,
            ];
            rt.dispatch(
                &spec(rt.flavour(), ta, tb, a_vec, b_vec, wg_x, layout),
                &params,
                &[a.buffer(), b.buffer(), c.buffer()],
                rt.fold_grid(groups),
            )?;
        }
    }
    Ok(())
}

/// C = alpha * op(A) @ op(B) + beta * C for K <= [`SMALL_K`], N a multiple
/// of 4 (shaders/matmul_smallk.wgsl): SMALL_K_ROWS rows by a vec4 of C an
/// invocation, `batch` products of A's batch i mod `ba` and B's i mod `bb`.
fn launch_small_k(
    a: &Tensor,
    b: &Tensor,
    c: &Tensor,
    (ta, tb): (bool, bool),
    (alpha, beta): (f32, f32),
    (batch, ba, bb): (usize, usize, usize),
    (m, n, k): (usize, usize, usize),
) -> Result<()> {
    let rt = a.runtime();
    let n4 = n / 4;
    let row_blocks = m.div_ceil(SMALL_K_ROWS);
    let b_vec = !tb && b.offset().is_multiple_of(4);
    let a_vec = ta && m.is_multiple_of(4) && a.offset().is_multiple_of(4);
    // K is the pipeline's constant (small_k_spec), not a parameter.
    let params = [
        m as u32,
        n as u32,
        batch as u32,
        a.offset() as u32,
        b.offset() as u32,
        c.offset() as u32,
        ba as u32,
        bb as u32,
        row_blocks as u32,
        alpha.to_bits(),
        beta.to_bits(),
    ];
    rt.dispatch(
        &small_k_spec(ta, tb, b_vec, a_vec, k),
        &params,
        &[a.buffer(), b.buffer(), c.buffer()],
        rt.fold_grid((batch * row_blocks * n4).div_ceil(64) as u32),
    )
}
