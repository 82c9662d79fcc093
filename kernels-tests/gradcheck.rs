//! Finite-difference checks of the CPU reference backwards (f64 throughout).

use rand::Rng;

/// A random projection of an output, so that loss = sum(out * r) and
/// d loss / d out = r.
pub fn projection(rng: &mut impl Rng, n: usize) -> Vec<f64> {
    (0..n).map(|_| rng.random_range(-1.0..1.0)).collect()
}

/// Checks `grad` = d/dx sum(f(x) * r) by central differences of `f` in f64.
/// Several inputs are checked at once by concatenating them into `x` and
/// splitting them again inside `f`.
#[track_caller]
pub fn check_grad(what: &str, f: impl Fn(&[f64]) -> Vec<f64>, x: &[f64], r: &[f64], grad: &[f64]) {
    assert_eq!(x.len(), grad.len(), "{what}: gradient length");
    let eps = 1e-6;
    let loss = |x: &[f64]| -> f64 { f(x).iter().zip(r).map(|(a, b)| a * b).sum() };
    let mut xp = x.to_vec();
    let mut num = 0.0;
    let mut den = 0.0;
    for i in 0..x.len() {
        xp[i] = x[i] + eps;
        let up = loss(&xp);
        xp[i] = x[i] - eps;
        let down = loss(&xp);
        xp[i] = x[i];
        let fd = (up - down) / (2.0 * eps);
        num += (fd - grad[i]).powi(2);
        den += grad[i].powi(2);
    }
    let e = (num / den.max(1e-300)).sqrt();
    assert!(
        e < 1e-6,
        "{what}: reference backward vs finite differences, relative error {e:e}"
    );
}

pub fn to_f64(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| x as f64).collect()
}
