//! StackGAN (Zhang et al. 2017, released code hanzhanggit/StackGAN and its
//! PyTorch port): stage I draws a low-resolution image (64x64; 32x32 for a
//! software GPU) from noise and the condition code; stage II takes that
//! image, downsamples it by 4, joins a condition code of its own (tiled),
//! runs residual blocks and upsamples 16 times: 256x256 (128x128 from 32).
//! Trained in two phases as in the paper: stage I first, then stage II with
//! stage I frozen. Each stage has a conditional discriminator with the
//! matching-aware loss of the code: real 1, real with another's code and
//! fake 0, those two weighted 1/2; G adds the KL term (weight 2).
//!
//! Departures, each for a reason: stage I is StackGAN++'s first stage
//! (models/stackgan_pp.rs), and stage II's residual and upsampling blocks
//! are AttnGAN's (GLU where StackGAN has ReLU): one set of blocks for the
//! family; the sentence embedding is the frozen DAMSM's.

use crate::autograd::{self as ag, Var};
use crate::models::attngan::{condition, orth, Discriminator, ResBlock, UpBlock};
use crate::models::stackgan_pp::{self, StackGanPPConfig};
use crate::nn::config::{check_nonzero, ModelConfig};
use crate::nn::layers::{Conv2d, ConvSpec, Linear};
use crate::nn::modules::BatchNorm;
use crate::nn::{ParamBuilder, ParamStore};
use crate::ops::fill;
use crate::runtime::{Error, Result, Runtime};

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StackGanConfig {
    pub ngf: usize,
    pub ndf: usize,
    pub z_dim: usize,
    pub cond_dim: usize,
    pub embed_dim: usize,
    /// Stage I's side, 64 (the paper's) or 32; stage II draws 4 times it.
    pub base_size: usize,
    /// Stage II's residual blocks (4 in the paper).
    pub res_blocks: usize,
    pub max_words: usize,
}

impl StackGanConfig {
    pub fn paper(embed_dim: usize) -> Self {
        StackGanConfig {
            ngf: 32,
            ndf: 64,
            z_dim: 100,
            cond_dim: 128,
            embed_dim,
            base_size: 64,
            res_blocks: 4,
            max_words: crate::data::DEFAULT_MAX_WORDS,
        }
    }

    /// Stage I as a one-stage StackGAN++.
    pub fn stage1(&self) -> StackGanPPConfig {
        StackGanPPConfig {
            ngf: self.ngf,
            ndf: self.ndf,
            z_dim: self.z_dim,
            cond_dim: self.cond_dim,
            embed_dim: self.embed_dim,
            stages: 1,
            base_size: self.base_size,
            res_blocks: self.res_blocks,
            max_words: self.max_words,
        }
    }

    /// The side of stage `phase`'s images (1 or 2).
    pub fn image_size(&self, phase: usize) -> usize {
        if phase == 1 {
            self.base_size
        } else {
            4 * self.base_size
        }
    }
}

impl ModelConfig for StackGanConfig {
    const WHAT: &'static str = "stackgan config";

    fn check(&self) -> Result<()> {
        if self.base_size != 32 && self.base_size != 64 {
            return Err(Error::invalid(
                Self::WHAT,
                format!("base_size must be 32 or 64, got {}", self.base_size),
            ));
        }
        if !self.ngf.is_multiple_of(4) {
            return Err(Error::invalid(
                Self::WHAT,
                format!(
                    "ngf={} must be a multiple of 4 (stage II ends with ngf / 4 channels)",
                    self.ngf
                ),
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
                ("res_blocks", self.res_blocks),
                ("max_words", self.max_words),
            ],
        )
    }
}

/// Stage II: image [B, 3, S, S] -> conv3x3 (ReLU), two strided convs (BN,
/// ReLU) to [B, 4 ngf, S/4, S/4] -> [c tiled, that] -> conv3x3 (BN, ReLU)
/// -> residual blocks -> four upsamplings (4 ngf -> ngf / 4) -> conv3x3 ->
/// tanh: [B, 3, 4S, 4S].
pub struct Stage2 {
    ca: Linear,
    cond_dim: usize,
    enc: Vec<(Conv2d, Option<BatchNorm>)>,
    joint: Conv2d,
    joint_bn: BatchNorm,
    res: Vec<ResBlock>,
    ups: Vec<UpBlock>,
    to_image: Conv2d,
}

impl Stage2 {
    pub fn new(b: &mut ParamBuilder, c: &StackGanConfig) -> Self {
        let g = c.ngf;
        let n = "gen2";
        let conv = |b: &mut ParamBuilder, name: &str, spec: ConvSpec| {
            Conv2d::new(b, &format!("{n}.{name}"), spec)
        };
        let ca = Linear::new(b, "gen2.ca.fc", c.embed_dim, 4 * c.cond_dim, true, orth());
        let enc = vec![
            (conv(b, "enc0.conv", ConvSpec::same(3, g, 3, orth())), None),
            (
                conv(b, "enc1.conv", ConvSpec::strided(g, 2 * g, 4, 2, 1, orth())),
                Some(BatchNorm::new(b, "gen2.enc1.bn", 2 * g)),
            ),
            (
                conv(
                    b,
                    "enc2.conv",
                    ConvSpec::strided(2 * g, 4 * g, 4, 2, 1, orth()),
                ),
                Some(BatchNorm::new(b, "gen2.enc2.bn", 4 * g)),
            ),
        ];
        let joint = conv(
            b,
            "joint.conv",
            ConvSpec::same(4 * g + c.cond_dim, 4 * g, 3, orth()),
        );
        let joint_bn = BatchNorm::new(b, "gen2.joint.bn", 4 * g);
        let res = (0..c.res_blocks)
            .map(|r| ResBlock::new(b, &format!("gen2.res{r}"), 4 * g))
            .collect();
        let chans = [4 * g, 2 * g, g, g / 2, g / 4];
        let ups = (0..4)
            .map(|i| UpBlock::new(b, &format!("gen2.up{i}"), chans[i], chans[i + 1]))
            .collect();
        let to_image = conv(b, "image.conv", ConvSpec::same(g / 4, 3, 3, orth()));
        Stage2 {
            ca,
            cond_dim: c.cond_dim,
            enc,
            joint,
            joint_bn,
            res,
            ups,
            to_image,
        }
    }

    /// image: stage I's [B, 3, S, S]; eps: [B, cond]; sentence: [B, embed].
    /// Returns (the image [B, 3, 4S, 4S], mu, logvar).
    pub fn forward(
        &self,
        ps: &ParamStore,
        image: &Var,
        eps: &Var,
        sentence: &Var,
        training: bool,
    ) -> Result<(Var, Var, Var)> {
        let (cond, mu, logvar) = condition(&self.ca, ps, sentence, eps, self.cond_dim)?;
        let mut h = image.clone();
        for (conv, bn) in &self.enc {
            h = conv.forward(ps, &h)?;
            if let Some(bn) = bn {
                h = bn.forward(ps, &h, training)?;
            }
            h = h.relu()?;
        }
        let (b, k, side) = (h.shape()[0], cond.shape()[1], h.shape()[2]);
        let ones = Var::constant(fill::full(h.value().runtime(), &[1, 1, side, side], 1.0)?);
        let tiled = cond.reshape(&[b, k, 1, 1])?.mul(&ones)?;
        let x = ag::concat(&[&tiled, &h], 1)?;
        let mut h = self
            .joint_bn
            .forward(ps, &self.joint.forward(ps, &x)?, training)?
            .relu()?;
        for r in &self.res {
            h = r.forward(ps, &h, training)?;
        }
        for up in &self.ups {
            h = up.forward(ps, &h, training)?;
        }
        Ok((self.to_image.forward(ps, &h)?.tanh()?, mu, logvar))
    }
}

/// Both stages and their discriminators, each with its own store.
pub struct StackGan {
    pub config: StackGanConfig,
    pub gen1: stackgan_pp::Generator,
    pub gen1_params: ParamStore,
    pub disc1: Discriminator,
    pub disc1_params: ParamStore,
    pub gen2: Stage2,
    pub gen2_params: ParamStore,
    pub disc2: Discriminator,
    pub disc2_params: ParamStore,
}

impl StackGan {
    pub fn new(rt: &Runtime, config: StackGanConfig, seed: u64) -> Result<StackGan> {
        config.check()?;
        let s1 = config.stage1();
        let dconf = s1.as_attngan();
        let mut b1 = ParamBuilder::new(seed);
        let gen1 = stackgan_pp::Generator::new(&mut b1, &s1);
        let mut d1 = ParamBuilder::new(seed ^ 0xD15C);
        let disc1 = Discriminator::new(&mut d1, "disc1", &dconf, 0);
        let mut b2 = ParamBuilder::new(seed ^ 0x57A6E2);
        let gen2 = Stage2::new(&mut b2, &config);
        let mut d2 = ParamBuilder::new(seed ^ 0xD15C2);
        let disc2 = Discriminator::new(&mut d2, "disc2", &dconf, 2);
        Ok(StackGan {
            gen1_params: b1.build(rt)?,
            disc1_params: d1.build(rt)?,
            gen2_params: b2.build(rt)?,
            disc2_params: d2.build(rt)?,
            config,
            gen1,
            disc1,
            gen2,
            disc2,
        })
    }
}

/// StackGAN's D loss for one stage, on the code `cond` (mu, detached):
/// BCE(real, 1) + (BCE(real image i + 1 with code i, 0) + BCE(fake, 0)) / 2,
/// conditional logits only. The fakes are detached.
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
            "stackgan",
            "the mismatched pairs need at least 2 images a batch",
        ));
    }
    let label = |n: usize, v: f32| fill::full(&rt, &[n], v);
    let real_code = d.encode(ps, real)?;
    let fake_code = d.encode(ps, &fake.detach())?;
    let real_l = ag::bce_with_logits(&d.cond_logits(ps, &real_code, cond)?, &label(b, 1.0)?)?;
    let fake_l = ag::bce_with_logits(&d.cond_logits(ps, &fake_code, cond)?, &label(b, 0.0)?)?;
    let wrong_l = ag::bce_with_logits(
        &d.cond_logits(
            ps,
            &ag::narrow(&real_code, 0, 1, b - 1)?,
            &ag::narrow(cond, 0, 0, b - 1)?,
        )?,
        &label(b - 1, 0.0)?,
    )?;
    real_l.add(&wrong_l.add(&fake_l)?.mul_scalar(0.5)?)
}

/// G's adversarial loss: BCE(D(fake, code) -> 1).
pub fn generator_loss(d: &Discriminator, ps: &ParamStore, fake: &Var, cond: &Var) -> Result<Var> {
    let ones = fill::full(fake.value().runtime(), &[fake.shape()[0]], 1.0)?;
    ag::bce_with_logits(&d.cond_logits(ps, &d.encode(ps, fake)?, cond)?, &ones)
}
