//! DAMSM (AttnGAN, Xu et al. 2018): a text encoder (embedding -> dropout ->
//! bidirectional LSTM) and an image encoder (a CNN trained from scratch, since
//! no pretrained Inception can be downloaded) mapped into one 256-d space,
//! trained with the word- and sentence-level matching losses exactly as the
//! released code computes them (docs/attngan-reference.md).

use crate::autograd::{self as ag, Var};
use crate::nn::config::{check_nonzero, ModelConfig};
use crate::nn::layers::{Conv2d, ConvSpec, Linear};
use crate::nn::modules::{BatchNorm, BiLstm, Embedding};
use crate::nn::{Init, ParamBuilder, ParamStore};
use crate::ops::fill;
use crate::runtime::{Error, Result, Runtime, Tensor};

/// Sizes and loss constants.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default = "DamsmConfig::legacy_default")]
pub struct DamsmConfig {
    pub vocab: usize,
    pub word_dim: usize,
    /// Per LSTM direction; the joint space has 2 * hidden dimensions.
    pub hidden: usize,
    pub image_size: usize,
    /// Channels of the image encoder's first layer (doubling at each downsampling).
    pub base_channels: usize,
    pub dropout: f32,
    pub gamma1: f32,
    pub gamma2: f32,
    pub gamma3: f32,
    /// Words per caption (the data set's limit, [`crate::data::Source::max_words`]);
    /// 18 in checkpoints written before it was recorded.
    pub max_words: usize,
    /// The image encoder knows where things are: the global feature is a
    /// linear map of the whole last feature map (not of its mean), and each
    /// region's feature sees the region's coordinates. A departure from
    /// AttnGAN, whose pooled Inception features and content-only regions
    /// cannot tell "at the top left" from "at the bottom right" (`engine
    /// eval attributes`); false in checkpoints from before it.
    pub positional: bool,
}

impl DamsmConfig {
    pub fn new(vocab: usize) -> Self {
        DamsmConfig {
            vocab,
            word_dim: 300,
            hidden: 128,
            image_size: 64,
            base_channels: 16,
            dropout: 0.5,
            gamma1: 4.0,
            gamma2: 5.0,
            gamma3: 10.0,
            max_words: crate::data::DEFAULT_MAX_WORDS,
            positional: false,
        }
    }

    pub fn embed_dim(&self) -> usize {
        2 * self.hidden
    }

    fn legacy_default() -> Self {
        DamsmConfig::new(0)
    }
}

impl ModelConfig for DamsmConfig {
    // Keys missing from a checkpoint take [`DamsmConfig::new`]'s values
    // (`max_words` 18).
    const WHAT: &'static str = "damsm config";

    fn check(&self) -> Result<()> {
        let bad = |m: String| Err(Error::invalid(Self::WHAT, m));
        check_nonzero(
            Self::WHAT,
            &[
                ("vocab", self.vocab),
                ("word_dim", self.word_dim),
                ("hidden", self.hidden),
                ("base_channels", self.base_channels),
                ("max_words", self.max_words),
            ],
        )?;
        if !(16..=512).contains(&self.image_size) || !self.image_size.is_multiple_of(8) {
            return bad(format!(
                "image_size={} must be a multiple of 8 from 16 to 512",
                self.image_size
            ));
        }
        for (name, v) in [
            ("dropout", self.dropout),
            ("gamma1", self.gamma1),
            ("gamma2", self.gamma2),
            ("gamma3", self.gamma3),
        ] {
            if !v.is_finite() || v < 0.0 {
                return bad(format!("{name}={v} must be a finite, non-negative number"));
            }
        }
        Ok(())
    }
}

/// RNN_ENCODER: ids [B, T] -> words [B, 2H, T], sentence [B, 2H].
pub struct TextEncoder {
    pub embedding: Embedding,
    pub lstm: BiLstm,
    pub dropout: f32,
}

impl TextEncoder {
    pub fn new(b: &mut ParamBuilder, c: &DamsmConfig) -> Self {
        TextEncoder {
            embedding: Embedding::new(b, "text.encoder", c.vocab, c.word_dim, Init::Uniform(0.1)),
            lstm: BiLstm::new(b, "text.rnn", c.word_dim, c.hidden),
            dropout: c.dropout,
        }
    }

    /// ids: [B, T] whole numbers as f32; lengths: B values (at least 1 each).
    pub fn forward(
        &self,
        ps: &ParamStore,
        ids: &Tensor,
        lengths: &[usize],
        training: bool,
        seed: u64,
    ) -> Result<(Var, Var)> {
        let x = self.embedding.forward(ps, ids)?; // [B, T, word_dim]
        let x = ag::dropout(&x, self.dropout, seed, training)?;
        let (outputs, sentence) = self.lstm.forward(ps, &x, lengths)?; // [B, T, 2H], [B, 2H]
        Ok((ag::transpose_last2(&outputs)?, sentence))
    }
}

/// The image encoder: images [B, 3, S, S] in [-1, 1] -> regions [B, D, R]
/// (R = (S/8)^2) and a global feature [B, D].
pub struct ImageEncoder {
    convs: Vec<(Conv2d, Option<BatchNorm>)>,
    regions: Conv2d,
    global: Linear,
    positional: bool,
}

impl ImageEncoder {
    pub fn new(b: &mut ParamBuilder, c: &DamsmConfig) -> Self {
        let ch = c.base_channels;
        let init = Init::Normal(0.02);
        let mut convs = vec![(
            Conv2d::new(b, "image.conv0", ConvSpec::same(3, ch, 3, init)),
            Some(BatchNorm::new(b, "image.bn0", ch)),
        )];
        let mut cin = ch;
        for i in 1..=3 {
            let cout = cin * 2;
            convs.push((
                Conv2d::new(
                    b,
                    &format!("image.conv{i}"),
                    ConvSpec::strided(cin, cout, 4, 2, 1, init),
                ),
                Some(BatchNorm::new(b, &format!("image.bn{i}"), cout)),
            ));
            cin = cout;
        }
        // positional: two coordinate channels beside the map; the global
        // map's whole [cin, S/8, S/8] instead of its mean.
        let grid = c.image_size / 8;
        let (region_in, global_in) = if c.positional {
            (cin + 2, cin * grid * grid)
        } else {
            (cin, cin)
        };
        ImageEncoder {
            convs,
            regions: Conv2d::new(
                b,
                "image.emb_features",
                ConvSpec::same(region_in, c.embed_dim(), 1, Init::Uniform(0.1)),
            ),
            global: Linear::new(
                b,
                "image.emb_cnn_code",
                global_in,
                c.embed_dim(),
                true,
                // The pooled map's scale of output for the whole map's width.
                Init::Uniform(0.1 * (cin as f32 / global_in as f32).sqrt()),
            ),
            positional: c.positional,
        }
    }

    pub fn forward(&self, ps: &ParamStore, images: &Var, training: bool) -> Result<(Var, Var)> {
        let mut h = images.clone();
        for (conv, bn) in &self.convs {
            h = conv.forward(ps, &h)?;
            if let Some(bn) = bn {
                h = bn.forward(ps, &h, training)?;
            }
            h = h.leaky_relu(0.2)?;
        }
        self.head(ps, &h)
    }

    /// From the last feature map `h` `[B, C, s, s]` to regions `[B, D, s*s]`
    /// and the global feature `[B, D]`.
    pub fn head(&self, ps: &ParamStore, h: &Var) -> Result<(Var, Var)> {
        let [n, c, s, _] = [h.shape()[0], h.shape()[1], h.shape()[2], h.shape()[3]];
        let (regions, global) = if self.positional {
            let coords = Var::constant(coordinates(h.value().runtime(), n, s)?); // [B, 2, s, s]
            let regions = self.regions.forward(ps, &ag::concat(&[h, &coords], 1)?)?; // [B, D, s, s]
            let global = self.global.forward(ps, &h.reshape(&[n, c * s * s])?)?;
            (regions, global)
        } else {
            let regions = self.regions.forward(ps, h)?; // [B, D, s, s]
            (regions, self.global.forward(ps, &ag::global_avg_pool(h)?)?)
        };
        let d = regions.shape()[1];
        let regions = regions.reshape(&[n, d, s * s])?;
        Ok((regions, global))
    }
}

/// Each position's (x, y) in [-1, 1], x across columns and y down rows:
/// `[n, 2, s, s]`.
fn coordinates(rt: &Runtime, n: usize, s: usize) -> Result<Tensor> {
    let at = |i: usize| {
        if s == 1 {
            0.0
        } else {
            2.0 * i as f32 / (s - 1) as f32 - 1.0
        }
    };
    let mut v = Vec::with_capacity(n * 2 * s * s);
    for _ in 0..n {
        v.extend((0..s * s).map(|k| at(k % s)));
        v.extend((0..s * s).map(|k| at(k / s)));
    }
    Tensor::from_slice(rt, &v, &[n, 2, s, s])
}

/// Row-wise L2 normalisation of [B, D].
fn normalize_rows(x: &Var) -> Result<Var> {
    let norm = x.square()?.sum(1, true)?.add_scalar(1e-8)?.sqrt()?; // [B, 1]
    x.div(&norm)
}

/// Additive logit mask that removes same-class pairs (other than the pair
/// itself) from the negatives: -1e4 there, 0 elsewhere, and 0 in the `extra`
/// columns after them (contrast captions, which no image shares). [B, B + extra]
fn class_mask(rt: &Runtime, class_ids: &[u32], extra: usize) -> Result<Option<Tensor>> {
    let b = class_ids.len();
    let cols = b + extra;
    let mut m = vec![0.0f32; b * cols];
    let mut any = false;
    for i in 0..b {
        for j in 0..b {
            if i != j && class_ids[i] != 0 && class_ids[i] == class_ids[j] {
                m[i * cols + j] = -1e4;
                any = true;
            }
        }
    }
    if any {
        Ok(Some(Tensor::from_slice(rt, &m, &[b, cols])?))
    } else {
        Ok(None)
    }
}

/// The masks of the two directions: over captions per image, with `extra`
/// contrast columns, and over images per caption (the same one when there
/// are none).
type Masks = (Option<Tensor>, Option<Tensor>);
fn class_masks(rt: &Runtime, class_ids: &[u32], extra: usize) -> Result<Masks> {
    let per_caption = class_mask(rt, class_ids, 0)?;
    let per_image = match extra {
        0 => per_caption.clone(),
        _ => class_mask(rt, class_ids, extra)?,
    };
    Ok((per_image, per_caption))
}

fn labels(rt: &Runtime, b: usize) -> Result<Tensor> {
    let v: Vec<f32> = (0..b).map(|i| i as f32).collect();
    Tensor::from_slice(rt, &v, &[b])
}

fn masked(logits: Var, mask: &Option<Tensor>) -> Result<Var> {
    match mask {
        Some(m) => logits.add(&Var::constant(m.clone())),
        None => Ok(logits),
    }
}

/// The sentence loss: cosines of every (image, caption) pair times gamma3,
/// cross-entropy both ways. image, sentence: `[B, D]` -> (loss0, loss1) `[1]` each.
///
/// Hard negatives: `contrast` (`[C, D]`, sentences of captions no image of
/// the batch shows, such as each caption with one attribute changed) join the
/// captions each image picks from in loss0; loss1 (the image for each
/// caption) is unchanged. A departure from AttnGAN, whose batch captions
/// differ in everything.
pub fn sentence_loss(
    image: &Var,
    sentence: &Var,
    contrast: Option<&Var>,
    class_ids: &[u32],
    gamma3: f32,
) -> Result<(Var, Var)> {
    let rt = image.value().runtime().clone();
    let b = image.shape()[0];
    let (i, s) = (normalize_rows(image)?, normalize_rows(sentence)?);
    let (captions, extra) = match contrast {
        Some(c) => (ag::concat(&[&s, &normalize_rows(c)?], 0)?, c.shape()[0]), // [B + C, D]
        None => (s.clone(), 0),
    };
    let y = labels(&rt, b)?;
    let (mask0, mask1) = class_masks(&rt, class_ids, extra)?;
    let scores0 = i.matmul(&captions, false, true)?.mul_scalar(gamma3)?; // [img, cap (+ contrast)]
    let scores0 = masked(scores0, &mask0)?;
    let scores1 = s.matmul(&i, false, true)?.mul_scalar(gamma3)?; // [cap, img]
    let scores1 = masked(scores1, &mask1)?;
    Ok((
        ag::cross_entropy(&scores0, &y)?,
        ag::cross_entropy(&scores1, &y)?,
    ))
}

/// The word-level scores of every (caption, image) pair at once: attention
/// of each word over the regions (softmax over the caption's real words per
/// region, then over regions sharpened by gamma1), the cosine of each word
/// with its region context, and log(sum over real words of exp(gamma2 * cos)).
/// words: `[Bc, D, T]` (caption b has `lengths[b]` real words), regions:
/// `[Bi, D, R]` -> [Bc, Bi]
pub fn word_scores(
    words: &Var,
    regions: &Var,
    lengths: &[usize],
    gamma1: f32,
    gamma2: f32,
) -> Result<Var> {
    let rt = regions.value().runtime().clone();
    let (bc, d, t) = (words.shape()[0], words.shape()[1], words.shape()[2]);
    let (bi, r) = (regions.shape()[0], regions.shape()[2]);
    let excluded = crate::ops::attention::padding_mask(&rt, lengths, t)?; // 1 marks padding words
    let real: Vec<f32> = (0..bc * t)
        .map(|i| if i % t < lengths[i / t] { 1.0 } else { 0.0 })
        .collect();
    let real = Var::constant(Tensor::from_slice(&rt, &real, &[bc, 1, t])?);
    let regions_t = ag::transpose_last2(regions)?; // [Bi, R, D]
    let attn = regions_t
        .reshape(&[bi * r, d])?
        .matmul(words, false, false)?; // [Bc, Bi*R, T]
    let attn = ag::masked_softmax(&attn, 2, 1.0, Some(&excluded))?; // over words, per region
    let attn = ag::masked_softmax(&attn.reshape(&[bc, bi, r, t])?, 2, gamma1, None)?; // over regions, per word

    // context^T of pair (i, j) = attn[i, j]^T @ regions_t[j]; regions_t repeats over captions.
    let context_t = attn
        .reshape(&[bc * bi, r, t])?
        .matmul(&regions_t, true, false)?; // [Bc*Bi, T, D]
    let ones = Var::constant(fill::full(&rt, &[1, bi, 1, 1], 1.0)?);
    let words_t = ag::transpose_last2(words)?
        .reshape(&[bc, 1, t, d])?
        .mul(&ones)?; // [Bc, Bi, T, D]
    let cos = ag::cosine_similarity(&words_t, &context_t.reshape(&[bc, bi, t, d])?, 3)?; // [Bc, Bi, T]
    cos.mul_scalar(gamma2)?
        .exp()?
        .mul(&real)?
        .sum(2, false)?
        .log()
}

/// The word loss: word scores of every caption against every image times
/// gamma3, cross-entropy both ways -> (loss0 over captions per image, loss1
/// over images per caption).
///
/// Hard negatives: `contrast` (words `[C, D, T]` and their lengths) join the
/// captions each image picks from in loss0, as in [`sentence_loss`].
pub fn word_loss(
    words: &Var,
    regions: &Var,
    lengths: &[usize],
    contrast: Option<(&Var, &[usize])>,
    class_ids: &[u32],
    c: &DamsmConfig,
) -> Result<(Var, Var)> {
    let rt = regions.value().runtime().clone();
    let b = lengths.len();
    let mut all: Vec<usize> = lengths.iter().map(|&l| l.max(1)).collect();
    let (captions, extra) = match contrast {
        Some((cw, cl)) => {
            all.extend(cl.iter().map(|&l| l.max(1)));
            (ag::concat(&[words, cw], 0)?, cl.len()) // [B + C, D, T]
        }
        None => (words.clone(), 0),
    };
    let sim = word_scores(&captions, regions, &all, c.gamma1, c.gamma2)?.mul_scalar(c.gamma3)?; // [cap (+ contrast), img]
    let sim0 = ag::transpose_last2(&sim.reshape(&[1, b + extra, b])?)?.reshape(&[b, b + extra])?; // [img, cap (+ contrast)]
    let sim1 = match extra {
        0 => sim,
        _ => ag::narrow(&sim, 0, 0, b)?, // [cap, img]
    };
    let y = labels(&rt, b)?;
    let (mask0, mask1) = class_masks(&rt, class_ids, extra)?;
    Ok((
        ag::cross_entropy(&masked(sim0, &mask0)?, &y)?,
        ag::cross_entropy(&masked(sim1, &mask1)?, &y)?,
    ))
}

/// Both encoders, each in its own parameter store (the text encoder's
/// gradients are clipped on their own, and later the GAN freezes both).
pub struct Damsm {
    pub config: DamsmConfig,
    pub text: TextEncoder,
    pub text_params: ParamStore,
    pub image: ImageEncoder,
    pub image_params: ParamStore,
}

/// The four losses of one batch.
pub struct DamsmLosses {
    pub word0: Var,
    pub word1: Var,
    pub sent0: Var,
    pub sent1: Var,
}

/// Captions as the text encoder reads them: words `[B, D, T]`, sentences
/// `[B, D]`, lengths.
pub type Encoded<'a> = (&'a Var, &'a Var, &'a [usize]);

impl DamsmLosses {
    /// The word and sentence losses of image features (regions `[B, D, R]`,
    /// global `[B, D]`) against their captions, with any contrast captions
    /// as hard negatives ([`sentence_loss`]).
    pub fn of(
        config: &DamsmConfig,
        (regions, global): (&Var, &Var),
        captions: Encoded,
        contrast: Option<Encoded>,
        class_ids: &[u32],
    ) -> Result<DamsmLosses> {
        let (words, sentence, lengths) = captions;
        let (word0, word1) = word_loss(
            words,
            regions,
            lengths,
            contrast.map(|(w, _, l)| (w, l)),
            class_ids,
            config,
        )?;
        let (sent0, sent1) = sentence_loss(
            global,
            sentence,
            contrast.map(|(_, s, _)| s),
            class_ids,
            config.gamma3,
        )?;
        Ok(DamsmLosses {
            word0,
            word1,
            sent0,
            sent1,
        })
    }

    pub fn total(&self) -> Result<Var> {
        self.word0
            .add(&self.word1)?
            .add(&self.sent0)?
            .add(&self.sent1)
    }
}

impl Damsm {
    pub fn new(rt: &Runtime, config: DamsmConfig, seed: u64) -> Result<Damsm> {
        let mut tb = ParamBuilder::new(seed);
        let text = TextEncoder::new(&mut tb, &config);
        let mut ib = ParamBuilder::new(seed ^ 0x1111_2222_3333_4444);
        let image = ImageEncoder::new(&mut ib, &config);
        Ok(Damsm {
            text_params: tb.build(rt)?,
            image_params: ib.build(rt)?,
            config,
            text,
            image,
        })
    }

    /// Losses of one batch, and the images' global features `[B, D]` (what
    /// [`crate::models::labels::LabelHeads`] read). images: [B, 3, S, S];
    /// ids: [B, T]; lengths >= 1. `contrast`: ids [C, T] and lengths of
    /// captions no image of the batch shows, hard negatives for each image
    /// ([`sentence_loss`]).
    pub fn losses(
        &self,
        images: &Tensor,
        ids: &Tensor,
        lengths: &[usize],
        contrast: Option<(&Tensor, &[usize])>,
        class_ids: &[u32],
        seed: u64,
    ) -> Result<(DamsmLosses, Var)> {
        let (words, sentence) = self
            .text
            .forward(&self.text_params, ids, lengths, true, seed)?;
        // Their own dropout masks.
        let contrast = match contrast {
            Some((ids, lengths)) => {
                let seed = seed ^ 0xC0B7_2A57_0000_0001;
                let (w, s) = self
                    .text
                    .forward(&self.text_params, ids, lengths, true, seed)?;
                Some((w, s, lengths))
            }
            None => None,
        };
        let (regions, global) =
            self.image
                .forward(&self.image_params, &Var::constant(images.clone()), true)?;
        let losses = DamsmLosses::of(
            &self.config,
            (&regions, &global),
            (&words, &sentence, lengths),
            contrast.as_ref().map(|(w, s, l)| (w, s, *l)),
            class_ids,
        )?;
        Ok((losses, global))
    }
}
