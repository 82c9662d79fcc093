//! Training and sampling DCGAN and GAN-INT-CLS (models/dcgan.rs) on the
//! shared loop (train/trainer.rs). Both read their captions with a frozen
//! DAMSM text encoder (`--damsm`, as AttnGAN does): GAN-INT-CLS conditions
//! on its sentence embedding; the plain DCGAN ignores the text, and keeps
//! the encoder only so that `engine eval` can score it like the others.
//! Adam (2e-4, betas 0.5/0.999) for G and D, as in both papers' code.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use image::RgbImage;

use crate::autograd::Var;
use crate::data::{Batch, DataSpec, Vocab};
use crate::models::damsm::DamsmConfig;
use crate::models::dcgan::{self as m, Dcgan, DcganConfig};
use crate::nn::checkpoint::Checkpoint;
use crate::nn::config::ModelConfig;
use crate::nn::optim::Adam;
use crate::nn::{parallel, ParamStore, SplitMix64};
use crate::runtime::{Error, Result, Runtime, Tensor};
use crate::train::attngan::{normal_rows, to_images, TextModel};
use crate::train::trainer::{self, RunOptions};

/// `engine.model` of a GAN-INT-CLS checkpoint; the plain DCGAN's is "dcgan".
pub const CLS_KIND: &str = "dcgan-cls";
pub const PLAIN_KIND: &str = "dcgan";

#[derive(Debug, Clone)]
pub struct DcganTrainOptions {
    pub run: RunOptions,
    /// GAN-INT-CLS (true) or the unconditional DCGAN.
    pub conditional: bool,
    /// The DAMSM checkpoint whose text encoder and vocabulary read the captions.
    pub damsm: PathBuf,
    /// 64 (the papers') or 32.
    pub image_size: usize,
    pub ngf: usize,
    pub ndf: usize,
}

impl Default for DcganTrainOptions {
    fn default() -> Self {
        DcganTrainOptions {
            run: RunOptions {
                out: PathBuf::from("runs/dcgan-cls"),
                batch: 64,
                ..RunOptions::default()
            },
            conditional: true,
            damsm: PathBuf::from("runs/damsm/checkpoint.safetensors"),
            image_size: 64,
            ngf: 64,
            ndf: 64,
        }
    }
}

/// What a finished (or stopped) run reports.
pub type DcganReport = trainer::GanReport;

/// The model, its optimisers and where the run is.
struct Run {
    model: Dcgan,
    g_adam: Adam,
    d_adam: Adam,
    step: u64,
    losses: Vec<(f32, f32)>,
}

/// One training step's losses, (D, G), from G and D as they are, with
/// reals `[B, 3, S, S]` and sentences `[B, E]` (None: plain DCGAN); both
/// optimisers step. GAN-INT adds G's loss on the mean of each caption's and
/// the next one's embeddings (beta 1/2), with noise of its own.
pub fn gan_step(
    model: &Dcgan,
    g_adam: &mut Adam,
    d_adam: &mut Adam,
    real: &Var,
    sentence: Option<&Var>,
    noise_seed: u64,
) -> Result<(Var, Var)> {
    let rt = real.value().runtime().clone();
    let b = real.shape()[0];
    let z = model.config.z_dim;
    let mut rng = SplitMix64::new(noise_seed);
    let noise = normal_rows(&rt, &mut rng, b, z)?;
    let fake = model
        .gen
        .forward(&model.gen_params, &noise, sentence, true)?;

    model.disc_params.zero_grad()?;
    let d_loss = m::discriminator_loss(&model.disc, &model.disc_params, real, &fake, sentence)?;
    d_loss.backward()?;
    d_adam.step(&model.disc_params)?;

    model.disc_params.set_trainable(false);
    model.gen_params.zero_grad()?;
    let mut g_loss = m::generator_loss(&model.disc, &model.disc_params, &fake, sentence)?;
    if let Some(s) = sentence {
        let mixed = m::interpolated(s, 0.5)?;
        let noise2 = normal_rows(&rt, &mut rng, b, z)?;
        let fake2 = model
            .gen
            .forward(&model.gen_params, &noise2, Some(&mixed), true)?;
        g_loss = g_loss.add(&m::generator_loss(
            &model.disc,
            &model.disc_params,
            &fake2,
            Some(&mixed),
        )?)?;
    }
    g_loss.backward()?;
    g_adam.step(&model.gen_params)?;
    model.disc_params.set_trainable(true);
    Ok((d_loss, g_loss))
}

fn run_options(opts: &DcganTrainOptions) -> Vec<(&'static str, String)> {
    let mut o = opts.run.resume_keys();
    o.push((
        "damsm",
        crate::train::eval::file_hash(&opts.damsm).unwrap_or_default(),
    ));
    o
}

fn kind(conditional: bool) -> &'static str {
    if conditional {
        CLS_KIND
    } else {
        PLAIN_KIND
    }
}

/// Trains a DCGAN or GAN-INT-CLS with a frozen DAMSM's text encoder.
pub fn train_dcgan(rt: &Runtime, opts: &DcganTrainOptions) -> Result<DcganReport> {
    let started = Instant::now();
    let ck_path = opts.run.out.join("checkpoint.safetensors");
    let _lock = crate::train::lock::RunLock::acquire(&opts.run.out)?;
    let (damsm, vocab) = crate::train::damsm::load_guide(rt, &opts.damsm, &opts.run.data)?;
    let text = TextModel::from_damsm(rt, &damsm)?;
    drop(damsm);
    let source = crate::train::damsm::training_source(&opts.run, opts.image_size)?;
    let config = DcganConfig {
        ngf: opts.ngf,
        ndf: opts.ndf,
        text_dim: if opts.conditional {
            text.config.embed_dim()
        } else {
            0
        },
        image_size: opts.image_size,
        max_words: source.max_words(),
        ..DcganConfig::paper(0)
    };
    let model = Dcgan::new(rt, config.clone(), opts.run.seed)?;
    let options = run_options(opts);
    let mut run = Run {
        g_adam: Adam::new(&model.gen_params, opts.run.lr, (0.5, 0.999))?,
        d_adam: Adam::new(&model.disc_params, opts.run.lr, (0.5, 0.999))?,
        model,
        step: 0,
        losses: Vec::new(),
    };
    if opts.run.resume {
        run.resume(&ck_path, &config, opts, &options)?;
    }
    let mut trainee = Trainee {
        run,
        text: &text,
        vocab: &vocab,
        opts,
        options: &options,
        ck_path: &ck_path,
    };
    crate::train::trainer::run(
        rt,
        &mut trainee,
        source,
        Arc::new(vocab.clone()),
        &opts.run,
        started,
    )?;
    let run = trainee.run;
    trainer::write_gan_curves(&opts.run.out, &run.losses)?;
    Ok(trainer::GanReport {
        steps: run.step,
        losses: run.losses,
        seconds: started.elapsed().as_secs_f64(),
        checkpoint: ck_path,
    })
}

impl Run {
    fn resume(
        &mut self,
        ck_path: &Path,
        config: &DcganConfig,
        opts: &DcganTrainOptions,
        options: &[(&str, String)],
    ) -> Result<()> {
        let ck = crate::train::open_resume(
            ck_path,
            &opts.run.data,
            options,
            kind(opts.conditional),
            config,
        )?;
        let src = ck_path.display().to_string();
        self.model
            .gen_params
            .load_state(&ck.with_prefix("gen."), &src)?;
        self.model
            .disc_params
            .load_state(&ck.with_prefix("disc."), &src)?;
        self.g_adam.load_from(&ck, "optim.gen.", &src)?;
        self.d_adam.load_from(&ck, "optim.disc.", &src)?;
        self.step = ck.meta("step", ck_path)?.parse().unwrap_or(0);
        self.losses = trainer::gan_losses_from(ck.meta("losses", ck_path)?);
        Ok(())
    }
}

/// A DCGAN run on the shared loop.
struct Trainee<'a> {
    run: Run,
    text: &'a TextModel,
    vocab: &'a Vocab,
    opts: &'a DcganTrainOptions,
    options: &'a [(&'static str, String)],
    ck_path: &'a Path,
}

impl crate::train::trainer::Trainee for Trainee<'_> {
    fn sizes(&self) -> Vec<u32> {
        vec![self.opts.image_size as u32]
    }

    fn max_words(&self) -> usize {
        self.run.model.config.max_words
    }

    fn steps_done(&self) -> u64 {
        self.run.step
    }

    fn train_step(&mut self, rt: &Runtime, batch: &Batch) -> Result<String> {
        let run = &mut self.run;
        let mut up = trainer::upload(rt, batch, run.model.config.max_words)?;
        let real = Var::constant(up.images.remove(0));
        let sentence = if run.model.config.conditional() {
            Some(self.text.encode(&up.ids, &up.lengths)?.1)
        } else {
            None
        };
        let noise_seed = self.opts.run.seed ^ run.step.wrapping_mul(0x2545_F491_4F6C_DD1D);
        let (d, g) = gan_step(
            &run.model,
            &mut run.g_adam,
            &mut run.d_adam,
            &real,
            sentence.as_ref(),
            noise_seed,
        )?;
        let mut values = crate::ops::concat::read_scalars(&[d.value(), g.value()])?;
        parallel::all_reduce_mean(&mut values);
        let (d, g) = (values[0], values[1]);
        if !(d.is_finite() && g.is_finite()) {
            return Err(Error::invalid(
                "train",
                format!(
                    "a loss became non-finite at step {} (D {d}, G {g}); the last checkpoint is kept in {}",
                    run.step,
                    self.ck_path.display()
                ),
            ));
        }
        run.losses.push((d, g));
        run.step += 1;
        Ok(format!("D {d:.3} G {g:.3}"))
    }

    fn save(&self) -> Result<()> {
        let run = &self.run;
        let mut ck = Checkpoint::default();
        ck.extend("gen.", run.model.gen_params.state()?);
        ck.extend("disc.", run.model.disc_params.state()?);
        run.g_adam.save_into(&mut ck, "optim.gen.")?;
        run.d_adam.save_into(&mut ck, "optim.disc.")?;
        ck.extend("text.", self.text.params.state()?);
        let meta = &mut ck.metadata;
        meta.insert("engine.model".into(), kind(self.opts.conditional).into());
        meta.insert("engine.version".into(), env!("CARGO_PKG_VERSION").into());
        meta.insert("step".into(), run.step.to_string());
        meta.insert("seed".into(), self.opts.run.seed.to_string());
        meta.insert("config".into(), run.model.config.to_text());
        meta.insert("damsm_config".into(), self.text.config.to_text());
        meta.insert("vocab".into(), self.vocab.to_text());
        meta.insert("data".into(), self.opts.run.data.id());
        meta.insert("options".into(), crate::train::options_text(self.options));
        meta.insert("losses".into(), trainer::gan_losses_text(&run.losses));
        ck.save(self.ck_path)
    }

    fn stores(&self) -> Vec<&ParamStore> {
        vec![&self.run.model.gen_params, &self.run.model.disc_params]
    }
}

/// Noise of images first..first + n, each from (seed, its index) alone, so
/// that image i is the same whatever the batch: `[n, z]` on the host.
/// DCGAN's and DF-GAN's samplers draw with it.
pub(crate) fn image_noise(z: usize, seed: u64, first: usize, n: usize) -> Vec<f32> {
    let mut noise = Vec::with_capacity(n * z);
    for i in first..first + n {
        let mut key = crate::data::rng::SplitMix64::keyed(&[seed, i as u64]);
        let mut rng = SplitMix64::new(rand::RngCore::next_u64(&mut key));
        noise.extend((0..z).map(|_| rng.normal() as f32));
    }
    noise
}

/// G of a trained DCGAN or GAN-INT-CLS, with the text encoder that reads
/// its captions: what `engine generate` and `engine eval` draw with.
pub struct DcganSampler {
    pub model: Dcgan,
    pub text: TextModel,
    pub vocab: Vocab,
    /// The data it was trained on ([`DataSpec::id`]).
    pub data: String,
}

impl DcganSampler {
    /// From a training checkpoint of either kind.
    pub fn load(rt: &Runtime, path: &Path) -> Result<DcganSampler> {
        let ck = Checkpoint::load(path)?;
        let src = path.display().to_string();
        let bad = |message: String| Error::Checkpoint {
            path: src.clone(),
            message,
        };
        let kind = ck.meta("engine.model", path)?;
        if kind != CLS_KIND && kind != PLAIN_KIND {
            return Err(bad(format!("holds a {kind} model, not a DCGAN")));
        }
        let config = DcganConfig::from_text(ck.meta("config", path)?)
            .map_err(|e| bad(format!("has a bad configuration: {e}")))?;
        let dconfig = DamsmConfig::from_text(ck.meta("damsm_config", path)?)
            .map_err(|e| bad(format!("has a bad configuration: {e}")))?;
        let vocab = Vocab::from_text(ck.meta("vocab", path)?)
            .map_err(|e| bad(format!("bad vocabulary: {e}")))?;
        if dconfig.vocab != vocab.len()
            || (config.conditional() && dconfig.embed_dim() != config.text_dim)
        {
            return Err(bad(format!(
                "its parts do not fit together: vocabulary of {} words, text encoder for {} and {}-d features, generator for {}-d",
                vocab.len(),
                dconfig.vocab,
                dconfig.embed_dim(),
                config.text_dim
            )));
        }
        let model = Dcgan::new(rt, config, 0)?;
        model.gen_params.load_state(&ck.with_prefix("gen."), &src)?;
        let text = TextModel::load(rt, dconfig, &ck.with_prefix("text."), &src)?;
        Ok(DcganSampler {
            model,
            text,
            vocab,
            data: DataSpec::id_of(&ck.metadata),
        })
    }

    pub fn image_size(&self) -> usize {
        self.model.config.image_size
    }

    fn noise(&self, seed: u64, first: usize, n: usize) -> Vec<f32> {
        image_noise(self.model.config.z_dim, seed, first, n)
    }

    /// G with batch norm on its running statistics, no gradients.
    fn render(&self, rt: &Runtime, noise: &[f32], sentence: Option<&Var>) -> Result<Vec<RgbImage>> {
        let z = self.model.config.z_dim;
        let noise = Var::constant(Tensor::from_slice(rt, noise, &[noise.len() / z, z])?);
        let img = crate::autograd::no_grad(|| {
            self.model
                .gen
                .forward(&self.model.gen_params, &noise, sentence, false)
        })?;
        let out = to_images(img.value());
        rt.trim_memory();
        out
    }

    /// One image per caption; image i's noise comes from (seed, i) alone.
    pub fn draw(&self, rt: &Runtime, captions: &[String], seed: u64) -> Result<Vec<RgbImage>> {
        const BATCH: usize = 16;
        let mut images = Vec::with_capacity(captions.len());
        for (chunk, caps) in captions.chunks(BATCH).enumerate() {
            let noise = self.noise(seed, chunk * BATCH, caps.len());
            let sentence = if self.model.config.conditional() {
                let t = self.model.config.max_words;
                Some(crate::train::eval::sentences(
                    rt,
                    &self.text,
                    &self.vocab,
                    t,
                    caps,
                )?)
            } else {
                None
            };
            images.extend(self.render(rt, &noise, sentence.as_ref())?);
        }
        Ok(images)
    }
}

impl crate::train::eval::Generator for DcganSampler {
    fn image_size(&self) -> usize {
        DcganSampler::image_size(self)
    }
    fn draw(&self, rt: &Runtime, captions: &[String], seed: u64) -> Result<Vec<RgbImage>> {
        DcganSampler::draw(self, rt, captions, seed)
    }

    /// GAN-INT-CLS's walk between two captions, with image 0's noise.
    fn walk(
        &self,
        rt: &Runtime,
        a: &str,
        b: &str,
        steps: usize,
        seed: u64,
    ) -> Result<Vec<RgbImage>> {
        if !self.model.config.conditional() {
            return Err(Error::invalid(
                "generate",
                "the plain DCGAN ignores captions: there is nothing to walk between",
            ));
        }
        let t = self.model.config.max_words;
        let mixed =
            crate::train::eval::walk_sentences(rt, &self.text, &self.vocab, t, a, b, steps)?;
        let one = self.noise(seed, 0, 1);
        let noise: Vec<f32> = one
            .iter()
            .copied()
            .cycle()
            .take(steps * one.len())
            .collect();
        self.render(rt, &noise, Some(&mixed))
    }
}
