//! DCGAN (Radford et al. 2016) and GAN-INT-CLS (Reed et al. 2016, released
//! code reedscot/icml2016) at 64x64 (32x32 for a software GPU): a generator
//! of transposed convolutions from noise, a discriminator of strided
//! convolutions. The conditional one (`text_dim > 0`) projects the sentence
//! embedding to 128 dimensions with LeakyReLU(0.2); G takes [z, projection]
//! and D joins the projection, tiled 4x4, to its 4x4 image code before its
//! last convolution. D is matching-aware (GAN-CLS): real image with its own
//! caption -> 1; real with another's and fake with its own -> 0, each
//! weighted 1/2. G is also trained on the mean of two captions' embeddings
//! (GAN-INT, beta 1/2).
//!
//! Departures, each for a reason: the text embedding is the frozen DAMSM
//! sentence encoder's, not the paper's char-CNN-RNN (not available here);
//! the "wrong" caption of item i is item i+1's (AttnGAN's choice; the
//! released code draws another of the batch at random); batch-norm scales
//! start at 1, not N(1, 0.02).

use crate::autograd::{self as ag, Var};
use crate::nn::config::{check_nonzero, ModelConfig};
use crate::nn::layers::{Conv2d, ConvSpec, ConvTranspose2d, Linear};
use crate::nn::modules::BatchNorm;
use crate::nn::{Init, ParamBuilder, ParamStore};
use crate::ops::fill;
use crate::runtime::{Error, Result, Runtime, Tensor};

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DcganConfig {
    pub ngf: usize,
    pub ndf: usize,
    pub z_dim: usize,
    /// The sentence embedding's size (the DAMSM's); 0 for the
    /// unconditional DCGAN.
    pub text_dim: usize,
    /// What the embedding is projected to (128 in GAN-INT-CLS).
    pub proj_dim: usize,
    /// 64 (the paper's) or 32.
    pub image_size: usize,
    /// Words per caption of the text encoder (the data set's limit).
    pub max_words: usize,
}

impl DcganConfig {
    /// GAN-INT-CLS at 64x64 over a `text_dim` embedding (0: plain DCGAN).
    pub fn paper(text_dim: usize) -> Self {
        DcganConfig {
            ngf: 64,
            ndf: 64,
            z_dim: 100,
            text_dim,
            proj_dim: 128,
            image_size: 64,
            max_words: crate::data::DEFAULT_MAX_WORDS,
        }
    }

    pub fn conditional(&self) -> bool {
        self.text_dim > 0
    }

    /// Doublings from 4x4 to the image (4 at 64, 3 at 32).
    pub fn ups(&self) -> usize {
        (self.image_size / 4).trailing_zeros() as usize
    }
}

impl ModelConfig for DcganConfig {
    const WHAT: &'static str = "dcgan config";

    fn check(&self) -> Result<()> {
        if self.image_size != 32 && self.image_size != 64 {
            return Err(Error::invalid(
                Self::WHAT,
                format!("image_size must be 32 or 64, got {}", self.image_size),
            ));
        }
        check_nonzero(
            Self::WHAT,
            &[
                ("ngf", self.ngf),
                ("ndf", self.ndf),
                ("z_dim", self.z_dim),
                ("proj_dim", self.proj_dim),
                ("max_words", self.max_words),
            ],
        )
    }
}

/// DCGAN's init: N(0, 0.02) for every convolution.
fn dcgan_init() -> Init {
    Init::Normal(0.02)
}

/// The sentence projection: Linear -> LeakyReLU(0.2). [B, text] -> [B, proj]
struct Projection(Linear);

impl Projection {
    fn new(b: &mut ParamBuilder, name: &str, c: &DcganConfig) -> Self {
        Projection(Linear::new(
            b,
            name,
            c.text_dim,
            c.proj_dim,
            true,
            dcgan_init(),
        ))
    }

    fn forward(&self, ps: &ParamStore, sentence: &Var) -> Result<Var> {
        self.0.forward(ps, sentence)?.leaky_relu(0.2)
    }
}

/// [z, proj(sentence)] as a 1x1 map -> 4x4 with 8 ngf channels (ConvT 4,
/// stride 1) -> doublings (ConvT 4, stride 2, pad 1; BN, ReLU), halving the
/// channels, to ngf -> ConvT to 3 channels -> tanh. [B, z] -> [B, 3, S, S]
pub struct Generator {
    proj: Option<Projection>,
    layers: Vec<(ConvTranspose2d, BatchNorm)>,
    out: ConvTranspose2d,
}

impl Generator {
    pub fn new(b: &mut ParamBuilder, c: &DcganConfig) -> Self {
        let proj = c.conditional().then(|| Projection::new(b, "gen.proj", c));
        let input = c.z_dim + if c.conditional() { c.proj_dim } else { 0 };
        let ups = c.ups();
        // Channels: 8 ngf at 4x4, halving at each doubling but the last.
        let chans: Vec<usize> = (0..ups).map(|i| (8 * c.ngf) >> i).collect();
        let mut layers = Vec::new();
        for (i, &ch) in chans.iter().enumerate() {
            let spec = if i == 0 {
                ConvSpec::strided(input, ch, 4, 1, 0, dcgan_init())
            } else {
                ConvSpec::strided(chans[i - 1], ch, 4, 2, 1, dcgan_init())
            };
            layers.push((
                ConvTranspose2d::new(b, &format!("gen.up{i}.conv"), spec),
                BatchNorm::new(b, &format!("gen.up{i}.bn"), ch),
            ));
        }
        let out = ConvTranspose2d::new(
            b,
            "gen.out.conv",
            ConvSpec::strided(chans[ups - 1], 3, 4, 2, 1, dcgan_init()),
        );
        Generator { proj, layers, out }
    }

    /// noise: [B, z]; sentence: [B, text] for the conditional one.
    pub fn forward(
        &self,
        ps: &ParamStore,
        noise: &Var,
        sentence: Option<&Var>,
        training: bool,
    ) -> Result<Var> {
        let b = noise.shape()[0];
        let input = match (&self.proj, sentence) {
            (Some(p), Some(s)) => ag::concat(&[noise, &p.forward(ps, s)?], 1)?,
            (None, None) => noise.clone(),
            _ => {
                return Err(Error::invalid(
                    "dcgan",
                    "a conditional generator needs a sentence, an unconditional one takes none",
                ))
            }
        };
        let c = input.shape()[1];
        let mut h = input.reshape(&[b, c, 1, 1])?;
        for (conv, bn) in &self.layers {
            h = bn.forward(ps, &conv.forward(ps, &h)?, training)?.relu()?;
        }
        self.out.forward(ps, &h)?.tanh()
    }
}

/// Strided convolutions (4, stride 2, pad 1; BN after the first; LeakyReLU
/// 0.2) from the image down to 4x4 with 8 ndf channels; the conditional one
/// then joins the tiled projection and mixes with a 1x1 convolution (BN,
/// LeakyReLU); a 4x4 convolution gives the logit.
pub struct Discriminator {
    proj: Option<Projection>,
    downs: Vec<(Conv2d, Option<BatchNorm>)>,
    joint: Option<(Conv2d, BatchNorm)>,
    out: Conv2d,
}

impl Discriminator {
    pub fn new(b: &mut ParamBuilder, c: &DcganConfig) -> Self {
        let ups = c.ups();
        let d = c.ndf;
        // 3 -> ... -> 8 ndf at 4x4: 3, d, 2d, 4d, 8d from 64; 3, 2d, 4d, 8d from 32.
        let chans: Vec<usize> = std::iter::once(3)
            .chain((0..ups).map(|i| (8 * d) >> (ups - 1 - i)))
            .collect();
        let downs = (0..ups)
            .map(|i| {
                let conv = Conv2d::new(
                    b,
                    &format!("disc.down{i}.conv"),
                    ConvSpec::strided(chans[i], chans[i + 1], 4, 2, 1, dcgan_init()),
                );
                let bn =
                    (i > 0).then(|| BatchNorm::new(b, &format!("disc.down{i}.bn"), chans[i + 1]));
                (conv, bn)
            })
            .collect();
        let (proj, joint) = if c.conditional() {
            let conv = Conv2d::new(
                b,
                "disc.joint.conv",
                ConvSpec::strided(8 * d + c.proj_dim, 8 * d, 1, 1, 0, dcgan_init()),
            );
            (
                Some(Projection::new(b, "disc.proj", c)),
                Some((conv, BatchNorm::new(b, "disc.joint.bn", 8 * d))),
            )
        } else {
            (None, None)
        };
        let out = Conv2d::new(
            b,
            "disc.out.conv",
            ConvSpec::strided(8 * d, 1, 4, 1, 0, dcgan_init()),
        );
        Discriminator {
            proj,
            downs,
            joint,
            out,
        }
    }

    /// Logits `[B]` of (image, sentence) being real and matching (real,
    /// for the unconditional one).
    pub fn logits(&self, ps: &ParamStore, img: &Var, sentence: Option<&Var>) -> Result<Var> {
        let b = img.shape()[0];
        let mut h = img.clone();
        for (conv, bn) in &self.downs {
            h = conv.forward(ps, &h)?;
            if let Some(bn) = bn {
                h = bn.forward(ps, &h, true)?;
            }
            h = h.leaky_relu(0.2)?;
        }
        if let (Some(p), Some((conv, bn)), Some(s)) = (&self.proj, &self.joint, sentence) {
            let e = p.forward(ps, s)?;
            let k = e.shape()[1];
            let ones = Var::constant(fill::full(img.value().runtime(), &[1, 1, 4, 4], 1.0)?);
            let tiled = e.reshape(&[b, k, 1, 1])?.mul(&ones)?;
            let joined = ag::concat(&[&h, &tiled], 1)?;
            h = bn
                .forward(ps, &conv.forward(ps, &joined)?, true)?
                .leaky_relu(0.2)?;
        } else if self.proj.is_some() != sentence.is_some() {
            return Err(Error::invalid(
                "dcgan",
                "a conditional discriminator needs a sentence, an unconditional one takes none",
            ));
        }
        self.out.forward(ps, &h)?.reshape(&[b])
    }
}

/// G and D with a parameter store each (each has its own optimiser).
pub struct Dcgan {
    pub config: DcganConfig,
    pub gen: Generator,
    pub gen_params: ParamStore,
    pub disc: Discriminator,
    pub disc_params: ParamStore,
}

impl Dcgan {
    pub fn new(rt: &Runtime, config: DcganConfig, seed: u64) -> Result<Dcgan> {
        config.check()?;
        let mut gb = ParamBuilder::new(seed);
        let gen = Generator::new(&mut gb, &config);
        let mut db = ParamBuilder::new(seed ^ 0xD15C);
        let disc = Discriminator::new(&mut db, &config);
        Ok(Dcgan {
            gen_params: gb.build(rt)?,
            disc_params: db.build(rt)?,
            config,
            gen,
            disc,
        })
    }
}

fn labels(rt: &Runtime, b: usize, value: f32) -> Result<Tensor> {
    fill::full(rt, &[b], value)
}

/// Sentence i+1's embedding for item i (the last takes the first): the
/// "wrong" captions of the matching-aware discriminator. [B, E] -> [B, E]
pub fn shifted(sentence: &Var) -> Result<Var> {
    let b = sentence.shape()[0];
    if b < 2 {
        return Err(Error::invalid(
            "dcgan",
            "the matching-aware loss needs at least 2 captions a batch",
        ));
    }
    let head = ag::narrow(sentence, 0, 1, b - 1)?;
    let tail = ag::narrow(sentence, 0, 0, 1)?;
    ag::concat(&[&head, &tail], 0)
}

/// D's loss. GAN-CLS (with a sentence): BCE(real, right) + (BCE(real,
/// wrong -> 0) + BCE(fake, right -> 0)) / 2; plain DCGAN: BCE(real) +
/// BCE(fake -> 0). The fakes are detached.
pub fn discriminator_loss(
    d: &Discriminator,
    ps: &ParamStore,
    real: &Var,
    fake: &Var,
    sentence: Option<&Var>,
) -> Result<Var> {
    let rt = real.value().runtime().clone();
    let b = real.shape()[0];
    let (ones, zeros) = (labels(&rt, b, 1.0)?, labels(&rt, b, 0.0)?);
    let real_loss = ag::bce_with_logits(&d.logits(ps, real, sentence)?, &ones)?;
    let fake_loss = ag::bce_with_logits(&d.logits(ps, &fake.detach(), sentence)?, &zeros)?;
    match sentence {
        Some(s) => {
            let wrong = ag::bce_with_logits(&d.logits(ps, real, Some(&shifted(s)?))?, &zeros)?;
            real_loss.add(&wrong.add(&fake_loss)?.mul_scalar(0.5)?)
        }
        None => real_loss.add(&fake_loss),
    }
}

/// G's loss on its fakes: BCE(D(fake, sentence) -> 1).
pub fn generator_loss(
    d: &Discriminator,
    ps: &ParamStore,
    fake: &Var,
    sentence: Option<&Var>,
) -> Result<Var> {
    let ones = labels(fake.value().runtime(), fake.shape()[0], 1.0)?;
    ag::bce_with_logits(&d.logits(ps, fake, sentence)?, &ones)
}

/// GAN-INT's interpolated embeddings: beta * e_i + (1 - beta) * e_{i+1}.
pub fn interpolated(sentence: &Var, beta: f32) -> Result<Var> {
    sentence
        .mul_scalar(beta)?
        .add(&shifted(sentence)?.mul_scalar(1.0 - beta)?)
}
