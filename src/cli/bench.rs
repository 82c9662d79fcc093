//! `engine bench-kernels`: how fast each kernel runs on this device.

use std::time::Instant;

use engine::ops::matmul::matmul;
use engine::{Result, Runtime, Tensor};

/// Median and spread (min, max) of `reps` timed runs after `warmup` untimed ones, in ms.
pub fn time_ms(
    rt: &Runtime,
    warmup: usize,
    reps: usize,
    mut f: impl FnMut() -> Result<()>,
) -> Result<(f64, f64, f64)> {
    for _ in 0..warmup {
        f()?;
        rt.sync()?;
    }
    let mut times = Vec::with_capacity(reps);
    for _ in 0..reps {
        let t = Instant::now();
        f()?;
        rt.sync()?;
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    Ok((times[times.len() / 2], times[0], times[times.len() - 1]))
}

pub fn run(size: usize) -> Result<()> {
    let rt = Runtime::new()?;
    let info = rt.adapter_info();
    println!(
        "{} ({:?}, {}), kernels: {:?}",
        info.name,
        info.backend,
        info.driver_info,
        rt.flavour()
    );
    let n = size;
    let data: Vec<f32> = (0..n * n)
        .map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5)
        .collect();
    let a = Tensor::from_slice(&rt, &data, &[n, n])?;
    let b = Tensor::from_slice(&rt, &data, &[n, n])?;
    for (ta, tb) in [(false, false), (false, true), (true, false)] {
        let (med, lo, hi) = time_ms(&rt, 1, 5, || matmul(&a, &b, ta, tb).map(|_| ()))?;
        let gflops = 2.0 * (n * n * n) as f64 / (med * 1e-3) / 1e9;
        println!("matmul {n}^3 ta={ta} tb={tb}: median {med:.1} ms (min {lo:.1}, max {hi:.1}) = {gflops:.2} GFLOP/s");
    }
    let xd: Vec<f32> = (0..8 * 64 * 32 * 32)
        .map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5)
        .collect();
    let x = Tensor::from_slice(&rt, &xd, &[8, 64, 32, 32])?;
    let w = Tensor::from_slice(&rt, &xd[..64 * 64 * 9], &[64, 64, 3, 3])?;
    let flops = 2.0 * 8.0 * 64.0 * 32.0 * 32.0 * 64.0 * 9.0;
    let y = engine::ops::conv::conv2d(&x, &w, None, 1, 1)?;
    let (med, lo, hi) = time_ms(&rt, 1, 5, || {
        engine::ops::conv::conv2d(&x, &w, None, 1, 1).map(|_| ())
    })?;
    println!(
        "conv2d fwd: median {med:.1} ms (min {lo:.1}, max {hi:.1}) = {:.2} GFLOP/s",
        flops / (med * 1e-3) / 1e9
    );
    let (med, lo, hi) = time_ms(&rt, 1, 5, || {
        engine::ops::conv::conv2d_backward_data(&y, &w, [32, 32], 1, 1).map(|_| ())
    })?;
    println!(
        "conv2d bwd data: median {med:.1} ms (min {lo:.1}, max {hi:.1}) = {:.2} GFLOP/s",
        flops / (med * 1e-3) / 1e9
    );
    let (med, lo, hi) = time_ms(&rt, 1, 5, || {
        engine::ops::conv::conv2d_backward_weight(&x, &y, [3, 3], 1, 1).map(|_| ())
    })?;
    println!(
        "conv2d bwd weight: median {med:.1} ms (min {lo:.1}, max {hi:.1}) = {:.2} GFLOP/s",
        flops / (med * 1e-3) / 1e9
    );
    Ok(())
}
