//! The training loop every model shares: epochs of batches from the
//! background loader (the data order a function of seed and epoch, so a
//! resumed run skips exactly what it already saw), the progress bar or plain
//! lines, a checkpoint every `checkpoint_every` steps and at the end, and
//! the `--steps` / `--minutes` limits. A model plugs in through [`Trainee`]:
//! what its batches look like, one optimisation step, and its checkpoint.
//! DAMSM (train/damsm.rs) and AttnGAN (train/attngan.rs) run on it.

use std::sync::Arc;
use std::time::Instant;

use crate::data::{Batch, DataSpec, Loader, LoaderConfig, Source, Vocab};
use crate::runtime::{Error, Result, Runtime};

/// A model being trained, with its optimisers, step count and losses.
pub trait Trainee {
    /// The side of each resolution a batch carries (one per generator stage;
    /// one for an image encoder).
    fn sizes(&self) -> Vec<u32>;
    /// Words per caption the model takes.
    fn max_words(&self) -> usize;
    /// Steps done so far (counting those before a resume).
    fn steps_done(&self) -> u64;
    /// One optimisation step on `batch`, after which [`Trainee::steps_done`]
    /// is one more. A non-finite loss is an error, so that no checkpoint is
    /// ever written from it (DAMSM raises it before its weights move).
    /// Returns the progress message (the losses).
    fn train_step(&mut self, rt: &Runtime, batch: &Batch) -> Result<String>;
    /// Writes the checkpoint (atomically, see nn/checkpoint.rs).
    fn save(&self) -> Result<()>;
}

/// The loop's settings, common to every model.
pub struct LoopSettings<'a> {
    /// Stop at this many steps in all.
    pub steps: u64,
    /// Or when this much time has passed since `started`.
    pub minutes: Option<f64>,
    pub started: Instant,
    pub batch: usize,
    /// Seeds the data order (with the epoch).
    pub seed: u64,
    /// Random crops for folders and CUB; unreadable images skipped there.
    pub data: &'a DataSpec,
    pub checkpoint_every: u64,
    /// Plain "step N ..." lines every 10 steps instead of a progress bar.
    pub quiet: bool,
}

/// Steps of an epoch: whole batches of `source` (at least one).
pub fn steps_per_epoch(source: &dyn Source, batch: usize) -> u64 {
    (source.len() / batch).max(1) as u64
}

/// Trains `model` on `source` until `settings.steps` or `settings.minutes`,
/// then saves it.
pub fn run(
    rt: &Runtime,
    model: &mut dyn Trainee,
    source: Arc<dyn Source>,
    vocab: Arc<Vocab>,
    settings: &LoopSettings,
) -> Result<()> {
    let per_epoch = steps_per_epoch(source.as_ref(), settings.batch);
    let bar = progress_bar(settings.steps, settings.quiet);
    bar.set_position(model.steps_done());
    announce_first_step(&bar, settings.quiet);
    let deadline = settings
        .minutes
        .map(|m| settings.started + std::time::Duration::from_secs_f64(m * 60.0));
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
        };
        let loader = Loader::new(source.clone(), vocab.clone(), cfg, done / per_epoch);
        for batch in loader.skip((done % per_epoch) as usize) {
            let batch = batch.map_err(|e| Error::invalid("train", e.to_string()))?;
            let msg = model.train_step(rt, &batch)?;
            let step = model.steps_done();
            if settings.quiet {
                if step.is_multiple_of(10) {
                    println!("step {step} {msg}");
                }
            } else {
                bar.set_message(msg);
                bar.set_position(step);
            }
            if step.is_multiple_of(settings.checkpoint_every) {
                model.save()?;
            }
            if step >= settings.steps || deadline.is_some_and(|d| Instant::now() >= d) {
                break 'epochs;
            }
        }
    }
    bar.finish_and_clear();
    model.save()
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
