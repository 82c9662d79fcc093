//! Training and sampling StackGAN++ (models/stackgan_pp.rs) on the shared
//! loop, with a frozen DAMSM's sentence encoder (`--damsm`). As in the
//! released StackGAN-v2 code: Adam 2e-4 (betas 0.5/0.999) for G and each D,
//! every D on detached fakes with the code mu (detached) as condition, then
//! G on the sum over stages of its adversarial losses, the colour
//! consistency between consecutive stages and the KL term (weight 2), and
//! a moving average of G's weights (0.999, warmed up as AttnGAN's) that is
//! what gets sampled.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use image::RgbImage;

use crate::autograd::Var;
use crate::data::{Batch, DataSpec, Vocab};
use crate::models::attngan::kl_loss;
use crate::models::damsm::DamsmConfig;
use crate::models::stackgan_pp::{self as m, StackGanPP, StackGanPPConfig};
use crate::nn::checkpoint::Checkpoint;
use crate::nn::config::ModelConfig;
use crate::nn::optim::{Adam, Ema};
use crate::nn::{parallel, ParamStore, SplitMix64};
use crate::runtime::{Error, Result, Runtime, Tensor};
use crate::train::attngan::{normal_rows, to_images, TextModel};
use crate::train::trainer::{self, RunOptions};

/// `engine.model` of its checkpoints.
pub const KIND: &str = "stackgan++";

/// The KL term's weight (StackGAN-v2's TRAIN.COEFF.KL).
pub const KL_WEIGHT: f32 = 2.0;

#[derive(Debug, Clone)]
pub struct StackGanPPTrainOptions {
    pub run: RunOptions,
    pub damsm: PathBuf,
    pub stages: usize,
    pub base_size: usize,
    pub ngf: usize,
    pub ndf: usize,
}

impl Default for StackGanPPTrainOptions {
    fn default() -> Self {
        StackGanPPTrainOptions {
            run: RunOptions {
                out: PathBuf::from("runs/stackgan++"),
                batch: 8,
                ..RunOptions::default()
            },
            damsm: PathBuf::from("runs/damsm/checkpoint.safetensors"),
            stages: 3,
            base_size: 64,
            ngf: 32,
            ndf: 64,
        }
    }
}

/// What a finished (or stopped) run reports.
pub type StackGanPPReport = trainer::GanReport;

/// The networks of a run and their optimisers.
pub struct Nets {
    pub model: StackGanPP,
    pub g_adam: Adam,
    pub d_adams: Vec<Adam>,
    pub ema: Ema,
}

impl Nets {
    pub fn new(model: StackGanPP, lr: f32) -> Result<Nets> {
        Ok(Nets {
            g_adam: Adam::new(&model.gen_params, lr, (0.5, 0.999))?,
            d_adams: model
                .disc_params
                .iter()
                .map(|ps| Adam::new(ps, lr, (0.5, 0.999)))
                .collect::<Result<_>>()?,
            ema: Ema::new(&model.gen_params, 0.999)?,
            model,
        })
    }
}

/// One training step on reals (one per stage, `[B, 3, S_i, S_i]`) and
/// sentences `[B, E]`: every D, then G and its moving average. Returns (the
/// D losses, the G loss), not read back.
pub fn gan_step(
    nets: &mut Nets,
    reals: &[Var],
    sentence: &Var,
    noise_seed: u64,
) -> Result<(Vec<Var>, Var)> {
    let rt = sentence.value().runtime().clone();
    let b = sentence.shape()[0];
    let c = nets.model.config.clone();
    let mut rng = SplitMix64::new(noise_seed);
    let noise = normal_rows(&rt, &mut rng, b, c.z_dim)?;
    let eps = normal_rows(&rt, &mut rng, b, c.cond_dim)?;
    let model = &nets.model;
    let out = model
        .gen
        .forward(&model.gen_params, &noise, &eps, sentence, true)?;
    let cond = out.mu.detach();
    let mut d_losses = Vec::new();
    for (i, real) in reals.iter().enumerate() {
        let ps = &model.disc_params[i];
        ps.zero_grad()?;
        let loss = m::discriminator_loss(&model.discs[i], ps, real, &out.images[i], &cond)?;
        loss.backward()?;
        nets.d_adams[i].step(ps)?;
        d_losses.push(loss);
    }
    for ps in &model.disc_params {
        ps.set_trainable(false);
    }
    model.gen_params.zero_grad()?;
    let mut g = kl_loss(&out.mu, &out.logvar)?.mul_scalar(KL_WEIGHT)?;
    for (i, fake) in out.images.iter().enumerate() {
        g = g.add(&m::generator_loss(
            &model.discs[i],
            &model.disc_params[i],
            fake,
            &out.mu,
        )?)?;
        if i > 0 {
            g = g.add(&m::colour_consistency(fake, &out.images[i - 1])?)?;
        }
    }
    g.backward()?;
    nets.g_adam.step(&model.gen_params)?;
    nets.ema.update(&model.gen_params)?;
    for ps in &model.disc_params {
        ps.set_trainable(true);
    }
    Ok((d_losses, g))
}

fn run_options(opts: &StackGanPPTrainOptions) -> Vec<(&'static str, String)> {
    let mut o = opts.run.resume_keys();
    o.push((
        "damsm",
        crate::train::eval::file_hash(&opts.damsm).unwrap_or_default(),
    ));
    o
}

struct Run {
    nets: Nets,
    step: u64,
    losses: Vec<(f32, f32)>,
}

/// Trains StackGAN++ with a frozen DAMSM's sentence encoder.
pub fn train_stackgan_pp(rt: &Runtime, opts: &StackGanPPTrainOptions) -> Result<StackGanPPReport> {
    let started = Instant::now();
    let ck_path = opts.run.out.join("checkpoint.safetensors");
    let _lock = crate::train::lock::RunLock::acquire(&opts.run.out)?;
    let (damsm, vocab) = crate::train::damsm::load_guide(rt, &opts.damsm, &opts.run.data)?;
    let text = TextModel::from_damsm(rt, &damsm)?;
    drop(damsm);
    let config = StackGanPPConfig {
        ngf: opts.ngf,
        ndf: opts.ndf,
        stages: opts.stages,
        base_size: opts.base_size,
        ..StackGanPPConfig::birds(text.config.embed_dim())
    };
    config.check()?;
    let sizes: Vec<u32> = (0..config.stages)
        .map(|s| config.image_size(s) as u32)
        .collect();
    let source = crate::train::damsm::training_source(&opts.run, *sizes.last().unwrap() as usize)?;
    let config = StackGanPPConfig {
        max_words: source.max_words(),
        ..config
    };
    let options = run_options(opts);
    let mut run = Run {
        nets: Nets::new(
            StackGanPP::new(rt, config.clone(), opts.run.seed)?,
            opts.run.lr,
        )?,
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
        sizes,
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
        config: &StackGanPPConfig,
        opts: &StackGanPPTrainOptions,
        options: &[(&str, String)],
    ) -> Result<()> {
        let ck = crate::train::open_resume(ck_path, &opts.run.data, options, KIND, config)?;
        let src = ck_path.display().to_string();
        let nets = &mut self.nets;
        nets.model
            .gen_params
            .load_state(&ck.with_prefix("gen."), &src)?;
        nets.g_adam.load_from(&ck, "optim.gen.", &src)?;
        for (i, ps) in nets.model.disc_params.iter().enumerate() {
            ps.load_state(&ck.with_prefix(&format!("disc{i}.")), &src)?;
            nets.d_adams[i].load_from(&ck, &format!("optim.disc{i}."), &src)?;
        }
        let (_, shadow) = ck
            .tensors
            .get("ema.flat")
            .ok_or_else(|| Error::Checkpoint {
                path: src.clone(),
                message: "has no moving average (ema.flat)".into(),
            })?;
        nets.ema.shadow.write(shadow)?;
        nets.ema.updates = ck.meta("ema.updates", ck_path)?.parse().unwrap_or(0);
        self.step = ck.meta("step", ck_path)?.parse().unwrap_or(0);
        self.losses = trainer::gan_losses_from(ck.meta("losses", ck_path)?);
        Ok(())
    }
}

struct Trainee<'a> {
    run: Run,
    text: &'a TextModel,
    vocab: &'a Vocab,
    opts: &'a StackGanPPTrainOptions,
    options: &'a [(&'static str, String)],
    ck_path: &'a Path,
    sizes: Vec<u32>,
}

impl trainer::Trainee for Trainee<'_> {
    fn sizes(&self) -> Vec<u32> {
        self.sizes.clone()
    }

    fn max_words(&self) -> usize {
        self.run.nets.model.config.max_words
    }

    fn steps_done(&self) -> u64 {
        self.run.step
    }

    fn train_step(&mut self, rt: &Runtime, batch: &Batch) -> Result<String> {
        let run = &mut self.run;
        let up = trainer::upload(rt, batch, run.nets.model.config.max_words)?;
        let reals: Vec<Var> = up.images.into_iter().map(Var::constant).collect();
        let sentence = self.text.encode(&up.ids, &up.lengths)?.1;
        let noise_seed = self.opts.run.seed ^ run.step.wrapping_mul(0x2545_F491_4F6C_DD1D);
        let (d_losses, g) = gan_step(&mut run.nets, &reals, &sentence, noise_seed)?;
        let mut values: Vec<&Tensor> = d_losses.iter().map(|l| l.value()).collect();
        values.push(g.value());
        let mut values = crate::ops::concat::read_scalars(&values)?;
        parallel::all_reduce_mean(&mut values);
        let g = values.pop().unwrap_or(f32::NAN);
        let d: f32 = values.iter().sum();
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
        let mut ck = Checkpoint::default();
        ck.extend("gen.", nets.model.gen_params.state()?);
        nets.g_adam.save_into(&mut ck, "optim.gen.")?;
        for (i, ps) in nets.model.disc_params.iter().enumerate() {
            ck.extend(&format!("disc{i}."), ps.state()?);
            nets.d_adams[i].save_into(&mut ck, &format!("optim.disc{i}."))?;
        }
        ck.insert(
            "ema.flat",
            vec![nets.ema.shadow.numel()],
            nets.ema.shadow.to_vec()?,
        );
        ck.extend("text.", self.text.params.state()?);
        let meta = &mut ck.metadata;
        meta.insert("engine.model".into(), KIND.into());
        meta.insert("engine.version".into(), env!("CARGO_PKG_VERSION").into());
        meta.insert("ema.updates".into(), nets.ema.updates.to_string());
        meta.insert("step".into(), run.step.to_string());
        meta.insert("seed".into(), self.opts.run.seed.to_string());
        meta.insert("config".into(), nets.model.config.to_text());
        meta.insert("damsm_config".into(), self.text.config.to_text());
        meta.insert("vocab".into(), self.vocab.to_text());
        meta.insert("data".into(), self.opts.run.data.id());
        meta.insert("options".into(), crate::train::options_text(self.options));
        meta.insert("losses".into(), trainer::gan_losses_text(&run.losses));
        ck.save(self.ck_path)
    }

    fn stores(&self) -> Vec<&ParamStore> {
        let m = &self.run.nets.model;
        std::iter::once(&m.gen_params)
            .chain(&m.disc_params)
            .collect()
    }

    fn extra_state(&self) -> Vec<&Tensor> {
        vec![&self.run.nets.ema.shadow]
    }
}

/// G's moving average with the text encoder: what `engine generate` and
/// `engine eval` draw with (the last stage's images).
pub struct StackGanPPSampler {
    pub model: StackGanPP,
    pub text: TextModel,
    pub vocab: Vocab,
    pub data: String,
}

impl StackGanPPSampler {
    pub fn load(rt: &Runtime, path: &Path) -> Result<StackGanPPSampler> {
        let ck = Checkpoint::load(path)?;
        let src = path.display().to_string();
        let bad = |message: String| Error::Checkpoint {
            path: src.clone(),
            message,
        };
        let kind = ck.meta("engine.model", path)?;
        if kind != KIND {
            return Err(bad(format!("holds a {kind} model, not StackGAN++")));
        }
        let config = StackGanPPConfig::from_text(ck.meta("config", path)?)
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
        let model = StackGanPP::new(rt, config, 0)?;
        model.gen_params.load_state(&ck.with_prefix("gen."), &src)?;
        // Sample from the moving average, as StackGAN-v2 does.
        if let Some((_, shadow)) = ck.tensors.get("ema.flat") {
            let flat = model.gen_params.flat().0;
            if shadow.len() != flat.numel() {
                return Err(bad(format!(
                    "its moving average holds {} values for a generator of {}",
                    shadow.len(),
                    flat.numel()
                )));
            }
            flat.write(shadow)?;
        }
        let text = TextModel::load(rt, dconfig, &ck.with_prefix("text."), &src)?;
        Ok(StackGanPPSampler {
            model,
            text,
            vocab,
            data: DataSpec::id_of(&ck.metadata),
        })
    }

    pub fn image_size(&self) -> usize {
        let c = &self.model.config;
        c.image_size(c.stages - 1)
    }

    /// The last stage's image for each (noise, eps) row and sentence.
    fn render(
        &self,
        rt: &Runtime,
        noise: &[f32],
        eps: &[f32],
        sentence: &Var,
    ) -> Result<Vec<RgbImage>> {
        let c = &self.model.config;
        let n = sentence.shape()[0];
        let noise = Var::constant(Tensor::from_slice(rt, noise, &[n, c.z_dim])?);
        let eps = Var::constant(Tensor::from_slice(rt, eps, &[n, c.cond_dim])?);
        let out = crate::autograd::no_grad(|| {
            self.model
                .gen
                .forward(&self.model.gen_params, &noise, &eps, sentence, false)
        })?;
        let images = to_images(out.images.last().expect("one stage at least").value());
        rt.trim_memory();
        images
    }

    /// Image i's noise and conditioning noise, from (seed, i) alone.
    fn noise(&self, seed: u64, first: usize, n: usize) -> (Vec<f32>, Vec<f32>) {
        let c = &self.model.config;
        let (mut z, mut e) = (Vec::new(), Vec::new());
        for i in first..first + n {
            let mut key = crate::data::rng::SplitMix64::keyed(&[seed, i as u64]);
            let mut rng = SplitMix64::new(rand::RngCore::next_u64(&mut key));
            z.extend((0..c.z_dim).map(|_| rng.normal() as f32));
            e.extend((0..c.cond_dim).map(|_| rng.normal() as f32));
        }
        (z, e)
    }
}

impl crate::train::eval::Generator for StackGanPPSampler {
    fn image_size(&self) -> usize {
        StackGanPPSampler::image_size(self)
    }

    fn draw(&self, rt: &Runtime, captions: &[String], seed: u64) -> Result<Vec<RgbImage>> {
        const BATCH: usize = 16;
        let mut images = Vec::with_capacity(captions.len());
        for (chunk, caps) in captions.chunks(BATCH).enumerate() {
            let (z, e) = self.noise(seed, chunk * BATCH, caps.len());
            let sentence = crate::train::eval::sentences(
                rt,
                &self.text,
                &self.vocab,
                self.model.config.max_words,
                caps,
            )?;
            images.extend(self.render(rt, &z, &e, &sentence)?);
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
        let c = &self.model.config;
        let mixed = crate::train::eval::walk_sentences(
            rt,
            &self.text,
            &self.vocab,
            c.max_words,
            a,
            b,
            steps,
        )?;
        let (z, e) = self.noise(seed, 0, 1);
        let z: Vec<f32> = z.iter().copied().cycle().take(steps * c.z_dim).collect();
        let e: Vec<f32> = e.iter().copied().cycle().take(steps * c.cond_dim).collect();
        self.render(rt, &z, &e, &mixed)
    }
}
