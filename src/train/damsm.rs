//! Training DAMSM (`engine train --model damsm`) and its R-precision
//! (`engine eval r-precision`).
//!
//! The run lives in one folder: `checkpoint.safetensors` (both encoders, both
//! optimisers, step, configuration, vocabulary, loss history), written
//! atomically every `checkpoint_every` steps and at the end, and `loss.png`.
//! `--resume` continues from the checkpoint exactly where it stopped: the data
//! order is a function of (seed, epoch), dropout masks of (seed, step).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use crate::data::{Batch, DataSpec, Source, Split, Vocab, World, WorldConfig, WorldSource};
use crate::models::damsm::{Damsm, DamsmConfig};
use crate::models::labels::LabelHeads;
use crate::nn::checkpoint::Checkpoint;
use crate::nn::config::ModelConfig;
use crate::nn::optim::{Adam, StepDecay};
use crate::nn::{parallel, ParamBuilder, ParamStore, SplitMix64};
use crate::runtime::{Error, Result, Runtime};
use crate::train::trainer::RunOptions;

/// Options of a DAMSM run.
#[derive(Debug, Clone)]
pub struct DamsmTrainOptions {
    pub run: RunOptions,
    /// Side of the images the image encoder sees.
    pub image_size: usize,
    /// Channels of the image encoder's first layer.
    pub base_channels: usize,
    /// A position-aware image encoder ([`DamsmConfig::positional`]).
    pub positional: bool,
    /// Hard negatives (built-in world only): each image also picks its
    /// caption against the same caption with one attribute of one object
    /// changed ([`crate::models::damsm::sentence_loss`]).
    pub hard_negatives: bool,
    /// A new run starts from this DAMSM's weights (a training checkpoint or
    /// an export of the same data, vocabulary and sizes) instead of random
    /// ones, with fresh optimisers at step 0: fine-tuning, e.g. with hard
    /// negatives. A resumed run continues from its own checkpoint.
    pub init: Option<PathBuf>,
    /// Weight of the image encoder's label loss (built-in world only;
    /// [`crate::models::labels`]); 0 leaves it out.
    pub labels: f32,
}

impl Default for DamsmTrainOptions {
    fn default() -> Self {
        DamsmTrainOptions {
            run: RunOptions {
                out: PathBuf::from("runs/damsm"),
                batch: 16,
                lr: 0.002,
                ..RunOptions::default()
            },
            image_size: 64,
            base_channels: 16,
            positional: false,
            hard_negatives: false,
            init: None,
            labels: 0.0,
        }
    }
}

/// What a finished (or stopped) run reports.
#[derive(Debug, Clone)]
pub struct DamsmReport {
    pub steps: u64,
    pub losses: Vec<f32>,
    pub seconds: f64,
    pub checkpoint: PathBuf,
}

fn world(seed: u64, size: usize, max_objects: usize) -> World {
    World::new(WorldConfig {
        seed,
        resolution: size as u32,
        captions_per_image: 10,
        max_objects,
    })
}

/// The model and optimisers of a run, with everything a checkpoint holds.
struct Run {
    model: Damsm,
    vocab: Vocab,
    text_adam: Adam,
    image_adam: Adam,
    step: u64,
    losses: Vec<f32>,
    /// Where the weights started ([`DamsmTrainOptions::init`]), if not at random.
    init: Option<String>,
    /// With `--labels`: the heads, their weights and optimiser.
    labels: Option<Labels>,
}

/// The label heads of a run with `--labels` ([`crate::models::labels`]).
struct Labels {
    heads: LabelHeads,
    params: ParamStore,
    adam: Adam,
}

impl Labels {
    /// Fresh heads on the global feature of `model`, seeded by `seed`.
    fn new(rt: &Runtime, model: &Damsm, seed: u64, lr: f32) -> Result<Labels> {
        let mut b = ParamBuilder::new(seed ^ 0x1AB3_15C0_FFEE_0001);
        let heads = LabelHeads::world(&mut b, model.config.embed_dim());
        let params = b.build(rt)?;
        let adam = Adam::new(&params, lr, (0.5, 0.999))?;
        Ok(Labels {
            heads,
            params,
            adam,
        })
    }
}

fn checkpoint_path(out: &Path) -> PathBuf {
    out.join("checkpoint.safetensors")
}

/// What a resume must repeat (besides the data, checked on its own).
fn run_options(opts: &DamsmTrainOptions) -> Vec<(&'static str, String)> {
    let mut o = opts.run.resume_keys();
    o.push(("image_size", opts.image_size.to_string()));
    o.push(("base_channels", opts.base_channels.to_string()));
    // Always recorded, so that a resume changing either is refused both
    // ways (a checkpoint older than a key does not compare it).
    o.push(("positional", opts.positional.to_string()));
    o.push(("hard_negatives", opts.hard_negatives.to_string()));
    o.push(("labels", opts.labels.to_string()));
    o
}

/// The training split of `run.data`: the world's first `run.scenes`
/// scenes at `size`, with at most `run.world_objects` objects each, or a
/// folder's or CUB's training images (a summary line printed); fewer items
/// than one batch is an error.
pub fn training_source(run: &RunOptions, size: usize) -> Result<Arc<dyn Source>> {
    let (data, batch) = (&run.data, run.batch);
    let source: Arc<dyn Source> = if data.is_world() {
        Arc::new(WorldSource::new(
            world(run.seed, size, run.world_objects),
            Split::Train,
            run.scenes,
        ))
    } else {
        let (source, summary) = data
            .open(Split::Train)
            .map_err(|e| Error::invalid("data", e.to_string()))?;
        if crate::nn::parallel::is_leader() {
            println!("data: {summary}");
        }
        source
    };
    if source.len() < batch {
        return Err(Error::invalid(
            "train",
            format!(
                "{data} has {} training items, fewer than one batch ({batch}); pass a smaller --batch",
                source.len()
            ),
        ));
    }
    Ok(source)
}

/// A new run's vocabulary: every word of `source`'s captions, and on the
/// world those of its full scenes whatever `--world-objects` caps, so that
/// each stage of a curriculum, and every model guided by this one, reads
/// the same words.
pub fn training_vocab(run: &RunOptions, source: &dyn Source) -> Vocab {
    use crate::data::world::WORLD_MAX_OBJECTS;
    if !run.data.is_world() {
        return crate::data::source::vocab_of(source, 1);
    }
    let full = world(run.seed, 64, WORLD_MAX_OBJECTS);
    crate::data::source::vocab_of(&WorldSource::new(full, Split::Train, run.scenes), 1)
}

/// The vocabulary's size and the share of held-out caption words it does
/// not know (those are dropped when the model reads such a caption).
fn coverage(vocab: &Vocab, opts: &DamsmTrainOptions) -> String {
    let held_out: Result<Arc<dyn Source>> = if opts.run.data.is_world() {
        Ok(Arc::new(WorldSource::new(
            world(
                opts.run.seed,
                opts.image_size,
                crate::data::world::WORLD_MAX_OBJECTS,
            ),
            Split::Test,
            500,
        )))
    } else {
        opts.run
            .data
            .open(Split::Test)
            .map(|(s, _)| s)
            .map_err(|e| Error::invalid("data", e.to_string()))
    };
    let Ok(held_out) = held_out else {
        return format!(
            "vocabulary: {} words from the training captions (no held-out captions to check it on)",
            vocab.len()
        );
    };
    let (mut words, mut unknown) = (0usize, 0usize);
    for i in 0..held_out.len().min(2000) {
        for c in held_out.captions(i) {
            let enc = vocab.encode(&c);
            words += enc.ids.len();
            unknown += enc.unknown.len();
        }
    }
    format!(
        "vocabulary: {} words from the training captions; {:.1}% of the held-out captions' words are not in it",
        vocab.len(),
        100.0 * unknown as f64 / words.max(1) as f64
    )
}

impl Run {
    /// `options`: [`run_options`], computed once per run.
    fn save(
        &self,
        path: &Path,
        opts: &DamsmTrainOptions,
        options: &[(&str, String)],
    ) -> Result<()> {
        let (opts_seed, data) = (opts.run.seed, &opts.run.data);
        let mut ck = Checkpoint::default();
        ck.extend("text.", self.model.text_params.state()?);
        ck.extend("image.", self.model.image_params.state()?);
        self.text_adam.save_into(&mut ck, "optim.text.")?;
        self.image_adam.save_into(&mut ck, "optim.image.")?;
        if let Some(l) = &self.labels {
            ck.extend("labels.", l.params.state()?);
            l.adam.save_into(&mut ck, "optim.labels.")?;
        }
        let meta = &mut ck.metadata;
        meta.insert("engine.model".into(), "damsm".into());
        meta.insert("engine.version".into(), env!("CARGO_PKG_VERSION").into());
        meta.insert("step".into(), self.step.to_string());
        meta.insert("seed".into(), opts_seed.to_string());
        meta.insert("config".into(), self.model.config.to_text());
        meta.insert("vocab".into(), self.vocab.to_text());
        meta.insert("data".into(), data.id());
        meta.insert("options".into(), crate::train::options_text(options));
        if let Some(init) = &self.init {
            meta.insert("init".into(), init.clone());
        }
        meta.insert(
            "losses".into(),
            self.losses
                .iter()
                .map(|l| l.to_string())
                .collect::<Vec<_>>()
                .join(","),
        );
        ck.save(path)
    }
}

/// The trained DAMSM at `path` that guides a generator trained on `data`
/// (its vocabulary and text encoder), refused unless it was trained on the
/// same data.
pub fn load_guide(rt: &Runtime, path: &Path, data: &DataSpec) -> Result<(Damsm, Vocab)> {
    let (damsm, vocab, ck) = load_damsm(rt, path)?;
    same_data(&ck, path, data)?;
    Ok((damsm, vocab))
}

/// Refuses the DAMSM checkpoint `ck` (at `path`) unless it was trained on `data`.
fn same_data(ck: &Checkpoint, path: &Path, data: &DataSpec) -> Result<()> {
    let damsm_data = DataSpec::id_of(&ck.metadata);
    if damsm_data != data.id() {
        return Err(Error::Checkpoint {
            path: path.display().to_string(),
            message: format!(
                "is a DAMSM of {damsm_data}; a run on {} needs a DAMSM trained on the same data (its vocabulary and features), e.g. engine train --model damsm --data {}",
                data.id(),
                match data {
                    DataSpec::World => "world".to_string(),
                    DataSpec::Folder(p) | DataSpec::Cub(p) => p.display().to_string(),
                }
            ),
        });
    }
    Ok(())
}

/// Loads a DAMSM checkpoint: the model (with its configuration and
/// vocabulary) and the checkpoint itself.
pub fn load_damsm(rt: &Runtime, path: &Path) -> Result<(Damsm, Vocab, Checkpoint)> {
    let ck = Checkpoint::load(path)?;
    let src = path.display().to_string();
    let kind = ck.meta("engine.model", path)?;
    if kind != "damsm" {
        return Err(Error::Checkpoint {
            path: src,
            message: format!("holds a {kind} model, not DAMSM"),
        });
    }
    let config =
        DamsmConfig::from_text(ck.meta("config", path)?).map_err(|e| Error::Checkpoint {
            path: src.clone(),
            message: format!("has a bad configuration: {e}"),
        })?;
    let vocab = Vocab::from_text(ck.meta("vocab", path)?).map_err(|e| Error::Checkpoint {
        path: src.clone(),
        message: format!("bad vocabulary: {e}"),
    })?;
    if vocab.len() != config.vocab {
        return Err(Error::Checkpoint {
            path: src,
            message: format!(
                "its vocabulary has {} words and its text encoder {}; they must match",
                vocab.len(),
                config.vocab
            ),
        });
    }
    let seed: u64 = ck.meta("seed", path)?.parse().unwrap_or(0);
    let model = Damsm::new(rt, config, seed)?;
    model
        .text_params
        .load_state(&ck.with_prefix("text."), &src)?;
    model
        .image_params
        .load_state(&ck.with_prefix("image."), &src)?;
    Ok((model, vocab, ck))
}

/// The label heads of the DAMSM training checkpoint at `path` (a run with
/// `--labels`), for a `dim`-wide global feature: what AttnGAN's label
/// guide reads its images with. A checkpoint without them is refused,
/// naming the fix.
pub fn load_label_heads(rt: &Runtime, path: &Path, dim: usize) -> Result<(LabelHeads, ParamStore)> {
    let ck = Checkpoint::load(path)?;
    let mut b = ParamBuilder::new(0);
    let heads = LabelHeads::world(&mut b, dim);
    let params = b.build(rt)?;
    let state = ck.with_prefix("labels.");
    if state.is_empty() {
        return Err(Error::Checkpoint {
            path: path.display().to_string(),
            message: "has no label heads (a DAMSM training checkpoint of a run with --labels has them; an export does not): train the DAMSM with --labels W, or train without --label-guide".into(),
        });
    }
    params.load_state(&state, &path.display().to_string())?;
    Ok((heads, params))
}

/// The DAMSM at `path` as the start of a new run whose model would be
/// `config` with `vocab` on `data` ([`DamsmTrainOptions::init`]), with a line
/// for the checkpoint saying where it started; refused, naming what differs,
/// unless all of these match.
fn warm_start(
    rt: &Runtime,
    path: &Path,
    config: &DamsmConfig,
    vocab: &Vocab,
    data: &DataSpec,
) -> Result<(Damsm, String)> {
    let (model, init_vocab, ck) = load_damsm(rt, path)?;
    same_data(&ck, path, data)?;
    let refuse = |what: String| {
        Error::Checkpoint {
        path: path.display().to_string(),
        message: format!("cannot start this run: {what}; pass the settings it was trained with, or train without --init"),
    }
    };
    let (a, b) = (&model.config, config);
    for (name, was, now) in [
        ("image size", a.image_size, b.image_size),
        ("base channels", a.base_channels, b.base_channels),
        ("max words", a.max_words, b.max_words),
        ("positional", a.positional as usize, b.positional as usize),
    ] {
        if was != now {
            return Err(refuse(format!("its {name} is {was}, this run's {now}")));
        }
    }
    if init_vocab.to_text() != vocab.to_text() || a != b {
        return Err(refuse(
            "its vocabulary or text encoder differ from this run's".into(),
        ));
    }
    let step = ck.metadata.get("step").map_or("?", |s| s.as_str());
    if parallel::is_leader() {
        println!("starting from {} (step {step})", path.display());
    }
    Ok((model, format!("{} (step {step})", path.display())))
}

/// Trains DAMSM on the built-in world.
pub fn train_damsm(rt: &Runtime, opts: &DamsmTrainOptions) -> Result<DamsmReport> {
    let started = Instant::now();
    let ck_path = checkpoint_path(&opts.run.out);
    let _lock = crate::train::lock::RunLock::acquire(&opts.run.out)?;
    let source = training_source(&opts.run, opts.image_size)?;
    let options = run_options(opts);
    let run = if opts.run.resume {
        let (model, vocab, ck) = load_damsm(rt, &ck_path)?;
        let src = ck_path.display().to_string();
        if ck.metadata.contains_key("exported") {
            return Err(Error::Checkpoint {
                path: src,
                message: "is an exported DAMSM (engine export) without its optimiser state; resume from the training checkpoint".into(),
            });
        }
        crate::train::check_resume(&ck, &opts.run.data, &options, &ck_path)?;
        let mut text_adam = Adam::new(&model.text_params, opts.run.lr, (0.5, 0.999))?;
        let mut image_adam = Adam::new(&model.image_params, opts.run.lr, (0.5, 0.999))?;
        text_adam.load_from(&ck, "optim.text.", &src)?;
        image_adam.load_from(&ck, "optim.image.", &src)?;
        text_adam.max_grad_norm = 0.25;
        let step = ck.meta("step", &ck_path)?.parse().unwrap_or(0);
        let losses = ck
            .meta("losses", &ck_path)?
            .split(',')
            .filter(|s| !s.is_empty())
            .filter_map(|s| s.parse().ok())
            .collect();
        let init = ck.metadata.get("init").cloned();
        let labels = if opts.labels > 0.0 {
            let mut l = Labels::new(rt, &model, opts.run.seed, opts.run.lr)?;
            l.params.load_state(&ck.with_prefix("labels."), &src)?;
            l.adam.load_from(&ck, "optim.labels.", &src)?;
            Some(l)
        } else {
            None
        };
        Run {
            model,
            vocab,
            text_adam,
            image_adam,
            step,
            losses,
            init,
            labels,
        }
    } else {
        let vocab = training_vocab(&opts.run, source.as_ref());
        if parallel::is_leader() {
            println!("{}", coverage(&vocab, opts));
        }
        let mut config = DamsmConfig::new(vocab.len());
        config.image_size = opts.image_size;
        config.base_channels = opts.base_channels;
        config.max_words = source.max_words();
        config.positional = opts.positional;
        let (model, init) = match &opts.init {
            None => (Damsm::new(rt, config, opts.run.seed)?, None),
            Some(path) => {
                let (model, init) = warm_start(rt, path, &config, &vocab, &opts.run.data)?;
                (model, Some(init))
            }
        };
        let mut text_adam = Adam::new(&model.text_params, opts.run.lr, (0.5, 0.999))?;
        // AttnGAN clips the text encoder's gradient norm at 0.25.
        text_adam.max_grad_norm = 0.25;
        let image_adam = Adam::new(&model.image_params, opts.run.lr, (0.5, 0.999))?;
        let labels = (opts.labels > 0.0)
            .then(|| Labels::new(rt, &model, opts.run.seed, opts.run.lr))
            .transpose()?;
        Run {
            model,
            vocab,
            text_adam,
            image_adam,
            step: 0,
            losses: Vec::new(),
            init,
            labels,
        }
    };
    let vocab = Arc::new(run.vocab.clone());
    let per_epoch = crate::train::trainer::steps_per_epoch(source.as_ref(), opts.run.batch);
    // AttnGAN: lr 0.002, x0.98 per epoch, not below 0.0002.
    let schedule = StepDecay {
        base: opts.run.lr,
        factor: 0.98,
        every: per_epoch,
        min: opts.run.lr / 10.0,
    };
    let mut trainee = Trainee {
        run,
        opts,
        options: &options,
        ck_path: &ck_path,
        schedule,
    };
    crate::train::trainer::run(rt, &mut trainee, source, vocab, &opts.run, started)?;
    let run = trainee.run;
    let curve = opts.run.out.join("loss.png");
    if parallel::is_leader() {
        crate::train::plot::loss_curves(&curve, &[("damsm loss", &run.losses)], 640, 320).map_err(
            |e| Error::invalid("train", format!("cannot write {}: {e}", curve.display())),
        )?;
    }
    Ok(DamsmReport {
        steps: run.step,
        losses: run.losses,
        seconds: started.elapsed().as_secs_f64(),
        checkpoint: ck_path,
    })
}

/// A DAMSM run on the shared loop (train/trainer.rs).
struct Trainee<'a> {
    run: Run,
    opts: &'a DamsmTrainOptions,
    options: &'a [(&'static str, String)],
    ck_path: &'a Path,
    schedule: StepDecay,
}

impl crate::train::trainer::Trainee for Trainee<'_> {
    fn sizes(&self) -> Vec<u32> {
        vec![self.opts.image_size as u32]
    }

    /// A resumed run keeps the limit it was trained with.
    fn max_words(&self) -> usize {
        self.run.model.config.max_words
    }

    fn contrast(&self) -> bool {
        self.opts.hard_negatives
    }

    fn steps_done(&self) -> u64 {
        self.run.step
    }

    fn train_step(&mut self, rt: &Runtime, batch: &Batch) -> Result<String> {
        let (run, opts) = (&mut self.run, self.opts);
        let up = crate::train::trainer::upload(rt, batch, run.model.config.max_words)?;
        let (images, ids, lengths) = (&up.images[0], &up.ids, &up.lengths);
        let contrast = crate::train::trainer::contrast_of(&up, opts.hard_negatives)?;
        let lr = self.schedule.lr_at(run.step);
        run.text_adam.lr = lr;
        run.image_adam.lr = lr;
        run.model.text_params.zero_grad()?;
        run.model.image_params.zero_grad()?;
        if let Some(l) = &mut run.labels {
            l.adam.lr = lr;
            l.params.zero_grad()?;
        }
        // Each worker its own masks (rank 0's are those of a lone run).
        let rank = parallel::shard().rank as u64;
        let dropout_seed = SplitMix64::new(
            opts.run.seed
                ^ run.step.wrapping_mul(0x9E37_79B9)
                ^ rank.wrapping_mul(0xD1B5_4A32_D192_ED03),
        )
        .next_u64();
        let (losses, global) = run.model.losses(
            images,
            ids,
            lengths,
            contrast,
            &batch.class_ids,
            dropout_seed,
        )?;
        let matching = losses.total()?;
        // With --labels: W x the heads' loss on the same images.
        let label_loss = match &run.labels {
            Some(l) => Some(l.heads.loss(&l.params, &global, &batch.labels)?),
            None => None,
        };
        let total = match &label_loss {
            Some(l) => matching.add(&l.mul_scalar(opts.labels)?)?,
            None => matching,
        };
        total.backward()?;
        // One readback for the step's five losses, before the weights
        // move: a non-finite loss stops the run with the weights (and
        // the last checkpoint) as they were.
        // With several workers, their mean, so that all of them see the
        // same figures and stop alike.
        let mut values = vec![
            losses.word0.value(),
            losses.word1.value(),
            losses.sent0.value(),
            losses.sent1.value(),
            total.value(),
        ];
        if let Some(l) = &label_loss {
            values.push(l.value());
        }
        let mut parts = crate::ops::concat::read_scalars(&values)?;
        parallel::all_reduce_mean(&mut parts);
        if !parts[4].is_finite() {
            return Err(Error::invalid(
                "train",
                format!(
                    "the loss became {} at step {}; nothing was saved after step {} (the last checkpoint in {} is kept); try a smaller --lr",
                    parts[4],
                    run.step,
                    run.step - run.step % opts.run.checkpoint_every,
                    self.ck_path.display()
                ),
            ));
        }
        run.text_adam.step(&run.model.text_params)?;
        run.image_adam.step(&run.model.image_params)?;
        if let Some(l) = &mut run.labels {
            l.adam.step(&l.params)?;
        }
        run.losses.push(parts[4]);
        run.step += 1;
        let labels = match parts.get(5) {
            Some(l) => format!(", labels {l:.2}"),
            None => String::new(),
        };
        Ok(format!(
            "loss {:.3} (words {:.2}/{:.2}, sentence {:.2}/{:.2}{labels}) lr {lr:.5}",
            parts[4], parts[0], parts[1], parts[2], parts[3]
        ))
    }

    fn save(&self) -> Result<()> {
        self.run.save(self.ck_path, self.opts, self.options)
    }

    fn stores(&self) -> Vec<&ParamStore> {
        let mut v = vec![&self.run.model.text_params, &self.run.model.image_params];
        if let Some(l) = &self.run.labels {
            v.push(&l.params);
        }
        v
    }
}
