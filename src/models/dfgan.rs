//! DF-GAN (Tao et al. 2022, tobran/DF-GAN): one generator stage from 4x4
//! to the output size whose blocks fuse the sentence at every scale with
//! affine transforms, a one-way discriminator that joins image features
//! with the sentence, the hinge loss, and the matching-aware gradient
//! penalty MA-GP = 2 mean(|grad_(image, sentence) D(real, sentence)|^6),
//! which needs gradients of gradients ([`crate::autograd::grad`]).
//!
//! Sizes, as the released code's `get_G_in_out_chs` / `get_D_in_out_chs`:
//! with L = log2(size) - 1 levels of channels ngf * min(2^i, 8), G runs
//! them from the widest down (4x4 up to the output side, one upsampling
//! block each) and D from the narrowest up (the output side down to 4x4).
//! Weights start from PyTorch's default U(+-1/sqrt(fan in)) as the released
//! code leaves them, biases from 0 (PyTorch draws them from the same
//! uniform), the affine transforms' last layers at gamma = 1, beta = 0.

use crate::autograd::{self as ag, Var};
use crate::nn::config::{check_nonzero, ModelConfig};
use crate::nn::layers::{Conv2d, ConvSpec, Linear};
use crate::nn::{Init, ParamBuilder, ParamStore};
use crate::runtime::{Error, Result, Runtime};

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DfganConfig {
    pub ngf: usize,
    pub ndf: usize,
    /// Noise (100 in the paper).
    pub z_dim: usize,
    /// The sentence embedding (the DAMSM's, 256).
    pub text_dim: usize,
    /// Output side: a power of two from 16 to 256.
    pub image_size: usize,
    /// Words per caption the text encoder reads.
    pub max_words: usize,
}

impl DfganConfig {
    /// The released birds configuration at `image_size` (256 there).
    pub fn paper(image_size: usize, max_words: usize) -> Self {
        DfganConfig {
            ngf: 32,
            ndf: 32,
            z_dim: 100,
            text_dim: 256,
            image_size,
            max_words,
        }
    }

    /// Channels per level, narrowest first: ngf * min(2^i, 8), i < log2(size) - 1.
    pub fn levels(&self, base: usize) -> Vec<usize> {
        let l = self.image_size.trailing_zeros() as usize - 1;
        (0..l).map(|i| base * (1usize << i).min(8)).collect()
    }
}

impl ModelConfig for DfganConfig {
    const WHAT: &'static str = "dfgan config";

    fn check(&self) -> Result<()> {
        check_nonzero(
            Self::WHAT,
            &[
                ("ngf", self.ngf),
                ("ndf", self.ndf),
                ("z_dim", self.z_dim),
                ("text_dim", self.text_dim),
                ("max_words", self.max_words),
            ],
        )?;
        if !self.image_size.is_power_of_two() || !(16..=256).contains(&self.image_size) {
            return Err(Error::invalid(
                Self::WHAT,
                format!(
                    "image_size={} must be a power of two from 16 to 256",
                    self.image_size
                ),
            ));
        }
        Ok(())
    }
}

fn init() -> Init {
    Init::DefaultUniform
}

fn conv(b: &mut ParamBuilder, name: &str, cin: usize, cout: usize, k: usize, bias: bool) -> Conv2d {
    let spec = ConvSpec::same(cin, cout, k, init()).bias(bias);
    Conv2d::new(b, name, spec)
}

/// gamma(c) * x + beta(c), each a two-layer MLP (Linear, ReLU, Linear) of
/// the condition c; the last layers start at gamma = 1, beta = 0.
/// x: `[B, C, H, W]`, c: `[B, cond]` -> `[B, C, H, W]`
pub struct Affine {
    gamma: (Linear, Linear),
    beta: (Linear, Linear),
}

impl Affine {
    pub fn new(b: &mut ParamBuilder, name: &str, cond: usize, c: usize) -> Self {
        let mut mlp = |which: &str, start: f32| {
            let first = Linear::new(
                b,
                &format!("{name}.fc_{which}.linear1"),
                cond,
                c,
                true,
                init(),
            );
            let last = Linear {
                weight: b.param(
                    format!("{name}.fc_{which}.linear2.weight"),
                    &[c, c],
                    Init::Zeros,
                ),
                bias: Some(b.param(
                    format!("{name}.fc_{which}.linear2.bias"),
                    &[c],
                    Init::Constant(start),
                )),
            };
            (first, last)
        };
        let gamma = mlp("gamma", 1.0);
        let beta = mlp("beta", 0.0);
        Affine { gamma, beta }
    }

    pub fn forward(&self, ps: &ParamStore, x: &Var, cond: &Var) -> Result<Var> {
        let (b, c) = (x.shape()[0], x.shape()[1]);
        let mlp = |(l1, l2): &(Linear, Linear)| -> Result<Var> {
            l2.forward(ps, &l1.forward(ps, cond)?.relu()?)?
                .reshape(&[b, c, 1, 1])
        };
        x.mul(&mlp(&self.gamma)?)?.add(&mlp(&self.beta)?)
    }
}

/// DF-GAN's generator block: x2 nearest upsampling, then a shortcut
/// (conv1x1 where the channels change) plus the residual: fuse (affine,
/// LReLU, affine, LReLU), conv3x3, fuse, conv3x3.
struct GBlock {
    fuse1: [Affine; 2],
    c1: Conv2d,
    fuse2: [Affine; 2],
    c2: Conv2d,
    shortcut: Option<Conv2d>,
}

fn fuse(ps: &ParamStore, f: &[Affine; 2], x: &Var, cond: &Var) -> Result<Var> {
    let h = f[0].forward(ps, x, cond)?.leaky_relu(0.2)?;
    f[1].forward(ps, &h, cond)?.leaky_relu(0.2)
}

impl GBlock {
    fn new(b: &mut ParamBuilder, name: &str, cond: usize, cin: usize, cout: usize) -> Self {
        GBlock {
            fuse1: [
                Affine::new(b, &format!("{name}.fuse1.affine0"), cond, cin),
                Affine::new(b, &format!("{name}.fuse1.affine1"), cond, cin),
            ],
            c1: conv(b, &format!("{name}.c1"), cin, cout, 3, true),
            fuse2: [
                Affine::new(b, &format!("{name}.fuse2.affine0"), cond, cout),
                Affine::new(b, &format!("{name}.fuse2.affine1"), cond, cout),
            ],
            c2: conv(b, &format!("{name}.c2"), cout, cout, 3, true),
            shortcut: (cin != cout).then(|| conv(b, &format!("{name}.c_sc"), cin, cout, 1, true)),
        }
    }

    fn forward(&self, ps: &ParamStore, x: &Var, cond: &Var) -> Result<Var> {
        let x = ag::upsample2x(x)?;
        let short = match &self.shortcut {
            Some(c) => c.forward(ps, &x)?,
            None => x.clone(),
        };
        let h = self.c1.forward(ps, &fuse(ps, &self.fuse1, &x, cond)?)?;
        let h = self.c2.forward(ps, &fuse(ps, &self.fuse2, &h, cond)?)?;
        short.add(&h)
    }
}

/// NetG: noise `[B, z]`, sentence `[B, text]` -> images `[B, 3, S, S]` in [-1, 1].
pub struct Generator {
    fc: Linear,
    blocks: Vec<GBlock>,
    to_rgb: Conv2d,
    top: usize,
}

impl Generator {
    fn new(b: &mut ParamBuilder, c: &DfganConfig) -> Self {
        let mut chans = c.levels(c.ngf);
        chans.reverse(); // widest first
        let cond = c.z_dim + c.text_dim;
        let top = chans[0];
        let fc = Linear::new(b, "gen.fc", c.z_dim, top * 16, true, init());
        let blocks = chans
            .windows(2)
            .enumerate()
            .map(|(i, w)| GBlock::new(b, &format!("gen.block{i}"), cond, w[0], w[1]))
            .collect();
        let last = *chans.last().unwrap_or(&top);
        Generator {
            fc,
            blocks,
            to_rgb: conv(b, "gen.to_rgb", last, 3, 3, true),
            top,
        }
    }

    pub fn forward(&self, ps: &ParamStore, noise: &Var, sentence: &Var) -> Result<Var> {
        let b = noise.shape()[0];
        let mut h = self.fc.forward(ps, noise)?.reshape(&[b, self.top, 4, 4])?;
        let cond = ag::concat(&[noise, sentence], 1)?;
        for block in &self.blocks {
            h = block.forward(ps, &h, &cond)?;
        }
        self.to_rgb.forward(ps, &h.leaky_relu(0.2)?)?.tanh()
    }
}

/// DF-GAN's discriminator block: the residual conv4x4 stride 2 (no bias),
/// LReLU, conv3x3 (no bias), LReLU, times a learned gamma (starting at 0),
/// plus the shortcut (conv1x1 where the channels change) average-pooled by 2.
struct DBlock {
    r1: Conv2d,
    r2: Conv2d,
    shortcut: Option<Conv2d>,
    gamma: crate::nn::ParamId,
}

impl DBlock {
    fn new(b: &mut ParamBuilder, name: &str, cin: usize, cout: usize) -> Self {
        DBlock {
            r1: Conv2d::new(
                b,
                &format!("{name}.conv_r0"),
                ConvSpec::strided(cin, cout, 4, 2, 1, init()),
            ),
            r2: conv(b, &format!("{name}.conv_r2"), cout, cout, 3, false),
            shortcut: (cin != cout).then(|| conv(b, &format!("{name}.conv_s"), cin, cout, 1, true)),
            gamma: b.param(format!("{name}.gamma"), &[1], Init::Zeros),
        }
    }

    fn forward(&self, ps: &ParamStore, x: &Var) -> Result<Var> {
        let res = self
            .r2
            .forward(ps, &self.r1.forward(ps, x)?.leaky_relu(0.2)?)?
            .leaky_relu(0.2)?;
        let short = match &self.shortcut {
            Some(c) => c.forward(ps, x)?,
            None => x.clone(),
        };
        ag::avg_pool2d(&short, 2, 2)?.add(&res.mul(ps.var(self.gamma))?)
    }
}

/// NetD (images `[B, 3, S, S]` -> features `[B, 8 ndf, 4, 4]`) and NetC
/// (features and sentence -> one logit per image `[B]`).
pub struct Discriminator {
    conv_img: Conv2d,
    blocks: Vec<DBlock>,
    joint1: Conv2d,
    joint2: Conv2d,
}

impl Discriminator {
    fn new(b: &mut ParamBuilder, c: &DfganConfig) -> Self {
        let chans = c.levels(c.ndf);
        let blocks = chans
            .windows(2)
            .enumerate()
            .map(|(i, w)| DBlock::new(b, &format!("disc.block{i}"), w[0], w[1]))
            .collect();
        let top = *chans.last().unwrap_or(&c.ndf);
        Discriminator {
            conv_img: conv(b, "disc.conv_img", 3, chans[0], 3, true),
            blocks,
            joint1: conv(b, "disc.joint_conv0", top + c.text_dim, 2 * c.ndf, 3, false),
            joint2: Conv2d::new(
                b,
                "disc.joint_conv2",
                ConvSpec::strided(2 * c.ndf, 1, 4, 1, 0, init()),
            ),
        }
    }

    pub fn features(&self, ps: &ParamStore, images: &Var) -> Result<Var> {
        let mut h = self.conv_img.forward(ps, images)?;
        for block in &self.blocks {
            h = block.forward(ps, &h)?;
        }
        Ok(h)
    }

    /// features `[B, C, 4, 4]`, sentence `[B, text]` -> `[B]`
    pub fn logits(&self, ps: &ParamStore, features: &Var, sentence: &Var) -> Result<Var> {
        let (b, t) = (sentence.shape()[0], sentence.shape()[1]);
        let rt = features.value().runtime();
        let tiles = Var::constant(crate::ops::fill::full(rt, &[1, 1, 4, 4], 1.0)?);
        let s = sentence.reshape(&[b, t, 1, 1])?.mul(&tiles)?; // [B, text, 4, 4]
        let h = ag::concat(&[features, &s], 1)?;
        let h = self.joint1.forward(ps, &h)?.leaky_relu(0.2)?;
        self.joint2.forward(ps, &h)?.reshape(&[b])
    }
}

/// G and D, each in its own parameter store.
pub struct Dfgan {
    pub config: DfganConfig,
    pub gen: Generator,
    pub gen_params: ParamStore,
    pub disc: Discriminator,
    pub disc_params: ParamStore,
}

impl Dfgan {
    pub fn new(rt: &Runtime, config: DfganConfig, seed: u64) -> Result<Dfgan> {
        config.check()?;
        let mut gb = ParamBuilder::new(seed);
        let gen = Generator::new(&mut gb, &config);
        let mut db = ParamBuilder::new(seed ^ 0x0D15_C0DE);
        let disc = Discriminator::new(&mut db, &config);
        Ok(Dfgan {
            gen_params: gb.build(rt)?,
            disc_params: db.build(rt)?,
            config,
            gen,
            disc,
        })
    }
}

/// mean(relu(1 - x)) for `real`, mean(relu(1 + x)) otherwise: `[1]`.
pub fn hinge(logits: &Var, real: bool) -> Result<Var> {
    if real {
        logits.rsub_scalar(1.0)?.relu()?.mean_all()
    } else {
        logits.add_scalar(1.0)?.relu()?.mean_all()
    }
}

/// MA-GP: 2 * mean over images of |(d logit / d image, d logit / d sentence)|^6,
/// the gradients recorded (so that the penalty trains D).
/// logits `[B]` of (images, sentences), both leaves that require gradients.
pub fn ma_gp(logits: &Var, images: &Var, sentence: &Var) -> Result<Var> {
    let b = images.shape()[0];
    let g = ag::grad(logits, &[images, sentence], true)?;
    let flat = ag::concat(
        &[
            &g[0].reshape(&[b, images.value().numel() / b])?,
            &g[1].reshape(&[b, sentence.value().numel() / b])?,
        ],
        1,
    )?;
    let sq = flat.square()?.sum(1, false)?; // |grad|^2 per image
    sq.mul(&sq.square()?)?.mean_all()?.mul_scalar(2.0)
}

/// D's loss and its parts (real, mismatched, fake, MA-GP), as DF-GAN's
/// train loop: real + (fake + mismatched) / 2 + MA-GP, where the
/// mismatched pairs are each real image's features with the next caption
/// (the batch rolled by one). `real` and `sentence` must require gradients.
pub fn discriminator_loss(
    d: &Discriminator,
    ps: &ParamStore,
    real: &Var,
    fake: &Var,
    sentence: &Var,
) -> Result<(Var, [Var; 4])> {
    let b = real.shape()[0];
    let rf = d.features(ps, real)?;
    let pred_real = d.logits(ps, &rf, sentence)?;
    let rolled = ag::concat(
        &[&ag::narrow(&rf, 0, 1, b - 1)?, &ag::narrow(&rf, 0, 0, 1)?],
        0,
    )?;
    let pred_mis = d.logits(ps, &rolled, sentence)?;
    let pred_fake = d.logits(ps, &d.features(ps, fake)?, sentence)?;
    let parts = [
        hinge(&pred_real, true)?,
        hinge(&pred_mis, false)?,
        hinge(&pred_fake, false)?,
        ma_gp(&pred_real, real, sentence)?,
    ];
    let total = parts[0]
        .add(&parts[2].add(&parts[1])?.mul_scalar(0.5)?)?
        .add(&parts[3])?;
    Ok((total, parts))
}

/// G's loss: -mean(D's logits of its images with their captions).
pub fn generator_loss(
    d: &Discriminator,
    ps: &ParamStore,
    fake: &Var,
    sentence: &Var,
) -> Result<Var> {
    d.logits(ps, &d.features(ps, fake)?, sentence)?
        .mean_all()?
        .neg()
}
