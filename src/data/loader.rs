//! Batches in background threads so decoding and augmentation never starve
//! the GPU. `workers` threads each build every `workers`-th batch and hand
//! it over a bounded channel (`prefetch` batches deep per worker); the
//! consumer reads the workers in turn, so batch order and content are
//! deterministic from (seed, epoch) whatever the thread timing.

use super::error::DataError;
use super::imageops::{downscale, push_chw};
use super::rng::SplitMix64;
use super::source::Source;
use super::swaps::Attribute;
use super::vocab::{Vocab, DEFAULT_MAX_WORDS};
use rand::{Rng, RngCore};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;
use std::thread::JoinHandle;

#[derive(Clone, Debug)]
pub struct LoaderConfig {
    pub batch_size: usize,
    /// Image sides to deliver, e.g. [64, 128, 256]; smaller ones are
    /// downscaled from the largest.
    pub sizes: Vec<u32>,
    pub shuffle: bool,
    /// Random crop / flip as the source defines them (train).
    pub augment: bool,
    pub workers: usize,
    /// Batches queued per worker.
    pub prefetch: usize,
    pub seed: u64,
    /// Replace items that fail to load by the next good one, counting them,
    /// instead of stopping with the error.
    pub skip_bad: bool,
    /// Drop a last incomplete batch.
    pub drop_last: bool,
    /// Words per caption (cut at random or padded to this): the model's
    /// `max_words`, which is the data set's ([`super::source::Source::max_words`]).
    pub max_words: usize,
    /// (rank, workers): this worker builds only its equal share of each
    /// batch of `batch_size`, items `rank * batch_size / workers` onward
    /// (nn/parallel.rs). Every item's randomness is keyed by its place in
    /// the epoch, so the shards of all ranks together are, item for item,
    /// the batch one worker builds. (0, 1) builds whole batches.
    pub shard: (usize, usize),
    /// Also deliver, per item, a caption one attribute away from the
    /// chosen one ([`super::source::Source::contrast_caption`]); a source
    /// that has none fails the batch.
    pub contrast: bool,
    /// Minimal pairs (`--twins`): with attributes here, every item at an
    /// odd place of the epoch is the twin of the one before it
    /// ([`super::source::Source::twin`]: its scene with one of these
    /// attributes of one object changed, rendered), and both take the same
    /// phrasing, so two captions of a batch differ in that attribute alone
    /// and each is a real image's. The scene the odd place would have held
    /// sits out that epoch. A source that has no twins fails the batch.
    pub twins: Vec<Attribute>,
}

impl Default for LoaderConfig {
    fn default() -> Self {
        LoaderConfig {
            batch_size: 16,
            sizes: vec![64],
            shuffle: true,
            augment: true,
            workers: 2,
            prefetch: 2,
            seed: 0,
            skip_bad: false,
            drop_last: true,
            max_words: DEFAULT_MAX_WORDS,
            shard: (0, 1),
            contrast: false,
            twins: Vec::new(),
        }
    }
}

/// One batch, ready for upload.
#[derive(Clone, Debug)]
pub struct Batch {
    pub sizes: Vec<u32>,
    /// Per size: NCHW f32 in [-1, 1], `len * 3 * s * s` values.
    pub images: Vec<Vec<f32>>,
    /// [len, max_words] token ids, 0-padded.
    pub tokens: Vec<u32>,
    /// True caption lengths (<= max_words).
    pub lengths: Vec<u32>,
    pub class_ids: Vec<u32>,
    /// [len, L] class labels of what each image shows ([`super::source::Item::labels`]);
    /// empty unless every item has them.
    pub labels: Vec<u32>,
    /// The caption chosen for each item.
    pub captions: Vec<String>,
    /// Item indices in the source.
    pub indices: Vec<usize>,
    /// Words of the chosen captions missing from the vocabulary (mapped to
    /// `<unk>`).
    pub unknown_words: Vec<String>,
    /// With `LoaderConfig::contrast`: [len, max_words] token ids and the
    /// lengths of each item's contrast caption; empty without.
    pub contrast_tokens: Vec<u32>,
    pub contrast_lengths: Vec<u32>,
}

impl Batch {
    pub fn len(&self) -> usize {
        self.indices.len()
    }
    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }
}

pub struct Loader {
    receivers: Vec<Receiver<Result<Batch, DataError>>>,
    handles: Vec<JoinHandle<()>>,
    next: usize,
    batches: usize,
    done: bool,
    skipped: Arc<AtomicUsize>,
}

/// The item order of an epoch.
pub fn epoch_order(len: usize, shuffle: bool, seed: u64, epoch: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..len).collect();
    if shuffle {
        let mut rng = SplitMix64::keyed(&[seed, epoch, 0x5EED]);
        for i in (1..len).rev() {
            let j = rng.random_range(0..=i);
            order.swap(i, j);
        }
    }
    order
}

struct Job {
    source: Arc<dyn Source>,
    vocab: Arc<Vocab>,
    cfg: LoaderConfig,
    order: Arc<Vec<usize>>,
    epoch: u64,
    skipped: Arc<AtomicUsize>,
}

impl Job {
    fn batch(&self, b: usize) -> Result<Batch, DataError> {
        let cfg = &self.cfg;
        let n = self.order.len();
        let whole = cfg.batch_size.min(n - b * cfg.batch_size);
        let (rank, workers) = cfg.shard;
        let (first, end) = (rank * whole / workers, (rank + 1) * whole / workers);
        let start = b * cfg.batch_size + first;
        let count = end - first;
        let max = *cfg.sizes.iter().max().expect("LoaderConfig.sizes is empty");
        let mut out = Batch {
            sizes: cfg.sizes.clone(),
            images: cfg
                .sizes
                .iter()
                .map(|&s| Vec::with_capacity(count * 3 * (s * s) as usize))
                .collect(),
            tokens: Vec::with_capacity(count * cfg.max_words),
            lengths: Vec::with_capacity(count),
            class_ids: Vec::with_capacity(count),
            labels: Vec::new(),
            captions: Vec::with_capacity(count),
            indices: Vec::with_capacity(count),
            unknown_words: Vec::new(),
            contrast_tokens: Vec::new(),
            contrast_lengths: Vec::new(),
        };
        for k in 0..count {
            let pos = start + k;
            let mut rng = SplitMix64::keyed(&[cfg.seed, self.epoch, pos as u64, 0xBA7C]);
            let twin = !cfg.twins.is_empty() && pos % 2 == 1;
            let (index, item) = if twin {
                let index = self.order[(pos - 1) % n];
                let mut trng = SplitMix64::keyed(&[cfg.seed, self.epoch, pos as u64, 0x7714]);
                let item = self
                    .source
                    .twin(index, &cfg.twins, max, &mut trng)
                    .ok_or_else(|| DataError::Empty {
                        what: format!("the twin of item {index}"),
                        hint: "only the built-in world has them; train without --twins".into(),
                    })?;
                (index, item)
            } else {
                let mut attempt = 0;
                loop {
                    let index = self.order[(pos + attempt) % n];
                    match self.source.item(index, max, cfg.augment, &mut rng) {
                        Ok(item) => break (index, item),
                        Err(e) if cfg.skip_bad && attempt + 1 < n.min(64) => {
                            let _ = e;
                            self.skipped.fetch_add(1, Ordering::Relaxed);
                            attempt += 1;
                        }
                        Err(e) => return Err(e),
                    }
                }
            };
            for (buf, &s) in out.images.iter_mut().zip(&cfg.sizes) {
                push_chw(buf, &downscale(&item.image, s));
            }
            let (caption, chosen) = if item.captions.is_empty() {
                (String::new(), 0)
            } else if cfg.twins.is_empty() {
                let c = rng.random_range(0..item.captions.len());
                (item.captions[c].clone(), c)
            } else {
                // One draw per pair: both twins say it in the same words.
                let mut prng =
                    SplitMix64::keyed(&[cfg.seed, self.epoch, (pos & !1) as u64, 0x7C1A]);
                let c = prng.random_range(0..item.captions.len());
                (item.captions[c].clone(), c)
            };
            let fixed =
                self.vocab
                    .encode_fixed(&caption, cfg.max_words, &mut rng as &mut dyn RngCore);
            if cfg.contrast {
                // Its own stream, so a run without contrast draws as before.
                let mut crng = SplitMix64::keyed(&[cfg.seed, self.epoch, pos as u64, 0xC0A7]);
                let other = self
                    .source
                    .contrast_caption(index, chosen, &mut crng)
                    .ok_or_else(|| DataError::Empty {
                        what: format!("the contrast caption of item {index}"),
                        hint: "only the built-in world has them; train without hard negatives"
                            .into(),
                    })?;
                let c =
                    self.vocab
                        .encode_fixed(&other, cfg.max_words, &mut crng as &mut dyn RngCore);
                out.contrast_tokens.extend_from_slice(&c.ids);
                out.contrast_lengths.push(c.len as u32);
            }
            out.tokens.extend_from_slice(&fixed.ids);
            out.lengths.push(fixed.len as u32);
            out.unknown_words.extend(fixed.unknown);
            out.class_ids.push(item.class_id);
            out.labels.extend_from_slice(&item.labels);
            out.captions.push(caption);
            out.indices.push(index);
        }
        // A source labels all its items alike, or none.
        if count > 0 && !out.labels.len().is_multiple_of(count) {
            out.labels.clear();
        }
        Ok(out)
    }
}

impl Loader {
    /// Start loading epoch `epoch` of `source`.
    pub fn new(
        source: Arc<dyn Source>,
        vocab: Arc<Vocab>,
        cfg: LoaderConfig,
        epoch: u64,
    ) -> Loader {
        assert!(cfg.batch_size > 0, "batch_size must be positive");
        assert!(!cfg.sizes.is_empty(), "LoaderConfig.sizes is empty");
        assert!(
            cfg.shard.1 > 0 && cfg.shard.0 < cfg.shard.1,
            "LoaderConfig.shard is (rank, workers)"
        );
        let n = source.len();
        let batches = if cfg.drop_last {
            n / cfg.batch_size
        } else {
            n.div_ceil(cfg.batch_size)
        };
        let order = Arc::new(epoch_order(n, cfg.shuffle, cfg.seed, epoch));
        let skipped = Arc::new(AtomicUsize::new(0));
        let workers = cfg.workers.clamp(1, batches.max(1));
        let mut receivers = Vec::new();
        let mut handles = Vec::new();
        for w in 0..workers {
            let (tx, rx) = sync_channel(cfg.prefetch.max(1));
            let job = Job {
                source: source.clone(),
                vocab: vocab.clone(),
                cfg: cfg.clone(),
                order: order.clone(),
                epoch,
                skipped: skipped.clone(),
            };
            handles.push(
                std::thread::Builder::new()
                    .name(format!("data-loader-{w}"))
                    .spawn(move || {
                        for b in (w..batches).step_by(workers) {
                            let r = job.batch(b);
                            let stop = r.is_err();
                            if tx.send(r).is_err() || stop {
                                return;
                            }
                        }
                    })
                    .expect("cannot spawn a data loader thread"),
            );
            receivers.push(rx);
        }
        Loader {
            receivers,
            handles,
            next: 0,
            batches,
            done: false,
            skipped,
        }
    }

    /// Batches in this epoch.
    pub fn batches(&self) -> usize {
        self.batches
    }

    /// Items that failed and were replaced so far (with `skip_bad`).
    pub fn skipped(&self) -> usize {
        self.skipped.load(Ordering::Relaxed)
    }
}

impl Iterator for Loader {
    type Item = Result<Batch, DataError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.next >= self.batches {
            return None;
        }
        let w = self.next % self.receivers.len();
        self.next += 1;
        match self.receivers[w].recv() {
            Ok(Ok(b)) => Some(Ok(b)),
            Ok(Err(e)) => {
                self.done = true;
                Some(Err(e))
            }
            Err(_) => {
                self.done = true;
                None
            }
        }
    }
}

impl Drop for Loader {
    fn drop(&mut self) {
        // Closing the channels makes blocked workers' sends fail; they exit.
        self.receivers.clear();
        for h in self.handles.drain(..) {
            let _ = h.join();
        }
    }
}
