//! Training AttnGAN (`engine train --model attngan --damsm CKPT`) and
//! sampling from it (`engine generate`).
//!
//! The DAMSM encoders come from a DAMSM checkpoint and stay frozen: the text
//! encoder turns captions into word and sentence features, the image encoder
//! scores the final generated image in the DAMSM loss. The run's checkpoint
//! holds the generator, its moving average (what is sampled from), every
//! discriminator, every optimiser, and a copy of the text encoder and
//! vocabulary, so that `engine generate` needs this one file.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use image::RgbImage;

use crate::autograd::{self as ag, no_grad, Var};
use crate::data::{Batch, DataSpec, Vocab};
use crate::models::attngan::{
    discriminator_loss, generator_adversarial_loss, kl_loss, AttnGan, AttnGanConfig,
};
use crate::models::damsm::{Damsm, DamsmConfig, DamsmLosses, Encoded, TextEncoder};
use crate::models::labels::LabelHeads;
use crate::models::stream::Stream;
use crate::nn::checkpoint::Checkpoint;
use crate::nn::config::ModelConfig;
use crate::nn::optim::{Adam, Ema};
use crate::nn::{parallel, ParamBuilder, ParamStore, SplitMix64};
use crate::ops::attention::padding_mask;
use crate::runtime::{Error, Result, Runtime, Tensor};
use crate::train::trainer::{self, RunOptions};

#[derive(Debug, Clone)]
pub struct AttnGanTrainOptions {
    /// `run.data`: the DAMSM must have been trained on the same.
    pub run: RunOptions,
    /// The DAMSM checkpoint that guides the generator.
    pub damsm: PathBuf,
    /// Generator stages, each doubling the side of the one before.
    pub stages: usize,
    /// Side of the first stage: 64 (the paper's) or 32.
    pub base_size: usize,
    /// Weight of the DAMSM loss in G's loss (5 for birds).
    pub lambda: f32,
    /// Generator and discriminator widths (AttnGAN on birds: 32 and 64).
    pub ngf: usize,
    pub ndf: usize,
    /// MirrorGAN: the trained captioner (`engine train --model stream`),
    /// frozen, whose cross-entropy against the input caption on the final
    /// image joins G's loss with weight `stream_lambda`, and GLAM in G.
    pub mirror: Option<Mirror>,
    /// Hard negatives for the discriminators: each real image is also shown
    /// with a caption one attribute away from its own, as a mismatch
    /// ([`discriminator_loss`]). The built-in world only.
    pub hard_negatives: bool,
    /// Weight of the label guide (built-in world only): the guiding DAMSM's
    /// label heads (`engine train --model damsm --labels`) read G's final
    /// image, and their cross-entropy against the scene's labels joins G's
    /// loss. 0 leaves it out.
    pub label_guide: f32,
    /// The labelled DAMSM training checkpoint whose image encoder and label
    /// heads the label guide reads G's images with; `None`: `damsm`'s. With
    /// it, the DAMSM term and the label guide come from two encoders (a
    /// DAMSM that matches captions well, and one trained with `--labels`).
    pub label_damsm: Option<PathBuf>,
    /// Weight of a pixel loss: the mean squared error of G's final image
    /// against the real image of its caption ([`pixel_loss`]), as pix2pix
    /// adds L1 to its adversarial loss. A diagnostic departure, for data
    /// whose captions fix the picture (the built-in world): can G draw what
    /// it is shown outright? 0 leaves it out.
    pub pixel_loss: f32,
}

/// What makes AttnGAN MirrorGAN (qiaott/MirrorGAN).
#[derive(Debug, Clone)]
pub struct Mirror {
    /// The STREAM captioner checkpoint.
    pub stream: PathBuf,
    /// Weight of its loss (the released code's `LAMBDA1`: 10).
    pub lambda: f32,
}

impl Default for AttnGanTrainOptions {
    fn default() -> Self {
        AttnGanTrainOptions {
            run: RunOptions {
                out: PathBuf::from("runs/attngan"),
                ..RunOptions::default()
            },
            damsm: PathBuf::from("runs/damsm/checkpoint.safetensors"),
            stages: 2,
            base_size: 64,
            lambda: 5.0,
            ngf: 16,
            ndf: 16,
            mirror: None,
            hard_negatives: false,
            label_guide: 0.0,
            label_damsm: None,
            pixel_loss: 0.0,
        }
    }
}

/// What a finished (or stopped) run reports.
pub type AttnGanReport = trainer::GanReport;

/// This worker's rows of a standard normal [rows * workers, cols] drawn
/// from `rng` for the whole global batch: rank r takes rows r*rows onward,
/// so the workers' shards together get the noise a lone run draws.
pub(crate) fn normal_rows(
    rt: &Runtime,
    rng: &mut SplitMix64,
    rows: usize,
    cols: usize,
) -> Result<Var> {
    let w = parallel::shard();
    let all: Vec<f32> = (0..rows * w.size * cols)
        .map(|_| rng.normal() as f32)
        .collect();
    let mine = &all[w.rank * rows * cols..(w.rank + 1) * rows * cols];
    Ok(Var::constant(Tensor::from_slice(rt, mine, &[rows, cols])?))
}

/// Checks, before any work, that a DAMSM can score this generator's final
/// images: the same joint space, and an image size its encoder takes (a
/// multiple of 8, its region grid being S/8 x S/8). G's final image is then
/// resized bilinearly to the DAMSM's size, up or down, as the released code
/// resizes it to 299 for its Inception encoder.
pub fn check_damsm_fits(g: &AttnGanConfig, d: &DamsmConfig) -> Result<()> {
    let gen_side = g.image_size(g.stages - 1);
    if d.embed_dim() != g.embed_dim {
        return Err(Error::invalid(
            "attngan",
            format!(
                "the DAMSM's joint space has {} dimensions, the generator's config {}",
                d.embed_dim(),
                g.embed_dim
            ),
        ));
    }
    if d.image_size < 8 || !d.image_size.is_multiple_of(8) {
        return Err(Error::invalid(
            "attngan",
            format!(
                "the DAMSM was trained on {0}x{0} images; its image encoder needs a side that is a positive multiple of 8 to score G's {1}x{1} images",
                d.image_size, gen_side
            ),
        ));
    }
    Ok(())
}

/// G's final image [B, 3, S, S] at the DAMSM's training size, resized
/// bilinearly (the released CNN_ENCODER's `nn.Upsample(size=(299, 299),
/// mode='bilinear')`; we resize to the size our from-scratch encoder was
/// trained at instead of Inception's 299).
fn to_damsm_size(img: &Var, side: usize) -> Result<Var> {
    ag::resize_bilinear(img, side, side)
}

/// A DAMSM text encoder alone, with its parameter store.
pub struct TextModel {
    pub config: DamsmConfig,
    pub encoder: TextEncoder,
    pub params: ParamStore,
}

impl TextModel {
    pub fn from_damsm(rt: &Runtime, d: &Damsm) -> Result<TextModel> {
        let mut b = ParamBuilder::new(0);
        let encoder = TextEncoder::new(&mut b, &d.config);
        let params = b.build(rt)?;
        let state = d.text_params.state()?;
        params.load_state(
            &state.into_iter().map(|(n, s, v)| (n, (s, v))).collect(),
            "DAMSM",
        )?;
        Ok(TextModel {
            config: d.config.clone(),
            encoder,
            params,
        })
    }

    /// A text encoder of `config` with the weights in `tensors` (a
    /// checkpoint's "text." tensors; `src` names it in errors).
    pub fn load(
        rt: &Runtime,
        config: DamsmConfig,
        tensors: &std::collections::HashMap<String, (Vec<usize>, Vec<f32>)>,
        src: &str,
    ) -> Result<TextModel> {
        let mut b = ParamBuilder::new(0);
        let encoder = TextEncoder::new(&mut b, &config);
        let params = b.build(rt)?;
        params.load_state(tensors, src)?;
        Ok(TextModel {
            config,
            encoder,
            params,
        })
    }

    /// (words [B, E, T], sentence [B, E]) without gradients.
    pub fn encode(&self, ids: &Tensor, lengths: &[usize]) -> Result<(Var, Var)> {
        no_grad(|| self.encoder.forward(&self.params, ids, lengths, false, 0))
    }
}

/// The networks of a run and their optimisers.
pub struct GanNets {
    pub gan: AttnGan,
    pub ema: Ema,
    pub g_adam: Adam,
    pub d_adams: Vec<Adam>,
}

impl GanNets {
    pub fn new(gan: AttnGan, lr: f32) -> Result<GanNets> {
        Ok(GanNets {
            ema: Ema::new(&gan.gen_params, 0.999)?,
            g_adam: Adam::new(&gan.gen_params, lr, (0.5, 0.999))?,
            d_adams: gan
                .disc_params
                .iter()
                .map(|ps| Adam::new(ps, lr, (0.5, 0.999)))
                .collect::<Result<_>>()?,
            gan,
        })
    }
}

/// One batch: real images per stage (`[B, 3, base << s, base << s]`), token ids `[B, T]`, lengths, classes.
pub struct StepInput<'a> {
    pub reals: &'a [Var],
    pub ids: &'a Tensor,
    /// The same ids on the host, `[B, T]` (MirrorGAN's captioner reads them).
    pub tokens: &'a [u32],
    pub lengths: &'a [usize],
    pub class_ids: &'a [u32],
    /// Hard negatives: token ids `[B, T]` and lengths of a caption one
    /// attribute away from each item's ([`discriminator_loss`]).
    pub contrast: Option<(&'a Tensor, &'a [usize])>,
    /// The label guide and each item's labels `[B, L]`
    /// ([`AttnGanTrainOptions::label_guide`]).
    pub labels: Option<(&'a LabelGuide, &'a [u32])>,
    /// Weight of the pixel loss ([`AttnGanTrainOptions::pixel_loss`]; 0: none).
    pub pixel_loss: f32,
}

/// The mean squared error of G's images `[B, 3, S, S]` against the real
/// ones `[B, 3, S, S]`, over every value: the pixel loss.
pub fn pixel_loss(fake: &Var, real: &Var) -> Result<Var> {
    fake.sub(real)?.square()?.mean_all()
}

/// The guiding DAMSM's label heads, frozen, and their weight in G's loss.
pub struct LabelGuide {
    pub heads: LabelHeads,
    pub params: ParamStore,
    pub weight: f32,
    /// The image encoder the heads read (a DAMSM of its own, frozen), when
    /// it is not the one of the DAMSM term
    /// ([`AttnGanTrainOptions::label_damsm`]).
    pub encoder: Option<Damsm>,
}

/// G's DAMSM term (before lambda): the word and sentence losses, both ways,
/// of the final images `[B, 3, S, S]` (resized to the DAMSM's side) against
/// their captions. With hard negatives (`contrast`, each item's caption one
/// attribute away), those captions join the ones each image picks from, so
/// the DAMSM must tell each fake from its contrast caption and G must draw
/// the attribute they differ in (a departure from AttnGAN, see
/// [`crate::models::damsm::sentence_loss`]).
pub fn damsm_guidance(
    damsm: &Damsm,
    images: &Var,
    captions: Encoded,
    contrast: Option<Encoded>,
    class_ids: &[u32],
) -> Result<Var> {
    let (regions, global) = guide_features(damsm, images)?;
    DamsmLosses::of(
        &damsm.config,
        (&regions, &global),
        captions,
        contrast,
        class_ids,
    )?
    .total()
}

/// The DAMSM image encoder's regions `[B, D, R]` and global features
/// `[B, D]` of images `[B, 3, S, S]`, resized to its side (eval mode).
fn guide_features(damsm: &Damsm, images: &Var) -> Result<(Var, Var)> {
    let last = to_damsm_size(images, damsm.config.image_size)?;
    damsm.image.forward(&damsm.image_params, &last, false)
}

/// One training step of AttnGAN: every discriminator on detached fakes, then
/// the generator (adversarial losses at every stage, DAMSM on the last image,
/// KL), then its moving average. Returns (the D losses, the G loss), not read back.
pub fn gan_step(
    nets: &mut GanNets,
    damsm: &Damsm,
    text: &TextModel,
    input: &StepInput,
    lambda: f32,
    stream: Option<(&Stream, f32)>,
    noise_seed: u64,
) -> Result<(Vec<Var>, Var)> {
    let rt = input.ids.runtime().clone();
    let config = nets.gan.config.clone();
    let b = input.lengths.len();
    check_damsm_fits(&config, &damsm.config)?;
    let t = input.ids.dim(1);
    if t != config.max_words {
        return Err(Error::invalid(
            "attngan",
            format!(
                "captions come as {t} word ids, the model takes {} (max_words)",
                config.max_words
            ),
        ));
    }
    let mask = padding_mask(&rt, input.lengths, config.max_words)?;
    let (words, sentence) = text.encode(input.ids, input.lengths)?;
    // Hard negatives: (words, sentence, lengths) of each item's contrast caption.
    let contrast = (input.contrast)
        .map(|(ids, lengths)| text.encode(ids, lengths).map(|(w, s)| (w, s, lengths)))
        .transpose()?;
    let mut rng = SplitMix64::new(noise_seed);
    let noise = normal_rows(&rt, &mut rng, b, config.z_dim)?;
    let eps = normal_rows(&rt, &mut rng, b, config.cond_dim)?;
    let out = nets.gan.gen.forward(
        &nets.gan.gen_params,
        &noise,
        &eps,
        &sentence,
        &words,
        &mask,
        true,
    )?;

    // Discriminators, on detached fakes.
    let mut d_total = Vec::new();
    for (i, real) in input.reals.iter().enumerate() {
        let ps = &nets.gan.disc_params[i];
        ps.zero_grad()?;
        let loss = discriminator_loss(
            &nets.gan.discs[i],
            ps,
            real,
            &out.images[i],
            &sentence,
            contrast.as_ref().map(|(_, s, _)| s),
        )?;
        loss.backward()?;
        nets.d_adams[i].step(ps)?;
        d_total.push(loss);
    }

    // Generator: adversarial at every stage, DAMSM on the last image, KL.
    for ps in &nets.gan.disc_params {
        ps.set_trainable(false);
    }
    nets.gan.gen_params.zero_grad()?;
    let mut g_loss = kl_loss(&out.mu, &out.logvar)?;
    for (i, fake) in out.images.iter().enumerate() {
        let adv = generator_adversarial_loss(
            &nets.gan.discs[i],
            &nets.gan.disc_params[i],
            fake,
            &sentence,
        )?;
        g_loss = g_loss.add(&adv)?;
    }
    // (MirrorGAN's released configuration weighs it 0: not computed then.)
    if lambda != 0.0 || input.labels.is_some() {
        let (regions, global) = guide_features(damsm, out.images.last().unwrap())?;
        if lambda != 0.0 {
            let damsm_loss = DamsmLosses::of(
                &damsm.config,
                (&regions, &global),
                (&words, &sentence, input.lengths),
                contrast.as_ref().map(|(w, s, l)| (w, s, *l)),
                input.class_ids,
            )?
            .total()?;
            g_loss = g_loss.add(&damsm_loss.mul_scalar(lambda)?)?;
        }
        if let Some((guide, labels)) = input.labels {
            let global = match &guide.encoder {
                Some(own) => guide_features(own, out.images.last().unwrap())?.1,
                None => global,
            };
            let l = guide.heads.loss(&guide.params, &global, labels)?;
            g_loss = g_loss.add(&l.mul_scalar(guide.weight)?)?;
        }
    }
    if input.pixel_loss != 0.0 {
        let l = pixel_loss(out.images.last().unwrap(), input.reals.last().unwrap())?;
        g_loss = g_loss.add(&l.mul_scalar(input.pixel_loss)?)?;
    }
    if let Some((stream, weight)) = stream {
        // MirrorGAN: the frozen captioner reads the final image back
        // (eval mode) and its cross-entropy against the caption joins G's loss.
        let cap = stream.loss(
            out.images.last().unwrap(),
            input.tokens,
            input.lengths,
            false,
        )?;
        g_loss = g_loss.add(&cap.mul_scalar(weight)?)?;
    }
    g_loss.backward()?;
    nets.g_adam.step(&nets.gan.gen_params)?;
    nets.ema.update(&nets.gan.gen_params)?;
    for ps in &nets.gan.disc_params {
        ps.set_trainable(true);
    }
    Ok((d_total, g_loss))
}

struct Run {
    nets: GanNets,
    step: u64,
    losses: Vec<(f32, f32)>,
}

/// What a resume must repeat (besides the data and the model's sizes,
/// checked on their own).
fn run_options(opts: &AttnGanTrainOptions) -> Vec<(&'static str, String)> {
    let mut o = opts.run.resume_keys();
    o.push(("lambda", opts.lambda.to_string()));
    o.push(("pixel_loss", opts.pixel_loss.to_string()));
    // A resume may change these two (a guide switched on later): the log notes it.
    o.push((trainer::CURRICULUM_KEYS[2], opts.label_guide.to_string()));
    // Empty when the guide reads with `damsm` (checkpoints from before the
    // option lack it, and did).
    o.push((
        trainer::CURRICULUM_KEYS[3],
        (opts.label_damsm.as_ref())
            .and_then(|p| crate::train::eval::file_hash(p).ok())
            .unwrap_or_default(),
    ));
    // Checkpoints from before the option lack it, and were trained without.
    o.push(("hard_negatives", opts.hard_negatives.to_string()));
    o.push((
        "damsm",
        crate::train::eval::file_hash(&opts.damsm).unwrap_or_default(),
    ));
    if let Some(m) = &opts.mirror {
        o.push((
            "stream",
            crate::train::eval::file_hash(&m.stream).unwrap_or_default(),
        ));
        o.push(("stream_lambda", m.lambda.to_string()));
    }
    o
}

fn save(
    run: &Run,
    text: &TextModel,
    vocab: &Vocab,
    opts: &AttnGanTrainOptions,
    options: &[(&str, String)],
    path: &Path,
) -> Result<()> {
    let (seed, data) = (opts.run.seed, &opts.run.data);
    let mut ck = Checkpoint::default();
    ck.extend("gen.", run.nets.gan.gen_params.state()?);
    for (i, ps) in run.nets.gan.disc_params.iter().enumerate() {
        ck.extend(&format!("disc{i}."), ps.state()?);
        run.nets.d_adams[i].save_into(&mut ck, &format!("optim.disc{i}."))?;
    }
    run.nets.g_adam.save_into(&mut ck, "optim.gen.")?;
    ck.insert(
        "ema.flat",
        vec![run.nets.ema.shadow.numel()],
        run.nets.ema.shadow.to_vec()?,
    );
    ck.extend("text.", text.params.state()?);
    let m = &mut ck.metadata;
    m.insert("ema.updates".into(), run.nets.ema.updates.to_string());
    m.insert("engine.model".into(), "attngan".into());
    if run.nets.gan.config.glam {
        m.insert("engine.variant".into(), "mirrorgan".into());
    }
    m.insert("engine.version".into(), env!("CARGO_PKG_VERSION").into());
    m.insert("step".into(), run.step.to_string());
    m.insert("seed".into(), seed.to_string());
    m.insert("config".into(), run.nets.gan.config.to_text());
    m.insert("damsm_config".into(), text.config.to_text());
    m.insert("vocab".into(), vocab.to_text());
    m.insert("data".into(), data.id());
    m.insert("options".into(), crate::train::options_text(options));
    m.insert("losses".into(), trainer::gan_losses_text(&run.losses));
    ck.save(path)
}

/// Trains AttnGAN on the built-in world with a frozen DAMSM.
pub fn train_attngan(rt: &Runtime, opts: &AttnGanTrainOptions) -> Result<AttnGanReport> {
    let started = Instant::now();
    let ck_path = opts.run.out.join("checkpoint.safetensors");
    let _lock = crate::train::lock::RunLock::acquire(&opts.run.out)?;
    let (damsm, vocab) = crate::train::damsm::load_guide(rt, &opts.damsm, &opts.run.data)?;
    damsm.image_params.set_trainable(false);
    let text = TextModel::from_damsm(rt, &damsm)?;
    let label_guide = if opts.label_guide > 0.0 {
        let encoder = (opts.label_damsm.as_ref())
            .map(|p| crate::train::damsm::load_guide(rt, p, &opts.run.data).map(|(own, _)| own))
            .transpose()?;
        if let Some(own) = &encoder {
            own.image_params.set_trainable(false);
        }
        // The heads sit on the encoder they read with.
        let path = opts.label_damsm.as_ref().unwrap_or(&opts.damsm);
        let dim = encoder.as_ref().unwrap_or(&damsm).config.embed_dim();
        let (heads, params) = crate::train::damsm::load_label_heads(rt, path, dim)?;
        params.set_trainable(false);
        Some(LabelGuide {
            heads,
            params,
            weight: opts.label_guide,
            encoder,
        })
    } else {
        None
    };
    let mut config = AttnGanConfig::world();
    config.stages = opts.stages;
    config.base_size = opts.base_size;
    config.ngf = opts.ngf;
    config.ndf = opts.ndf;
    config.embed_dim = damsm.config.embed_dim();
    config.glam = opts.mirror.is_some();
    config.check()?;
    check_damsm_fits(&config, &damsm.config)?;
    if let Some(own) = label_guide.as_ref().and_then(|g| g.encoder.as_ref()) {
        // Its joint space is its heads' own; only its image side must fit.
        let c = AttnGanConfig {
            embed_dim: own.config.embed_dim(),
            ..config.clone()
        };
        check_damsm_fits(&c, &own.config)?;
    }
    let sizes: Vec<u32> = (0..config.stages)
        .map(|s| config.image_size(s) as u32)
        .collect();
    let source = crate::train::damsm::training_source(&opts.run, *sizes.last().unwrap() as usize)?;
    // Hashes the DAMSM file: once per run, not per checkpoint.
    let options = run_options(opts);
    // Every word of the world's captions (AttnGAN's 18 would drop colour,
    // shape and position words at random).
    config.max_words = source.max_words();
    let stream = match &opts.mirror {
        Some(m) => Some(load_stream(rt, &m.stream, &vocab, opts, &config)?),
        None => None,
    };
    let gan = AttnGan::new(rt, config.clone(), opts.run.seed)?;
    let mut run = Run {
        nets: GanNets::new(gan, opts.run.lr)?,
        step: 0,
        losses: Vec::new(),
    };
    if opts.run.resume {
        let ck = Checkpoint::load(&ck_path)?;
        let src = ck_path.display().to_string();
        crate::train::check_resume(&ck, &opts.run.data, &options, &ck_path)?;
        let old = AttnGanConfig::from_text(ck.meta("config", &ck_path)?)?;
        if old != config {
            return Err(Error::Checkpoint {
                path: src,
                message: format!(
                    "was trained with another configuration; resume with the same options (it has\n{}this run has\n{})",
                    old.to_text(),
                    config.to_text()
                ),
            });
        }
        run.nets
            .gan
            .gen_params
            .load_state(&ck.with_prefix("gen."), &src)?;
        run.nets.g_adam.load_from(&ck, "optim.gen.", &src)?;
        for i in 0..run.nets.gan.disc_params.len() {
            run.nets.gan.disc_params[i].load_state(&ck.with_prefix(&format!("disc{i}.")), &src)?;
            run.nets.d_adams[i].load_from(&ck, &format!("optim.disc{i}."), &src)?;
        }
        let (_, shadow) = ck
            .tensors
            .get("ema.flat")
            .ok_or_else(|| Error::Checkpoint {
                path: src.clone(),
                message: "has no moving average (ema.flat)".into(),
            })?;
        run.nets.ema.shadow.write(shadow)?;
        run.nets.ema.updates = ck.meta("ema.updates", &ck_path)?.parse().unwrap_or(0);
        run.step = ck.meta("step", &ck_path)?.parse().unwrap_or(0);
        run.losses = trainer::gan_losses_from(ck.meta("losses", &ck_path)?);
    }
    let mut trainee = Trainee {
        run,
        stream: stream.as_ref(),
        damsm: &damsm,
        label_guide: label_guide.as_ref(),
        text: &text,
        vocab: &vocab,
        opts,
        options: &options,
        ck_path: &ck_path,
        sizes,
    };
    let vocab_arc = Arc::new(vocab.clone());
    crate::train::trainer::run(rt, &mut trainee, source, vocab_arc, &opts.run, started)?;
    let run = trainee.run;
    trainer::write_gan_curves(&opts.run.out, &run.losses)?;
    Ok(trainer::GanReport {
        steps: run.step,
        losses: run.losses,
        seconds: started.elapsed().as_secs_f64(),
        checkpoint: ck_path,
    })
}

/// MirrorGAN's captioner, frozen, refused unless it reads the generator's
/// final images in the DAMSM's vocabulary, trained on the same data.
fn load_stream(
    rt: &Runtime,
    path: &Path,
    vocab: &Vocab,
    opts: &AttnGanTrainOptions,
    config: &AttnGanConfig,
) -> Result<Stream> {
    let c = crate::train::stream::load_captioner(rt, path)?;
    let bad = |message: String| Error::Checkpoint {
        path: path.display().to_string(),
        message,
    };
    if c.data != opts.run.data.id() {
        return Err(bad(format!(
            "is a captioner of {}; MirrorGAN on {} needs one trained on the same data (engine train --model stream --data ...)",
            c.data,
            opts.run.data.id()
        )));
    }
    if c.vocab != *vocab {
        return Err(bad(format!(
            "reads another vocabulary ({} words) than the DAMSM ({}); train both on the same data and scenes",
            c.vocab.len(),
            vocab.len()
        )));
    }
    let side = config.image_size(config.stages - 1);
    if c.model.config.image_size != side {
        return Err(bad(format!(
            "reads {0}x{0} images and the generator's last stage draws {side}x{side}; train the captioner with --image-size {side}",
            c.model.config.image_size
        )));
    }
    c.model.params.set_trainable(false);
    Ok(c.model)
}

/// An AttnGAN run on the shared loop (train/trainer.rs).
struct Trainee<'a> {
    run: Run,
    /// MirrorGAN's frozen captioner.
    stream: Option<&'a Stream>,
    damsm: &'a Damsm,
    label_guide: Option<&'a LabelGuide>,
    text: &'a TextModel,
    vocab: &'a Vocab,
    opts: &'a AttnGanTrainOptions,
    options: &'a [(&'static str, String)],
    ck_path: &'a Path,
    /// The side of each stage's images.
    sizes: Vec<u32>,
}

impl crate::train::trainer::Trainee for Trainee<'_> {
    fn sizes(&self) -> Vec<u32> {
        self.sizes.clone()
    }

    fn max_words(&self) -> usize {
        self.run.nets.gan.config.max_words
    }

    fn contrast(&self) -> bool {
        self.opts.hard_negatives
    }

    fn steps_done(&self) -> u64 {
        self.run.step
    }

    fn train_step(&mut self, rt: &Runtime, batch: &Batch) -> Result<String> {
        let (run, opts) = (&mut self.run, self.opts);
        let up = trainer::upload(rt, batch, run.nets.gan.config.max_words)?;
        let reals: Vec<Var> = up.images.iter().cloned().map(Var::constant).collect();
        let (ids, lengths) = (&up.ids, &up.lengths);
        let contrast = trainer::contrast_of(&up, opts.hard_negatives)?;
        let noise_seed = opts.run.seed ^ run.step.wrapping_mul(0x2545_F491_4F6C_DD1D);
        let input = StepInput {
            reals: &reals,
            ids,
            tokens: &batch.tokens,
            lengths,
            class_ids: &batch.class_ids,
            contrast,
            labels: self.label_guide.map(|g| (g, batch.labels.as_slice())),
            pixel_loss: opts.pixel_loss,
        };
        let (d_total, g_loss) = gan_step(
            &mut run.nets,
            self.damsm,
            self.text,
            &input,
            opts.lambda,
            self.stream
                .zip(opts.mirror.as_ref())
                .map(|(s, m)| (s, m.lambda)),
            noise_seed,
        )?;
        // One readback for the step's losses.
        let mut values: Vec<&Tensor> = d_total.iter().map(|l| l.value()).collect();
        values.push(g_loss.value());
        let mut values = crate::ops::concat::read_scalars(&values)?;
        // With several workers, their mean: all see (and stop on) the same.
        parallel::all_reduce_mean(&mut values);
        let (d_sum, g) = (
            values[..values.len() - 1].iter().sum::<f32>(),
            values[values.len() - 1],
        );
        if !(d_sum.is_finite() && g.is_finite()) {
            return Err(Error::invalid(
                "train",
                format!("a loss became non-finite at step {} (D {d_sum}, G {g}); the last checkpoint is kept in {}", run.step, self.ck_path.display()),
            ));
        }
        run.losses.push((d_sum, g));
        run.step += 1;
        Ok(format!("D {d_sum:.3} G {g:.3}"))
    }

    fn save(&self) -> Result<()> {
        save(
            &self.run,
            self.text,
            self.vocab,
            self.opts,
            self.options,
            self.ck_path,
        )
    }

    fn stores(&self) -> Vec<&ParamStore> {
        let gan = &self.run.nets.gan;
        std::iter::once(&gan.gen_params)
            .chain(&gan.disc_params)
            .collect()
    }

    fn extra_state(&self) -> Vec<&Tensor> {
        vec![&self.run.nets.ema.shadow]
    }
}

/// `engine.model` of an exported sampler (`engine export`).
pub const EXPORT_KIND: &str = "attngan-sampler";

/// The shipped world model, embedded at build time.
const SHIPPED_MODEL: &[u8] = include_bytes!("../../models/world.safetensors");
const SHIPPED_NAME: &str = "the built-in world model (models/world.safetensors)";

/// A trained generator (its moving average) with the text encoder it was trained with.
pub struct Sampler {
    /// G (with its weights loaded) and its configuration.
    pub gan: AttnGan,
    /// The DAMSM text encoder that reads the captions.
    pub text: TextModel,
    /// The model's words: `vocab.encode(caption).ids` are what
    /// [`Sampler::generate_ids_on_device`] takes.
    pub vocab: Vocab,
    /// Draw the conditioning-augmentation noise (c = mu + sigma * eps,
    /// eps ~ N(0, I)), as the released code always does, also when sampling;
    /// false uses eps = 0, the mean condition mu (`engine generate --no-ca-noise`).
    pub ca_noise: bool,
    /// The data it was trained on ([`DataSpec::id`]; "world" for checkpoints
    /// from before this was recorded).
    pub data: String,
}

impl Sampler {
    /// `use_ema`: sample from G's moving average (AttnGAN's choice) or, if
    /// false, from G's last weights.
    pub fn load(rt: &Runtime, path: &Path, use_ema: bool) -> Result<Sampler> {
        Self::from_checkpoint(rt, &Checkpoint::load(path)?, path, use_ema)
    }

    /// The model that ships inside the binary (`engine export` of the world
    /// recipe, models/world.safetensors): what `engine generate` draws with
    /// when no --model is given.
    pub fn shipped(rt: &Runtime) -> Result<Sampler> {
        let name = Path::new(SHIPPED_NAME);
        Self::from_checkpoint(
            rt,
            &Checkpoint::from_bytes(SHIPPED_MODEL, name)?,
            name,
            true,
        )
    }

    /// From a training checkpoint (`engine.model` = attngan: the moving
    /// average or, without `use_ema`, G's last weights) or an exported one
    /// (attngan-sampler: the weights it was exported with).
    pub fn from_checkpoint(
        rt: &Runtime,
        ck: &Checkpoint,
        path: &Path,
        use_ema: bool,
    ) -> Result<Sampler> {
        let src = path.display().to_string();
        let kind = ck.meta("engine.model", path)?;
        if kind != "attngan" && kind != EXPORT_KIND {
            return Err(Error::Checkpoint {
                path: src,
                message: format!("holds a {kind} model; engine generate needs an AttnGAN checkpoint (engine train --model attngan) or an exported one (engine export)"),
            });
        }
        if kind == EXPORT_KIND && !use_ema {
            return Err(Error::Checkpoint {
                path: src,
                message: format!(
                    "is an exported model with only the weights it was exported with ({}); --no-ema needs the training checkpoint",
                    ck.metadata.get("weights").map_or("see engine export", String::as_str)
                ),
            });
        }
        let bad_config = |e: Error| Error::Checkpoint {
            path: src.clone(),
            message: format!("has a bad configuration: {e}"),
        };
        let config = AttnGanConfig::from_text(ck.meta("config", path)?).map_err(bad_config)?;
        let dconfig = DamsmConfig::from_text(ck.meta("damsm_config", path)?).map_err(bad_config)?;
        let vocab = Vocab::from_text(ck.meta("vocab", path)?).map_err(|e| Error::Checkpoint {
            path: src.clone(),
            message: format!("bad vocabulary: {e}"),
        })?;
        if dconfig.vocab != vocab.len() || dconfig.embed_dim() != config.embed_dim {
            return Err(Error::Checkpoint {
                path: src,
                message: format!(
                    "its parts do not fit together: vocabulary of {} words, text encoder for {} and {}-d features, generator for {}-d",
                    vocab.len(),
                    dconfig.vocab,
                    dconfig.embed_dim(),
                    config.embed_dim
                ),
            });
        }
        let gan = AttnGan::new(rt, config, 0)?;
        gan.gen_params.load_state(&ck.with_prefix("gen."), &src)?;
        // Sample from the moving average, as AttnGAN does.
        if let Some((_, shadow)) = ck.tensors.get("ema.flat").filter(|_| use_ema) {
            let flat = gan.gen_params.flat().0;
            if shadow.len() != flat.numel() {
                return Err(Error::Checkpoint {
                    path: src,
                    message: format!(
                        "its moving average holds {} values for a generator of {}",
                        shadow.len(),
                        flat.numel()
                    ),
                });
            }
            flat.write(shadow)?;
        }
        Ok(Sampler {
            gan,
            text: TextModel::load(rt, dconfig, &ck.with_prefix("text."), &src)?,
            vocab,
            ca_noise: true,
            data: DataSpec::id_of(&ck.metadata),
        })
    }

    /// Writes only what sampling needs (G's weights as this sampler holds
    /// them, the text encoder, the vocabulary, both configurations) to
    /// `out`, as f16 if asked; `meta` adds provenance (source, step).
    pub fn export(&self, out: &Path, f16: bool, meta: &[(&str, String)]) -> Result<()> {
        let mut ck = Checkpoint {
            f16,
            ..Default::default()
        };
        ck.extend("gen.", self.gan.gen_params.state()?);
        ck.extend("text.", self.text.params.state()?);
        let m = &mut ck.metadata;
        m.insert("engine.model".into(), EXPORT_KIND.into());
        m.insert("engine.version".into(), env!("CARGO_PKG_VERSION").into());
        m.insert("config".into(), self.gan.config.to_text());
        m.insert("damsm_config".into(), self.text.config.to_text());
        m.insert("vocab".into(), self.vocab.to_text());
        m.insert("dtype".into(), if f16 { "f16" } else { "f32" }.into());
        m.insert("data".into(), self.data.clone());
        for (k, v) in meta {
            m.insert((*k).into(), v.clone());
        }
        ck.save(out)
    }

    /// The ids of a caption's known words (at most the model's `max_words`:
    /// the first ones, so that a drawing does not depend on a random cut), and
    /// its unknown words.
    fn caption_ids(&self, caption: &str) -> Result<(Vec<u32>, Vec<String>)> {
        let enc = self.vocab.encode(caption);
        let used: Vec<u32> = enc
            .ids
            .iter()
            .copied()
            .filter(|&i| i != 1)
            .take(self.gan.config.max_words)
            .collect();
        if used.is_empty() {
            return Err(Error::invalid(
                "generate",
                format!(
                    "the caption {:?}{} has no word the model knows (unknown: {}{})",
                    caption.chars().take(80).collect::<String>(),
                    if caption.chars().count() > 80 {
                        "..."
                    } else {
                        ""
                    },
                    enc.unknown
                        .iter()
                        .take(20)
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", "),
                    if enc.unknown.len() > 20 { ", ..." } else { "" }
                ),
            ));
        }
        Ok((used, enc.unknown))
    }

    /// The words per caption this model takes.
    pub fn max_words(&self) -> usize {
        self.gan.config.max_words
    }

    /// z and the conditioning-augmentation eps of one image, from `rng`:
    /// z_dim values of z, then cond_dim of eps (zeros without `ca_noise`).
    fn noise_of(&self, rng: &mut SplitMix64, z: &mut Vec<f32>, eps: &mut Vec<f32>) {
        let c = &self.gan.config;
        z.extend((0..c.z_dim).map(|_| rng.normal() as f32));
        if self.ca_noise {
            eps.extend((0..c.cond_dim).map(|_| rng.normal() as f32));
        } else {
            eps.extend(std::iter::repeat_n(0.0, c.cond_dim));
        }
    }

    /// G's forward pass (no gradients) for a batch of captions given as word
    /// ids, with the noise rows `noise` ([n, z_dim] values) and `eps` ([n, cond_dim]).
    fn forward(
        &self,
        rt: &Runtime,
        captions: &[Vec<u32>],
        noise: Vec<f32>,
        eps: Vec<f32>,
    ) -> Result<crate::models::attngan::Generated> {
        let n = captions.len();
        let t = self.max_words();
        let mut ids = vec![0.0f32; n * t];
        for (i, used) in captions.iter().enumerate() {
            for (k, &w) in used.iter().take(t).enumerate() {
                ids[i * t + k] = w as f32;
            }
        }
        let ids = Tensor::from_slice(rt, &ids, &[n, t])?;
        let lengths: Vec<usize> = captions.iter().map(|c| c.len().min(t)).collect();
        let mask = padding_mask(rt, &lengths, t)?;
        let c = &self.gan.config;
        no_grad(|| -> Result<_> {
            let (words, sentence) = self.text.encode(&ids, &lengths)?;
            let noise = Var::constant(Tensor::from_slice(rt, &noise, &[n, c.z_dim])?);
            let eps = Var::constant(Tensor::from_slice(rt, &eps, &[n, c.cond_dim])?);
            self.gan.gen.forward(
                &self.gan.gen_params,
                &noise,
                &eps,
                &sentence,
                &words,
                &mask,
                false,
            )
        })
    }

    /// The side of the images this generator draws.
    pub fn image_size(&self) -> usize {
        self.gan.config.image_size(self.gan.config.stages - 1)
    }

    /// One image per caption, for evaluation: image `i` uses the noise of
    /// (`seed`, `i`), so the result does not depend on how captions are
    /// batched. Unknown words are left out; a caption with no known word is
    /// an error.
    pub fn draw(&self, rt: &Runtime, captions: &[String], seed: u64) -> Result<Vec<RgbImage>> {
        const BATCH: usize = 16;
        let (z, cd) = (self.gan.config.z_dim, self.gan.config.cond_dim);
        let mut images = Vec::with_capacity(captions.len());
        for (chunk, caps) in captions.chunks(BATCH).enumerate() {
            let ids = caps
                .iter()
                .map(|c| self.caption_ids(c).map(|(ids, _)| ids))
                .collect::<Result<Vec<_>>>()?;
            let mut noise = Vec::with_capacity(caps.len() * z);
            let mut eps = Vec::with_capacity(caps.len() * cd);
            for i in 0..caps.len() {
                let key = rand::RngCore::next_u64(&mut crate::data::rng::SplitMix64::keyed(&[
                    seed,
                    (chunk * BATCH + i) as u64,
                ]));
                let mut rng = SplitMix64::new(key);
                self.noise_of(&mut rng, &mut noise, &mut eps);
            }
            let out = self.forward(rt, &ids, noise, eps)?;
            images.extend(to_images(out.images.last().unwrap().value())?);
            rt.trim_memory();
        }
        Ok(images)
    }

    /// `n` images for `caption` (noise drawn from `seed`), with the words
    /// used and the attention maps of the last refinement stage, read back to
    /// the host ([`Sampler::generate_on_device`] keeps them on the device).
    pub fn generate(&self, rt: &Runtime, caption: &str, n: usize, seed: u64) -> Result<Drawing> {
        let d = self.generate_on_device(rt, caption, n, seed)?;
        let images = to_images(&d.images)?;
        let len = d.words.len();
        let (maps, map_side) = match &d.attention {
            Some(attn) => {
                // [n, T, P] on the host: per image, per word, a P-long map.
                let (p, t) = (attn.dim(1), attn.dim(2));
                let a = crate::ops::attention::word_attention_maps(attn)?;
                let maps = (0..n)
                    .map(|i| {
                        (0..len)
                            .map(|w| a[(i * t + w) * p..(i * t + w + 1) * p].to_vec())
                            .collect()
                    })
                    .collect();
                (maps, (p as f64).sqrt() as usize)
            }
            None => (Vec::new(), 0),
        };
        Ok(Drawing {
            images,
            words: d.words,
            unknown: d.unknown,
            maps,
            map_side,
        })
    }

    /// `n` images for `caption` as device tensors, with no readback: for a
    /// host that keeps them on the GPU (see [`crate::ops::rgba::write_texture`]).
    /// Image `i` takes the `i`-th noise draw of `seed` (z, then the
    /// conditioning noise where [`Sampler::ca_noise`] is set), so it equals
    /// image `i` of [`Sampler::generate`] and of `engine generate --seed`.
    /// Unknown words are left out and listed; a caption with no known word
    /// is an error.
    pub fn generate_on_device(
        &self,
        rt: &Runtime,
        caption: &str,
        n: usize,
        seed: u64,
    ) -> Result<DeviceDrawing> {
        let (used, unknown) = self.caption_ids(caption)?;
        let mut d = self.generate_ids_on_device(rt, &used, n, seed)?;
        d.unknown = unknown;
        Ok(d)
    }

    /// [`Sampler::generate_on_device`] from word ids of the model's own
    /// vocabulary ([`Sampler::vocab`]: `vocab.encode(caption).ids`), of which
    /// the first `max_words` are read. Ids 0 (padding) and 1 (unknown) and
    /// ids past the vocabulary are errors.
    pub fn generate_ids_on_device(
        &self,
        rt: &Runtime,
        ids: &[u32],
        n: usize,
        seed: u64,
    ) -> Result<DeviceDrawing> {
        let bad = |m: String| Err(Error::invalid("generate", m));
        if n == 0 || n > 4096 {
            return bad(format!("{n} images: ask for 1 to 4096"));
        }
        if ids.is_empty() {
            return bad("no word ids: a caption needs at least one known word".into());
        }
        if let Some(&id) = ids
            .iter()
            .find(|&&i| i < 2 || i as usize >= self.vocab.len())
        {
            return bad(format!(
                "word id {id} is not a word of this model's vocabulary (2 to {}; 0 pads and 1 stands for unknown words)",
                self.vocab.len() - 1
            ));
        }
        let used: Vec<u32> = ids.iter().copied().take(self.max_words()).collect();
        let c = &self.gan.config;
        let mut rng = SplitMix64::new(seed);
        let (mut noise, mut eps) = (
            Vec::with_capacity(n * c.z_dim),
            Vec::with_capacity(n * c.cond_dim),
        );
        for _ in 0..n {
            self.noise_of(&mut rng, &mut noise, &mut eps);
        }
        let mut out = self.forward(rt, &vec![used.clone(); n], noise, eps)?;
        Ok(DeviceDrawing {
            images: out
                .images
                .pop()
                .expect("a generator has a stage")
                .value()
                .clone(),
            attention: out.attention.pop(),
            words: used
                .iter()
                .map(|&t| self.vocab.word(t).to_string())
                .collect(),
            unknown: Vec::new(),
        })
    }
}

/// What [`Sampler::generate_on_device`] draws: device tensors, nothing read
/// back; their work is recorded, and submitted by the next flush, wait or
/// [`Tensor::ready`].
#[derive(Debug, Clone)]
pub struct DeviceDrawing {
    /// The final stage's images, [n, 3, S, S] in [-1, 1].
    pub images: Tensor,
    /// The last refinement stage's attention over the words, [n, P, T]: P
    /// pixels of that stage's input (a square, row-major), T = the model's
    /// `max_words` (only the first `words.len()` columns are words). None for
    /// a one-stage model.
    pub attention: Option<Tensor>,
    /// The known words, in order, as the model read them.
    pub words: Vec<String>,
    /// Words the model does not know, left out.
    pub unknown: Vec<String>,
}

/// What [`Sampler::generate`] draws for one caption.
#[derive(Debug, Clone)]
pub struct Drawing {
    /// The final stage's images, one per noise draw.
    pub images: Vec<RgbImage>,
    /// The caption's known words, in order, as the model read them (at most `max_words`).
    pub words: Vec<String>,
    /// Words the model does not know, left out.
    pub unknown: Vec<String>,
    /// Per image, per word of `words`: where the last refinement stage
    /// attended, `map_side` x `map_side` values (row-major). Empty for a
    /// one-stage model (attention lives in the refinement stages).
    pub maps: Vec<Vec<Vec<f32>>>,
    /// The side of each map (the last refinement stage's input).
    pub map_side: usize,
}

/// A batch of images [n, 3, S, S] in [-1, 1] as 8-bit RGB images.
pub fn to_images(t: &Tensor) -> Result<Vec<RgbImage>> {
    let (n, side) = (t.dim(0), t.dim(2));
    let px = t.to_vec()?;
    Ok((0..n)
        .map(|i| {
            RgbImage::from_fn(side as u32, side as u32, |x, y| {
                let at = |ch: usize| {
                    let v = px[((i * 3 + ch) * side + y as usize) * side + x as usize];
                    ((v * 0.5 + 0.5).clamp(0.0, 1.0) * 255.0).round() as u8
                };
                image::Rgb([at(0), at(1), at(2)])
            })
        })
        .collect())
}
