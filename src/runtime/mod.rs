//! The GPU runtime: device, buffer pool, kernel cache, command batching, tensors.
//!
//! Every op records its dispatch into one pending command encoder; the batch is
//! submitted when it is full or when the host reads a result back, and the host
//! waits only then. Kernel parameters go into a uniform arena, one 256-byte slot
//! per dispatch, written once per submission.

pub mod device;
pub mod error;
pub mod kernels;
pub mod pool;
pub mod profile;
pub mod tensor;
pub mod timer;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub use device::{list_adapters, AdapterSummary};
pub use error::{Error, Result};

/// The kernel flavour ENGINE_KERNELS asks for, if it is set: an error names
/// any value other than `registers` or `tiled`.
pub fn kernels_override() -> Result<Option<Flavour>> {
    match std::env::var("ENGINE_KERNELS") {
        Err(_) => Ok(None),
        Ok(v) if v == "registers" => Ok(Some(Flavour::Registers)),
        Ok(v) if v == "tiled" => Ok(Some(Flavour::Tiled)),
        Ok(v) if v == "subgroups" => Ok(Some(Flavour::Subgroups)),
        Ok(v) => Err(Error::invalid(
            "ENGINE_KERNELS",
            format!("{v:?} is not a kernel flavour: set it to registers, subgroups or tiled, or unset it to choose by adapter"),
        )),
    }
}
/// ENGINE_TRACE=MS, if set: every dispatch is submitted alone and waited
/// for, and each one that takes MS milliseconds or more is printed to stderr
/// with its kernel, defines and grid; one still running is named every 10 s.
/// For finding the kernel where a run stalls or slows down (it serialises
/// everything, so the run itself is slower). An error names anything but a
/// number >= 0.
pub fn trace_override() -> Result<Option<f64>> {
    match std::env::var("ENGINE_TRACE") {
        Err(_) => Ok(None),
        Ok(v) => match v.trim().parse::<f64>() {
            Ok(ms) if ms.is_finite() && ms >= 0.0 => Ok(Some(ms)),
            _ => Err(Error::invalid(
                "ENGINE_TRACE",
                format!("{v:?} is not a number of milliseconds: set it to e.g. 5 to print every kernel taking 5 ms or more (0 prints all), or unset it"),
            )),
        },
    }
}

pub use kernels::KernelSpec;
pub use pool::PoolStats;
pub use profile::{HostTime, KernelTime, Profile};

pub use tensor::Tensor;

/// Bytes of one dispatch's parameter slot (also the largest parameter block).
const PARAM_SLOT: u64 = 256;
/// Dispatches per submission at most (slots in one parameter arena).
pub(crate) const ARENA_SLOTS: u64 = 256;

/// Which variant of a kernel family suits this device (see shaders/ and gpu.md):
/// software rasterisers want big register blocks and no barriers; real GPUs
/// want shared-memory tiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    /// Register-blocked kernels without workgroup memory (lavapipe, llvmpipe, SwiftShader).
    Registers,
    /// The registers flavour, but matmul and the convolutions run on the
    /// subgroup GEMM core (shaders/gemm_subgroup.wgsl): software GPUs with
    /// subgroups of 8 or more lanes (lavapipe).
    Subgroups,
    /// Workgroup-memory tiled kernels (discrete and integrated GPUs).
    Tiled,
}

impl Flavour {
    /// The flavour chosen when ENGINE_KERNELS is not set: for software GPUs,
    /// subgroups where the device has them (enabled, at least 8 lanes) and
    /// registers elsewhere; tiles for everything else.
    pub fn for_adapter(info: &wgpu::AdapterInfo, features: wgpu::Features) -> Flavour {
        if info.device_type != wgpu::DeviceType::Cpu {
            Flavour::Tiled
        } else if Flavour::subgroups_fit(info, features) {
            Flavour::Subgroups
        } else {
            Flavour::Registers
        }
    }

    /// Whether the subgroup GEMM core can run: the SUBGROUP feature enabled
    /// and subgroups of at least 8 lanes (its workgroup of 8 is one subgroup).
    pub fn subgroups_fit(info: &wgpu::AdapterInfo, features: wgpu::Features) -> bool {
        features.contains(wgpu::Features::SUBGROUP) && info.subgroup_min_size >= 8
    }
}

/// A handle on one device; cheap to clone.
#[derive(Clone)]
pub struct Runtime {
    pub(crate) inner: Arc<Inner>,
    flavour: Flavour,
}

pub(crate) struct Inner {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub info: wgpu::AdapterInfo,
    pub limits: wgpu::Limits,
    pub features: wgpu::Features,
    pool: Mutex<pool::Pool>,
    pipelines: Mutex<HashMap<String, Arc<wgpu::ComputePipeline>>>,
    batch: Mutex<Batch>,
    errors: Arc<Mutex<Vec<String>>>,
    /// On a host's device (`from_device`): our device calls run inside error
    /// scopes, and the host's uncaptured-error handler is left alone.
    scoped: bool,
    /// Fill every new tensor with NaN (tests: unwritten outputs then fail).
    pub poison: std::sync::atomic::AtomicBool,
    /// Whether [`Runtime::profile`] is running: the hooks' only cost when off.
    profiling: std::sync::atomic::AtomicBool,
    /// Lock order: taken last (after the batch and the pool), never held across them.
    profiler: Mutex<Option<profile::Recorder>>,
    /// ENGINE_TRACE's threshold in ms (see [`trace_override`]).
    trace: Option<f64>,
}

#[derive(Default)]
struct Batch {
    encoder: Option<wgpu::CommandEncoder>,
    /// Parameter bytes of this batch, one slot per dispatch.
    params: Vec<u8>,
    arena: Option<wgpu::Buffer>,
    spare_arenas: Vec<wgpu::Buffer>,
    used_arenas: Vec<wgpu::Buffer>,
    dispatches: u64,
    submissions: u64,
}

/// Counters for tests and benchmarks.
#[derive(Debug, Clone, Copy, Default)]
pub struct BatchStats {
    /// Dispatches recorded since the runtime was made.
    pub dispatches: u64,
    /// Batches submitted to the queue.
    pub submissions: u64,
    /// Compiled pipelines in the cache.
    pub pipelines: usize,
}

/// The limits engine's kernels need, for a flavour: 8 storage buffers per
/// stage (the LSTM cells bind 8), 256 invocations per workgroup, and the
/// workgroup memory of the flavour's kernels (16 KiB for the tiled GEMM's
/// double-buffered tiles, 2 KiB for the register kernels' reductions).
pub fn required_limits(flavour: Flavour) -> Vec<(&'static str, u64)> {
    vec![
        ("max_storage_buffers_per_shader_stage", 8),
        ("max_uniform_buffers_per_shader_stage", 1),
        ("max_bind_groups", 1),
        ("max_compute_invocations_per_workgroup", 256),
        ("max_compute_workgroup_size_x", 256),
        ("max_compute_workgroup_size_y", 64),
        (
            "max_compute_workgroup_storage_size",
            match flavour {
                Flavour::Tiled => 16384,
                Flavour::Registers | Flavour::Subgroups => 2048,
            },
        ),
        ("max_compute_workgroups_per_dimension", 65535),
    ]
}

fn limit_value(l: &wgpu::Limits, name: &str) -> u64 {
    match name {
        "max_storage_buffers_per_shader_stage" => l.max_storage_buffers_per_shader_stage as u64,
        "max_uniform_buffers_per_shader_stage" => l.max_uniform_buffers_per_shader_stage as u64,
        "max_bind_groups" => l.max_bind_groups as u64,
        "max_compute_invocations_per_workgroup" => l.max_compute_invocations_per_workgroup as u64,
        "max_compute_workgroup_size_x" => l.max_compute_workgroup_size_x as u64,
        "max_compute_workgroup_size_y" => l.max_compute_workgroup_size_y as u64,
        "max_compute_workgroup_storage_size" => l.max_compute_workgroup_storage_size as u64,
        "max_compute_workgroups_per_dimension" => l.max_compute_workgroups_per_dimension as u64,
        _ => 0,
    }
}

/// A forced subgroups flavour on a device without them is an error naming what is missing.
fn check_flavour(
    flavour: Flavour,
    info: &wgpu::AdapterInfo,
    features: wgpu::Features,
) -> Result<()> {
    if flavour == Flavour::Subgroups && !Flavour::subgroups_fit(info, features) {
        return Err(Error::invalid(
            "ENGINE_KERNELS",
            format!(
                "\"subgroups\" needs the SUBGROUP feature enabled and subgroups of at least 8 lanes; on {} ({:?}) the feature is {} and subgroups have {} to {} lanes: use registers or tiled",
                info.name,
                info.backend,
                if features.contains(wgpu::Features::SUBGROUP) { "enabled" } else { "not enabled" },
                info.subgroup_min_size,
                info.subgroup_max_size
            ),
        ));
    }
    Ok(())
}

/// Every limit of `limits` below [`required_limits`], as one error.
pub fn check_limits(limits: &wgpu::Limits, flavour: Flavour, adapter: &str) -> Result<()> {
    let missing: Vec<String> = required_limits(flavour)
        .into_iter()
        .filter_map(|(name, need)| {
            let have = limit_value(limits, name);
            (have < need).then(|| format!("{name}: {have}, needs {need}"))
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(Error::Limits {
        adapter: adapter.to_string(),
        missing: missing.join("\n  "),
    })
}

impl Runtime {
    /// Opens the best adapter (see [`device::choose`]) with its own limits and
    /// GPU timestamps if it has them (the only optional feature used).
    pub fn new() -> Result<Runtime> {
        let forced = kernels_override()?;
        let trace = trace_override()?;
        let (adapter, device, queue) = device::open_default()?;
        let info = adapter.get_info();
        let flavour = forced.unwrap_or(Flavour::for_adapter(&info, device.features()));
        check_flavour(flavour, &info, device.features())?;
        check_limits(&device.limits(), flavour, &info.name)?;
        Ok(Self::build(device, queue, info, false, trace))
    }

    /// Wraps a host application's own device and queue (for embedding): our
    /// tensors and kernels then live on its device, next to its own buffers.
    /// The device is left as the host set it up: its uncaptured-error handler
    /// stays the host's (our own device calls run inside error scopes, and
    /// their errors come back from our calls as `Err`).
    ///
    /// The device's limits are checked first (see [`required_limits`]): a
    /// device below them is an [`Error::Limits`] naming each one.
    pub fn from_device(device: wgpu::Device, queue: wgpu::Queue) -> Result<Runtime> {
        let trace = trace_override()?;
        let info = device.adapter_info();
        let flavour = kernels_override()?.unwrap_or(Flavour::for_adapter(&info, device.features()));
        check_flavour(flavour, &info, device.features())?;
        check_limits(&device.limits(), flavour, &info.name)?;
        Ok(Self::build(device, queue, info, true, trace))
    }

    fn build(
        device: wgpu::Device,
        queue: wgpu::Queue,
        info: wgpu::AdapterInfo,
        scoped: bool,
        trace: Option<f64>,
    ) -> Runtime {
        let errors: Arc<Mutex<Vec<String>>> = Arc::default();
        if !scoped {
            // Our own device: one handler catches everything, at no cost per call.
            let sink = errors.clone();
            device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
                sink.lock().unwrap().push(e.to_string());
            }));
        }
        let flavour = match kernels_override() {
            Ok(Some(f)) => f,
            Ok(None) => Flavour::for_adapter(&info, device.features()),
            Err(e) => {
                // from_device cannot fail; Runtime::new refused it already.
                eprintln!("warning: {e}");
                Flavour::for_adapter(&info, device.features())
            }
        };
        Runtime {
            flavour,
            inner: Arc::new(Inner {
                limits: device.limits(),
                features: device.features(),
                device,
                queue,
                info,
                pool: Mutex::default(),
                pipelines: Mutex::default(),
                batch: Mutex::default(),
                errors,
                scoped,
                poison: Default::default(),
                profiling: Default::default(),
                profiler: Mutex::default(),
                trace,
            }),
        }
    }

    /// The device the engine runs on (its own, or the host's from [`Runtime::from_device`]).
    pub fn device(&self) -> &wgpu::Device {
        &self.inner.device
    }

    /// The queue the engine submits to.
    pub fn queue(&self) -> &wgpu::Queue {
        &self.inner.queue
    }

    /// The adapter's name, backend, type and driver.
    pub fn adapter_info(&self) -> &wgpu::AdapterInfo {
        &self.inner.info
    }

    /// The device's limits, as checked when the runtime was made.
    pub fn limits(&self) -> &wgpu::Limits {
        &self.inner.limits
    }

    /// The device's enabled features (the engine uses timestamp queries and
    /// subgroups where enabled, and needs neither).
    pub fn features(&self) -> wgpu::Features {
        self.inner.features
    }

    /// The kernel variants this runtime picks (overridable with ENGINE_KERNELS=registers|subgroups|tiled).
    pub fn flavour(&self) -> Flavour {
        self.flavour
    }

    /// Use the given kernel flavour from now on (tests run both on one device).
    pub fn with_flavour(&self, flavour: Flavour) -> Runtime {
        // Same device, pool, caches and batch: only the choice differs.
        Runtime {
            inner: self.inner.clone(),
            flavour,
        }
    }

    /// From now on, fill every new tensor with NaN before any kernel writes it,
    /// so that a kernel that leaves elements unwritten is caught (for tests).
    pub fn set_poison(&self, on: bool) {
        self.inner
            .poison
            .store(on, std::sync::atomic::Ordering::Relaxed);
    }

    /// Memory figures of the buffer pool.
    pub fn memory(&self) -> PoolStats {
        self.inner.pool.lock().unwrap().stats()
    }

    /// Starts a new peak measurement from the current use.
    pub fn reset_peak_memory(&self) {
        self.inner.pool.lock().unwrap().reset_peak();
    }

    /// Gives cached (unused) buffers back to the device.
    pub fn trim_memory(&self) {
        self.inner.pool.lock().unwrap().trim();
    }

    /// Dispatch, submission and pipeline counts so far.
    pub fn batch_stats(&self) -> BatchStats {
        let b = self.inner.batch.lock().unwrap();
        BatchStats {
            dispatches: b.dispatches,
            submissions: b.submissions,
            pipelines: self.inner.pipelines.lock().unwrap().len(),
        }
    }

    /// The largest storage buffer one tensor may occupy on this device.
    pub fn max_tensor_bytes(&self) -> u64 {
        self.inner
            .limits
            .max_storage_buffer_binding_size
            .min(self.inner.limits.max_buffer_size)
    }

    /// Runs `f`, a few of our own device calls. On a host's device they run
    /// inside validation and out-of-memory error scopes, so their errors come
    /// to us (reported by the next wait or `check_errors`) and the host's
    /// handler sees only the host's own; on our own device, as they are.
    fn device_call<T>(&self, f: impl FnOnce() -> T) -> T {
        if !self.inner.scoped {
            return f();
        }
        let device = &self.inner.device;
        let oom = device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let validation = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let out = f();
        let errors = [
            pollster::block_on(validation.pop()),
            pollster::block_on(oom.pop()),
        ];
        for e in errors.into_iter().flatten() {
            self.inner.errors.lock().unwrap().push(e.to_string());
        }
        out
    }

    pub(crate) fn take_buffer(&self, bytes: u64) -> (u64, wgpu::Buffer) {
        let scope = self.profile_begin();
        let (class, buffer, fresh) = {
            let mut pool = self.inner.pool.lock().unwrap();
            let before = pool.stats().allocations;
            let cap = self.max_tensor_bytes();
            let (class, buffer) = self.device_call(|| pool.take(&self.inner.device, bytes, cap));
            (class, buffer, pool.stats().allocations != before)
        };
        if fresh {
            self.profile_end(scope, profile::Host::PoolAlloc, class);
        }
        (class, buffer)
    }

    /// `queue.write_buffer`, counted as an upload when profiling.
    pub(crate) fn write_buffer(&self, buffer: &wgpu::Buffer, offset: u64, data: &[u8]) {
        let scope = self.profile_begin();
        self.device_call(|| self.inner.queue.write_buffer(buffer, offset, data));
        self.profile_end(scope, profile::Host::Upload, data.len() as u64);
    }

    /// The compiled pipeline of a kernel specialisation, built once per device.
    pub fn pipeline(&self, spec: &KernelSpec) -> Result<Arc<wgpu::ComputePipeline>> {
        let key = spec.key();
        if let Some(p) = self.inner.pipelines.lock().unwrap().get(&key) {
            return Ok(p.clone());
        }
        let source = spec.source()?;
        let device = &self.inner.device;
        let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some(&key),
            source: wgpu::ShaderSource::Wgsl(source.into()),
        });
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(&key),
            layout: None,
            module: &module,
            entry_point: Some("main"),
            compilation_options: Default::default(),
            cache: None,
        });
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(Error::Kernel {
                name: key,
                message: e.to_string(),
            });
        }
        let pipeline = Arc::new(pipeline);
        self.inner
            .pipelines
            .lock()
            .unwrap()
            .insert(key, pipeline.clone());
        Ok(pipeline)
    }

    /// Workgroup counts for `groups` workgroups in all, folded into 2-D when
    /// over the per-dimension limit; kernels rebuild the linear index with
    /// `group_index` from shaders/common.wgsl and skip indices past the end.
    pub fn fold_grid(&self, groups: u32) -> [u32; 3] {
        let max = self
            .inner
            .limits
            .max_compute_workgroups_per_dimension
            .max(1);
        if groups <= max {
            [groups.max(1), 1, 1]
        } else {
            let y = groups.div_ceil(max);
            let x = groups.div_ceil(y);
            [x, y, 1]
        }
    }

    /// Records one dispatch: `params` go to binding 0 (uniform), `buffers` to
    /// bindings 1.. (storage, whole buffers; kernels get offsets in params).
    pub fn dispatch(
        &self,
        spec: &KernelSpec,
        params: &[u32],
        buffers: &[&wgpu::Buffer],
        groups: [u32; 3],
    ) -> Result<()> {
        assert!(
            params.len() * 4 <= PARAM_SLOT as usize,
            "{}: parameter block too large",
            spec.name
        );
        let scope = self.profile_begin();
        let pipeline = self.pipeline(spec)?;
        self.device_call(|| self.record(spec, &pipeline, params, buffers, groups, scope.is_some()));
        self.profile_end(scope, profile::Host::Record, 0);
        if let Some(ms) = self.inner.trace {
            self.trace_wait(spec, groups, ms)?;
        }
        Ok(())
    }

    /// ENGINE_TRACE: submits this dispatch alone, waits for it (naming it
    /// every 10 s while it runs) and prints it if it took `threshold` ms or more.
    fn trace_wait(&self, spec: &KernelSpec, groups: [u32; 3], threshold: f64) -> Result<()> {
        let t0 = std::time::Instant::now();
        let index = self.flush();
        let what = || {
            let defines: Vec<String> = spec
                .defines
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            format!("{} [{}] groups {groups:?}", spec.name, defines.join(" "))
        };
        loop {
            match self.inner.device.poll(wgpu::PollType::Wait {
                submission_index: Some(index.clone()),
                timeout: Some(std::time::Duration::from_secs(10)),
            }) {
                Ok(_) => break,
                Err(wgpu::PollError::Timeout) => eprintln!(
                    "trace: {} still running after {:.0} s",
                    what(),
                    t0.elapsed().as_secs_f64()
                ),
                Err(e) => return Err(Error::Device(e.to_string())),
            }
        }
        self.check_errors()?;
        let ms = t0.elapsed().as_secs_f64() * 1e3;
        if ms >= threshold {
            eprintln!("trace: {} {ms:.2} ms", what());
        }
        Ok(())
    }

    /// The device calls of one dispatch (see [`Runtime::dispatch`]).
    fn record(
        &self,
        spec: &KernelSpec,
        pipeline: &wgpu::ComputePipeline,
        params: &[u32],
        buffers: &[&wgpu::Buffer],
        groups: [u32; 3],
        profiling: bool,
    ) {
        let device = &self.inner.device;
        let mut batch = self.inner.batch.lock().unwrap();
        if batch.params.len() as u64 >= ARENA_SLOTS * PARAM_SLOT {
            self.submit_locked(&mut batch);
        }
        if batch.arena.is_none() {
            let arena = batch.spare_arenas.pop().unwrap_or_else(|| {
                device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some("kernel parameters"),
                    size: ARENA_SLOTS * PARAM_SLOT,
                    usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
                    mapped_at_creation: false,
                })
            });
            batch.arena = Some(arena);
        }
        let offset = batch.params.len() as u64;
        batch.params.extend_from_slice(bytemuck::cast_slice(params));
        batch.params.resize((offset + PARAM_SLOT) as usize, 0);
        let arena = batch.arena.as_ref().unwrap();
        let mut entries = vec![wgpu::BindGroupEntry {
            binding: 0,
            resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                buffer: arena,
                offset,
                size: wgpu::BufferSize::new(PARAM_SLOT),
            }),
        }];
        for (i, b) in buffers.iter().enumerate() {
            entries.push(wgpu::BindGroupEntry {
                binding: i as u32 + 1,
                resource: b.as_entire_binding(),
            });
        }
        let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(spec.name),
            layout: &pipeline.get_bind_group_layout(0),
            entries: &entries,
        });
        let encoder = batch.encoder.get_or_insert_with(|| {
            device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("batch"),
            })
        });
        {
            // Profiling: one pass per dispatch already, so the pass's own
            // timestamp writes time exactly this kernel.
            let mut profiler = profiling.then(|| self.inner.profiler.lock().unwrap());
            let timestamp_writes = profiler
                .as_mut()
                .and_then(|p| p.as_mut())
                .and_then(|r| r.dispatch(device, spec))
                .map(|(query_set, i)| wgpu::ComputePassTimestampWrites {
                    query_set,
                    beginning_of_pass_write_index: Some(i),
                    end_of_pass_write_index: Some(i + 1),
                });
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some(spec.name),
                timestamp_writes,
            });
            pass.set_pipeline(pipeline);
            pass.set_bind_group(0, &bind_group, &[]);
            pass.dispatch_workgroups(groups[0], groups[1], groups[2]);
        }
        batch.dispatches += 1;
        drop(batch);
    }

    /// Records a buffer-to-buffer copy in the current batch.
    pub(crate) fn copy_buffer(
        &self,
        src: &wgpu::Buffer,
        src_off: u64,
        dst: &wgpu::Buffer,
        dst_off: u64,
        bytes: u64,
    ) {
        let scope = self.profile_begin();
        let mut batch = self.inner.batch.lock().unwrap();
        let device = &self.inner.device;
        let encoder = batch.encoder.get_or_insert_with(|| {
            device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("batch"),
            })
        });
        self.device_call(|| encoder.copy_buffer_to_buffer(src, src_off, dst, dst_off, Some(bytes)));
        drop(batch);
        self.profile_end(scope, profile::Host::Record, 0);
    }

    /// Lets the caller record its own commands into the current batch
    /// (timestamps, copies into a host's texture), in order with the ops
    /// recorded before and after. On a host's device they run inside the
    /// engine's error scopes, so their errors come back from the engine's
    /// next wait or [`Runtime::check_errors`].
    pub fn with_encoder<R>(&self, f: impl FnOnce(&mut wgpu::CommandEncoder) -> R) -> R {
        let mut batch = self.inner.batch.lock().unwrap();
        let device = &self.inner.device;
        let encoder = batch.encoder.get_or_insert_with(|| {
            device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("batch"),
            })
        });
        self.device_call(|| f(encoder))
    }

    fn submit_locked(&self, batch: &mut Batch) -> wgpu::SubmissionIndex {
        self.device_call(|| self.submit_batch(batch))
    }

    fn submit_batch(&self, batch: &mut Batch) -> wgpu::SubmissionIndex {
        let scope = self.profile_begin();
        if let Some(arena) = batch.arena.take() {
            let params = self.profile_begin();
            self.inner.queue.write_buffer(&arena, 0, &batch.params);
            self.profile_end(params, profile::Host::Params, batch.params.len() as u64);
            batch.used_arenas.push(arena);
        }
        batch.params.clear();
        let mut encoder = batch.encoder.take().unwrap_or_else(|| {
            self.inner
                .device
                .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                    label: Some("batch"),
                })
        });
        if scope.is_some() {
            if let Some(r) = self.inner.profiler.lock().unwrap().as_mut() {
                r.resolve(&self.inner.device, &mut encoder);
            }
        }
        let index = self.inner.queue.submit([encoder.finish()]);
        batch.submissions += 1;
        // Queue order makes the arenas and released buffers safe to reuse from here on.
        let used = std::mem::take(&mut batch.used_arenas);
        batch.spare_arenas.extend(used);
        self.inner.pool.lock().unwrap().submitted();
        self.profile_end(scope, profile::Host::Submit, 0);
        index
    }

    /// Submits everything recorded so far without waiting.
    pub fn flush(&self) -> wgpu::SubmissionIndex {
        let mut batch = self.inner.batch.lock().unwrap();
        self.submit_locked(&mut batch)
    }

    /// Submits and waits until the device has finished all of it.
    pub fn sync(&self) -> Result<()> {
        let index = self.flush();
        self.wait(index)
    }

    fn wait(&self, index: wgpu::SubmissionIndex) -> Result<()> {
        let scope = self.profile_begin();
        let polled = self.inner.device.poll(wgpu::PollType::Wait {
            submission_index: Some(index),
            timeout: None,
        });
        self.profile_end(scope, profile::Host::Wait, 0);
        // Our own errors first: they say what went wrong, the poll only that
        // something did.
        self.check_errors()?;
        polled.map_err(|e| Error::Device(e.to_string()))?;
        Ok(())
    }

    /// Turns errors the device reported since the last check into an `Err`.
    pub fn check_errors(&self) -> Result<()> {
        let mut errors = self.inner.errors.lock().unwrap();
        if errors.is_empty() {
            Ok(())
        } else {
            let all = errors.join("\n");
            errors.clear();
            Err(Error::Device(all))
        }
    }

    /// Copies `bytes` bytes at `offset` of a device buffer to the host:
    /// submits the batch and waits for it.
    pub fn read_bytes(&self, buffer: &wgpu::Buffer, offset: u64, bytes: u64) -> Result<Vec<u8>> {
        if bytes == 0 {
            return Ok(Vec::new());
        }
        let scope = self.profile_begin();
        // Copies must be 4-byte aligned in offset and size.
        let start = offset & !3;
        let size = (offset + bytes - start).div_ceil(4) * 4;
        let staging = self.device_call(|| {
            self.inner.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("readback"),
                size,
                usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            })
        });
        self.copy_buffer(buffer, start, &staging, 0, size);
        let index = self.flush();
        let slice = staging.slice(..);
        let (tx, rx) = std::sync::mpsc::channel();
        slice.map_async(wgpu::MapMode::Read, move |r| {
            let _ = tx.send(r);
        });
        self.wait(index)?;
        rx.recv()
            .map_err(|e| Error::Readback(e.to_string()))?
            .map_err(|e| Error::Readback(e.to_string()))?;
        let view = slice
            .get_mapped_range()
            .map_err(|e| Error::Readback(e.to_string()))?;
        let skip = (offset - start) as usize;
        let out = view[skip..skip + bytes as usize].to_vec();
        drop(view);
        staging.unmap();
        self.profile_end(scope, profile::Host::Readback, bytes);
        Ok(out)
    }
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let i = &self.inner.info;
        write!(
            f,
            "Runtime({} via {:?}, {:?})",
            i.name, i.backend, self.flavour
        )
    }
}
