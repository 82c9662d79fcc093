//! The training loop every model shares: epochs of batches from the
//! background loader (the data order a function of seed and epoch, so a
//! resumed run skips exactly what it already saw), the progress bar or plain
//! lines, a checkpoint every `checkpoint_every` steps and at the end, and
//! the `--steps` / `--minutes` limits. A model plugs in through [`Trainee`]:
//! what its batches look like, one optimisation step, and its checkpoint.
//! DAMSM (train/damsm.rs) and AttnGAN (train/attngan.rs) run on it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use crate::data::{Batch, DataSpec, Loader, LoaderConfig, Source, Vocab};
use crate::nn::{parallel, ParamStore};
use crate::runtime::{Error, Result, Runtime, Tensor};

/// A model being trained, with its optimisers, step count and losses.
pub trait Trainee {
    /// The side of each resolution a batch carries (one per generator stage;
    /// one for an image encoder).
    fn sizes(&self) -> Vec<u32>;
    /// Words per caption the model takes.
    fn max_words(&self) -> usize;
    /// Whether each batch also carries contrast captions (hard negatives,
    /// `LoaderConfig::contrast`).
    fn contrast(&self) -> bool {
        false
    }
    /// Steps done so far (counting those before a resume).
    fn steps_done(&self) -> u64;
    /// One optimisation step on `batch`, after which [`Trainee::steps_done`]
    /// is one more. A non-finite loss is an error, so that no checkpoint is
    /// ever written from it (DAMSM raises it before its weights move).
    /// Returns the progress message (the losses).
    fn train_step(&mut self, rt: &Runtime, batch: &Batch) -> Result<String>;
    /// Writes the checkpoint (atomically, see nn/checkpoint.rs).
    fn save(&self) -> Result<()>;
    /// Every parameter store it trains: data-parallel workers average
    /// their running statistics before a checkpoint, and check that they
    /// hold the same parameters.
    fn stores(&self) -> Vec<&ParamStore>;
    /// State outside the stores that the workers must also agree on (a
    /// moving average of the parameters).
    fn extra_state(&self) -> Vec<&Tensor> {
        Vec::new()
    }
}

/// What every run has, whatever the model: where it goes, how long it
/// runs, its batch, learning rate, seed and data, and how it reports. A
/// model's options hold these as `run` beside its own sizes.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The run's folder (checkpoint, loss curves, sample grids).
    pub out: PathBuf,
    /// Stop after this many steps in all (counting those before a resume).
    pub steps: u64,
    /// Or after this many minutes of this session, whichever comes first.
    pub minutes: Option<f64>,
    pub batch: usize,
    pub lr: f32,
    /// Seeds the weights and the data order (with the epoch).
    pub seed: u64,
    /// The captioned images to learn from (`--data`): the built-in world by
    /// default. Random crops for folders and CUB; unreadable images skipped
    /// there.
    pub data: DataSpec,
    /// Scenes of the built-in world in the training split.
    pub scenes: usize,
    /// At most this many objects per world scene (`--world-objects`, 1 to
    /// 3): a curriculum's stage. Not a resume key: a resume may change it,
    /// which is how a curriculum moves on (the checkpoint records each
    /// stage's first step in `world_objects`).
    pub world_objects: usize,
    /// Minimal pairs of world scenes (`--twins`, `LoaderConfig::twins`):
    /// the attributes a twin may change; none by default. Like
    /// `world_objects`, a resume may change it (a curriculum's stage).
    pub twins: Vec<crate::data::swaps::Attribute>,
    pub checkpoint_every: u64,
    pub resume: bool,
    /// Plain "step N ..." lines every 10 steps instead of a progress bar
    /// (logs, CI).
    pub quiet: bool,
}

/// The recorded options a resume may change, a curriculum's stages: the
/// world's objects per scene, its minimal pairs, and AttnGAN's label guide
/// (its weight and its DAMSM: a guide switched on once G draws objects).
pub const CURRICULUM_KEYS: [&str; 4] = ["world_objects", "twins", "label_guide", "label_damsm"];

impl RunOptions {
    /// What a resume must repeat of these (the data is checked on its own,
    /// by `train::check_resume`): seed, batch, learning rate, the number
    /// of data-parallel workers, and the world's scenes.
    pub fn resume_keys(&self) -> Vec<(&'static str, String)> {
        let mut o = vec![
            ("seed", self.seed.to_string()),
            ("batch", self.batch.to_string()),
            ("lr", self.lr.to_string()),
            ("workers", parallel::workers().size.to_string()),
        ];
        if self.data.is_world() {
            o.push(("scenes", self.scenes.to_string()));
            // Recorded, but a resume may change it (a curriculum's next
            // stage): `check_resume` notes the change instead of refusing.
            o.push((CURRICULUM_KEYS[0], self.world_objects.to_string()));
            o.push((CURRICULUM_KEYS[1], twins_key(&self.twins)));
        }
        o
    }
}

/// `--twins` as recorded: the attributes' names joined by commas, or "none".
pub fn twins_key(twins: &[crate::data::swaps::Attribute]) -> String {
    if twins.is_empty() {
        return "none".into();
    }
    let names: Vec<&str> = twins.iter().map(|a| a.name()).collect();
    names.join(",")
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            out: PathBuf::from("runs/run"),
            steps: 1000,
            minutes: None,
            batch: 8,
            lr: 2e-4,
            seed: 0,
            data: DataSpec::World,
            scenes: 4000,
            world_objects: crate::data::world::WORLD_MAX_OBJECTS,
            twins: Vec::new(),
            checkpoint_every: 100,
            resume: false,
            quiet: false,
        }
    }
}

/// Steps of an epoch: whole batches of `source` (at least one).
pub fn steps_per_epoch(source: &dyn Source, batch: usize) -> u64 {
    (source.len() / batch).max(1) as u64
}

/// Trains `model` on `source` until `settings.steps`, or `settings.minutes`
/// after `started`, then saves it.
pub fn run(
    rt: &Runtime,
    model: &mut dyn Trainee,
    source: Arc<dyn Source>,
    vocab: Arc<Vocab>,
    settings: &RunOptions,
    started: Instant,
) -> Result<()> {
    let per_epoch = steps_per_epoch(source.as_ref(), settings.batch);
    let workers = parallel::workers();
    if workers.size > 1 {
        parallel::check_same("the step to start from", model.steps_done())?;
        parallel::check_same("the parameters at the start", fingerprint(model)?)?;
    }
    // Only rank 0 reports; the other workers are silent.
    let quiet = settings.quiet || !parallel::is_leader();
    if !settings.twins.is_empty() && parallel::is_leader() {
        println!(
            "twins: every second scene is the one before it with its {} of one object changed",
            twins_key(&settings.twins).replace(',', " or ")
        );
    }
    let bar = progress_bar(settings.steps, quiet);
    bar.set_position(model.steps_done());
    if parallel::is_leader() {
        announce_first_step(&bar, settings.quiet);
    }
    let deadline = settings
        .minutes
        .map(|m| started + std::time::Duration::from_secs_f64(m * 60.0));
    'epochs: while model.steps_done() < settings.steps {
        let done = model.steps_done();
        let cfg = LoaderConfig {
            batch_size: settings.batch,
            sizes: model.sizes(),
            shuffle: true,
            augment: settings.data.augment(),
            workers: 1,
            prefetch: 2,
            seed: settings.seed,
            skip_bad: !settings.data.is_world(),
            drop_last: true,
            max_words: model.max_words(),
            shard: (parallel::shard().rank, parallel::shard().size),
            contrast: model.contrast(),
            twins: settings.twins.clone(),
        };
        let loader = Loader::new(source.clone(), vocab.clone(), cfg, done / per_epoch);
        for batch in loader.skip((done % per_epoch) as usize) {
            let batch = batch.map_err(|e| Error::invalid("train", e.to_string()))?;
            let msg = model.train_step(rt, &batch)?;
            let step = model.steps_done();
            if parallel::is_leader() {
                if settings.quiet {
                    if step.is_multiple_of(10) {
                        println!("step {step} {msg}");
                    }
                } else {
                    bar.set_message(msg);
                    bar.set_position(step);
                }
            }
            if step.is_multiple_of(settings.checkpoint_every) {
                save(model)?;
            }
            // Every worker stops at the same step: the time limit is
            // rank 0's clock.
            let mut late = deadline.is_some_and(|d| Instant::now() >= d);
            if workers.size > 1 && deadline.is_some() {
                late = parallel::all_gather_u64(late as u64)[0] == 1;
            }
            if step >= settings.steps || late {
                break 'epochs;
            }
        }
    }
    bar.finish_and_clear();
    save(model)
}

/// Rank 0 writes the checkpoint; with several workers, all of them first
/// check that they hold the same parameters (a rank that drifted would
/// otherwise go unnoticed until the checkpoint disagreed with its run).
fn save(model: &dyn Trainee) -> Result<()> {
    if parallel::workers().size > 1 {
        for ps in model.stores() {
            ps.average_buffers_over_workers()?;
        }
        parallel::check_same(
            &format!("the parameters at step {}", model.steps_done()),
            fingerprint(model)?,
        )?;
    }
    if parallel::is_leader() {
        model.save()?;
    }
    Ok(())
}

fn progress_bar(steps: u64, quiet: bool) -> indicatif::ProgressBar {
    if quiet {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(steps);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} steps, {per_sec}, ETA {eta} | {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar
}

/// Kernels compile on first use (tens of seconds on a software GPU): said
/// before the first step, on the bar or as a line.
fn announce_first_step(bar: &indicatif::ProgressBar, quiet: bool) {
    const MSG: &str = "compiling the kernels during the first step...";
    if quiet {
        println!("{MSG}");
    } else {
        bar.set_message(MSG);
    }
}

/// Every trained value, running statistic and extra state of `model`, as
/// one [`parallel::fingerprint`].
fn fingerprint(model: &dyn Trainee) -> Result<u64> {
    let mut v = Vec::new();
    for ps in model.stores() {
        v.extend(ps.host_state()?);
    }
    for t in model.extra_state() {
        v.extend(t.to_vec()?);
    }
    Ok(parallel::fingerprint(&v))
}

/// A batch on the device: its images at each of the batch's sizes
/// `[B, 3, S, S]`, the word ids `[B, T]` (as f32, what the embedding takes)
/// and the caption lengths, clamped to 1..=T.
pub struct DeviceBatch {
    pub images: Vec<Tensor>,
    pub ids: Tensor,
    pub lengths: Vec<usize>,
    /// The contrast captions' ids and lengths, the same way, where the
    /// batch has them (`LoaderConfig::contrast`).
    pub contrast: Option<(Tensor, Vec<usize>)>,
}

/// Uploads `batch` for a model taking `max_words` words per caption.
pub fn upload(rt: &Runtime, batch: &Batch, max_words: usize) -> Result<DeviceBatch> {
    let n = batch.len();
    let images = batch
        .sizes
        .iter()
        .zip(&batch.images)
        .map(|(&s, px)| Tensor::from_slice(rt, px, &[n, 3, s as usize, s as usize]))
        .collect::<Result<_>>()?;
    let (ids, lengths) = captions(rt, &batch.tokens, &batch.lengths, max_words)?;
    let contrast = match batch.contrast_lengths.is_empty() {
        true => None,
        false => Some(captions(
            rt,
            &batch.contrast_tokens,
            &batch.contrast_lengths,
            max_words,
        )?),
    };
    Ok(DeviceBatch {
        images,
        ids,
        lengths,
        contrast,
    })
}

/// The batch's contrast captions (ids, lengths) for a run with hard
/// negatives, None without; an error when the run wants them and the batch
/// has none.
pub fn contrast_of(up: &DeviceBatch, hard_negatives: bool) -> Result<Option<(&Tensor, &[usize])>> {
    match (hard_negatives, &up.contrast) {
        (false, _) => Ok(None),
        (true, Some((ids, lengths))) => Ok(Some((ids, lengths.as_slice()))),
        (true, None) => Err(Error::invalid(
            "train",
            "hard negatives, but the batch has no contrast captions",
        )),
    }
}

/// Token ids `[B, max_words]` as f32 on the device, and lengths clamped to
/// 1..=max_words.
fn captions(
    rt: &Runtime,
    tokens: &[u32],
    lengths: &[u32],
    max_words: usize,
) -> Result<(Tensor, Vec<usize>)> {
    let ids: Vec<f32> = tokens.iter().map(|&t| t as f32).collect();
    let ids = Tensor::from_slice(rt, &ids, &[lengths.len(), max_words])?;
    let lengths = (lengths.iter())
        .map(|&l| (l as usize).clamp(1, max_words))
        .collect();
    Ok((ids, lengths))
}

/// What a finished (or stopped) GAN run reports.
#[derive(Debug, Clone)]
pub struct GanReport {
    pub steps: u64,
    /// (D loss, summed over the discriminators, and G loss) per step.
    pub losses: Vec<(f32, f32)>,
    pub seconds: f64,
    pub checkpoint: std::path::PathBuf,
}

/// A GAN's (D, G) losses per step as checkpoint metadata ("d:g,d:g,...").
pub fn gan_losses_text(losses: &[(f32, f32)]) -> String {
    let l: Vec<String> = losses.iter().map(|(d, g)| format!("{d}:{g}")).collect();
    l.join(",")
}

/// What [`gan_losses_text`] wrote.
pub fn gan_losses_from(text: &str) -> Vec<(f32, f32)> {
    text.split(',')
        .filter_map(|p| p.split_once(':'))
        .filter_map(|(d, g)| Some((d.parse().ok()?, g.parse().ok()?)))
        .collect()
}

/// A GAN run's curves, D over G, each on its own axis: `out/loss.png`
/// (rank 0 alone writes it).
pub fn write_gan_curves(out: &std::path::Path, losses: &[(f32, f32)]) -> Result<()> {
    if !parallel::is_leader() {
        return Ok(());
    }
    let d: Vec<f32> = losses.iter().map(|l| l.0).collect();
    let g: Vec<f32> = losses.iter().map(|l| l.1).collect();
    let curve = out.join("loss.png");
    crate::train::plot::stacked_loss_curves(&curve, &[&[("D", &d)], &[("G", &g)]], 640, 240)
        .map_err(|e| Error::invalid("train", format!("cannot write {}: {e}", curve.display())))
}
