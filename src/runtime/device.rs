//! Choosing an adapter and opening a device, or wrapping a host application's own.

use super::error::{Error, Result};

/// Optional features we use when the adapter has them: GPU timestamps (for
/// `bench-kernels` and `--profile`) and subgroups (the subgroup GEMM core of
/// software GPUs, see [`super::Flavour::Subgroups`]). No shader uses f16; a
/// host device needs none of these.
pub const WANTED_FEATURES: wgpu::Features = wgpu::Features::TIMESTAMP_QUERY
    .union(wgpu::Features::TIMESTAMP_QUERY_INSIDE_ENCODERS)
    .union(wgpu::Features::SUBGROUP);

/// One adapter as `engine devices` lists it.
#[derive(Debug, Clone)]
pub struct AdapterSummary {
    pub info: wgpu::AdapterInfo,
    pub limits: wgpu::Limits,
    pub features: wgpu::Features,
}

fn instance() -> wgpu::Instance {
    wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env())
}

/// Every adapter wgpu finds for the backends allowed by WGPU_BACKEND.
pub fn list_adapters() -> Vec<AdapterSummary> {
    let instance = instance();
    let backends = wgpu::Backends::from_env().unwrap_or(wgpu::Backends::all());
    pollster::block_on(instance.enumerate_adapters(backends))
        .into_iter()
        .map(|a| AdapterSummary {
            info: a.get_info(),
            limits: a.limits(),
            features: a.features(),
        })
        .collect()
}

/// Higher is better: real GPUs before software ones, native APIs before GL.
pub fn preference(info: &wgpu::AdapterInfo) -> u32 {
    let kind = match info.device_type {
        wgpu::DeviceType::DiscreteGpu => 50,
        wgpu::DeviceType::IntegratedGpu => 40,
        wgpu::DeviceType::VirtualGpu => 30,
        wgpu::DeviceType::Other => 20,
        wgpu::DeviceType::Cpu => 10,
    };
    let api = match info.backend {
        wgpu::Backend::Vulkan | wgpu::Backend::Metal | wgpu::Backend::Dx12 => 2,
        wgpu::Backend::Gl => 1,
        _ => 0,
    };
    kind + api
}

/// This process's rank among the data-parallel workers on its machine, as
/// the MPI launcher gives it (Open MPI, MPICH), or `ENGINE_LOCAL_RANK`,
/// which overrides both; 0 when alone.
pub fn local_rank() -> usize {
    [
        "ENGINE_LOCAL_RANK",
        "OMPI_COMM_WORLD_LOCAL_RANK",
        "MPI_LOCALRANKID",
    ]
    .iter()
    .find_map(|k| std::env::var(k).ok()?.trim().parse().ok())
    .unwrap_or(0)
}

/// Index into `adapters` of the one we use: WGPU_ADAPTER_NAME (a case-insensitive
/// substring of the name) narrows the list, then the most preferred wins.
/// Where several adapters tie for the most preferred (a machine with N
/// alike GPUs), worker `local_rank()` takes the (local rank mod N)-th.
pub fn choose(adapters: &[AdapterSummary]) -> Result<usize> {
    let wanted = std::env::var("WGPU_ADAPTER_NAME")
        .ok()
        .map(|s| s.to_lowercase());
    let candidates = adapters.iter().enumerate().filter(|(_, a)| match &wanted {
        Some(w) => a.info.name.to_lowercase().contains(w.as_str()),
        None => true,
    });
    let candidates: Vec<(usize, &AdapterSummary)> = candidates.collect();
    let top = candidates.iter().map(|(_, a)| preference(&a.info)).max();
    let tied: Vec<usize> = candidates
        .iter()
        .filter(|(_, a)| Some(preference(&a.info)) == top)
        .map(|(i, _)| *i)
        .collect();
    let best = (!tied.is_empty()).then(|| tied[local_rank() % tied.len()]);
    match best {
        Some(i) => Ok(i),
        None => {
            let details = match &wanted {
                Some(w) if !adapters.is_empty() => {
                    let names: Vec<_> = adapters.iter().map(|a| a.info.name.clone()).collect();
                    format!(
                        " matching WGPU_ADAPTER_NAME={w:?} (found: {})",
                        names.join(", ")
                    )
                }
                Some(w) => format!(" matching WGPU_ADAPTER_NAME={w:?}"),
                None => backend_details(),
            };
            Err(Error::NoAdapter { details })
        }
    }
}

/// What narrowed the search, for the no-adapter message: WGPU_BACKEND, if set.
pub fn backend_details() -> String {
    match std::env::var("WGPU_BACKEND") {
        Ok(b) => format!(" for WGPU_BACKEND={b:?} (unset it to let wgpu try every backend)"),
        Err(_) => String::new(),
    }
}

/// Opens the chosen adapter's device with its own limits and the optional
/// features it supports.
pub fn open_default() -> Result<(wgpu::Adapter, wgpu::Device, wgpu::Queue)> {
    let instance = instance();
    let backends = wgpu::Backends::from_env().unwrap_or(wgpu::Backends::all());
    let adapters = pollster::block_on(instance.enumerate_adapters(backends));
    let summaries: Vec<_> = adapters
        .iter()
        .map(|a| AdapterSummary {
            info: a.get_info(),
            limits: a.limits(),
            features: a.features(),
        })
        .collect();
    let index = choose(&summaries)?;
    let adapter = adapters.into_iter().nth(index).expect("index from choose");
    let info = adapter.get_info();
    let features = adapter.features() & WANTED_FEATURES;
    let desc = wgpu::DeviceDescriptor {
        label: Some("engine"),
        required_features: features,
        required_limits: adapter.limits(),
        ..Default::default()
    };
    let (device, queue) =
        pollster::block_on(adapter.request_device(&desc)).map_err(|e| Error::DeviceRequest {
            adapter: info.name.clone(),
            message: e.to_string(),
        })?;
    Ok((adapter, device, queue))
}
