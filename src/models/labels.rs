//! Class heads on an image encoder's global feature: what the released
//! AttnGAN gets from its ImageNet-pretrained Inception-v3 (an encoder that
//! already tells outlines apart), taught here by the built-in world's own
//! labels. `engine train --model damsm --labels W` adds W times their loss to
//! the DAMSM's; the heads are thrown away with the training checkpoint
//! (an export and a guide hold only the encoders).
//!
//! Labels per image: for each of `cells` places, one class per kind (the
//! world: 9 cells, each with its object's shape, colour and size, 0 for an
//! empty cell; [`crate::data::world::Scene::labels`]).

use crate::autograd::{self as ag, Var};
use crate::nn::layers::Linear;
use crate::nn::{Init, ParamBuilder, ParamStore};
use crate::runtime::{Error, Result, Tensor};

pub struct LabelHeads {
    /// One linear map per kind: [B, D] -> [B, cells * classes].
    heads: Vec<Linear>,
    classes: Vec<usize>,
    cells: usize,
}

impl LabelHeads {
    /// Heads from a `dim`-wide feature to `cells` places of each kind's
    /// `classes`.
    pub fn new(b: &mut ParamBuilder, dim: usize, cells: usize, classes: &[usize]) -> Self {
        let heads = classes
            .iter()
            .enumerate()
            .map(|(k, &c)| {
                Linear::new(
                    b,
                    &format!("labels.head{k}"),
                    dim,
                    cells * c,
                    true,
                    Init::Uniform(0.1),
                )
            })
            .collect();
        LabelHeads {
            heads,
            classes: classes.to_vec(),
            cells,
        }
    }

    /// The built-in world's heads: [`crate::data::world::LABEL_CELLS`]
    /// cells of shape, colour and size ([`crate::data::world::Scene::labels`]).
    pub fn world(b: &mut ParamBuilder, dim: usize) -> Self {
        use crate::data::world::{LABEL_CELLS, LABEL_CLASSES};
        Self::new(b, dim, LABEL_CELLS, &LABEL_CLASSES)
    }

    /// Labels per image: `cells` x kinds.
    pub fn per_image(&self) -> usize {
        self.cells * self.classes.len()
    }

    /// Kind `k`'s logits `[B * cells, classes]` (row b * cells + cell).
    pub fn logits(&self, ps: &ParamStore, global: &Var, k: usize) -> Result<Var> {
        let n = global.shape()[0];
        self.heads[k]
            .forward(ps, global)?
            .reshape(&[n * self.cells, self.classes[k]])
    }

    /// Per image, the cross-entropy summed over cells and kinds; its mean
    /// over images (summed over cells, an object's term weighs as much as a
    /// one-object classifier's would: a mean over cells diluted it ninefold,
    /// and outlines were not learned in 1,200 steps).
    /// global: `[B, D]`; labels: `[B, cells, kinds]` flattened, each below
    /// its kind's classes.
    pub fn loss(&self, ps: &ParamStore, global: &Var, labels: &[u32]) -> Result<Var> {
        let n = global.shape()[0];
        let kinds = self.classes.len();
        if labels.len() != n * self.per_image() {
            return Err(Error::invalid(
                "labels",
                format!(
                    "{} labels for {n} images of {} each; only the built-in world labels its images",
                    labels.len(),
                    self.per_image()
                ),
            ));
        }
        if let Some((i, &bad)) = labels
            .iter()
            .enumerate()
            .find(|&(i, &l)| l as usize >= self.classes[i % kinds])
        {
            let (k, classes) = (i % kinds, self.classes[i % kinds]);
            return Err(Error::invalid(
                "labels",
                format!("label {bad} of kind {k} is not below its {classes} classes"),
            ));
        }
        // Every kind's targets in one upload, kind by kind: [kinds, B * cells].
        let rows = n * self.cells;
        let targets: Vec<f32> = (0..kinds)
            .flat_map(|k| (0..rows).map(move |r| labels[r * kinds + k] as f32))
            .collect();
        let targets = Tensor::from_slice(global.value().runtime(), &targets, &[kinds * rows])?;
        let mut total: Option<Var> = None;
        for k in 0..kinds {
            // [B, cells * C] -> [B * cells, C]: row b * cells + cell.
            let logits = self.logits(ps, global, k)?;
            let t = targets.narrow(k * rows, rows)?;
            let l = ag::cross_entropy(&logits, &t)?.mul_scalar(self.cells as f32)?;
            total = Some(match total {
                None => l,
                Some(t) => t.add(&l)?,
            });
        }
        total.ok_or_else(|| Error::invalid("labels", "no kinds of label"))
    }
}
