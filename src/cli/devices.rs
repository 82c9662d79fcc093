//! `engine devices`: every adapter wgpu finds, which one we choose, and its
//! key limits and features.

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
