//! Adam (one fused dispatch over all parameters), gradient clipping by global
//! norm, the moving average of parameters, and learning-rate schedules.

use super::params::ParamStore;
use crate::ops::adam::{adam_step, AdamStep};
use crate::ops::{axpby::axpby_, fill};
use crate::runtime::{Result, Tensor};

pub struct Adam {
    pub lr: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    pub weight_decay: f32,
    /// Clip gradients to this global norm before the step (0 = off).
    pub max_grad_norm: f32,
    /// First and second moments, flat like the store.
    pub m: Tensor,
    pub v: Tensor,
    /// Steps taken.
    pub t: u64,
}

impl Adam {
    pub fn new(ps: &ParamStore, lr: f32, betas: (f32, f32)) -> Result<Adam> {
        let n = ps.flat_len();
        Ok(Adam {
            lr,
            beta1: betas.0,
            beta2: betas.1,
            eps: 1e-8,
            weight_decay: 0.0,
            max_grad_norm: 0.0,
            m: fill::zeros(ps.runtime(), &[n])?,
            v: fill::zeros(ps.runtime(), &[n])?,
            t: 0,
        })
    }

    /// One step from the gradients in the store (recorded, not waited for).
    /// With several workers (nn/parallel.rs) the gradients (and running
    /// statistics) are first averaged over them, so every rank takes the
    /// same step.
    pub fn step(&mut self, ps: &ParamStore) -> Result<()> {
        self.t += 1;
        ps.average_over_workers()?;
        let (values, grads) = ps.flat();
        let sumsq = if self.max_grad_norm > 0.0 {
            grads.square()?.sum(0, false)?
        } else {
            fill::zeros(ps.runtime(), &[1])?
        };
        adam_step(
            values,
            grads,
            &self.m,
            &self.v,
            &sumsq,
            AdamStep {
                lr: self.lr,
                beta1: self.beta1,
                beta2: self.beta2,
                eps: self.eps,
                weight_decay: self.weight_decay,
                t: self.t,
                max_norm: self.max_grad_norm,
            },
        )
    }
}

impl Adam {
    /// Moments and step count into a checkpoint, under `prefix` (`optim.gen.`).
    pub fn save_into(&self, ck: &mut super::checkpoint::Checkpoint, prefix: &str) -> Result<()> {
        ck.insert(format!("{prefix}m"), vec![self.m.numel()], self.m.to_vec()?);
        ck.insert(format!("{prefix}v"), vec![self.v.numel()], self.v.to_vec()?);
        ck.metadata.insert(format!("{prefix}t"), self.t.to_string());
        Ok(())
    }

    /// Restores what [`Adam::save_into`] wrote.
    pub fn load_from(
        &mut self,
        ck: &super::checkpoint::Checkpoint,
        prefix: &str,
        source: &str,
    ) -> Result<()> {
        let missing = |what: &str| {
            crate::Error::invalid(
                "load",
                format!("{source} has no optimiser state {prefix}{what}"),
            )
        };
        for (name, t) in [("m", &self.m), ("v", &self.v)] {
            let (shape, data) = ck
                .tensors
                .get(&format!("{prefix}{name}"))
                .ok_or_else(|| missing(name))?;
            if shape != t.shape() {
                return Err(crate::Error::invalid(
                    "load",
                    format!("{source}: optimiser state {prefix}{name} has shape {shape:?}, the model needs {:?}", t.shape()),
                ));
            }
            t.write(data)?;
        }
        self.t = ck
            .metadata
            .get(&format!("{prefix}t"))
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| missing("t"))?;
        Ok(())
    }
}

/// An exponential moving average of a store's parameters: AttnGAN samples
/// from the average of G (decay 0.999).
pub struct Ema {
    pub decay: f32,
    pub shadow: Tensor,
    /// Updates so far: the first ones use a smaller decay, (1 + n) / (10 + n),
    /// so that a short run's average is not still mostly the initialisation.
    /// A departure from the released AttnGAN's plain 0.999 from the first
    /// step (docs/attngan-reference.md); from about 9,000 updates it is 0.999.
    pub updates: u64,
}

impl Ema {
    pub fn new(ps: &ParamStore, decay: f32) -> Result<Ema> {
        Ok(Ema {
            decay,
            shadow: fill::copy(ps.flat().0)?,
            updates: 0,
        })
    }

    /// The decay of the next update.
    pub fn current_decay(&self) -> f32 {
        let n = self.updates as f32;
        self.decay.min((1.0 + n) / (10.0 + n))
    }

    /// shadow = d * shadow + (1 - d) * params, d = [`Ema::current_decay`]
    pub fn update(&mut self, ps: &ParamStore) -> Result<()> {
        let d = self.current_decay();
        self.updates += 1;
        axpby_(ps.flat().0, &self.shadow, 1.0 - d, d)
    }
}

/// lr = max(base * factor^(step / every), min): DAMSM's x0.98 per epoch down to 0.0002.
#[derive(Debug, Clone, Copy)]
pub struct StepDecay {
    pub base: f32,
    pub factor: f32,
    pub every: u64,
    pub min: f32,
}

impl StepDecay {
    pub fn lr_at(&self, step: u64) -> f32 {
        (self.base * self.factor.powi((step / self.every.max(1)) as i32)).max(self.min)
    }
}
