//! STREAM, MirrorGAN's captioner (Qiao et al. 2019, qiaott/MirrorGAN): a
//! CNN image encoder and an LSTM decoder ("show and tell"), 256-d.
//!
//! The released MirrorGAN loads a captioner pretrained elsewhere (a ResNet
//! encoder and an LSTM decoder, as in the pytorch-tutorial image captioner).
//! No pretrained CNN can be downloaded here, so both halves are trained
//! together from scratch, with teacher forcing and cross-entropy, on the
//! same data and vocabulary as the other models.
//!
//! The decoder sees the image feature as its first input, then the
//! caption's words; the output after the image predicts the first word, the
//! output after word i predicts word i + 1, and the output after the last
//! word predicts `<end>` (id 0). Padding predicts nothing.
//!
//! Departure: the image feature also joins every step's input (config
//! `image_every_step`, on for new models). Fed once, as in show and tell,
//! it trained on the world (4000 steps of 16, lr 1e-3) to a decoder that
//! names the background but the same objects for every image: its loss
//! sat at the caption language model's from step 1000 on.
//!
//! The image feature is a linear map of the whole last feature map
//! (flattened), not of its spatial mean: the world's captions say where
//! each object is, and a pooled feature would have to learn positions from
//! border effects alone.

use crate::autograd::{self as ag, Var};
use crate::data::vocab::END;
use crate::nn::config::{check_nonzero, ModelConfig};
use crate::nn::layers::{Conv2d, ConvSpec, Linear};
use crate::nn::modules::{BatchNorm, Embedding, Lstm};
use crate::nn::{Init, ParamBuilder, ParamStore};
use crate::runtime::{Error, Result, Runtime, Tensor};

/// Sizes of the captioner.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamConfig {
    pub vocab: usize,
    /// Side of the images it reads.
    pub image_size: usize,
    /// Channels of the encoder's first layer (doubling at each of three
    /// downsamplings).
    pub base_channels: usize,
    /// Word vectors and the image feature (the decoder's inputs).
    pub embed: usize,
    /// The decoder's LSTM state.
    pub hidden: usize,
    /// Words per caption it learns from (the data set's limit); it decodes
    /// at most this many.
    pub max_words: usize,
    /// The image feature joins every step's input (`[word, image]`, 2E),
    /// not only the first: the LSTM need not carry what the image shows
    /// across a 20-to-40-word caption. A departure from STREAM (show and
    /// tell), see the module's note; false in checkpoints from before it.
    #[serde(default)]
    pub image_every_step: bool,
}

impl StreamConfig {
    /// MirrorGAN's 256-d decoder; the encoder of the DAMSM's size.
    pub fn new(vocab: usize, image_size: usize, max_words: usize) -> Self {
        StreamConfig {
            vocab,
            image_size,
            base_channels: 16,
            embed: 256,
            hidden: 256,
            max_words,
            image_every_step: true,
        }
    }

    /// Side of the encoder's last feature map.
    pub fn grid(&self) -> usize {
        self.image_size / 8
    }

    /// Width of the decoder's input at each step.
    pub fn step_width(&self) -> usize {
        if self.image_every_step {
            2 * self.embed
        } else {
            self.embed
        }
    }
}

impl ModelConfig for StreamConfig {
    const WHAT: &'static str = "stream config";

    fn check(&self) -> Result<()> {
        check_nonzero(
            Self::WHAT,
            &[
                ("vocab", self.vocab),
                ("base_channels", self.base_channels),
                ("embed", self.embed),
                ("hidden", self.hidden),
                ("max_words", self.max_words),
            ],
        )?;
        if !(16..=256).contains(&self.image_size) || !self.image_size.is_multiple_of(8) {
            return Err(Error::invalid(
                Self::WHAT,
                format!(
                    "image_size={} must be a multiple of 8 from 16 to 256",
                    self.image_size
                ),
            ));
        }
        if self.vocab < 3 {
            return Err(Error::invalid(
                Self::WHAT,
                format!("vocab={} has no word besides <end> and <unk>", self.vocab),
            ));
        }
        Ok(())
    }
}

/// The encoder: images `[B, 3, S, S]` in [-1, 1] -> features `[B, E]`.
/// conv3x3 and three conv4x4 stride 2 (each + BN + LeakyReLU 0.2), the
/// flattened `[B, 8C * (S/8)^2]` map -> Linear -> BN (show and tell's).
pub struct Encoder {
    convs: Vec<(Conv2d, BatchNorm)>,
    project: Linear,
    bn: BatchNorm,
}

impl Encoder {
    fn new(b: &mut ParamBuilder, c: &StreamConfig) -> Self {
        let init = Init::Normal(0.02);
        let ch = c.base_channels;
        let mut convs = vec![(
            Conv2d::new(b, "encoder.conv0", ConvSpec::same(3, ch, 3, init)),
            BatchNorm::new(b, "encoder.bn0", ch),
        )];
        let mut cin = ch;
        for i in 1..=3 {
            convs.push((
                Conv2d::new(
                    b,
                    &format!("encoder.conv{i}"),
                    ConvSpec::strided(cin, 2 * cin, 4, 2, 1, init),
                ),
                BatchNorm::new(b, &format!("encoder.bn{i}"), 2 * cin),
            ));
            cin *= 2;
        }
        let flat = cin * c.grid() * c.grid();
        Encoder {
            convs,
            project: Linear::new(
                b,
                "encoder.linear",
                flat,
                c.embed,
                true,
                Init::Uniform(1.0 / (flat as f32).sqrt()),
            ),
            bn: BatchNorm::new(b, "encoder.bn", c.embed),
        }
    }

    pub fn forward(&self, ps: &ParamStore, images: &Var, training: bool) -> Result<Var> {
        let mut h = images.clone();
        for (conv, bn) in &self.convs {
            h = bn
                .forward(ps, &conv.forward(ps, &h)?, training)?
                .leaky_relu(0.2)?;
        }
        let n = h.shape()[0];
        let flat = h.reshape(&[n, h.value().numel() / n.max(1)])?; // [B, 8C * (S/8)^2]
        self.bn
            .forward(ps, &self.project.forward(ps, &flat)?, training)
    }
}

/// The decoder: word vectors, one LSTM, and a linear map to the vocabulary.
pub struct Decoder {
    pub embedding: Embedding,
    pub lstm: Lstm,
    pub logits: Linear,
}

impl Decoder {
    fn new(b: &mut ParamBuilder, c: &StreamConfig) -> Self {
        Decoder {
            embedding: Embedding::new(b, "decoder.embed", c.vocab, c.embed, Init::Uniform(0.1)),
            lstm: Lstm::new(b, "decoder.lstm", c.step_width(), c.hidden),
            logits: Linear::new(
                b,
                "decoder.linear",
                c.hidden,
                c.vocab,
                true,
                Init::Uniform(0.1),
            ),
        }
    }
}

/// What a batch of captions asks the decoder to predict: the rows of the
/// outputs `[B * (T + 1)]` that predict a word, and those words.
#[derive(Debug, Clone, PartialEq)]
pub struct Targets {
    /// Row b * (T + 1) + s: the output after step s of caption b.
    pub rows: Vec<usize>,
    pub words: Vec<u32>,
}

/// The targets of captions `ids` (row-major `[B, T]`, caption b's first
/// `lengths[b]` are words): word s after step s, `<end>` after the last.
pub fn targets(ids: &[u32], lengths: &[usize], t: usize) -> Targets {
    let mut out = Targets {
        rows: Vec::new(),
        words: Vec::new(),
    };
    for (b, &len) in lengths.iter().enumerate() {
        let len = len.min(t);
        for s in 0..=len {
            out.rows.push(b * (t + 1) + s);
            out.words.push(if s < len { ids[b * t + s] } else { END });
        }
    }
    out
}

/// The captioner: encoder and decoder in one parameter store.
pub struct Stream {
    pub config: StreamConfig,
    pub encoder: Encoder,
    pub decoder: Decoder,
    pub params: ParamStore,
}

impl Stream {
    pub fn new(rt: &Runtime, config: StreamConfig, seed: u64) -> Result<Stream> {
        config.check()?;
        let mut b = ParamBuilder::new(seed);
        let encoder = Encoder::new(&mut b, &config);
        let decoder = Decoder::new(&mut b, &config);
        Ok(Stream {
            params: b.build(rt)?,
            config,
            encoder,
            decoder,
        })
    }

    /// Teacher-forced logits of the rows `targets` names.
    /// images: `[B, 3, S, S]`, ids: `[B, T]` (f32 ids), lengths: B values ->
    /// `[targets.rows.len(), V]`
    pub fn logits(
        &self,
        images: &Var,
        ids: &Tensor,
        lengths: &[usize],
        targets: &Targets,
        training: bool,
    ) -> Result<Var> {
        let ps = &self.params;
        let (b, t) = (ids.dim(0), ids.dim(1));
        let e = self.config.embed;
        let feature = self.encoder.forward(ps, images, training)?; // [B, E]
        let words = self.decoder.embedding.forward(ps, ids)?; // [B, T, E]
        let mut inputs = ag::concat(&[&feature.reshape(&[b, 1, e])?, &words], 1)?; // [B, T+1, E]
        let rt = ids.runtime();
        let all = b * (t + 1);
        if self.config.image_every_step {
            // Step s of caption i reads image i's feature: a gather, whose
            // backward sums the steps' gradients into the feature.
            let rows: Vec<u32> = (0..all).map(|r| (r / (t + 1)) as u32).collect();
            let rows = crate::ops::embedding::ids_tensor(rt, &rows, &[b, t + 1], b)?;
            let each = ag::embedding(&feature, &rows)?; // [B, T+1, E]
            inputs = ag::concat(&[&inputs, &each], 2)?; // [B, T+1, 2E]
        }
        let steps: Vec<usize> = lengths.iter().map(|&l| l.min(t) + 1).collect();
        let outputs = self.decoder.lstm.forward(ps, &inputs, &steps)?; // [B, T+1, H]
        let mut pick = vec![0.0f32; targets.rows.len() * all];
        for (i, &r) in targets.rows.iter().enumerate() {
            pick[i * all + r] = 1.0;
        }
        let pick = Var::constant(Tensor::from_slice(rt, &pick, &[targets.rows.len(), all])?);
        let h = self.config.hidden;
        let picked = pick.matmul(&outputs.reshape(&[all, h])?, false, false)?; // [N, H]
        self.decoder.logits.forward(ps, &picked)
    }

    /// The teacher-forced cross-entropy of captions given their images,
    /// mean over the predicted words (each caption's words and its `<end>`).
    /// images: `[B, 3, S, S]`; ids: host `[B, T]` ids; lengths: B values -> `[1]`
    pub fn loss(
        &self,
        images: &Var,
        ids: &[u32],
        lengths: &[usize],
        training: bool,
    ) -> Result<Var> {
        let rt = self.params.runtime();
        let b = lengths.len();
        if b == 0 || !ids.len().is_multiple_of(b) {
            return Err(Error::invalid(
                "stream loss",
                format!("{} ids for {b} captions", ids.len()),
            ));
        }
        let t = ids.len() / b;
        let ids_t = crate::ops::embedding::ids_tensor(rt, ids, &[b, t], self.config.vocab)?;
        let tg = targets(ids, lengths, t);
        let logits = self.logits(images, &ids_t, lengths, &tg, training)?;
        let words: Vec<f32> = tg.words.iter().map(|&w| w as f32).collect();
        ag::cross_entropy(&logits, &Tensor::from_slice(rt, &words, &[words.len()])?)
    }

    /// The encoder's features in eval mode, outside the autograd.
    /// images: `[B, 3, S, S]` -> `[B, E]`
    pub fn features(&self, images: &Tensor) -> Result<Tensor> {
        ag::no_grad(|| {
            self.encoder
                .forward(&self.params, &Var::constant(images.clone()), false)
                .map(|v| v.value().clone())
        })
    }

    /// The encoder's last linear map's bias (its gradient is the image
    /// path's, checked in tests).
    pub fn encoder_linear_bias(&self) -> crate::nn::ParamId {
        self.encoder
            .project
            .bias
            .expect("the encoder's linear map has a bias")
    }

    /// A decoding step's input: vectors `x` `[N, E]` (the image's feature
    /// or a word's), joined by their image's `features` `[N, E]` when the
    /// image goes in at every step -> `[N, step_width]`.
    pub fn step_input(&self, x: &Tensor, features: &Tensor) -> Result<Tensor> {
        if !self.config.image_every_step {
            return Ok(x.clone());
        }
        crate::ops::concat::concat(&[x, features], 1)
    }

    /// One decoding step of N rows: input vectors `[N, step_width]` and
    /// state -> (logits `[N, V]`, the next state).
    pub fn step(
        &self,
        x: &Tensor,
        state: (&Tensor, &Tensor),
    ) -> Result<(Tensor, (Tensor, Tensor))> {
        let ps = &self.params;
        let (h, c) = self.decoder.lstm.step(ps, x, state)?;
        let logits = ag::no_grad(|| {
            self.decoder
                .logits
                .forward(ps, &Var::constant(h.clone()))
                .map(|v| v.value().clone())
        })?;
        Ok((logits, (h, c)))
    }

    /// Word vectors of `ids` `[N]` -> `[N, E]`.
    pub fn embed(&self, ids: &[u32]) -> Result<Tensor> {
        let rt = self.params.runtime();
        let ids = crate::ops::embedding::ids_tensor(rt, ids, &[ids.len()], self.config.vocab)?;
        crate::ops::embedding::embedding_forward(
            self.params.var(self.decoder.embedding.table).value(),
            &ids,
        )
    }
}

/// A decoded caption: its word ids (without `<end>`) and their summed
/// log-probability (`<end>`'s included when it was reached).
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    pub ids: Vec<u32>,
    pub log_prob: f64,
}

/// Log-softmax of one row of logits, in f64.
fn log_softmax(row: &[f32]) -> Vec<f64> {
    let m = row.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b)) as f64;
    let z = row.iter().map(|&x| (x as f64 - m).exp()).sum::<f64>().ln() + m;
    row.iter().map(|&x| x as f64 - z).collect()
}

/// One hypothesis of a beam.
#[derive(Clone)]
struct Hyp {
    ids: Vec<u32>,
    log_prob: f64,
    /// Its row in the state of the step before.
    row: usize,
}

impl Stream {
    /// Captions of `images` `[B, 3, S, S]` by beam search with `beam`
    /// hypotheses per image (1: greedy), at most `max_words` words each.
    /// A hypothesis ends when it predicts `<end>`; the best of the ended
    /// ones (or of the live ones if none ended) by summed log-probability
    /// wins, ties to the first found. `<unk>` is never chosen.
    pub fn decode(&self, images: &Tensor, beam: usize, max_words: usize) -> Result<Vec<Decoded>> {
        if beam == 0 {
            return Err(Error::invalid("decode", "a beam of 0 hypotheses"));
        }
        let rt = self.params.runtime();
        let (n, hid, v) = (images.dim(0), self.config.hidden, self.config.vocab);
        let features = self.features(images)?; // [n, E]
                                               // Rows: image i's hypotheses at i * beam ..; all start from the image.
        let rows: Vec<u32> = (0..n * beam).map(|r| (r / beam) as u32).collect();
        // Row r's image feature [n * beam, E]; a row stays with its image.
        let row_features = crate::ops::embedding::embedding_forward(
            &features,
            &crate::ops::embedding::ids_tensor(rt, &rows, &[n * beam], n)?,
        )?;
        let mut x = row_features.clone();
        let mut h = crate::ops::fill::zeros(rt, &[n * beam, hid])?;
        let mut c = crate::ops::fill::zeros(rt, &[n * beam, hid])?;
        // Only the first hypothesis of each image is live at the start
        // (the others would repeat it).
        let mut live: Vec<Vec<Hyp>> = (0..n)
            .map(|i| {
                vec![Hyp {
                    ids: Vec::new(),
                    log_prob: 0.0,
                    row: i * beam,
                }]
            })
            .collect();
        let mut ended: Vec<Vec<Hyp>> = vec![Vec::new(); n];
        for step in 0..=max_words {
            let (logits, (h1, c1)) = self.step(&self.step_input(&x, &row_features)?, (&h, &c))?;
            let logits = logits.to_vec()?; // [n * beam, V]
            let last = step == max_words;
            let mut next_rows = vec![0u32; n * beam];
            let mut next_words = vec![END; n * beam];
            for i in 0..n {
                let mut cands: Vec<(f64, usize, u32)> = Vec::new(); // (log p, hyp, word)
                for (k, hyp) in live[i].iter().enumerate() {
                    let lp = log_softmax(&logits[hyp.row * v..(hyp.row + 1) * v]);
                    for (w, &l) in lp.iter().enumerate() {
                        let w = w as u32;
                        if w == crate::data::vocab::UNK || (last && w != END) {
                            continue;
                        }
                        cands.push((hyp.log_prob + l, k, w));
                    }
                }
                // Best first; ties by (hypothesis, word) order: deterministic.
                cands.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
                let mut kept = Vec::new();
                for (lp, k, w) in cands {
                    if kept.len() == beam || ended[i].len() >= beam {
                        break;
                    }
                    let mut ids = live[i][k].ids.clone();
                    if w == END {
                        ended[i].push(Hyp {
                            ids,
                            log_prob: lp,
                            row: 0,
                        });
                        continue;
                    }
                    ids.push(w);
                    let row = i * beam + kept.len();
                    next_rows[row] = live[i][k].row as u32;
                    next_words[row] = w;
                    kept.push(Hyp {
                        ids,
                        log_prob: lp,
                        row,
                    });
                }
                live[i] = kept;
            }
            if live.iter().all(|l| l.is_empty()) {
                break;
            }
            // Each kept hypothesis continues from its parent's state.
            let parents = crate::ops::embedding::ids_tensor(rt, &next_rows, &[n * beam], n * beam)?;
            h = crate::ops::embedding::embedding_forward(&h1, &parents)?;
            c = crate::ops::embedding::embedding_forward(&c1, &parents)?;
            x = self.embed(&next_words)?;
        }
        Ok((0..n)
            .map(|i| {
                let pool = if ended[i].is_empty() {
                    &live[i]
                } else {
                    &ended[i]
                };
                let best = pool.iter().fold(None::<&Hyp>, |best, h| match best {
                    Some(b) if b.log_prob >= h.log_prob => Some(b),
                    _ => Some(h),
                });
                best.map(|h| Decoded {
                    ids: h.ids.clone(),
                    log_prob: h.log_prob,
                })
                .unwrap_or(Decoded {
                    ids: Vec::new(),
                    log_prob: f64::NEG_INFINITY,
                })
            })
            .collect())
    }
}
