//! AttnGAN (Xu et al. 2018): conditioning augmentation, a first generator
//! stage from noise and sentence, attentional refinement stages that attend
//! to the words, one discriminator per resolution, and the losses of the
//! released code (docs/attngan-reference.md). Sizes are configurable so
//! that the built-in world trains on a software GPU (2 stages, ngf 16).

use crate::autograd::{self as ag, Var};
use crate::nn::config::{check_nonzero, ModelConfig};
use crate::nn::layers::{Conv2d, ConvSpec, Linear};
use crate::nn::modules::BatchNorm;
use crate::nn::{Init, ParamBuilder, ParamStore};
use crate::ops::fill;
use crate::runtime::{Error, Result, Runtime, Tensor};

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
// Keys missing from a checkpoint's config take the birds values (so one from
// before `max_words` was recorded loads with 18, and one from before
// `base_size` with 64, what it was trained with).
#[serde(deny_unknown_fields, default = "AttnGanConfig::birds")]
pub struct AttnGanConfig {
    pub ngf: usize,
    pub ndf: usize,
    pub z_dim: usize,
    pub cond_dim: usize,
    /// The DAMSM space (word and sentence features).
    pub embed_dim: usize,
    /// Generator stages; each doubles the side of the one before.
    pub stages: usize,
    /// Side of the first stage's image: 64 as in the paper (stages 1, 2, 3
    /// give 64, 128, 256), or 32 (32, 64, 128), a quarter of the pixels for
    /// a software GPU. The first stage upsamples 4x4 log2(base_size / 4) times.
    pub base_size: usize,
    pub res_blocks: usize,
    /// Words per caption (T of the word features, the attention and the
    /// padding mask): the data set's limit, [`crate::data::Source::max_words`].
    /// 18 on birds and in checkpoints written before it was recorded.
    pub max_words: usize,
    /// MirrorGAN's GLAM: each refinement stage also attends to the
    /// sentence (its conditioning code) per pixel and channel, beside
    /// AttnGAN's word attention ([`Glam`]). False for AttnGAN (and in
    /// checkpoints written before MirrorGAN).
    pub glam: bool,
}

impl AttnGanConfig {
    /// AttnGAN on CUB.
    pub fn birds() -> Self {
        AttnGanConfig {
            ngf: 32,
            ndf: 64,
            z_dim: 100,
            cond_dim: 100,
            embed_dim: 256,
            stages: 3,
            base_size: 64,
            res_blocks: 2,
            max_words: crate::data::DEFAULT_MAX_WORDS,
            glam: false,
        }
    }

    /// Small enough for the built-in world on a software GPU, with every
    /// word of its captions.
    pub fn world() -> Self {
        AttnGanConfig {
            ngf: 16,
            ndf: 16,
            stages: 2,
            max_words: crate::data::world::WORLD_MAX_WORDS,
            ..Self::birds()
        }
    }

    pub fn image_size(&self, stage: usize) -> usize {
        self.base_size << stage
    }

    /// Upsamplings of the first stage (4x4 to `base_size`), and so the
    /// discriminators' downsamplings back to 4x4.
    pub fn first_stage_ups(&self) -> usize {
        (self.base_size / 4).trailing_zeros() as usize
    }
}

impl ModelConfig for AttnGanConfig {
    const WHAT: &'static str = "attngan config";

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

pub(crate) fn orth() -> Init {
    Init::Orthogonal(1.0)
}

/// nearest x2 -> conv3x3 (no bias) to 2*out -> BN -> GLU. [N, in, H, W] -> [N, out, 2H, 2W]
pub(crate) struct UpBlock {
    conv: Conv2d,
    bn: BatchNorm,
}

impl UpBlock {
    pub(crate) fn new(b: &mut ParamBuilder, name: &str, cin: usize, cout: usize) -> Self {
        UpBlock {
            conv: Conv2d::new(
                b,
                &format!("{name}.conv"),
                ConvSpec::same(cin, 2 * cout, 3, orth()),
            ),
            bn: BatchNorm::new(b, &format!("{name}.bn"), 2 * cout),
        }
    }

    pub(crate) fn forward(&self, ps: &ParamStore, x: &Var, training: bool) -> Result<Var> {
        let h = self.conv.forward(ps, &ag::upsample2x(x)?)?;
        ag::glu(&self.bn.forward(ps, &h, training)?)
    }
}

/// conv3x3 (C -> 2C) -> BN -> GLU -> conv3x3 (C -> C) -> BN, plus the input.
pub(crate) struct ResBlock {
    conv1: Conv2d,
    bn1: BatchNorm,
    conv2: Conv2d,
    bn2: BatchNorm,
}

impl ResBlock {
    pub(crate) fn new(b: &mut ParamBuilder, name: &str, c: usize) -> Self {
        ResBlock {
            conv1: Conv2d::new(
                b,
                &format!("{name}.conv1"),
                ConvSpec::same(c, 2 * c, 3, orth()),
            ),
            bn1: BatchNorm::new(b, &format!("{name}.bn1"), 2 * c),
            conv2: Conv2d::new(b, &format!("{name}.conv2"), ConvSpec::same(c, c, 3, orth())),
            bn2: BatchNorm::new(b, &format!("{name}.bn2"), c),
        }
    }

    pub(crate) fn forward(&self, ps: &ParamStore, x: &Var, training: bool) -> Result<Var> {
        let h = ag::glu(
            &self
                .bn1
                .forward(ps, &self.conv1.forward(ps, x)?, training)?,
        )?;
        self.bn2
            .forward(ps, &self.conv2.forward(ps, &h)?, training)?
            .add(x)
    }
}

/// What one generator pass returns.
pub struct Generated {
    /// One image per stage, `[B, 3, base << i, base << i]` in `[-1, 1]`.
    pub images: Vec<Var>,
    /// Per refinement stage: attention maps [B, P, T] (pixels of the stage's input).
    pub attention: Vec<Tensor>,
    pub mu: Var,
    pub logvar: Var,
}

/// Conditioning augmentation: sentence [B, embed] -> `ca` (to 4 cond) ->
/// GLU -> (mu, logvar); c = mu + exp(logvar / 2) * eps. Returns (c, mu, logvar).
pub(crate) fn condition(
    ca: &Linear,
    ps: &ParamStore,
    sentence: &Var,
    eps: &Var,
    cond_dim: usize,
) -> Result<(Var, Var, Var)> {
    let code = ag::glu(&ca.forward(ps, sentence)?)?; // [B, 2 cond]
    let mu = ag::narrow(&code, 1, 0, cond_dim)?;
    let logvar = ag::narrow(&code, 1, cond_dim, cond_dim)?;
    let cond = mu.add(&logvar.mul_scalar(0.5)?.exp()?.mul(eps)?)?;
    Ok((cond, mu, logvar))
}

/// Conditioning augmentation and the first stage, as StackGAN-v2 and
/// AttnGAN share them: sentence -> Linear -> GLU -> (mu, logvar), c = mu +
/// exp(logvar / 2) * eps; [c, z] -> Linear -> BN -> GLU -> 4x4 -> nearest
/// upsamplings (UpBlock) to `ngf` channels at the first stage's side.
pub(crate) struct FirstStage {
    ca: Linear,
    fc: Linear,
    fc_bn: BatchNorm,
    ups: Vec<UpBlock>,
    cond_dim: usize,
    /// Channels at 4x4.
    top: usize,
}

impl FirstStage {
    /// `n_up` upsamplings from 4x4; channels 2^n_up ngf at 4x4, halving to ngf.
    pub(crate) fn new(
        b: &mut ParamBuilder,
        embed_dim: usize,
        cond_dim: usize,
        z_dim: usize,
        ngf: usize,
        n_up: usize,
    ) -> Self {
        let ca = Linear::new(b, "gen.ca.fc", embed_dim, 4 * cond_dim, true, orth());
        // Channels from 4x4 down to g at the first stage's side: 16g, 8g,
        // 4g, 2g, g for base 64 (the paper's), 8g, 4g, 2g, g for base 32.
        let chans: Vec<usize> = (0..=n_up).map(|i| ngf << (n_up - i)).collect();
        let fc = Linear::new(
            b,
            "gen.stage1.fc",
            cond_dim + z_dim,
            chans[0] * 16 * 2,
            false,
            orth(),
        );
        let fc_bn = BatchNorm::new(b, "gen.stage1.fc_bn", chans[0] * 16 * 2);
        let ups = (0..n_up)
            .map(|i| {
                UpBlock::new(
                    b,
                    &format!("gen.stage1.up{}", i + 1),
                    chans[i],
                    chans[i + 1],
                )
            })
            .collect();
        FirstStage {
            ca,
            fc,
            fc_bn,
            ups,
            cond_dim,
            top: chans[0],
        }
    }

    /// noise: [B, z], eps: [B, cond], sentence: [B, embed] -> (h [B, ngf,
    /// S, S], the condition c, mu, logvar).
    pub(crate) fn forward(
        &self,
        ps: &ParamStore,
        noise: &Var,
        eps: &Var,
        sentence: &Var,
        training: bool,
    ) -> Result<(Var, Var, Var, Var)> {
        let b = noise.shape()[0];
        let (cond, mu, logvar) = condition(&self.ca, ps, sentence, eps, self.cond_dim)?;
        // [c, z] (the released INIT_STAGE_G's order) -> 16g x 4 x 4 -> the
        // upsamplings -> g x S x S.
        let cz = ag::concat(&[&cond, noise], 1)?;
        let h = ag::glu(
            &self
                .fc_bn
                .forward(ps, &self.fc.forward(ps, &cz)?, training)?,
        )?;
        let mut h = h.reshape(&[b, self.top, 4, 4])?;
        for up in &self.ups {
            h = up.forward(ps, &h, training)?;
        }
        Ok((h, cond, mu, logvar))
    }
}

/// MirrorGAN's global-local attention (GLAttentionGeneral in
/// qiaott/MirrorGAN) adds, beside the word context, a sentence context:
/// s = Linear(c) `[B, g]` from the conditioning code c; per pixel, a softmax
/// over channels of conv1x1(h * s) weights s; the stage's input is then
/// conv1x1 of [h, word context, weighted sentence] (3g -> 2g channels).
pub struct Glam {
    linear: Linear,
    vis: Conv2d,
    join: Conv2d,
}

impl Glam {
    fn new(b: &mut ParamBuilder, s: usize, c: &AttnGanConfig) -> Self {
        let g = c.ngf;
        Glam {
            linear: Linear::new(
                b,
                &format!("gen.stage{s}.att.linear"),
                c.cond_dim,
                g,
                true,
                orth(),
            ),
            vis: Conv2d::new(
                b,
                &format!("gen.stage{s}.att.conv_sentence_vis"),
                ConvSpec::same(g, g, 1, orth()),
            ),
            join: Conv2d::new(
                b,
                &format!("gen.stage{s}.conv"),
                ConvSpec::same(3 * g, 2 * g, 1, orth()),
            ),
        }
    }

    /// The sentence half: cond `[B, cond]`, h `[B, g, H, W]` -> (weighted
    /// sentence `[B, g, H, W]`, its attention over channels `[B, g, H, W]`).
    pub fn sentence(&self, ps: &ParamStore, cond: &Var, h: &Var) -> Result<(Var, Var)> {
        let (b, g) = (h.shape()[0], h.shape()[1]);
        let s = self.linear.forward(ps, cond)?.reshape(&[b, g, 1, 1])?;
        let vis = self.vis.forward(ps, &h.mul(&s)?)?; // [B, g, H, W]
        let attn = ag::masked_softmax(&vis, 1, 1.0, None)?; // over channels
        Ok((attn.mul(&s)?, attn))
    }

    /// [h, word context, weighted sentence] -> `[B, 2g, H, W]`.
    fn join(&self, ps: &ParamStore, cond: &Var, h: &Var, ctx: &Var) -> Result<Var> {
        let (ws, _) = self.sentence(ps, cond, h)?;
        self.join.forward(ps, &ag::concat(&[h, ctx, &ws], 1)?)
    }
}

/// The generator tree.
pub struct Generator {
    pub config: AttnGanConfig,
    first: FirstStage,
    /// Per refinement stage: word projection [ngf, embed], residual blocks, upsampling.
    word_proj: Vec<crate::nn::ParamId>,
    res: Vec<Vec<ResBlock>>,
    next_up: Vec<UpBlock>,
    to_image: Vec<Conv2d>,
    /// Per refinement stage with `glam` (MirrorGAN); empty for AttnGAN.
    pub glam: Vec<Glam>,
}

impl Generator {
    pub fn new(b: &mut ParamBuilder, c: &AttnGanConfig) -> Self {
        let g = c.ngf;
        let first = FirstStage::new(b, c.embed_dim, c.cond_dim, c.z_dim, g, c.first_stage_ups());
        let (mut word_proj, mut res, mut next_up, mut to_image) = (vec![], vec![], vec![], vec![]);
        let mut glam = vec![];
        to_image.push(Conv2d::new(
            b,
            "gen.image1.conv",
            ConvSpec::same(g, 3, 3, orth()),
        ));
        for s in 2..=c.stages {
            word_proj.push(b.param(
                format!("gen.stage{s}.att.conv_context.weight"),
                &[g, c.embed_dim],
                orth(),
            ));
            res.push(
                (0..c.res_blocks)
                    .map(|r| ResBlock::new(b, &format!("gen.stage{s}.res{r}"), 2 * g))
                    .collect(),
            );
            next_up.push(UpBlock::new(b, &format!("gen.stage{s}.up"), 2 * g, g));
            to_image.push(Conv2d::new(
                b,
                &format!("gen.image{s}.conv"),
                ConvSpec::same(g, 3, 3, orth()),
            ));
            if c.glam {
                glam.push(Glam::new(b, s, c));
            }
        }
        Generator {
            config: c.clone(),
            first,
            word_proj,
            res,
            next_up,
            to_image,
            glam,
        }
    }

    /// noise: [B, z], eps: [B, cond] (both N(0, 1)), sentence: [B, embed],
    /// words: [B, embed, T], mask: [B, T] (1 = padding).
    #[allow(clippy::too_many_arguments)]
    pub fn forward(
        &self,
        ps: &ParamStore,
        noise: &Var,
        eps: &Var,
        sentence: &Var,
        words: &Var,
        mask: &Tensor,
        training: bool,
    ) -> Result<Generated> {
        let c = &self.config;
        let (b, g) = (noise.shape()[0], c.ngf);
        // Conditioning augmentation and stage 1: g x 64 x 64 (base 32: 32 x 32).
        let (mut h, cond, mu, logvar) = self.first.forward(ps, noise, eps, sentence, training)?;
        let mut images = vec![self.to_image[0].forward(ps, &h)?.tanh()?];
        let mut attention = Vec::new();
        // Words projected once per stage into the generator's channels: [B, g, T].
        let words_t = ag::transpose_last2(words)?; // [B, T, embed]
        for s in 0..c.stages - 1 {
            let (hh, ww) = (h.shape()[2], h.shape()[3]);
            let proj =
                ag::transpose_last2(&words_t.matmul(ps.var(self.word_proj[s]), false, true)?)?; // [B, g, T]
            let q = h.reshape(&[b, g, hh * ww])?;
            let (ctx, attn) = ag::word_attention(&q, &proj, Some(mask))?;
            attention.push(attn);
            let ctx = ctx.reshape(&[b, g, hh, ww])?;
            let mut x = match self.glam.get(s) {
                Some(glam) => glam.join(ps, &cond, &h, &ctx)?, // MirrorGAN
                None => ag::concat(&[&h, &ctx], 1)?,
            };
            for r in &self.res[s] {
                x = r.forward(ps, &x, training)?;
            }
            h = self.next_up[s].forward(ps, &x, training)?;
            images.push(self.to_image[s + 1].forward(ps, &h)?.tanh()?);
        }
        Ok(Generated {
            images,
            attention,
            mu,
            logvar,
        })
    }
}

/// KL(N(mu, sigma) || N(0, I)) as AttnGAN computes it: -0.5 * mean(1 + logvar - mu^2 - exp(logvar)).
pub fn kl_loss(mu: &Var, logvar: &Var) -> Result<Var> {
    logvar
        .add_scalar(1.0)?
        .sub(&mu.square()?)?
        .sub(&logvar.exp()?)?
        .mean_all()?
        .mul_scalar(-0.5)
}

/// One discriminator: the 16x encoder, extra down blocks for larger images,
/// and the unconditional and sentence-conditional logits.
pub struct Discriminator {
    convs: Vec<(Conv2d, Option<BatchNorm>)>,
    joint: Conv2d,
    joint_bn: BatchNorm,
    uncond: Conv2d,
    cond: Conv2d,
}

impl Discriminator {
    pub fn new(b: &mut ParamBuilder, name: &str, c: &AttnGanConfig, stage: usize) -> Self {
        let d = c.ndf;
        // The released code initialises D as it does G (`weights_init`:
        // orthogonal convolutions), not DCGAN's N(0, 0.02).
        let init = orth();
        let mut convs = Vec::new();
        // Down to 4x4 with 8d channels: 3, d, 2d, 4d, 8d from 64 (the
        // paper's), 3, 2d, 4d, 8d from a first stage of 32.
        let n_down = c.first_stage_ups();
        let chans: Vec<usize> = std::iter::once(3)
            .chain((0..n_down).map(|i| (8 * d) >> (n_down - 1 - i)))
            .collect();
        for i in 0..n_down {
            let bn =
                (i > 0).then(|| BatchNorm::new(b, &format!("{name}.down{i}.bn"), chans[i + 1]));
            convs.push((
                Conv2d::new(
                    b,
                    &format!("{name}.down{i}.conv"),
                    ConvSpec::strided(chans[i], chans[i + 1], 4, 2, 1, init),
                ),
                bn,
            ));
        }
        // Each extra stage halves once more (8d -> 16d ...), then a 3x3 back to 8d.
        let mut cin = 8 * d;
        for k in 0..stage {
            let cout = cin * 2;
            convs.push((
                Conv2d::new(
                    b,
                    &format!("{name}.extra{k}.conv"),
                    ConvSpec::strided(cin, cout, 4, 2, 1, init),
                ),
                Some(BatchNorm::new(b, &format!("{name}.extra{k}.bn"), cout)),
            ));
            cin = cout;
        }
        for k in 0..stage {
            let cout = cin / 2;
            convs.push((
                Conv2d::new(
                    b,
                    &format!("{name}.back{k}.conv"),
                    ConvSpec::same(cin, cout, 3, init),
                ),
                Some(BatchNorm::new(b, &format!("{name}.back{k}.bn"), cout)),
            ));
            cin = cout;
        }
        Discriminator {
            convs,
            joint: Conv2d::new(
                b,
                &format!("{name}.joint.conv"),
                ConvSpec::same(8 * d + c.embed_dim, 8 * d, 3, init),
            ),
            joint_bn: BatchNorm::new(b, &format!("{name}.joint.bn"), 8 * d),
            uncond: Conv2d::new(
                b,
                &format!("{name}.uncond.conv"),
                ConvSpec::strided(8 * d, 1, 4, 4, 0, init).with_bias(),
            ),
            cond: Conv2d::new(
                b,
                &format!("{name}.cond.conv"),
                ConvSpec::strided(8 * d, 1, 4, 4, 0, init).with_bias(),
            ),
        }
    }

    /// The image code [B, 8 ndf, 4, 4].
    pub fn encode(&self, ps: &ParamStore, img: &Var) -> Result<Var> {
        let mut h = img.clone();
        for (conv, bn) in &self.convs {
            h = conv.forward(ps, &h)?;
            if let Some(bn) = bn {
                h = bn.forward(ps, &h, true)?;
            }
            h = h.leaky_relu(0.2)?;
        }
        Ok(h)
    }

    /// Unconditional logits `[B]`.
    pub fn uncond_logits(&self, ps: &ParamStore, code: &Var) -> Result<Var> {
        let b = code.shape()[0];
        self.uncond.forward(ps, code)?.reshape(&[b])
    }

    /// Logits of (image, sentence) matching `[B]`; sentence: `[B, embed]`.
    pub fn cond_logits(&self, ps: &ParamStore, code: &Var, sentence: &Var) -> Result<Var> {
        let (b, e) = (sentence.shape()[0], sentence.shape()[1]);
        let ones = Var::constant(fill::full(code.value().runtime(), &[1, 1, 4, 4], 1.0)?);
        let tiled = sentence.reshape(&[b, e, 1, 1])?.mul(&ones)?;
        let h = ag::concat(&[code, &tiled], 1)?;
        let h = self
            .joint_bn
            .forward(ps, &self.joint.forward(ps, &h)?, true)?
            .leaky_relu(0.2)?;
        self.cond.forward(ps, &h)?.reshape(&[b])
    }
}

/// The three parameter stores of a model: generator, discriminators (one
/// store each, so each has its own optimiser).
pub struct AttnGan {
    pub config: AttnGanConfig,
    pub gen: Generator,
    pub gen_params: ParamStore,
    pub discs: Vec<Discriminator>,
    pub disc_params: Vec<ParamStore>,
}

impl AttnGan {
    pub fn new(rt: &Runtime, config: AttnGanConfig, seed: u64) -> Result<AttnGan> {
        config.check()?;
        let mut gb = ParamBuilder::new(seed);
        let gen = Generator::new(&mut gb, &config);
        let mut discs = Vec::new();
        let mut disc_params = Vec::new();
        for s in 0..config.stages {
            let mut db = ParamBuilder::new(seed ^ (0xD15C + s as u64));
            discs.push(Discriminator::new(
                &mut db,
                &format!("disc{}", config.image_size(s)),
                &config,
                s,
            ));
            disc_params.push(db.build(rt)?);
        }
        Ok(AttnGan {
            gen_params: gb.build(rt)?,
            config,
            gen,
            discs,
            disc_params,
        })
    }
}

/// Labels `[B]` of one value, for the BCE losses.
pub fn labels(rt: &Runtime, b: usize, value: f32) -> Result<Tensor> {
    fill::full(rt, &[b], value)
}

/// The discriminator loss of one stage (AttnGAN's `discriminator_loss`):
/// (real_uncond + real_cond) / 2 + (fake_uncond + fake_cond + wrong_cond) / 3,
/// where "wrong" pairs real image i + 1 with sentence i.
///
/// With `contrast` (`[B, E]`, sentence i of a caption one attribute away
/// from image i's: hard negatives, not in the released code), wrong_cond is
/// the mean of that loss and of real image i against contrast sentence i,
/// both against "no match". A neighbour's caption differs in everything, so
/// colour alone tells it apart; a contrast caption differs in one place,
/// shape or size, so D must read that attribute to refuse it.
pub fn discriminator_loss(
    d: &Discriminator,
    ps: &ParamStore,
    real: &Var,
    fake: &Var,
    sentence: &Var,
    contrast: Option<&Var>,
) -> Result<Var> {
    let rt = real.value().runtime().clone();
    let b = real.shape()[0];
    let (ones, zeros) = (labels(&rt, b, 1.0)?, labels(&rt, b, 0.0)?);
    let real_code = d.encode(ps, real)?;
    let fake_code = d.encode(ps, &fake.detach())?;
    let real_u = ag::bce_with_logits(&d.uncond_logits(ps, &real_code)?, &ones)?;
    let real_c = ag::bce_with_logits(&d.cond_logits(ps, &real_code, sentence)?, &ones)?;
    let fake_u = ag::bce_with_logits(&d.uncond_logits(ps, &fake_code)?, &zeros)?;
    let fake_c = ag::bce_with_logits(&d.cond_logits(ps, &fake_code, sentence)?, &zeros)?;
    // Wrong pairs: images 1..B against sentences 0..B-1.
    let wrong_code = ag::narrow(&real_code, 0, 1, b - 1)?;
    let wrong_sent = ag::narrow(sentence, 0, 0, b - 1)?;
    let wrong_zeros = labels(&rt, b - 1, 0.0)?;
    let mut wrong_c =
        ag::bce_with_logits(&d.cond_logits(ps, &wrong_code, &wrong_sent)?, &wrong_zeros)?;
    if let Some(contrast) = contrast {
        let hard = ag::bce_with_logits(&d.cond_logits(ps, &real_code, contrast)?, &zeros)?;
        wrong_c = wrong_c.add(&hard)?.mul_scalar(0.5)?;
    }
    real_u
        .add(&real_c)?
        .mul_scalar(0.5)?
        .add(&fake_u.add(&fake_c)?.add(&wrong_c)?.mul_scalar(1.0 / 3.0)?)
}

/// The adversarial part of the generator loss at one stage: uncond + cond against "real".
pub fn generator_adversarial_loss(
    d: &Discriminator,
    ps: &ParamStore,
    fake: &Var,
    sentence: &Var,
) -> Result<Var> {
    let rt = fake.value().runtime().clone();
    let ones = labels(&rt, fake.shape()[0], 1.0)?;
    let code = d.encode(ps, fake)?;
    ag::bce_with_logits(&d.uncond_logits(ps, &code)?, &ones)?.add(&ag::bce_with_logits(
        &d.cond_logits(ps, &code, sentence)?,
        &ones,
    )?)
}
