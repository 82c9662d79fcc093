//! Where a stretch of work spends its time: [`Runtime::profile`] runs a closure
//! with profiling on and returns, per kernel, the dispatch count and the GPU
//! time from timestamps written at the start and end of each dispatch's compute
//! pass, and on the host side the time spent recording, submitting, uploading,
//! allocating buffers the pool could not serve, reading back and waiting.
//!
//! When profiling is off the runtime pays one relaxed atomic load per hook
//! (a branch): no locks, no allocations, no query sets.
//!
//! Host times are exclusive: a hook nested in another (a submit inside a
//! dispatch whose parameter arena is full, the wait inside a readback) is
//! subtracted from the outer one, so the host categories never sum to more
//! than the wall-clock time.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::Instant;

use super::{Error, KernelSpec, Result, Runtime, ARENA_SLOTS};

/// Host-side work the runtime measures while profiling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Host {
    /// Recording dispatches and copies (pipeline lookup, bind groups, the pass).
    Record,
    /// `queue.submit` with the encoder's finish.
    Submit,
    /// `queue.write_buffer` of tensor data.
    Upload,
    /// `queue.write_buffer` of a batch's kernel parameters.
    Params,
    /// New device buffers: requests the pool could not serve from its cache.
    PoolAlloc,
    /// Staging buffers and copies of readbacks (their wait counts as `Wait`).
    Readback,
    /// Blocked until the device finished a submission.
    Wait,
}

const HOST_KINDS: usize = 7;

/// Time, calls and bytes of one kind of host work.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct HostTime {
    pub ms: f64,
    pub count: u64,
    pub bytes: u64,
}

/// One kernel (shader name, plus " backward" for kernels whose BACKWARD define is set).
#[derive(Debug, Clone, PartialEq)]
pub struct KernelTime {
    pub name: String,
    pub dispatches: u64,
    /// Summed GPU time of its dispatches (0 without timestamps).
    pub gpu_ms: f64,
}

/// What [`Runtime::profile`] measured.
#[derive(Debug, Clone, Default)]
pub struct Profile {
    /// Whether the GPU times come from timestamps (otherwise they are all 0).
    pub gpu_timestamps: bool,
    /// Per kernel, the most GPU time first.
    pub per_kernel: Vec<KernelTime>,
    /// Wall-clock time of the closure plus the wait for its last work.
    pub wall_ms: f64,
    /// Sum of all dispatches' GPU time.
    pub gpu_ms: f64,
    /// Sum over submissions of first-start to last-end: GPU time including the
    /// gaps between the kernels of one submission.
    pub gpu_busy_ms: f64,
    pub dispatches: u64,
    /// Host work inside the runtime, each exclusive of the others.
    pub record: HostTime,
    pub submit: HostTime,
    pub upload: HostTime,
    pub params: HostTime,
    /// Buffers created because the pool had none free (count = pool misses).
    pub pool_alloc: HostTime,
    /// Requests the pool served from its cache.
    pub pool_reuses: u64,
    pub readback: HostTime,
    pub wait: HostTime,
}

impl Profile {
    /// Wall time minus summed kernel time: everything that is not a kernel running.
    pub fn outside_kernels_ms(&self) -> f64 {
        (self.wall_ms - self.gpu_ms).max(0.0)
    }

    /// The host categories in display order with their labels.
    pub fn host(&self) -> [(&'static str, HostTime); HOST_KINDS] {
        [
            ("recording dispatches and copies", self.record),
            ("submits", self.submit),
            ("uploads (tensor data)", self.upload),
            ("uploads (kernel parameters)", self.params),
            ("pool misses (new buffers)", self.pool_alloc),
            ("readbacks (excluding waits)", self.readback),
            ("waiting for the GPU", self.wait),
        ]
    }

    /// Host time outside the runtime's hooks: autograd, model code, tensor bookkeeping.
    pub fn host_other_ms(&self) -> f64 {
        let measured: f64 = self.host().iter().map(|(_, h)| h.ms).sum();
        (self.wall_ms - measured).max(0.0)
    }
}

/// Profiling state while [`Runtime::profile`] runs.
pub(crate) struct Recorder {
    timestamps: bool,
    /// The pending batch's queries: dispatch i writes 2i and 2i + 1.
    queries: Option<wgpu::QuerySet>,
    /// Labels of the pending batch's timed dispatches.
    pending: Vec<String>,
    /// Per submitted batch: the mappable copy of its timestamps and its labels.
    resolved: Vec<(wgpu::Buffer, Vec<String>)>,
    /// Dispatches without timestamps, by label.
    untimed: HashMap<String, u64>,
    host: [HostTime; HOST_KINDS],
    /// Sum of all exclusive host times so far (for subtracting nested hooks).
    accounted_ms: f64,
}

/// An open host measurement; `None` when profiling is off.
pub(crate) struct Scope {
    start: Instant,
    accounted_ms: f64,
}

/// A kernel's label in the profile.
fn label(spec: &KernelSpec) -> String {
    let backward = spec
        .defines
        .iter()
        .any(|(k, v)| *k == "BACKWARD" && (v == "1" || v == "true"));
    if backward {
        format!("{} backward", spec.name)
    } else {
        spec.name.to_string()
    }
}

impl Recorder {
    /// Registers one dispatch; returns the query set and first index for its
    /// pass's timestamp writes when timestamps are on.
    pub(crate) fn dispatch(
        &mut self,
        device: &wgpu::Device,
        spec: &KernelSpec,
    ) -> Option<(&wgpu::QuerySet, u32)> {
        let name = label(spec);
        // The runtime submits when the parameter arena is full, so a batch
        // never holds more than ARENA_SLOTS dispatches.
        if !self.timestamps || self.pending.len() as u64 >= ARENA_SLOTS {
            *self.untimed.entry(name).or_default() += 1;
            return None;
        }
        let index = 2 * self.pending.len() as u32;
        self.pending.push(name);
        let queries = self.queries.get_or_insert_with(|| {
            device.create_query_set(&wgpu::QuerySetDescriptor {
                label: Some("profile timestamps"),
                ty: wgpu::QueryType::Timestamp,
                count: 2 * ARENA_SLOTS as u32,
            })
        });
        Some((queries, index))
    }

    /// Before the batch in `encoder` is submitted: resolve its timestamps into
    /// a buffer the host can map after the profiled work is done.
    pub(crate) fn resolve(&mut self, device: &wgpu::Device, encoder: &mut wgpu::CommandEncoder) {
        let (Some(queries), false) = (&self.queries, self.pending.is_empty()) else {
            return;
        };
        let count = 2 * self.pending.len() as u32;
        let bytes = count as u64 * 8;
        let resolve = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("profile timestamps"),
            size: bytes,
            usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        let staging = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("profile timestamps (host)"),
            size: bytes,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        encoder.resolve_query_set(queries, 0..count, &resolve, 0);
        encoder.copy_buffer_to_buffer(&resolve, 0, &staging, 0, Some(bytes));
        // Queue order: the next batch may reuse the query set.
        self.resolved
            .push((staging, std::mem::take(&mut self.pending)));
    }
}

impl Runtime {
    /// Starts a host measurement if profiling is on (one atomic load otherwise).
    #[inline]
    pub(crate) fn profile_begin(&self) -> Option<Scope> {
        if !self.inner.profiling.load(Ordering::Relaxed) {
            return None;
        }
        let accounted_ms = self.inner.profiler.lock().unwrap().as_ref()?.accounted_ms;
        Some(Scope {
            start: Instant::now(),
            accounted_ms,
        })
    }

    /// Ends a host measurement: its time minus that of hooks nested in it.
    #[inline]
    pub(crate) fn profile_end(&self, scope: Option<Scope>, kind: Host, bytes: u64) {
        let Some(scope) = scope else { return };
        let ms = scope.start.elapsed().as_secs_f64() * 1e3;
        if let Some(r) = self.inner.profiler.lock().unwrap().as_mut() {
            let own = (ms - (r.accounted_ms - scope.accounted_ms)).max(0.0);
            let h = &mut r.host[kind as usize];
            h.ms += own;
            h.count += 1;
            h.bytes += bytes;
            r.accounted_ms += own;
        }
    }

    /// Runs `f` with profiling on and returns its result with where the time
    /// went. Work recorded earlier is finished first and not counted; the wait
    /// for `f`'s own work is. Profiling adds a timestamp query pair to every
    /// dispatch, so the profiled run is a little slower than a plain one.
    pub fn profile<R>(&self, f: impl FnOnce() -> Result<R>) -> Result<(R, Profile)> {
        self.sync()?;
        let pool_before = self.memory();
        let dispatches_before = self.batch_stats().dispatches;
        let timestamps = self.features().contains(wgpu::Features::TIMESTAMP_QUERY);
        *self.inner.profiler.lock().unwrap() = Some(Recorder {
            timestamps,
            queries: None,
            pending: Vec::new(),
            resolved: Vec::new(),
            untimed: HashMap::new(),
            host: Default::default(),
            accounted_ms: 0.0,
        });
        self.inner.profiling.store(true, Ordering::Relaxed);
        let start = Instant::now();
        let out = f();
        let synced = self.sync();
        let wall_ms = start.elapsed().as_secs_f64() * 1e3;
        self.inner.profiling.store(false, Ordering::Relaxed);
        let rec = self.inner.profiler.lock().unwrap().take();
        let out = out?;
        synced?;
        let rec = rec.ok_or_else(|| Error::Device("profiles may not nest".into()))?;

        let mut per: HashMap<String, KernelTime> = HashMap::new();
        for (name, n) in &rec.untimed {
            per.entry(name.clone())
                .or_insert_with(|| KernelTime {
                    name: name.clone(),
                    dispatches: 0,
                    gpu_ms: 0.0,
                })
                .dispatches += n;
        }
        let period_ms = self.queue().get_timestamp_period() as f64 / 1e6;
        let mut gpu_busy_ms = 0.0;
        for (stamps, labels) in self.read_timestamps(&rec.resolved)? {
            let (mut first, mut last) = (u64::MAX, 0);
            for (i, name) in labels.iter().enumerate() {
                let (b, e) = (stamps[2 * i], stamps[2 * i + 1]);
                first = first.min(b);
                last = last.max(e);
                let k = per.entry(name.clone()).or_insert_with(|| KernelTime {
                    name: name.clone(),
                    dispatches: 0,
                    gpu_ms: 0.0,
                });
                k.dispatches += 1;
                k.gpu_ms += e.saturating_sub(b) as f64 * period_ms;
            }
            gpu_busy_ms += last.saturating_sub(first) as f64 * period_ms;
        }
        let mut per_kernel: Vec<KernelTime> = per.into_values().collect();
        per_kernel.sort_by(|a, b| {
            b.gpu_ms
                .total_cmp(&a.gpu_ms)
                .then(b.dispatches.cmp(&a.dispatches))
                .then(a.name.cmp(&b.name))
        });
        let pool_after = self.memory();
        let [record, submit, upload, params, pool_alloc, readback, wait] = rec.host;
        Ok((
            out,
            Profile {
                gpu_timestamps: timestamps,
                gpu_ms: per_kernel.iter().map(|k| k.gpu_ms).sum(),
                per_kernel,
                wall_ms,
                gpu_busy_ms,
                dispatches: self.batch_stats().dispatches - dispatches_before,
                record,
                submit,
                upload,
                params,
                pool_alloc,
                pool_reuses: pool_after.reuses - pool_before.reuses,
                readback,
                wait,
            },
        ))
    }

    /// Maps the resolved timestamp copies (their batches are all submitted).
    fn read_timestamps<'a>(
        &self,
        resolved: &'a [(wgpu::Buffer, Vec<String>)],
    ) -> Result<Vec<(Vec<u64>, &'a [String])>> {
        let (tx, rx) = std::sync::mpsc::channel();
        for (buffer, _) in resolved {
            let tx = tx.clone();
            buffer.slice(..).map_async(wgpu::MapMode::Read, move |r| {
                let _ = tx.send(r);
            });
        }
        drop(tx);
        self.device()
            .poll(wgpu::PollType::Wait {
                submission_index: None,
                timeout: None,
            })
            .map_err(|e| Error::Device(e.to_string()))?;
        for r in rx.iter() {
            r.map_err(|e| Error::Readback(e.to_string()))?;
        }
        resolved
            .iter()
            .map(|(buffer, labels)| {
                let view = buffer
                    .slice(..)
                    .get_mapped_range()
                    .map_err(|e| Error::Readback(e.to_string()))?;
                let stamps: Vec<u64> = bytemuck::pod_collect_to_vec(&view);
                drop(view);
                buffer.unmap();
                Ok((stamps, labels.as_slice()))
            })
            .collect()
    }
}
