//! Training and sampling DF-GAN (models/dfgan.rs) on the shared loop
//! (train/trainer.rs). The captions are read by a frozen DAMSM text encoder
//! (`--damsm`), whose sentence embedding is all DF-GAN uses of it (no DAMSM
//! loss). Adam with betas (0.0, 0.9), G at the run's learning rate (1e-4 by
//! default) and D at four times it (4e-4), as the released code.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use image::RgbImage;

use crate::autograd::Var;
use crate::data::{Batch, DataSpec, Vocab};
use crate::models::damsm::DamsmConfig;
use crate::models::dfgan::{self as m, Dfgan, DfganConfig};
use crate::nn::checkpoint::Checkpoint;
use crate::nn::config::ModelConfig;
use crate::nn::optim::Adam;
use crate::nn::{parallel, ParamStore, SplitMix64};
use crate::runtime::{Error, Result, Runtime, Tensor};
use crate::train::attngan::{normal_rows, to_images, TextModel};
use crate::train::trainer::{self, RunOptions};

/// `engine.model` of a DF-GAN checkpoint.
pub const KIND: &str = "dfgan";

/// D's learning rate over G's (4e-4 against 1e-4 in the released code).
pub const D_LR_RATIO: f32 = 4.0;

#[derive(Debug, Clone)]
pub struct DfganTrainOptions {
    /// `run.lr` is G's; D's is [`D_LR_RATIO`] times it.
    pub run: RunOptions,
    /// The DAMSM checkpoint whose text encoder and vocabulary read the captions.
    pub damsm: PathBuf,
    /// A power of two from 16 to 256.
    pub image_size: usize,
    pub ngf: usize,
    pub ndf: usize,
}

impl Default for DfganTrainOptions {
    fn default() -> Self {
        DfganTrainOptions {
            run: RunOptions {
                out: PathBuf::from("runs/dfgan"),
                batch: 32,
                lr: 1e-4,
                ..RunOptions::default()
            },
            damsm: PathBuf::from("runs/damsm/checkpoint.safetensors"),
            image_size: 64,
            ngf: 32,
            ndf: 32,
        }
    }
}

/// The model, its optimisers and where the run is.
struct Run {
    model: Dfgan,
    g_adam: Adam,
    d_adam: Adam,
    step: u64,
    losses: Vec<(f32, f32)>,
}

/// One training step, (D loss, G loss), both optimisers stepping: D on
/// real, mismatched and fake pairs with MA-GP, then G.
/// real: `[B, 3, S, S]`, sentence: `[B, text]` (constants).
pub fn gan_step(
    model: &Dfgan,
    g_adam: &mut Adam,
    d_adam: &mut Adam,
    real: &Var,
    sentence: &Var,
    noise_seed: u64,
) -> Result<(Var, Var)> {
    let rt = real.value().runtime().clone();
    let b = real.shape()[0];
    let mut rng = SplitMix64::new(noise_seed);
    let noise = normal_rows(&rt, &mut rng, b, model.config.z_dim)?;
    let fake = model.gen.forward(&model.gen_params, &noise, sentence)?;

    // MA-GP differentiates D's logits of the real pairs with respect to the
    // images and the sentences: both are leaves that need gradients here.
    let (real_leaf, sent_leaf) = (
        Var::leaf(real.value().clone()),
        Var::leaf(sentence.value().clone()),
    );
    model.disc_params.zero_grad()?;
    let (d_loss, _) = m::discriminator_loss(
        &model.disc,
        &model.disc_params,
        &real_leaf,
        &fake.detach(),
        &sent_leaf,
    )?;
    d_loss.backward()?;
    d_adam.step(&model.disc_params)?;

    model.disc_params.set_trainable(false);
    model.gen_params.zero_grad()?;
    let g_loss = m::generator_loss(&model.disc, &model.disc_params, &fake, sentence)?;
    g_loss.backward()?;
    g_adam.step(&model.gen_params)?;
    model.disc_params.set_trainable(true);
    Ok((d_loss, g_loss))
}

fn run_options(opts: &DfganTrainOptions) -> Vec<(&'static str, String)> {
    let mut o = opts.run.resume_keys();
    o.push((
        "damsm",
        crate::train::eval::file_hash(&opts.damsm).unwrap_or_default(),
    ));
    o
}

/// Trains DF-GAN with a frozen DAMSM's text encoder.
pub fn train_dfgan(rt: &Runtime, opts: &DfganTrainOptions) -> Result<trainer::GanReport> {
    let started = Instant::now();
    let ck_path = opts.run.out.join("checkpoint.safetensors");
    let _lock = crate::train::lock::RunLock::acquire(&opts.run.out)?;
    let (damsm, vocab) = crate::train::damsm::load_guide(rt, &opts.damsm, &opts.run.data)?;
    let text = TextModel::from_damsm(rt, &damsm)?;
    drop(damsm);
    let source = crate::train::damsm::training_source(&opts.run, opts.image_size)?;
    let config = DfganConfig {
        ngf: opts.ngf,
        ndf: opts.ndf,
        text_dim: text.config.embed_dim(),
        ..DfganConfig::paper(opts.image_size, source.max_words())
    };
    let model = Dfgan::new(rt, config.clone(), opts.run.seed)?;
    let options = run_options(opts);
    let betas = (0.0, 0.9);
    let mut run = Run {
        g_adam: Adam::new(&model.gen_params, opts.run.lr, betas)?,
        d_adam: Adam::new(&model.disc_params, D_LR_RATIO * opts.run.lr, betas)?,
        model,
        step: 0,
        losses: Vec::new(),
    };
    if opts.run.resume {
        let ck = crate::train::open_resume(&ck_path, &opts.run.data, &options, KIND, &config)?;
        let src = ck_path.display().to_string();
        run.model
            .gen_params
            .load_state(&ck.with_prefix("gen."), &src)?;
        run.model
            .disc_params
            .load_state(&ck.with_prefix("disc."), &src)?;
        run.g_adam.load_from(&ck, "optim.gen.", &src)?;
        run.d_adam.load_from(&ck, "optim.disc.", &src)?;
        run.step = ck.meta("step", &ck_path)?.parse().unwrap_or(0);
        run.losses = trainer::gan_losses_from(ck.meta("losses", &ck_path)?);
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

/// A DF-GAN run on the shared loop.
struct Trainee<'a> {
    run: Run,
    text: &'a TextModel,
    vocab: &'a Vocab,
    opts: &'a DfganTrainOptions,
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
        let sentence = Var::constant(self.text.encode(&up.ids, &up.lengths)?.1.value().clone());
        let noise_seed = self.opts.run.seed ^ run.step.wrapping_mul(0x2545_F491_4F6C_DD1D);
        let (d, g) = gan_step(
            &run.model,
            &mut run.g_adam,
            &mut run.d_adam,
            &real,
            &sentence,
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
        meta.insert("engine.model".into(), KIND.into());
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

/// G of a trained DF-GAN with the text encoder that reads its captions:
/// what `engine generate` and `engine eval` draw with.
pub struct DfganSampler {
    pub model: Dfgan,
    pub text: TextModel,
    pub vocab: Vocab,
    /// The data it was trained on ([`DataSpec::id`]).
    pub data: String,
}

impl DfganSampler {
    pub fn load(rt: &Runtime, path: &Path) -> Result<DfganSampler> {
        let ck = Checkpoint::load(path)?;
        let src = path.display().to_string();
        let bad = |message: String| Error::Checkpoint {
            path: src.clone(),
            message,
        };
        let kind = ck.meta("engine.model", path)?;
        if kind != KIND {
            return Err(bad(format!("holds a {kind} model, not DF-GAN")));
        }
        let config = DfganConfig::from_text(ck.meta("config", path)?)
            .map_err(|e| bad(format!("has a bad configuration: {e}")))?;
        let dconfig = DamsmConfig::from_text(ck.meta("damsm_config", path)?)
            .map_err(|e| bad(format!("has a bad configuration: {e}")))?;
        let vocab = Vocab::from_text(ck.meta("vocab", path)?)
            .map_err(|e| bad(format!("bad vocabulary: {e}")))?;
        if dconfig.vocab != vocab.len() || dconfig.embed_dim() != config.text_dim {
            return Err(bad(format!(
                "its parts do not fit together: vocabulary of {} words, text encoder for {} and {}-d features, generator for {}-d",
                vocab.len(),
                dconfig.vocab,
                dconfig.embed_dim(),
                config.text_dim
            )));
        }
        let model = Dfgan::new(rt, config, 0)?;
        model.gen_params.load_state(&ck.with_prefix("gen."), &src)?;
        let text = TextModel::load(rt, dconfig, &ck.with_prefix("text."), &src)?;
        Ok(DfganSampler {
            model,
            text,
            vocab,
            data: DataSpec::id_of(&ck.metadata),
        })
    }

    /// Image i's noise, from (seed, i) alone (DCGAN's): `[n, z]` on the host.
    fn noise(&self, seed: u64, first: usize, n: usize) -> Vec<f32> {
        crate::train::dcgan::image_noise(self.model.config.z_dim, seed, first, n)
    }

    fn render(&self, rt: &Runtime, noise: &[f32], sentence: &Var) -> Result<Vec<RgbImage>> {
        let z = self.model.config.z_dim;
        let noise = Var::constant(Tensor::from_slice(rt, noise, &[noise.len() / z, z])?);
        let img = crate::autograd::no_grad(|| {
            self.model
                .gen
                .forward(&self.model.gen_params, &noise, sentence)
        })?;
        let out = to_images(img.value());
        rt.trim_memory();
        out
    }
}

impl crate::train::eval::Generator for DfganSampler {
    fn image_size(&self) -> usize {
        self.model.config.image_size
    }

    /// One image per caption; image i's noise comes from (seed, i) alone.
    fn draw(&self, rt: &Runtime, captions: &[String], seed: u64) -> Result<Vec<RgbImage>> {
        const BATCH: usize = 16;
        let t = self.model.config.max_words;
        let mut images = Vec::with_capacity(captions.len());
        for (chunk, caps) in captions.chunks(BATCH).enumerate() {
            let noise = self.noise(seed, chunk * BATCH, caps.len());
            let s = crate::train::eval::sentences(rt, &self.text, &self.vocab, t, caps)?;
            images.extend(self.render(rt, &noise, &s)?);
        }
        Ok(images)
    }

    /// The sentence embedding walked from A to B, image 0's noise throughout.
    fn walk(
        &self,
        rt: &Runtime,
        a: &str,
        b: &str,
        steps: usize,
        seed: u64,
    ) -> Result<Vec<RgbImage>> {
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
        self.render(rt, &noise, &mixed)
    }
}
