//! Training and sampling StackGAN (models/stackgan.rs) in its two phases on
//! the shared loop: `engine train --model stackgan` trains stage I (G1, D1);
//! `--stage1 CKPT` then trains stage II (G2, D2) on that stage I, frozen
//! (batch norm on its running statistics). Adam 2e-4 (betas 0.5/0.999) as
//! in the released code; the KL term weighs 2. A phase-2 checkpoint holds
//! stage I's weights too, so it alone draws.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use image::RgbImage;

use crate::autograd::{no_grad, Var};
use crate::data::{Batch, DataSpec, Vocab};
use crate::models::attngan::kl_loss;
use crate::models::damsm::DamsmConfig;
use crate::models::stackgan::{self as m, StackGan, StackGanConfig};
use crate::nn::checkpoint::Checkpoint;
use crate::nn::config::ModelConfig;
use crate::nn::optim::Adam;
use crate::nn::{parallel, ParamStore, SplitMix64};
use crate::runtime::{Error, Result, Runtime, Tensor};
use crate::train::attngan::{normal_rows, to_images, TextModel};
use crate::train::trainer::{self, RunOptions};

/// `engine.model` of its checkpoints (with `phase` 1 or 2 in the metadata).
pub const KIND: &str = "stackgan";

#[derive(Debug, Clone)]
pub struct StackGanTrainOptions {
    pub run: RunOptions,
    pub damsm: PathBuf,
    /// None: phase 1 (stage I); Some: phase 2 on this phase-1 checkpoint.
    pub stage1: Option<PathBuf>,
    pub base_size: usize,
    pub ngf: usize,
    pub ndf: usize,
}

impl Default for StackGanTrainOptions {
    fn default() -> Self {
        StackGanTrainOptions {
            run: RunOptions {
                out: PathBuf::from("runs/stackgan"),
                batch: 8,
                ..RunOptions::default()
            },
            damsm: PathBuf::from("runs/damsm/checkpoint.safetensors"),
            stage1: None,
            base_size: 64,
            ngf: 32,
            ndf: 64,
        }
    }
}

/// What a finished (or stopped) run reports.
pub type StackGanReport = trainer::GanReport;

/// The model, the phase it trains, and that phase's optimisers.
pub struct Nets {
    pub model: StackGan,
    pub phase: usize,
    pub g_adam: Adam,
    pub d_adam: Adam,
}

impl Nets {
    pub fn new(model: StackGan, phase: usize, lr: f32) -> Result<Nets> {
        let (g, d) = Nets::stores_of(&model, phase);
        Ok(Nets {
            g_adam: Adam::new(g, lr, (0.5, 0.999))?,
            d_adam: Adam::new(d, lr, (0.5, 0.999))?,
            model,
            phase,
        })
    }

    /// The (G, D) stores phase `phase` trains.
    fn stores_of(model: &StackGan, phase: usize) -> (&ParamStore, &ParamStore) {
        if phase == 1 {
            (&model.gen1_params, &model.disc1_params)
        } else {
            (&model.gen2_params, &model.disc2_params)
        }
    }

    fn stores(&self) -> (&ParamStore, &ParamStore) {
        Nets::stores_of(&self.model, self.phase)
    }
}

/// Stage I's images for (noise, eps, sentence), frozen (phase 2, sampling):
/// no gradients, batch norm on its running statistics.
fn stage1_images(model: &StackGan, noise: &Var, eps: &Var, sentence: &Var) -> Result<Var> {
    no_grad(|| {
        let out = model
            .gen1
            .forward(&model.gen1_params, noise, eps, sentence, false)?;
        Ok(out.images[0].clone())
    })
}

/// One step of the phase being trained, on reals of its side and sentences
/// `[B, E]`: D, then G. Returns (D loss, G loss), not read back.
pub fn gan_step(
    nets: &mut Nets,
    real: &Var,
    sentence: &Var,
    noise_seed: u64,
) -> Result<(Var, Var)> {
    let rt = sentence.value().runtime().clone();
    let b = sentence.shape()[0];
    let c = nets.model.config.clone();
    let mut rng = SplitMix64::new(noise_seed);
    let noise = normal_rows(&rt, &mut rng, b, c.z_dim)?;
    let eps = normal_rows(&rt, &mut rng, b, c.cond_dim)?;
    let model = &nets.model;
    let (g_adam, d_adam) = (&mut nets.g_adam, &mut nets.d_adam);
    let (fake, mu, logvar, d, dps) = if nets.phase == 1 {
        let out = model
            .gen1
            .forward(&model.gen1_params, &noise, &eps, sentence, true)?;
        let img = out.images[0].clone();
        (img, out.mu, out.logvar, &model.disc1, &model.disc1_params)
    } else {
        let low = stage1_images(model, &noise, &eps, sentence)?;
        let eps2 = normal_rows(&rt, &mut rng, b, c.cond_dim)?;
        let (img, mu, logvar) =
            model
                .gen2
                .forward(&model.gen2_params, &low, &eps2, sentence, true)?;
        (img, mu, logvar, &model.disc2, &model.disc2_params)
    };
    let (gps, _) = Nets::stores_of(model, nets.phase);
    dps.zero_grad()?;
    let d_loss = m::discriminator_loss(d, dps, real, &fake, &mu.detach())?;
    d_loss.backward()?;
    d_adam.step(dps)?;
    dps.set_trainable(false);
    gps.zero_grad()?;
    let g_loss = m::generator_loss(d, dps, &fake, &mu)?
        .add(&kl_loss(&mu, &logvar)?.mul_scalar(super::stackgan_pp::KL_WEIGHT)?)?;
    g_loss.backward()?;
    g_adam.step(gps)?;
    dps.set_trainable(true);
    Ok((d_loss, g_loss))
}

fn run_options(opts: &StackGanTrainOptions) -> Vec<(&'static str, String)> {
    let mut o = opts.run.resume_keys();
    o.push((
        "damsm",
        crate::train::eval::file_hash(&opts.damsm).unwrap_or_default(),
    ));
    if let Some(s1) = &opts.stage1 {
        o.push((
            "stage1",
            crate::train::eval::file_hash(s1).unwrap_or_default(),
        ));
    }
    o
}

struct Run {
    nets: Nets,
    step: u64,
    losses: Vec<(f32, f32)>,
}

/// Trains stage I, or with `opts.stage1` stage II on it.
pub fn train_stackgan(rt: &Runtime, opts: &StackGanTrainOptions) -> Result<StackGanReport> {
    let started = Instant::now();
    let ck_path = opts.run.out.join("checkpoint.safetensors");
    let _lock = crate::train::lock::RunLock::acquire(&opts.run.out)?;
    let (damsm, vocab) = crate::train::damsm::load_guide(rt, &opts.damsm, &opts.run.data)?;
    let text = TextModel::from_damsm(rt, &damsm)?;
    drop(damsm);
    let phase = if opts.stage1.is_some() { 2 } else { 1 };
    let mut config = StackGanConfig {
        ngf: opts.ngf,
        ndf: opts.ndf,
        base_size: opts.base_size,
        ..StackGanConfig::paper(text.config.embed_dim())
    };
    let side = config.image_size(phase);
    let source = crate::train::damsm::training_source(&opts.run, side)?;
    config.max_words = source.max_words();
    let model = StackGan::new(rt, config.clone(), opts.run.seed)?;
    if let Some(s1) = &opts.stage1 {
        // Stage I as phase 1 left it, with the same configuration.
        let ck = Checkpoint::load(s1)?;
        let src = s1.display().to_string();
        let old = StackGanConfig::from_text(ck.meta("config", s1)?)?;
        if ck.meta("engine.model", s1)? != KIND || old != config {
            return Err(Error::Checkpoint {
                path: src,
                message: format!(
                    "is not a stage I of this configuration ({}); train it with engine train --model stackgan and the same sizes",
                    config.to_text()
                ),
            });
        }
        model
            .gen1_params
            .load_state(&ck.with_prefix("gen1."), &src)?;
    }
    let options = run_options(opts);
    let mut run = Run {
        nets: Nets::new(model, phase, opts.run.lr)?,
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
        side: side as u32,
    };
    trainer::run(
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
        config: &StackGanConfig,
        opts: &StackGanTrainOptions,
        options: &[(&str, String)],
    ) -> Result<()> {
        let ck = crate::train::open_resume(ck_path, &opts.run.data, options, KIND, config)?;
        let src = ck_path.display().to_string();
        let phase = ck.meta("phase", ck_path)?;
        if phase != self.nets.phase.to_string() {
            return Err(Error::Checkpoint {
                path: src,
                message: format!(
                    "holds StackGAN's phase {phase}; this run is phase {}: resume with the same phase (--stage1 for phase 2)",
                    self.nets.phase
                ),
            });
        }
        let model = &self.nets.model;
        for (prefix, ps) in [
            ("gen1.", &model.gen1_params),
            ("disc1.", &model.disc1_params),
            ("gen2.", &model.gen2_params),
            ("disc2.", &model.disc2_params),
        ] {
            ps.load_state(&ck.with_prefix(prefix), &src)?;
        }
        self.nets.g_adam.load_from(&ck, "optim.gen.", &src)?;
        self.nets.d_adam.load_from(&ck, "optim.disc.", &src)?;
        self.step = ck.meta("step", ck_path)?.parse().unwrap_or(0);
        self.losses = trainer::gan_losses_from(ck.meta("losses", ck_path)?);
        Ok(())
    }
}

struct Trainee<'a> {
    run: Run,
    text: &'a TextModel,
    vocab: &'a Vocab,
    opts: &'a StackGanTrainOptions,
    options: &'a [(&'static str, String)],
    ck_path: &'a Path,
    side: u32,
}

impl trainer::Trainee for Trainee<'_> {
    fn sizes(&self) -> Vec<u32> {
        vec![self.side]
    }

    fn max_words(&self) -> usize {
        self.run.nets.model.config.max_words
    }

    fn steps_done(&self) -> u64 {
        self.run.step
    }

    fn train_step(&mut self, rt: &Runtime, batch: &Batch) -> Result<String> {
        let run = &mut self.run;
        let mut up = trainer::upload(rt, batch, run.nets.model.config.max_words)?;
        let real = Var::constant(up.images.remove(0));
        let sentence = self.text.encode(&up.ids, &up.lengths)?.1;
        let noise_seed = self.opts.run.seed ^ run.step.wrapping_mul(0x2545_F491_4F6C_DD1D);
        let (d, g) = gan_step(&mut run.nets, &real, &sentence, noise_seed)?;
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
        let (run, nets) = (&self.run, &self.run.nets);
        let model = &nets.model;
        let mut ck = Checkpoint::default();
        ck.extend("gen1.", model.gen1_params.state()?);
        ck.extend("disc1.", model.disc1_params.state()?);
        ck.extend("gen2.", model.gen2_params.state()?);
        ck.extend("disc2.", model.disc2_params.state()?);
        nets.g_adam.save_into(&mut ck, "optim.gen.")?;
        nets.d_adam.save_into(&mut ck, "optim.disc.")?;
        ck.extend("text.", self.text.params.state()?);
        let meta = &mut ck.metadata;
        meta.insert("engine.model".into(), KIND.into());
        meta.insert("engine.version".into(), env!("CARGO_PKG_VERSION").into());
        meta.insert("phase".into(), nets.phase.to_string());
        meta.insert("step".into(), run.step.to_string());
        meta.insert("seed".into(), self.opts.run.seed.to_string());
        meta.insert("config".into(), model.config.to_text());
        meta.insert("damsm_config".into(), self.text.config.to_text());
        meta.insert("vocab".into(), self.vocab.to_text());
        meta.insert("data".into(), self.opts.run.data.id());
        meta.insert("options".into(), crate::train::options_text(self.options));
        meta.insert("losses".into(), trainer::gan_losses_text(&run.losses));
        ck.save(self.ck_path)
    }

    fn stores(&self) -> Vec<&ParamStore> {
        let (g, d) = self.run.nets.stores();
        vec![g, d]
    }
}

/// A trained StackGAN: stage I's images after phase 1, stage II's after
/// phase 2.
pub struct StackGanSampler {
    pub model: StackGan,
    pub phase: usize,
    pub text: TextModel,
    pub vocab: Vocab,
    pub data: String,
}

impl StackGanSampler {
    pub fn load(rt: &Runtime, path: &Path) -> Result<StackGanSampler> {
        let ck = Checkpoint::load(path)?;
        let src = path.display().to_string();
        let bad = |message: String| Error::Checkpoint {
            path: src.clone(),
            message,
        };
        let kind = ck.meta("engine.model", path)?;
        if kind != KIND {
            return Err(bad(format!("holds a {kind} model, not StackGAN")));
        }
        let phase = match ck.meta("phase", path)? {
            "1" => 1,
            "2" => 2,
            p => return Err(bad(format!("has phase {p:?}; StackGAN has phases 1 and 2"))),
        };
        let config = StackGanConfig::from_text(ck.meta("config", path)?)
            .map_err(|e| bad(format!("has a bad configuration: {e}")))?;
        let dconfig = DamsmConfig::from_text(ck.meta("damsm_config", path)?)
            .map_err(|e| bad(format!("has a bad configuration: {e}")))?;
        let vocab = Vocab::from_text(ck.meta("vocab", path)?)
            .map_err(|e| bad(format!("bad vocabulary: {e}")))?;
        if dconfig.vocab != vocab.len() || dconfig.embed_dim() != config.embed_dim {
            return Err(bad(format!(
                "its parts do not fit together: vocabulary of {} words, text encoder for {} and {}-d features, generator for {}-d",
                vocab.len(),
                dconfig.vocab,
                dconfig.embed_dim(),
                config.embed_dim
            )));
        }
        let model = StackGan::new(rt, config, 0)?;
        model
            .gen1_params
            .load_state(&ck.with_prefix("gen1."), &src)?;
        if phase == 2 {
            model
                .gen2_params
                .load_state(&ck.with_prefix("gen2."), &src)?;
        }
        let text = TextModel::load(rt, dconfig, &ck.with_prefix("text."), &src)?;
        Ok(StackGanSampler {
            model,
            phase,
            text,
            vocab,
            data: DataSpec::id_of(&ck.metadata),
        })
    }

    /// Image i's noise, its stage-I and stage-II conditioning noise, from
    /// (seed, i) alone.
    fn noise(&self, seed: u64, first: usize, n: usize) -> [Vec<f32>; 3] {
        let c = &self.model.config;
        let mut out = [Vec::new(), Vec::new(), Vec::new()];
        for i in first..first + n {
            let mut key = crate::data::rng::SplitMix64::keyed(&[seed, i as u64]);
            let mut rng = SplitMix64::new(rand::RngCore::next_u64(&mut key));
            out[0].extend((0..c.z_dim).map(|_| rng.normal() as f32));
            out[1].extend((0..c.cond_dim).map(|_| rng.normal() as f32));
            out[2].extend((0..c.cond_dim).map(|_| rng.normal() as f32));
        }
        out
    }

    fn render(&self, rt: &Runtime, noise: &[Vec<f32>; 3], sentence: &Var) -> Result<Vec<RgbImage>> {
        let c = &self.model.config;
        let n = sentence.shape()[0];
        let t = |v: &[f32], d: usize| -> Result<Var> {
            Ok(Var::constant(Tensor::from_slice(rt, v, &[n, d])?))
        };
        let (z, e1, e2) = (
            t(&noise[0], c.z_dim)?,
            t(&noise[1], c.cond_dim)?,
            t(&noise[2], c.cond_dim)?,
        );
        let low = stage1_images(&self.model, &z, &e1, sentence)?;
        let img = if self.phase == 1 {
            low
        } else {
            no_grad(|| {
                self.model
                    .gen2
                    .forward(&self.model.gen2_params, &low, &e2, sentence, false)
            })?
            .0
        };
        let images = to_images(img.value());
        rt.trim_memory();
        images
    }
}

impl crate::train::eval::Generator for StackGanSampler {
    fn image_size(&self) -> usize {
        self.model.config.image_size(self.phase)
    }

    fn draw(&self, rt: &Runtime, captions: &[String], seed: u64) -> Result<Vec<RgbImage>> {
        const BATCH: usize = 16;
        let t = self.model.config.max_words;
        let mut images = Vec::with_capacity(captions.len());
        for (chunk, caps) in captions.chunks(BATCH).enumerate() {
            let noise = self.noise(seed, chunk * BATCH, caps.len());
            let sentence = crate::train::eval::sentences(rt, &self.text, &self.vocab, t, caps)?;
            images.extend(self.render(rt, &noise, &sentence)?);
        }
        Ok(images)
    }

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
        let rep = |v: &Vec<f32>| v.iter().copied().cycle().take(steps * v.len()).collect();
        self.render(rt, &[rep(&one[0]), rep(&one[1]), rep(&one[2])], &mixed)
    }
}
