//! Named parameters in one flat device buffer, gradients in another, and
//! non-trainable buffers (batch-norm running statistics) in a third.

use std::collections::HashMap;

use super::init::{Init, SplitMix64};
use crate::autograd::Var;
use crate::ops::fill;
use crate::runtime::{Error, Result, Runtime, Tensor};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ParamId(pub usize);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BufferId(pub usize);

/// (name, shape, host data): one tensor of a checkpoint.
pub type NamedTensor = (String, Vec<usize>, Vec<f32>);

struct Entry {
    name: String,
    shape: Vec<usize>,
    data: Vec<f32>,
}

/// Collects a model's parameters while its modules are built.
pub struct ParamBuilder {
    params: Vec<Entry>,
    buffers: Vec<Entry>,
    pub rng: SplitMix64,
}

/// Offsets are multiples of this many elements, so every view can be read as vec4.
const ALIGN: usize = 4;

impl ParamBuilder {
    pub fn new(seed: u64) -> Self {
        ParamBuilder {
            params: Vec::new(),
            buffers: Vec::new(),
            rng: SplitMix64::new(seed),
        }
    }

    /// A trainable parameter, e.g. `gen.stage1.up1.conv.weight`.
    pub fn param(&mut self, name: impl Into<String>, shape: &[usize], init: Init) -> ParamId {
        let data = init.sample(shape, &mut self.rng);
        self.params.push(Entry {
            name: name.into(),
            shape: shape.to_vec(),
            data,
        });
        ParamId(self.params.len() - 1)
    }

    /// A non-trainable state tensor saved with the model (running statistics).
    pub fn buffer(&mut self, name: impl Into<String>, shape: &[usize], value: f32) -> BufferId {
        let n = shape.iter().product();
        self.buffers.push(Entry {
            name: name.into(),
            shape: shape.to_vec(),
            data: vec![value; n],
        });
        BufferId(self.buffers.len() - 1)
    }

    /// Uploads everything into flat buffers.
    pub fn build(self, rt: &Runtime) -> Result<ParamStore> {
        let (values, offsets, param_total) = upload(rt, &self.params)?;
        let grads = fill::zeros(rt, &[param_total.max(1)])?;
        let mut vars = Vec::with_capacity(self.params.len());
        for (e, &off) in self.params.iter().zip(&offsets) {
            let n = e.data.len();
            let v = values.narrow(off, n)?.reshape(&e.shape)?;
            let g = grads.narrow(off, n)?.reshape(&e.shape)?;
            vars.push(Var::leaf_with_grad(v, g));
        }
        let (buffers, buf_offsets, _) = upload(rt, &self.buffers)?;
        let mut buffer_views = Vec::with_capacity(self.buffers.len());
        for (e, &off) in self.buffers.iter().zip(&buf_offsets) {
            buffer_views.push(buffers.narrow(off, e.data.len())?.reshape(&e.shape)?);
        }
        Ok(ParamStore {
            rt: rt.clone(),
            names: self.params.iter().map(|e| e.name.clone()).collect(),
            values,
            grads,
            vars,
            offsets,
            buffer_names: self.buffers.iter().map(|e| e.name.clone()).collect(),
            buffers,
            buffer_views,
            total: param_total,
        })
    }
}

/// One flat tensor holding every entry at an aligned offset.
fn upload(rt: &Runtime, entries: &[Entry]) -> Result<(Tensor, Vec<usize>, usize)> {
    let mut offsets = Vec::with_capacity(entries.len());
    let mut total = 0;
    for e in entries {
        offsets.push(total);
        total += e.data.len().div_ceil(ALIGN) * ALIGN;
    }
    let mut flat = vec![0.0f32; total.max(1)];
    for (e, &off) in entries.iter().zip(&offsets) {
        flat[off..off + e.data.len()].copy_from_slice(&e.data);
    }
    Ok((
        Tensor::from_slice(rt, &flat, &[flat.len()])?,
        offsets,
        total,
    ))
}

/// A model's parameters and buffers on the device.
pub struct ParamStore {
    rt: Runtime,
    names: Vec<String>,
    /// Flat [total]; each parameter is a view.
    values: Tensor,
    /// Flat [total] gradients, the same layout.
    grads: Tensor,
    vars: Vec<Var>,
    offsets: Vec<usize>,
    buffer_names: Vec<String>,
    buffers: Tensor,
    buffer_views: Vec<Tensor>,
    total: usize,
}

impl ParamStore {
    pub fn runtime(&self) -> &Runtime {
        &self.rt
    }

    /// The parameter as a leaf of the autodiff graph.
    pub fn var(&self, id: ParamId) -> &Var {
        &self.vars[id.0]
    }

    pub fn buffer(&self, id: BufferId) -> &Tensor {
        &self.buffer_views[id.0]
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Number of scalar parameters.
    pub fn num_params(&self) -> usize {
        self.vars.iter().map(|v| v.value().numel()).sum()
    }

    /// Flat views used by the optimiser: (values, gradients), both [padded total].
    pub fn flat(&self) -> (&Tensor, &Tensor) {
        (&self.values, &self.grads)
    }

    pub fn zero_grad(&self) -> Result<()> {
        fill::fill_(&self.grads, 0.0)
    }

    /// The flat buffer of the non-trainable state (batch-norm running
    /// statistics), `[total]`.
    pub fn flat_buffers(&self) -> &Tensor {
        &self.buffers
    }

    /// With several data-parallel workers (nn/parallel.rs): the gradients,
    /// and the running statistics, replaced by their mean over the workers,
    /// so that every rank takes the same step and keeps the statistics of
    /// the whole global batch. Alone, nothing.
    pub fn average_over_workers(&self) -> Result<()> {
        average(&[&self.grads, &self.buffers])
    }

    /// The running statistics alone averaged over the workers (before a
    /// checkpoint: a forward pass after the last step moved them apart).
    pub fn average_buffers_over_workers(&self) -> Result<()> {
        average(&[&self.buffers])
    }

    /// Values and running statistics as one host vector: what data-parallel
    /// workers compare ([`super::parallel::fingerprint`]).
    pub fn host_state(&self) -> Result<Vec<f32>> {
        let mut v = self.values.to_vec()?;
        v.extend(self.buffers.to_vec()?);
        Ok(v)
    }

    /// Freezes (false) or unfreezes every parameter: frozen ones get no gradient.
    pub fn set_trainable(&self, on: bool) {
        for v in &self.vars {
            v.set_requires_grad(on);
        }
    }

    /// Every parameter and buffer as (name, shape, host data): what a checkpoint holds.
    pub fn state(&self) -> Result<Vec<NamedTensor>> {
        let mut out = Vec::new();
        let flat = self.values.to_vec()?;
        for ((name, v), &off) in self.names.iter().zip(&self.vars).zip(&self.offsets) {
            let n = v.value().numel();
            out.push((
                name.clone(),
                v.shape().to_vec(),
                flat[off..off + n].to_vec(),
            ));
        }
        let bflat = self.buffers.to_vec()?;
        for (name, t) in self.buffer_names.iter().zip(&self.buffer_views) {
            let off = t.offset() - self.buffers.offset();
            out.push((
                name.clone(),
                t.shape().to_vec(),
                bflat[off..off + t.numel()].to_vec(),
            ));
        }
        Ok(out)
    }

    /// Loads parameters and buffers by name. Every one must be present with its
    /// shape; the error names the first that is missing or mismatched.
    pub fn load_state(
        &self,
        tensors: &HashMap<String, (Vec<usize>, Vec<f32>)>,
        source: &str,
    ) -> Result<()> {
        let mut flat = self.values.to_vec()?;
        for ((name, v), &off) in self.names.iter().zip(&self.vars).zip(&self.offsets) {
            let data = lookup(tensors, name, v.shape(), source)?;
            flat[off..off + data.len()].copy_from_slice(data);
        }
        self.values.write(&flat)?;
        let mut bflat = self.buffers.to_vec()?;
        for (name, t) in self.buffer_names.iter().zip(&self.buffer_views) {
            let data = lookup(tensors, name, t.shape(), source)?;
            let off = t.offset() - self.buffers.offset();
            bflat[off..off + data.len()].copy_from_slice(data);
        }
        self.buffers.write(&bflat)
    }

    /// Total padded length of the flat buffers.
    pub fn flat_len(&self) -> usize {
        self.total.max(1)
    }
}

/// Each of `tensors` replaced by its mean over the data-parallel workers.
fn average(tensors: &[&Tensor]) -> Result<()> {
    if super::parallel::workers().size == 1 {
        return Ok(());
    }
    for t in tensors {
        if t.numel() > 0 {
            let mut host = t.to_vec()?;
            super::parallel::all_reduce_mean(&mut host);
            t.write(&host)?;
        }
    }
    Ok(())
}

fn lookup<'a>(
    tensors: &'a HashMap<String, (Vec<usize>, Vec<f32>)>,
    name: &str,
    shape: &[usize],
    source: &str,
) -> Result<&'a [f32]> {
    let (s, data) = tensors.get(name).ok_or_else(|| {
        Error::invalid(
            "load",
            format!(
                "{source} has no tensor {name:?}: it was written by another model or configuration"
            ),
        )
    })?;
    if s != shape {
        return Err(Error::invalid(
            "load",
            format!("{source}: tensor {name:?} has shape {s:?}, the model expects {shape:?}"),
        ));
    }
    Ok(data)
}
