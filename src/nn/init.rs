//! Parameter initialisations and the seeded generator behind them.

/// SplitMix64: a tiny generator whose whole state is one u64, so it is
/// stable across crate versions and saved in checkpoints as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SplitMix64 {
    pub state: u64,
}

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box-Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = self.uniform().max(1e-300);
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }

    /// Uniform integer in [0, n).
    pub fn below(&mut self, n: usize) -> usize {
        (self.uniform() * n as f64) as usize % n.max(1)
    }
}

/// How a parameter starts. Fan-in and fan-out come from the shape:
/// [out, in] for linear layers, [out, in, kh, kw] for convolutions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Init {
    Zeros,
    Constant(f32),
    /// N(0, std^2): DCGAN's normal(0, 0.02).
    Normal(f32),
    /// U(-a, a).
    Uniform(f32),
    /// PyTorch's default for Linear and Conv: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
    DefaultUniform,
    /// Glorot: U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out)).
    XavierUniform(f32),
    /// Rows (or columns) orthonormal, times gain: AttnGAN's initialisation.
    Orthogonal(f32),
}

fn fans(shape: &[usize]) -> (usize, usize) {
    let receptive: usize = shape.iter().skip(2).product();
    match shape.len() {
        0 => (1, 1),
        1 => (shape[0], shape[0]),
        _ => (shape[1] * receptive, shape[0] * receptive),
    }
}

impl Init {
    pub fn sample(self, shape: &[usize], rng: &mut SplitMix64) -> Vec<f32> {
        let n: usize = shape.iter().product();
        let (fan_in, fan_out) = fans(shape);
        let uniform = |rng: &mut SplitMix64, a: f64| {
            (0..n)
                .map(|_| ((rng.uniform() * 2.0 - 1.0) * a) as f32)
                .collect()
        };
        match self {
            Init::Zeros => vec![0.0; n],
            Init::Constant(v) => vec![v; n],
            Init::Normal(std) => (0..n).map(|_| (rng.normal() * std as f64) as f32).collect(),
            Init::Uniform(a) => uniform(rng, a as f64),
            Init::DefaultUniform => uniform(rng, 1.0 / (fan_in as f64).sqrt()),
            Init::XavierUniform(gain) => {
                uniform(rng, gain as f64 * (6.0 / (fan_in + fan_out) as f64).sqrt())
            }
            Init::Orthogonal(gain) => orthogonal(shape, gain as f64, rng),
        }
    }
}

/// A matrix [rows, cols] (rows = shape[0], cols = the rest) with orthonormal
/// rows (if rows <= cols) or columns, from Gram-Schmidt on Gaussian vectors.
fn orthogonal(shape: &[usize], gain: f64, rng: &mut SplitMix64) -> Vec<f32> {
    let rows = shape.first().copied().unwrap_or(1);
    let cols: usize = shape.iter().skip(1).product::<usize>().max(1);
    let (k, len) = if rows <= cols {
        (rows, cols)
    } else {
        (cols, rows)
    };
    // k orthonormal vectors of length len.
    let mut vecs: Vec<Vec<f64>> = Vec::with_capacity(k);
    while vecs.len() < k {
        let mut v: Vec<f64> = (0..len).map(|_| rng.normal()).collect();
        for _ in 0..2 {
            for u in &vecs {
                let d: f64 = u.iter().zip(&v).map(|(a, b)| a * b).sum();
                v.iter_mut().zip(u).for_each(|(x, y)| *x -= d * y);
            }
        }
        let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        if norm > 1e-8 {
            v.iter_mut().for_each(|x| *x /= norm);
            vecs.push(v);
        }
    }
    let mut out = vec![0.0f32; rows * cols];
    for r in 0..rows {
        for c in 0..cols {
            let v = if rows <= cols { vecs[r][c] } else { vecs[c][r] };
            out[r * cols + c] = (gain * v) as f32;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orthogonal_rows_and_columns() {
        let mut rng = SplitMix64::new(3);
        for (rows, cols) in [(4usize, 9usize), (9, 4), (5, 5)] {
            let w = Init::Orthogonal(1.0).sample(&[rows, cols], &mut rng);
            let (k, by_rows) = if rows <= cols {
                (rows, true)
            } else {
                (cols, false)
            };
            for a in 0..k {
                for b in 0..k {
                    let dot: f64 = if by_rows {
                        (0..cols)
                            .map(|c| w[a * cols + c] as f64 * w[b * cols + c] as f64)
                            .sum()
                    } else {
                        (0..rows)
                            .map(|r| w[r * cols + a] as f64 * w[r * cols + b] as f64)
                            .sum()
                    };
                    let expect = if a == b { 1.0 } else { 0.0 };
                    assert!(
                        (dot - expect).abs() < 1e-5,
                        "{rows}x{cols}: {a}.{b} = {dot}"
                    );
                }
            }
        }
    }

    #[test]
    fn normal_has_the_asked_spread() {
        let mut rng = SplitMix64::new(1);
        let w = Init::Normal(0.02).sample(&[100, 100], &mut rng);
        let mean = w.iter().map(|&x| x as f64).sum::<f64>() / 1e4;
        let std = (w.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / 1e4).sqrt();
        assert!(
            mean.abs() < 1e-3 && (std - 0.02).abs() < 1e-3,
            "{mean} {std}"
        );
    }
}
