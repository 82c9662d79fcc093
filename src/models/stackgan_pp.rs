//! StackGAN++ (Zhang et al. 2018, released code hanzhanggit/StackGAN-v2): a
//! tree of generators trained jointly, 64 -> 128 -> 256 (or from 32 for a
//! software GPU), one discriminator per resolution with a conditional and an
//! unconditional logit, and the colour-consistency regulariser between
//! consecutive stages. AttnGAN grew out of this code: the conditioning
//! augmentation, first stage, upsampling and residual blocks and the
//! discriminators are models/attngan.rs's; what differs is the refinement
//! stage, which joins the condition code c (tiled) to the image features
//! with a 3x3 convolution (BN, GLU) instead of attending to words.
//!
//! Departures, each for a reason: the sentence embedding is the frozen
//! DAMSM's (the paper's char-CNN-RNN is not available); the refinement
//! stages keep `ngf` channels, as AttnGAN's do, where the released code
//! halves them at each stage (one set of blocks for both models).

use crate::autograd::{self as ag, Var};
use crate::models::attngan::{orth, Discriminator, FirstStage, ResBlock, UpBlock};
use crate::nn::config::{check_nonzero, ModelConfig};
use crate::nn::layers::{Conv2d, ConvSpec};
use crate::nn::modules::BatchNorm;
use crate::nn::{ParamBuilder, ParamStore};
use crate::ops::fill;
use crate::runtime::{Error, Result, Runtime, Tensor};

use super::attngan::AttnGanConfig;

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StackGanPPConfig {
    pub ngf: usize,
    pub ndf: usize,
    pub z_dim: usize,
    /// The condition code c (StackGAN-v2's EMBEDDING_DIM, 128).
    pub cond_dim: usize,
    /// The sentence embedding's size (the DAMSM's).
    pub embed_dim: usize,
    pub stages: usize,
    /// 64 (the paper's: 64, 128, 256) or 32.
    pub base_size: usize,
    pub res_blocks: usize,
    pub max_words: usize,
}

impl StackGanPPConfig {
    /// The paper's sizes on birds: three stages from 64, ngf 32, ndf 64.
    pub fn birds(embed_dim: usize) -> Self {
        StackGanPPConfig {
            ngf: 32,
            ndf: 64,
            z_dim: 100,
            cond_dim: 128,
            embed_dim,
            stages: 3,
            base_size: 64,
            res_blocks: 2,
            max_words: crate::data::DEFAULT_MAX_WORDS,
        }
    }

    pub fn image_size(&self, stage: usize) -> usize {
        self.base_size << stage
    }

    /// The AttnGAN config whose first stage and discriminators these are
    /// (the discriminators condition on the code c: `embed_dim` = cond_dim).
    pub(crate) fn as_attngan(&self) -> AttnGanConfig {
        AttnGanConfig {
            ngf: self.ngf,
            ndf: self.ndf,
            z_dim: self.z_dim,
            cond_dim: self.cond_dim,
            embed_dim: self.cond_dim,
            stages: self.stages,
            base_size: self.base_size,
            res_blocks: self.res_blocks,
            max_words: self.max_words,
            glam: false,
        }
    }
}

impl ModelConfig for StackGanPPConfig {
    const WHAT: &'static str = "stackgan++ config";

    fn check(&self) -> Result<()> {
        let bad = |m: String| Err(Error::invalid(Self::WHAT, m));
        if !(1..=3).contains(&self.stages) {
            return bad(format!("stages must be 1 to 3, got {}", self.stages));
        }
        if self.base_size != 32 && self.base_size != 64 {
            return bad(format!(
                "base_size must be 32 or 64, got {}",
                self.base_size
            ));
        }
        check_nonzero(
            Self::WHAT,
            &[
                ("ngf", self.ngf),
                ("ndf", self.ndf),
                ("z_dim", self.z_dim),
                ("cond_dim", self.cond_dim),
                ("embed_dim", self.embed_dim),
                ("max_words", self.max_words),
            ],
        )
    }
}

/// StackGAN-v2's NEXT_STAGE_G: [c tiled, h] -> conv3x3 to 2 ngf -> BN ->
/// GLU -> residual blocks -> upsampling. [B, ngf, S, S] -> [B, ngf, 2S, 2S]
struct NextStage {
    joint: Conv2d,
    joint_bn: BatchNorm,
    res: Vec<ResBlock>,
    up: UpBlock,
}

impl NextStage {
    fn new(b: &mut ParamBuilder, stage: usize, c: &StackGanPPConfig) -> Self {
        let g = c.ngf;
        let name = format!("gen.stage{stage}");
        NextStage {
            joint: Conv2d::new(
                b,
                &format!("{name}.joint.conv"),
                ConvSpec::same(c.cond_dim + g, 2 * g, 3, orth()),
            ),
            joint_bn: BatchNorm::new(b, &format!("{name}.joint.bn"), 2 * g),
            res: (0..c.res_blocks)
                .map(|r| ResBlock::new(b, &format!("{name}.res{r}"), g))
                .collect(),
            up: UpBlock::new(b, &format!("{name}.up"), g, g),
        }
    }

    fn forward(&self, ps: &ParamStore, h: &Var, cond: &Var, training: bool) -> Result<Var> {
        let (b, k, side) = (h.shape()[0], cond.shape()[1], h.shape()[2]);
        let ones = Var::constant(fill::full(h.value().runtime(), &[1, 1, side, side], 1.0)?);
        let tiled = cond.reshape(&[b, k, 1, 1])?.mul(&ones)?;
        let x = ag::concat(&[&tiled, h], 1)?;
        let mut x = ag::glu(
            &self
                .joint_bn
                .forward(ps, &self.joint.forward(ps, &x)?, training)?,
        )?;
        for r in &self.res {
            x = r.forward(ps, &x, training)?;
        }
        self.up.forward(ps, &x, training)
    }
}

/// What one generator pass returns.
pub struct Generated {
    /// One image per stage, `[B, 3, base << i, base << i]` in `[-1, 1]`.
    pub images: Vec<Var>,
    pub mu: Var,
    pub logvar: Var,
}

pub struct Generator {
    pub config: StackGanPPConfig,
    first: FirstStage,
    next: Vec<NextStage>,
    to_image: Vec<Conv2d>,
}

impl Generator {
    pub fn new(b: &mut ParamBuilder, c: &StackGanPPConfig) -> Self {
        let first = FirstStage::new(
            b,
            c.embed_dim,
            c.cond_dim,
            c.z_dim,
            c.ngf,
            c.as_attngan().first_stage_ups(),
        );
        let image = |b: &mut ParamBuilder, s: usize| {
            Conv2d::new(
                b,
                &format!("gen.image{s}.conv"),
                ConvSpec::same(c.ngf, 3, 3, orth()),
            )
        };
        let mut to_image = vec![image(b, 1)];
        let mut next = Vec::new();
        for s in 2..=c.stages {
            next.push(NextStage::new(b, s, c));
            to_image.push(image(b, s));
        }
        Generator {
            config: c.clone(),
            first,
            next,
            to_image,
        }
    }

    /// noise: [B, z], eps: [B, cond] (both N(0, 1)), sentence: [B, embed].
    pub fn forward(
        &self,
        ps: &ParamStore,
        noise: &Var,
        eps: &Var,
        sentence: &Var,
        training: bool,
    ) -> Result<Generated> {
        let (mut h, cond, mu, logvar) = self.first.forward(ps, noise, eps, sentence, training)?;
        let mut images = vec![self.to_image[0].forward(ps, &h)?.tanh()?];
        for (s, stage) in self.next.iter().enumerate() {
            h = stage.forward(ps, &h, &cond, training)?;
            images.push(self.to_image[s + 1].forward(ps, &h)?.tanh()?);
        }
        Ok(Generated { images, mu, logvar })
    }
}

/// G, and one discriminator per stage, each with its own store.
pub struct StackGanPP {
    pub config: StackGanPPConfig,
    pub gen: Generator,
    pub gen_params: ParamStore,
    pub discs: Vec<Discriminator>,
    pub disc_params: Vec<ParamStore>,
}

impl StackGanPP {
    pub fn new(rt: &Runtime, config: StackGanPPConfig, seed: u64) -> Result<StackGanPP> {
        config.check()?;
        let mut gb = ParamBuilder::new(seed);
        let gen = Generator::new(&mut gb, &config);
        let dconfig = config.as_attngan();
        let (mut discs, mut disc_params) = (Vec::new(), Vec::new());
        for s in 0..config.stages {
            let mut db = ParamBuilder::new(seed ^ (0xD15C + s as u64));
            discs.push(Discriminator::new(
                &mut db,
                &format!("disc{}", config.image_size(s)),
                &dconfig,
                s,
            ));
            disc_params.push(db.build(rt)?);
        }
        Ok(StackGanPP {
            gen_params: gb.build(rt)?,
            config,
            gen,
            discs,
            disc_params,
        })
    }
}

fn labels(rt: &Runtime, b: usize, value: f32) -> Result<Tensor> {
    fill::full(rt, &[b], value)
}

/// StackGAN-v2's `train_Dnet` for one stage, with the code `cond` (mu,
/// detached) as the condition: (real_c + real_u) + (wrong_c + wrong_u) +
/// (fake_c + fake_u), where "wrong" pairs real image i + 1 with code i and
/// is judged real by the unconditional logit (it is a real image), fake by
/// the conditional one. The fakes are detached.
pub fn discriminator_loss(
    d: &Discriminator,
    ps: &ParamStore,
    real: &Var,
    fake: &Var,
    cond: &Var,
) -> Result<Var> {
    let rt = real.value().runtime().clone();
    let b = real.shape()[0];
    if b < 2 {
        return Err(Error::invalid(
            "stackgan++",
            "the mismatched pairs need at least 2 images a batch",
        ));
    }
    let (ones, zeros) = (labels(&rt, b, 1.0)?, labels(&rt, b, 0.0)?);
    let (ones1, zeros1) = (labels(&rt, b - 1, 1.0)?, labels(&rt, b - 1, 0.0)?);
    let real_code = d.encode(ps, real)?;
    let fake_code = d.encode(ps, &fake.detach())?;
    let real_c = ag::bce_with_logits(&d.cond_logits(ps, &real_code, cond)?, &ones)?;
    let real_u = ag::bce_with_logits(&d.uncond_logits(ps, &real_code)?, &ones)?;
    let fake_c = ag::bce_with_logits(&d.cond_logits(ps, &fake_code, cond)?, &zeros)?;
    let fake_u = ag::bce_with_logits(&d.uncond_logits(ps, &fake_code)?, &zeros)?;
    // Image i + 1 with code i: b - 1 pairs.
    let wrong_img = ag::narrow(&real_code, 0, 1, b - 1)?;
    let wrong_cond = ag::narrow(cond, 0, 0, b - 1)?;
    let wrong_c = ag::bce_with_logits(&d.cond_logits(ps, &wrong_img, &wrong_cond)?, &zeros1)?;
    let wrong_u = ag::bce_with_logits(&d.uncond_logits(ps, &wrong_img)?, &ones1)?;
    real_c
        .add(&real_u)?
        .add(&wrong_c.add(&wrong_u)?)?
        .add(&fake_c.add(&fake_u)?)
}

/// G's adversarial loss at one stage: BCE(cond -> 1) + BCE(uncond -> 1).
pub fn generator_loss(d: &Discriminator, ps: &ParamStore, fake: &Var, cond: &Var) -> Result<Var> {
    let ones = labels(fake.value().runtime(), fake.shape()[0], 1.0)?;
    let code = d.encode(ps, fake)?;
    ag::bce_with_logits(&d.cond_logits(ps, &code, cond)?, &ones)?
        .add(&ag::bce_with_logits(&d.uncond_logits(ps, &code)?, &ones)?)
}

/// Per-image channel means `[B, C]` and covariances `[B, C, C]` over the
/// pixels (StackGAN-v2's `compute_mean_covariance`).
fn mean_covariance(img: &Var) -> Result<(Var, Var)> {
    let (b, c, h, w) = (
        img.shape()[0],
        img.shape()[1],
        img.shape()[2],
        img.shape()[3],
    );
    let flat = img.reshape(&[b, c, h * w])?;
    let mean = ag::global_avg_pool(img)?.reshape(&[b, c, 1])?;
    let centred = flat.sub(&mean)?;
    let cov = centred
        .matmul(&centred, false, true)?
        .mul_scalar(1.0 / (h * w) as f32)?;
    Ok((mean.reshape(&[b, c])?, cov))
}

/// The colour-consistency regulariser between a stage's images and the
/// previous stage's (detached): MSE of the channel means (weight 1) plus 5
/// times the MSE of the channel covariances.
pub fn colour_consistency(image: &Var, previous: &Var) -> Result<Var> {
    let (m1, c1) = mean_covariance(image)?;
    let (m2, c2) = mean_covariance(&previous.detach())?;
    let mse = |a: &Var, b: &Var| a.sub(b)?.square()?.mean_all();
    mse(&m1, &m2)?.add(&mse(&c1, &c2)?.mul_scalar(5.0)?)
}
