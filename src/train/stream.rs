//! Training the STREAM captioner (`engine train --model stream`), loading
//! it (`engine caption`, `engine eval caption`).
//!
//! The run lives in one folder: `checkpoint.safetensors` (the captioner, its
//! optimiser, step, configuration, vocabulary, losses), written atomically
//! every `checkpoint_every` steps and at the end, and `loss.png`. `--resume`
//! continues exactly: the data order is a function of (seed, epoch).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use crate::autograd::Var;
use crate::data::{Batch, Vocab};
use crate::models::stream::{Stream, StreamConfig};
use crate::nn::checkpoint::Checkpoint;
use crate::nn::config::ModelConfig;
use crate::nn::optim::Adam;
use crate::nn::{parallel, ParamStore};
use crate::runtime::{Error, Result, Runtime, Tensor};
use crate::train::trainer::RunOptions;

pub const KIND: &str = "stream";

/// Options of a captioner run.
#[derive(Debug, Clone)]
pub struct StreamTrainOptions {
    pub run: RunOptions,
    /// Side of the images the encoder reads.
    pub image_size: usize,
    /// Channels of the encoder's first layer.
    pub base_channels: usize,
}

impl Default for StreamTrainOptions {
    fn default() -> Self {
        StreamTrainOptions {
            run: RunOptions {
                out: PathBuf::from("runs/stream"),
                batch: 16,
                // The pytorch-tutorial captioner MirrorGAN's STREAM comes from.
                lr: 0.001,
                ..RunOptions::default()
            },
            image_size: 64,
            base_channels: 16,
        }
    }
}

/// What a finished (or stopped) run reports.
#[derive(Debug, Clone)]
pub struct StreamReport {
    pub steps: u64,
    pub losses: Vec<f32>,
    pub seconds: f64,
    pub checkpoint: PathBuf,
}

/// What a resume must repeat (besides the data, checked on its own).
fn run_options(opts: &StreamTrainOptions) -> Vec<(&'static str, String)> {
    let mut o = opts.run.resume_keys();
    o.push(("image_size", opts.image_size.to_string()));
    o.push(("base_channels", opts.base_channels.to_string()));
    o
}

/// A trained captioner with its vocabulary.
pub struct Captioner {
    pub model: Stream,
    pub vocab: Vocab,
    /// The data it was trained on (`DataSpec::id`).
    pub data: String,
    pub step: u64,
}

/// Loads a captioner checkpoint (`engine train --model stream`).
pub fn load_captioner(rt: &Runtime, path: &Path) -> Result<Captioner> {
    let (c, _) = load_with_checkpoint(rt, path)?;
    Ok(c)
}

/// The captioner that ships inside the binary (`engine export --f16` of
/// the README's captioner run, models/world-captioner.safetensors): what
/// `engine caption` reads with when no --model is given.
pub fn shipped_captioner(rt: &Runtime) -> Result<Captioner> {
    let name = Path::new(SHIPPED_NAME);
    let ck = Checkpoint::from_bytes(SHIPPED_CAPTIONER, name)?;
    Ok(from_checkpoint(rt, ck, name)?.0)
}

/// The shipped captioner's FNV-1a hash, as reports name it.
pub fn shipped_captioner_hash() -> String {
    crate::train::eval::bytes_hash(SHIPPED_CAPTIONER)
}

/// `path`'s captioner, or without one the shipped one.
pub fn open_captioner(rt: &Runtime, path: Option<&Path>) -> Result<Captioner> {
    match path {
        Some(p) => load_captioner(rt, p),
        None => shipped_captioner(rt),
    }
}

const SHIPPED_CAPTIONER: &[u8] = include_bytes!("../../models/world-captioner.safetensors");
/// How the shipped captioner is named in messages and reports.
pub const SHIPPED_NAME: &str = "the built-in world captioner (models/world-captioner.safetensors)";

fn load_with_checkpoint(rt: &Runtime, path: &Path) -> Result<(Captioner, Checkpoint)> {
    from_checkpoint(rt, Checkpoint::load(path)?, path)
}

/// A training checkpoint's captioner or an exported one (`engine export`).
fn from_checkpoint(rt: &Runtime, ck: Checkpoint, path: &Path) -> Result<(Captioner, Checkpoint)> {
    let src = path.display().to_string();
    let bad = |message: String| Error::Checkpoint {
        path: src.clone(),
        message,
    };
    let kind = ck.meta("engine.model", path)?;
    if kind != KIND {
        return Err(bad(format!(
            "holds a {kind} model, not a captioner; train one with engine train --model stream"
        )));
    }
    let config = StreamConfig::from_text(ck.meta("config", path)?)
        .map_err(|e| bad(format!("has a bad configuration: {e}")))?;
    let vocab = Vocab::from_text(ck.meta("vocab", path)?)
        .map_err(|e| bad(format!("bad vocabulary: {e}")))?;
    if vocab.len() != config.vocab {
        return Err(bad(format!(
            "its vocabulary has {} words and its decoder {}; they must match",
            vocab.len(),
            config.vocab
        )));
    }
    let model = Stream::new(rt, config, 0)?;
    model.params.load_state(&ck.with_prefix("stream."), &src)?;
    let step = ck.meta("step", path)?.parse().unwrap_or(0);
    Ok((
        Captioner {
            model,
            vocab,
            data: crate::data::DataSpec::id_of(&ck.metadata),
            step,
        },
        ck,
    ))
}

/// The model and optimiser of a run, with everything a checkpoint holds.
struct Run {
    model: Stream,
    vocab: Vocab,
    adam: Adam,
    step: u64,
    losses: Vec<f32>,
}

impl Run {
    fn save(
        &self,
        path: &Path,
        opts: &StreamTrainOptions,
        options: &[(&str, String)],
    ) -> Result<()> {
        let mut ck = Checkpoint::default();
        ck.extend("stream.", self.model.params.state()?);
        self.adam.save_into(&mut ck, "optim.stream.")?;
        let meta = &mut ck.metadata;
        meta.insert("engine.model".into(), KIND.into());
        meta.insert("engine.version".into(), env!("CARGO_PKG_VERSION").into());
        meta.insert("step".into(), self.step.to_string());
        meta.insert("seed".into(), opts.run.seed.to_string());
        meta.insert("config".into(), self.model.config.to_text());
        meta.insert("vocab".into(), self.vocab.to_text());
        meta.insert("data".into(), opts.run.data.id());
        meta.insert("options".into(), crate::train::options_text(options));
        let losses: Vec<String> = self.losses.iter().map(|l| l.to_string()).collect();
        meta.insert("losses".into(), losses.join(","));
        ck.save(path)
    }
}

/// Trains the captioner on `opts.run.data` (the built-in world by default).
pub fn train_stream(rt: &Runtime, opts: &StreamTrainOptions) -> Result<StreamReport> {
    let started = Instant::now();
    let ck_path = opts.run.out.join("checkpoint.safetensors");
    let _lock = crate::train::lock::RunLock::acquire(&opts.run.out)?;
    let source = crate::train::damsm::training_source(&opts.run, opts.image_size)?;
    let options = run_options(opts);
    let run = if opts.run.resume {
        let (c, ck) = load_with_checkpoint(rt, &ck_path)?;
        if ck.metadata.contains_key("exported") {
            return Err(Error::Checkpoint {
                path: ck_path.display().to_string(),
                message: "is an exported captioner (engine export) without its optimiser state; resume from the training checkpoint".into(),
            });
        }
        crate::train::check_resume(&ck, &opts.run.data, &options, &ck_path)?;
        let mut config = StreamConfig::new(c.vocab.len(), opts.image_size, source.max_words());
        config.base_channels = opts.base_channels;
        if c.model.config != config {
            return Err(Error::Checkpoint {
                path: ck_path.display().to_string(),
                message: format!(
                    "holds a captioner with {}; this run's is {}: resume with the same sizes",
                    c.model.config.to_text(),
                    config.to_text()
                ),
            });
        }
        let mut adam = Adam::new(&c.model.params, opts.run.lr, (0.9, 0.999))?;
        adam.load_from(&ck, "optim.stream.", &ck_path.display().to_string())?;
        let losses = ck
            .meta("losses", &ck_path)?
            .split(',')
            .filter_map(|s| s.parse().ok())
            .collect();
        Run {
            model: c.model,
            vocab: c.vocab,
            adam,
            step: c.step,
            losses,
        }
    } else {
        let vocab = crate::train::damsm::training_vocab(&opts.run, source.as_ref());
        let mut config = StreamConfig::new(vocab.len(), opts.image_size, source.max_words());
        config.base_channels = opts.base_channels;
        let model = Stream::new(rt, config, opts.run.seed)?;
        // PyTorch's Adam defaults, as the tutorial captioner.
        let adam = Adam::new(&model.params, opts.run.lr, (0.9, 0.999))?;
        Run {
            model,
            vocab,
            adam,
            step: 0,
            losses: Vec::new(),
        }
    };
    let vocab = Arc::new(run.vocab.clone());
    let mut trainee = Trainee {
        run,
        opts,
        options: &options,
        ck_path: &ck_path,
    };
    crate::train::trainer::run(rt, &mut trainee, source, vocab, &opts.run, started)?;
    let run = trainee.run;
    let curve = opts.run.out.join("loss.png");
    if parallel::is_leader() {
        crate::train::plot::loss_curves(&curve, &[("caption loss", &run.losses)], 640, 320)
            .map_err(|e| {
                Error::invalid("train", format!("cannot write {}: {e}", curve.display()))
            })?;
    }
    Ok(StreamReport {
        steps: run.step,
        losses: run.losses,
        seconds: started.elapsed().as_secs_f64(),
        checkpoint: ck_path,
    })
}

/// A captioner run on the shared loop (train/trainer.rs).
struct Trainee<'a> {
    run: Run,
    opts: &'a StreamTrainOptions,
    options: &'a [(&'static str, String)],
    ck_path: &'a Path,
}

impl crate::train::trainer::Trainee for Trainee<'_> {
    fn sizes(&self) -> Vec<u32> {
        vec![self.run.model.config.image_size as u32]
    }

    fn max_words(&self) -> usize {
        self.run.model.config.max_words
    }

    fn steps_done(&self) -> u64 {
        self.run.step
    }

    fn train_step(&mut self, rt: &Runtime, batch: &Batch) -> Result<String> {
        let run = &mut self.run;
        let (n, s) = (batch.len(), run.model.config.image_size);
        let images = Tensor::from_slice(rt, &batch.images[0], &[n, 3, s, s])?;
        let lengths: Vec<usize> = batch.lengths.iter().map(|&l| l as usize).collect();
        run.model.params.zero_grad()?;
        let loss = run
            .model
            .loss(&Var::constant(images), &batch.tokens, &lengths, true)?;
        loss.backward()?;
        let mut l = loss.value().to_vec()?;
        parallel::all_reduce_mean(&mut l);
        if !l[0].is_finite() {
            return Err(Error::invalid(
                "train",
                format!(
                    "the loss became {} at step {}; nothing was saved after step {} (the last checkpoint in {} is kept); try a smaller --lr",
                    l[0],
                    run.step,
                    run.step - run.step % self.opts.run.checkpoint_every,
                    self.ck_path.display()
                ),
            ));
        }
        run.adam.step(&run.model.params)?;
        run.losses.push(l[0]);
        run.step += 1;
        Ok(format!(
            "loss {:.3} (perplexity {:.2})",
            l[0],
            (l[0] as f64).exp()
        ))
    }

    fn save(&self) -> Result<()> {
        self.run.save(self.ck_path, self.opts, self.options)
    }

    fn stores(&self) -> Vec<&ParamStore> {
        vec![&self.run.model.params]
    }
}

/// Images in batches of this many when captioning.
const CAPTION_BATCH: usize = 64;

impl Captioner {
    /// Captions of `images` (any size: a centred square crop, scaled to the
    /// model's side) by beam search with `beam` hypotheses (1: greedy).
    pub fn caption(&self, images: &[image::RgbImage], beam: usize) -> Result<Vec<String>> {
        let rt = self.model.params.runtime();
        let s = self.model.config.image_size;
        let mut out = Vec::with_capacity(images.len());
        for chunk in images.chunks(CAPTION_BATCH) {
            let mut chw = Vec::with_capacity(chunk.len() * 3 * s * s);
            for img in chunk {
                crate::data::imageops::push_chw(&mut chw, &square(img, s as u32));
            }
            let t = Tensor::from_slice(rt, &chw, &[chunk.len(), 3, s, s])?;
            for d in self.model.decode(&t, beam, self.model.config.max_words)? {
                let words: Vec<&str> = d.ids.iter().map(|&i| self.vocab.word(i)).collect();
                out.push(words.join(" "));
            }
        }
        Ok(out)
    }
}

/// The centred square of `img`, scaled to `side`.
fn square(img: &image::RgbImage, side: u32) -> image::RgbImage {
    let (w, h) = img.dimensions();
    let m = w.min(h);
    let sq = if w == h {
        img.clone()
    } else {
        image::imageops::crop_imm(img, (w - m) / 2, (h - m) / 2, m, m).to_image()
    };
    crate::data::imageops::downscale(&sq, side)
}
