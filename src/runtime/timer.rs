//! Timing recorded work on the device: GPU timestamps where the adapter has
//! them (written into the command stream before and after), wall clock
//! around a full wait otherwise.

use std::time::Instant;

use super::{Result, Runtime};

impl Runtime {
    /// Whether [`Runtime::time`] uses GPU timestamps.
    pub fn has_gpu_timestamps(&self) -> bool {
        self.features().contains(
            wgpu::Features::TIMESTAMP_QUERY | wgpu::Features::TIMESTAMP_QUERY_INSIDE_ENCODERS,
        )
    }

    /// Runs `f` (which records work) and returns the device time of that work
    /// in milliseconds. Work recorded earlier is finished first.
    pub fn time(&self, f: impl FnOnce() -> Result<()>) -> Result<f64> {
        self.sync()?;
        if !self.has_gpu_timestamps() {
            let t = Instant::now();
            f()?;
            self.sync()?;
            return Ok(t.elapsed().as_secs_f64() * 1e3);
        }
        let device = self.device();
        let queries = device.create_query_set(&wgpu::QuerySetDescriptor {
            label: Some("bench timestamps"),
            ty: wgpu::QueryType::Timestamp,
            count: 2,
        });
        let resolve = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("bench timestamps"),
            size: 16,
            usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        self.with_encoder(|e| e.write_timestamp(&queries, 0));
        f()?;
        self.with_encoder(|e| {
            e.write_timestamp(&queries, 1);
            e.resolve_query_set(&queries, 0..2, &resolve, 0);
        });
        let bytes = self.read_bytes(&resolve, 0, 16)?;
        let stamps: Vec<u64> = bytemuck::pod_collect_to_vec(&bytes);
        let ticks = stamps[1].saturating_sub(stamps[0]) as f64;
        Ok(ticks * self.queue().get_timestamp_period() as f64 / 1e6)
    }
}
