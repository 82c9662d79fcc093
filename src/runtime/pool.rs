//! Device buffers from a pool keyed by rounded size.
//!
//! A buffer released by a tensor is not reusable at once: commands that read
//! or write it may still sit in the unsubmitted command encoder, and a later
//! `queue.write_buffer` into it would land before them. Released buffers wait
//! in `pending` until the batch that used them is submitted; only then do they
//! join `free`. After submission, queue order makes reuse safe.

use std::collections::HashMap;

/// Usage of every pooled buffer: storage for kernels, copy for upload/readback.
pub const USAGE: wgpu::BufferUsages = wgpu::BufferUsages::STORAGE
    .union(wgpu::BufferUsages::COPY_SRC)
    .union(wgpu::BufferUsages::COPY_DST);

/// Bytes of the size class that `bytes` falls in: 4 classes per power of two
/// (so at most 25% is wasted), 256 bytes at least.
pub fn size_class(bytes: u64) -> u64 {
    let bytes = bytes.max(256);
    let pow = 1u64 << (63 - bytes.leading_zeros()); // largest power of two <= bytes
    let step = (pow / 4).max(1);
    bytes.div_ceil(step) * step
}

/// [`size_class`] limited to `cap` rounded down to 4 bytes: a tensor that
/// fits the device's binding limit never gets a buffer that does not (limits
/// need not be powers of two: e.g. 100 MiB).
pub fn capped_class(bytes: u64, cap: u64) -> u64 {
    size_class(bytes).min(cap / 4 * 4).max(bytes)
}

/// Memory figures of the pool, in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Held by live tensors now.
    pub in_use: u64,
    /// The most ever held by live tensors at once: the figure to check when memory runs out.
    pub peak_in_use: u64,
    /// Kept for reuse (free or waiting for submission).
    pub cached: u64,
    /// Buffers created from the device since the start.
    pub allocations: u64,
    /// Requests served from the cache.
    pub reuses: u64,
}

#[derive(Default)]
pub struct Pool {
    free: HashMap<u64, Vec<wgpu::Buffer>>,
    pending: Vec<(u64, wgpu::Buffer)>,
    stats: PoolStats,
}

impl Pool {
    /// A buffer of at least `bytes` (its size class, but never over `cap`,
    /// the largest buffer the device binds whole; `bytes <= cap`), reused if
    /// one is free.
    pub fn take(&mut self, device: &wgpu::Device, bytes: u64, cap: u64) -> (u64, wgpu::Buffer) {
        let class = capped_class(bytes, cap);
        let buffer = match self.free.get_mut(&class).and_then(|v| v.pop()) {
            Some(b) => {
                self.stats.cached -= class;
                self.stats.reuses += 1;
                b
            }
            None => {
                self.stats.allocations += 1;
                device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some("tensor"),
                    size: class,
                    usage: USAGE,
                    mapped_at_creation: false,
                })
            }
        };
        self.stats.in_use += class;
        self.stats.peak_in_use = self.stats.peak_in_use.max(self.stats.in_use);
        (class, buffer)
    }

    /// A tensor is done with its buffer; reusable after the next submission.
    pub fn release(&mut self, class: u64, buffer: wgpu::Buffer) {
        self.stats.in_use -= class;
        self.stats.cached += class;
        self.pending.push((class, buffer));
    }

    /// Everything recorded so far has been submitted.
    pub fn submitted(&mut self) {
        for (class, buffer) in self.pending.drain(..) {
            self.free.entry(class).or_default().push(buffer);
        }
    }

    /// Frees the cached buffers (not those waiting for submission).
    pub fn trim(&mut self) {
        for (class, buffers) in self.free.drain() {
            self.stats.cached -= class * buffers.len() as u64;
            for b in buffers {
                b.destroy();
            }
        }
    }

    pub fn stats(&self) -> PoolStats {
        self.stats
    }

    pub fn reset_peak(&mut self) {
        self.stats.peak_in_use = self.stats.in_use;
    }
}

#[cfg(test)]
mod tests {
    use super::{capped_class, size_class};

    #[test]
    fn capped_classes_stay_within_a_binding_limit_that_is_no_power_of_two() {
        let cap = 100 << 20;
        // 99 MiB rounds to 112 MiB uncapped: over a 100 MiB limit.
        assert_eq!(size_class(99 << 20), 112 << 20);
        assert_eq!(capped_class(99 << 20, cap), cap);
        assert_eq!(capped_class(cap, cap), cap);
        assert_eq!(capped_class(1000, cap), size_class(1000));
        // An odd limit rounds down to whole f32s, never below the request.
        assert_eq!(capped_class(4000, 4003), 4000);
    }

    #[test]
    fn size_classes_round_up_by_at_most_a_quarter() {
        assert_eq!(size_class(1), 256);
        assert_eq!(size_class(256), 256);
        assert_eq!(size_class(257), 320);
        assert_eq!(size_class(1024), 1024);
        assert_eq!(size_class(1025), 1280);
        for bytes in [300u64, 4097, 65_537, 1 << 20, (1 << 20) + 1, 123_456_789] {
            let c = size_class(bytes);
            assert!(
                c >= bytes && (c as f64) <= bytes as f64 * 1.25 + 256.0,
                "{bytes} -> {c}"
            );
        }
    }
}
