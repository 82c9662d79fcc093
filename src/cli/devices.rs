//! `engine devices`: every adapter wgpu finds, which one we choose, and its
//! key limits and features.

use wgpu_attngan::nn::parallel;
use wgpu_attngan::runtime::device::{self, WANTED_FEATURES};
use wgpu_attngan::Result;

pub fn run() -> Result<()> {
    let forced = wgpu_attngan::runtime::kernels_override()?;
    wgpu_attngan::runtime::trace_override()?;
    let adapters = device::list_adapters();
    if adapters.is_empty() {
        return Err(wgpu_attngan::Error::NoAdapter {
            details: device::backend_details(),
        });
    }
    let chosen = device::choose(&adapters).ok();
    let workers = parallel::workers();
    if workers.size > 1 {
        // Each worker names its host and device; rank 0 then lists the
        // adapters and times the all-reduce.
        let name = chosen.map_or("no adapter".into(), |i| adapters[i].info.name.clone());
        println!(
            "worker {} of {} on {}: [{}] {name}",
            workers.rank,
            workers.size,
            parallel::host(),
            chosen.map_or("-".into(), |i| i.to_string())
        );
        all_reduce_check(workers)?;
        if workers.rank != 0 {
            return Ok(());
        }
    }
    println!("Adapters found by wgpu (WGPU_BACKEND and WGPU_ADAPTER_NAME narrow the choice):");
    for (i, a) in adapters.iter().enumerate() {
        let mark = if Some(i) == chosen { "*" } else { " " };
        let info = &a.info;
        println!(
            "{mark} [{i}] {} | {:?} | {:?} | driver: {} {}",
            info.name, info.backend, info.device_type, info.driver, info.driver_info
        );
    }
    let Some(i) = chosen else {
        println!("None of them matches WGPU_ADAPTER_NAME.");
        return Ok(());
    };
    let a = &adapters[i];
    let l = &a.limits;
    println!("\nChosen: [{i}] {}", a.info.name);
    println!(
        "  max storage buffer binding   {} MiB",
        l.max_storage_buffer_binding_size / (1 << 20)
    );
    println!(
        "  max buffer size              {} MiB",
        l.max_buffer_size / (1 << 20)
    );
    println!(
        "  storage buffers per stage    {}",
        l.max_storage_buffers_per_shader_stage
    );
    println!(
        "  workgroup memory             {} KiB",
        l.max_compute_workgroup_storage_size / 1024
    );
    println!(
        "  invocations per workgroup    {}",
        l.max_compute_invocations_per_workgroup
    );
    println!(
        "  workgroups per dimension     {}",
        l.max_compute_workgroups_per_dimension
    );
    let f = a.features;
    let yes = |x: wgpu::Features| if f.contains(x) { "yes" } else { "no" };
    println!(
        "  timestamp queries            {}",
        yes(wgpu::Features::TIMESTAMP_QUERY)
    );
    println!(
        "  subgroups                    {}",
        yes(wgpu::Features::SUBGROUP)
    );
    println!(
        "  f16 in shaders               {}",
        yes(wgpu::Features::SHADER_F16)
    );
    let flavour = match (
        forced.unwrap_or(wgpu_attngan::Flavour::for_adapter(&a.info, a.features & WANTED_FEATURES)),
        forced.is_some(),
    ) {
        (wgpu_attngan::Flavour::Registers, false) => {
            "registers (software GPU: register-blocked kernels, no workgroup memory)"
        }
        (wgpu_attngan::Flavour::Subgroups, false) => {
            "subgroups (software GPU: register kernels, matmul and convolutions on subgroup broadcasts)"
        }
        (wgpu_attngan::Flavour::Tiled, false) => "tiled (workgroup-memory tiles)",
        (wgpu_attngan::Flavour::Subgroups, true) => "subgroups (ENGINE_KERNELS)",
        (wgpu_attngan::Flavour::Registers, true) => "registers (ENGINE_KERNELS)",
        (wgpu_attngan::Flavour::Tiled, true) => "tiled (ENGINE_KERNELS)",
    };
    println!("  kernel flavour               {flavour}");
    Ok(())
}

/// Checks the all-reduce that averages gradients (every element's mean over
/// the workers, against its known value) and times it: one MiB and 16 MiB,
/// the best of 5, as rank 0 reports it.
fn all_reduce_check(workers: parallel::Workers) -> Result<()> {
    for mib in [1usize, 16] {
        let n = mib << 18;
        let mut best = f64::INFINITY;
        for _ in 0..5 {
            let mut data: Vec<f32> = (0..n)
                .map(|i| (workers.rank + 1) as f32 * (i % 7) as f32)
                .collect();
            let t = std::time::Instant::now();
            parallel::all_reduce_mean(&mut data);
            best = best.min(t.elapsed().as_secs_f64());
            let k = workers.size as f32;
            // Exact but for the division by k (one rounding).
            let want = |i: usize| (k + 1.0) / 2.0 * (i % 7) as f32;
            let bad = (0..n).find(|&i| (data[i] - want(i)).abs() > 1e-6 * want(i));
            if let Some(i) = bad {
                return Err(wgpu_attngan::Error::invalid(
                    "mpi",
                    format!(
                        "the all-reduce gave {} at element {i}, not the mean over the workers",
                        data[i]
                    ),
                ));
            }
        }
        if workers.rank == 0 {
            println!(
                "all-reduce (mean) of {mib} MiB over {} workers: {:.2} ms, {:.0} MiB/s; checked",
                workers.size,
                best * 1e3,
                mib as f64 / best
            );
        }
    }
    Ok(())
}
