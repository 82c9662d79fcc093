//! Shared by the kernel tests: the device, fresh random inputs, relative error.

use std::sync::OnceLock;

use rand::{Rng, SeedableRng};
use wgpu_attngan::Runtime;

/// One runtime for all tests, with new tensors poisoned (NaN) so that an
/// element a kernel fails to write makes the comparison fail.
pub fn rt() -> Runtime {
    static RT: OnceLock<Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        let rt = Runtime::new().unwrap_or_else(|e| panic!("{e}"));
        rt.set_poison(true);
        rt
    })
    .clone()
}

/// The runtimes of the kernel flavours this device runs for software GPUs:
/// its default, and registers and subgroups (where it has subgroups of 8+
/// lanes) besides, on one device. On a real GPU (default tiled) only the
/// default: tools/gpu-check.sh runs the tests per flavour there.
pub fn flavour_runtimes() -> Vec<Runtime> {
    let rt = rt();
    let mut v = vec![rt.flavour()];
    if rt.flavour() != wgpu_attngan::Flavour::Tiled {
        for f in [
            wgpu_attngan::Flavour::Registers,
            wgpu_attngan::Flavour::Subgroups,
        ] {
            let fits = f != wgpu_attngan::Flavour::Subgroups || has_subgroups();
            if fits && !v.contains(&f) {
                v.push(f);
            }
        }
    }
    v.into_iter().map(|f| rt.with_flavour(f)).collect()
}

/// Whether this device runs the subgroups flavour (lavapipe does); a
/// device without it skips those checks, and says so.
pub fn has_subgroups() -> bool {
    let rt = rt();
    let ok = wgpu_attngan::Flavour::subgroups_fit(rt.adapter_info(), rt.features());
    if !ok {
        eprintln!(
            "skipped: {} has no subgroups of 8 or more lanes",
            rt.adapter_info().name
        );
    }
    ok
}

/// The seed of a test's random inputs (printed in failure messages).
///
/// By default it is fixed: a hash of the test's name and how many seeds the
/// test has drawn, so `cargo test` (and CI) is repeatable and a failure
/// replays. `ENGINE_TEST_SEED=random` draws fresh seeds on every call, to
/// fuzz; `ENGINE_TEST_SEED=N` moves every test to another fixed set.
pub fn seed() -> u64 {
    thread_local!(static DRAWN: std::cell::Cell<u64> = const { std::cell::Cell::new(0) });
    let base = match std::env::var("ENGINE_TEST_SEED").as_deref() {
        Ok("random") => return rand::rng().random(),
        Ok(n) => n.parse::<u64>().unwrap_or_else(|_| {
            panic!("ENGINE_TEST_SEED={n:?}: use a number, or `random` for fresh seeds")
        }),
        Err(_) => 0,
    };
    let name = std::thread::current().name().unwrap_or("").to_string();
    let k = DRAWN.with(|d| {
        let k = d.get();
        d.set(k + 1);
        k
    });
    // FNV-1a over the test's name, then the draw count and the base.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name
        .bytes()
        .chain(k.to_le_bytes())
        .chain(base.to_le_bytes())
    {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01B3);
    }
    h
}

pub fn rng(seed: u64) -> rand::rngs::StdRng {
    rand::rngs::StdRng::seed_from_u64(seed)
}

/// Uniform values in [lo, hi).
pub fn random_vec(rng: &mut impl Rng, n: usize, lo: f32, hi: f32) -> Vec<f32> {
    (0..n).map(|_| rng.random_range(lo..hi)).collect()
}

/// ||out - ref|| / ||ref|| in f64 (absolute norm when the reference is zero).
/// NaN anywhere gives NaN, which fails every `<` check.
pub fn rel_err(out: &[f32], reference: &[f64]) -> f64 {
    assert_eq!(
        out.len(),
        reference.len(),
        "output and reference lengths differ"
    );
    let mut num = 0.0;
    let mut den = 0.0;
    for (o, r) in out.iter().zip(reference) {
        let d = *o as f64 - r;
        num += d * d;
        den += r * r;
    }
    if out.iter().any(|x| !x.is_finite()) {
        return f64::NAN;
    }
    if den == 0.0 {
        num.sqrt()
    } else {
        (num / den).sqrt()
    }
}

/// Asserts a relative error under `tol`, naming the case and seed.
#[track_caller]
pub fn assert_close(what: &str, seed: u64, out: &[f32], reference: &[f64], tol: f64) {
    let e = rel_err(out, reference);
    assert!(
        e < tol,
        "{what} (seed {seed}): relative error {e:e} over {tol:e}"
    );
}

/// Like [`assert_close`], but the error is taken relative to `scale`: per
/// output, the sum of the magnitudes of the terms that make it up. Where those
/// terms cancel (a batch-norm gradient over 3 values, the cosine of two
/// nearly orthogonal vectors), float rounding of the terms, not of the small
/// result, sets the attainable accuracy; relative to the result alone such
/// outputs failed by a hair on an NVIDIA H200 (1.1e-4 and 1.04e-5 against
/// 1e-4 and 1e-5) while passing on lavapipe.
pub fn assert_close_to_scale(
    what: &str,
    seed: u64,
    out: &[f32],
    reference: &[f64],
    scale: &[f64],
    tol: f64,
) {
    assert_eq!(out.len(), reference.len(), "{what}: lengths differ");
    assert_eq!(scale.len(), reference.len(), "{what}: scale length differs");
    let e = if out.iter().any(|x| !x.is_finite()) {
        f64::NAN
    } else {
        let num: f64 = out
            .iter()
            .zip(reference)
            .map(|(o, r)| (*o as f64 - r).powi(2))
            .sum();
        let den: f64 = scale.iter().map(|x| x * x).sum();
        (num / den.max(f64::MIN_POSITIVE)).sqrt()
    };
    assert!(
        e < tol,
        "{what} (seed {seed}): error relative to the terms' magnitude {e:e} over {tol:e}"
    );
}

/// The odd sizes every kernel is run at: not multiples of any tile.
pub const ODD: &[usize] = &[1, 3, 7, 33, 129];
