//! An independent timing of one kernel, to check `engine bench-kernels`:
//! the 1024^3 matmul timed with the wall clock around submit-and-wait
//! (no GPU timestamps), median of 10 runs after 2 warm-ups.
use std::time::Instant;

use wgpu_attngan::ops::matmul::matmul;
use wgpu_attngan::{Runtime, Tensor};

fn main() -> wgpu_attngan::Result<()> {
    let rt = Runtime::new()?;
    let n = 1024;
    let data: Vec<f32> = (0..n * n)
        .map(|i| (i % 1000) as f32 / 1000.0 - 0.5)
        .collect();
    let a = Tensor::from_slice(&rt, &data, &[n, n])?;
    let b = Tensor::from_slice(&rt, &data, &[n, n])?;
    let mut times = Vec::new();
    for i in 0..12 {
        rt.sync()?;
        let t = Instant::now();
        let c = matmul(&a, &b, false, false)?;
        rt.sync()?;
        let ms = t.elapsed().as_secs_f64() * 1e3;
        drop(c);
        if i >= 2 {
            times.push(ms);
        }
    }
    times.sort_by(f64::total_cmp);
    let med = times[times.len() / 2];
    println!(
        "matmul 1024^3 by hand on {}: median {med:.1} ms [{:.1}..{:.1}] = {:.2} GFLOP/s",
        rt.adapter_info().name,
        times[0],
        times[times.len() - 1],
        2.0 * (n * n * n) as f64 / (med * 1e-3) / 1e9
    );
    Ok(())
}
