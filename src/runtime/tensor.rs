//! Tensors: f32 on the device, rank 1 to 5, shapes known to the host.
//!
//! A tensor is a contiguous row-major view (shape + element offset) of a pooled
//! device buffer. Reshapes and slices along the first axis are views that
//! share the buffer; the buffer returns to the pool when its last view drops.

use std::sync::Arc;

use super::error::{Error, Result};
use super::{Inner, Runtime};

/// The most axes a tensor may have.
pub const MAX_RANK: usize = 5;

pub(crate) struct Storage {
    buffer: Option<wgpu::Buffer>,
    class: u64,
    owner: Arc<Inner>,
}

impl Drop for Storage {
    fn drop(&mut self) {
        if let Some(buffer) = self.buffer.take() {
            if let Ok(mut pool) = self.owner.pool.lock() {
                pool.release(self.class, buffer);
            }
        }
    }
}

/// An f32 tensor on the device: a shape, and a view (an element offset) into
/// a pooled storage buffer shared by its clones. Ops on tensors are recorded
/// in the runtime's current batch and submitted later (by a flush, a wait, a
/// read back or [`Tensor::ready`]): a host that touches [`Tensor::buffer`]
/// with its own commands must call [`Tensor::ready`] first (see the README's
/// "As a library" for the ordering contract). The buffer returns to the pool
/// when the last clone is dropped.
#[derive(Clone)]
pub struct Tensor {
    rt: Runtime,
    storage: Arc<Storage>,
    shape: Vec<usize>,
    /// In elements, from the start of the buffer.
    offset: usize,
}

/// The element count of `shape`.
pub fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

fn check_rank(op: &'static str, shape: &[usize]) -> Result<()> {
    if shape.is_empty() || shape.len() > MAX_RANK {
        return Err(Error::invalid(
            op,
            format!("tensors have rank 1 to {MAX_RANK}, got shape {shape:?}"),
        ));
    }
    Ok(())
}

impl Tensor {
    /// A new tensor whose contents are unspecified (kernels write all of it).
    pub fn uninit(rt: &Runtime, shape: &[usize]) -> Result<Tensor> {
        check_rank("tensor", shape)?;
        let bytes = numel(shape) as u64 * 4;
        let limit = rt.max_tensor_bytes();
        if bytes > limit {
            return Err(Error::TooLarge {
                shape: shape.to_vec(),
                bytes,
                limit,
                adapter: rt.adapter_info().name.clone(),
            });
        }
        let (class, buffer) = rt.take_buffer(bytes);
        if rt.inner.poison.load(std::sync::atomic::Ordering::Relaxed) {
            // All bits set is a NaN in f32.
            rt.write_buffer(&buffer, 0, &vec![0xff; class as usize]);
        }
        Ok(Tensor {
            rt: rt.clone(),
            storage: Arc::new(Storage {
                buffer: Some(buffer),
                class,
                owner: rt.inner.clone(),
            }),
            shape: shape.to_vec(),
            offset: 0,
        })
    }

    /// Uploads host data.
    pub fn from_slice(rt: &Runtime, data: &[f32], shape: &[usize]) -> Result<Tensor> {
        if data.len() != numel(shape) {
            return Err(Error::invalid(
                "from_slice",
                format!(
                    "{} values do not fill shape {shape:?} ({} elements)",
                    data.len(),
                    numel(shape)
                ),
            ));
        }
        let t = Tensor::uninit(rt, shape)?;
        if !data.is_empty() {
            // A fresh (or submitted-and-released) buffer: queue order puts this
            // write after all earlier work and before the batch that reads it.
            rt.write_buffer(t.buffer(), 0, bytemuck::cast_slice(data));
        }
        Ok(t)
    }

    /// Overwrites the contents with host data (same number of elements).
    pub fn write(&self, data: &[f32]) -> Result<()> {
        if data.len() != self.numel() {
            return Err(Error::invalid(
                "write",
                format!(
                    "{} values for a tensor of shape {:?}",
                    data.len(),
                    self.shape
                ),
            ));
        }
        // Earlier recorded work on this buffer must run before the new contents land.
        self.rt.flush();
        self.rt.write_buffer(
            self.buffer(),
            self.offset as u64 * 4,
            bytemuck::cast_slice(data),
        );
        Ok(())
    }

    /// Downloads to the host (submits pending work and waits for it).
    pub fn to_vec(&self) -> Result<Vec<f32>> {
        let bytes = self.rt.read_bytes(
            self.buffer(),
            self.offset as u64 * 4,
            self.numel() as u64 * 4,
        )?;
        Ok(bytemuck::pod_collect_to_vec(&bytes))
    }

    /// The runtime (device) the tensor lives on.
    pub fn runtime(&self) -> &Runtime {
        &self.rt
    }

    /// Its extent along each axis.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// Its number of axes.
    pub fn rank(&self) -> usize {
        self.shape.len()
    }

    /// Its number of elements.
    pub fn numel(&self) -> usize {
        numel(&self.shape)
    }

    /// Its extent along `axis` (which must be below the rank).
    pub fn dim(&self, axis: usize) -> usize {
        self.shape[axis]
    }

    /// Element offset of this view in its buffer (kernels take it as a parameter).
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// The storage buffer (elements from [`Tensor::offset`]). The engine
    /// records work and submits it in batches, so work on this tensor may
    /// still be unsubmitted: a host that reads or writes the buffer with its
    /// own commands takes it from [`Tensor::ready`] instead.
    pub fn buffer(&self) -> &wgpu::Buffer {
        self.storage.buffer.as_ref().expect("live storage")
    }

    /// The storage buffer, for a host's own commands. Submits everything the
    /// engine has recorded so far, so that host commands submitted after
    /// this call come after it in queue order: a host copy out of the buffer
    /// sees this tensor's value, and a host write into it (e.g. new input
    /// data) cannot change the result of engine work recorded before it.
    pub fn ready(&self) -> &wgpu::Buffer {
        self.rt.flush();
        self.buffer()
    }

    /// Whether two tensors share a buffer.
    pub fn same_storage(&self, other: &Tensor) -> bool {
        Arc::ptr_eq(&self.storage, &other.storage)
    }

    /// The same elements with another shape; no copy. `usize::MAX` in one
    /// position is inferred.
    pub fn reshape(&self, shape: &[usize]) -> Result<Tensor> {
        let mut shape = shape.to_vec();
        let known: usize = shape.iter().filter(|&&d| d != usize::MAX).product();
        if let Some(pos) = shape.iter().position(|&d| d == usize::MAX) {
            if known == 0 || !self.numel().is_multiple_of(known) {
                return Err(Error::shape_hint(
                    "reshape",
                    &self.shape,
                    &shape,
                    "cannot infer the free axis",
                ));
            }
            shape[pos] = self.numel() / known;
        }
        check_rank("reshape", &shape)?;
        if numel(&shape) != self.numel() {
            return Err(Error::shape_hint(
                "reshape",
                &self.shape,
                &shape,
                "element counts differ",
            ));
        }
        Ok(Tensor {
            shape,
            ..self.clone()
        })
    }

    /// Rows `start..start + len` along the first axis; no copy.
    pub fn narrow(&self, start: usize, len: usize) -> Result<Tensor> {
        if start + len > self.shape[0] {
            return Err(Error::invalid(
                "narrow",
                format!(
                    "rows {start}..{} out of range for shape {:?}",
                    start + len,
                    self.shape
                ),
            ));
        }
        let row = numel(&self.shape[1..]);
        let mut shape = self.shape.clone();
        shape[0] = len;
        Ok(Tensor {
            shape,
            offset: self.offset + start * row,
            ..self.clone()
        })
    }
}

impl std::fmt::Debug for Tensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tensor{:?}", self.shape)
    }
}
