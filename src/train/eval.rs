//! Measuring generated images on held-out captions of the built-in world:
//!
//! - the world's oracle (per attribute, against the scene each caption
//!   describes), with the world's own renders as the ceiling and renders of
//!   other scenes as the floor;
//! - R-precision as AttnGAN defines it: each generated image's true caption
//!   ranked against 99 mismatched ones by a frozen DAMSM, top-1;
//! - FD-DAMSM: the Fréchet distance between the DAMSM image encoder's global
//!   features of generated and of real held-out images (not FID: Inception
//!   weights are not available offline).
//!
//! A generator is anything that draws one image per caption ([`Generator`]):
//! the trained AttnGAN, or in tests a stand-in. The evaluation set is fixed
//! by the world seed ([`EVAL_WORLD_SEED`], the same for every model compared)
//! and the eval seed (which caption of each scene, which noise).

use std::path::Path;

use image::RgbImage;
use rand::RngCore;

use crate::autograd::{no_grad, Var};
use crate::data::oracle::{ImageReport, Oracle, OracleScores};
use crate::data::rng::SplitMix64;
use crate::data::vocab::Vocab;
use crate::data::world::{Scene, Split, World, WorldConfig};
use crate::models::damsm::Damsm;
use crate::runtime::{Error, Result, Runtime, Tensor};

/// The world every evaluation draws its held-out scenes from.
pub const EVAL_WORLD_SEED: u64 = 0;

/// Draws one image per caption.
pub trait Generator {
    /// Side of the images it draws.
    fn image_size(&self) -> usize;
    /// One image per caption; `seed` fixes the noise.
    fn draw(&self, rt: &Runtime, captions: &[String], seed: u64) -> Result<Vec<RgbImage>>;
    /// `steps` images with one noise, conditioned on the sentence embedding
    /// walked from caption `a`'s to `b`'s (GAN-INT-CLS's interpolation), for
    /// the models conditioned on the sentence alone.
    fn walk(
        &self,
        rt: &Runtime,
        a: &str,
        b: &str,
        steps: usize,
        seed: u64,
    ) -> Result<Vec<RgbImage>> {
        let _ = (rt, a, b, steps, seed);
        Err(crate::runtime::Error::invalid(
            "generate",
            "this model has no walk between two captions: it is not conditioned on a sentence embedding alone (AttnGAN also attends to every word; the plain DCGAN ignores captions)",
        ))
    }
}

/// A generator from a checkpoint of any kind, by its `engine.model`: an
/// AttnGAN (training or exported; `use_ema`, `ca_noise` as `Sampler`
/// takes them), DCGAN, GAN-INT-CLS, StackGAN or StackGAN++; with the data it was
/// trained on ([`crate::data::DataSpec::id`]) and its kind.
pub fn load_generator(
    rt: &Runtime,
    path: &std::path::Path,
    use_ema: bool,
    ca_noise: bool,
) -> Result<(Box<dyn Generator>, String, String)> {
    use crate::train::{dcgan, dfgan, stackgan, stackgan_pp};
    let ck = crate::nn::checkpoint::Checkpoint::load(path)?;
    let kind = ck.meta("engine.model", path)?.to_string();
    let only_attngan = || {
        Err(crate::runtime::Error::invalid(
            "generate",
            format!(
                "--no-ema and --no-ca-noise are AttnGAN's; {} is a {kind}",
                path.display()
            ),
        ))
    };
    let (g, data): (Box<dyn Generator>, String) = match kind.as_str() {
        dcgan::CLS_KIND | dcgan::PLAIN_KIND => {
            if !use_ema || !ca_noise {
                return only_attngan();
            }
            let s = dcgan::DcganSampler::load(rt, path)?;
            let d = s.data.clone();
            (Box::new(s), d)
        }
        stackgan_pp::KIND => {
            if !use_ema || !ca_noise {
                return only_attngan();
            }
            let s = stackgan_pp::StackGanPPSampler::load(rt, path)?;
            let d = s.data.clone();
            (Box::new(s), d)
        }
        dfgan::KIND => {
            if !use_ema || !ca_noise {
                return only_attngan();
            }
            let s = dfgan::DfganSampler::load(rt, path)?;
            let d = s.data.clone();
            (Box::new(s), d)
        }
        stackgan::KIND => {
            if !use_ema || !ca_noise {
                return only_attngan();
            }
            let s = stackgan::StackGanSampler::load(rt, path)?;
            let d = s.data.clone();
            (Box::new(s), d)
        }
        _ => {
            let mut s = crate::train::attngan::Sampler::from_checkpoint(rt, &ck, path, use_ema)?;
            s.ca_noise = ca_noise;
            let d = s.data.clone();
            (Box::new(s), d)
        }
    };
    Ok((g, data, kind))
}

/// The sentence embeddings `[N, E]` of `captions` by a frozen text encoder
/// (their first `max_words` known words); a caption with none is refused.
pub fn sentences(
    rt: &Runtime,
    text: &crate::train::attngan::TextModel,
    vocab: &crate::data::Vocab,
    max_words: usize,
    captions: &[String],
) -> Result<crate::autograd::Var> {
    let t = max_words;
    let mut ids = Vec::with_capacity(captions.len() * t);
    let mut lengths = Vec::with_capacity(captions.len());
    for cap in captions {
        let enc = vocab.encode(cap);
        let used: Vec<u32> = enc
            .ids
            .iter()
            .copied()
            .filter(|&i| i != 1)
            .take(t)
            .collect();
        if used.is_empty() {
            return Err(crate::runtime::Error::invalid(
                "generate",
                format!(
                    "the caption {:?} has no word the model knows",
                    cap.chars().take(80).collect::<String>()
                ),
            ));
        }
        lengths.push(used.len());
        ids.extend(used.iter().map(|&i| i as f32));
        ids.extend(std::iter::repeat_n(0.0, t - used.len()));
    }
    let ids = crate::runtime::Tensor::from_slice(rt, &ids, &[captions.len(), t])?;
    Ok(text.encode(&ids, &lengths)?.1)
}

/// `steps` sentence embeddings `[steps, E]` from caption `a`'s to `b`'s:
/// (1 - t) e(a) + t e(b) for t from 0 to 1.
pub fn walk_sentences(
    rt: &Runtime,
    text: &crate::train::attngan::TextModel,
    vocab: &crate::data::Vocab,
    max_words: usize,
    a: &str,
    b: &str,
    steps: usize,
) -> Result<crate::autograd::Var> {
    use crate::autograd as ag;
    if !(2..=64).contains(&steps) {
        return Err(crate::runtime::Error::invalid(
            "generate",
            format!("--steps {steps} must be between 2 and 64"),
        ));
    }
    let e = sentences(rt, text, vocab, max_words, &[a.to_string(), b.to_string()])?;
    let (ea, eb) = (ag::narrow(&e, 0, 0, 1)?, ag::narrow(&e, 0, 1, 1)?);
    let rows = (0..steps)
        .map(|k| {
            let t = k as f32 / (steps - 1) as f32;
            ea.mul_scalar(1.0 - t)?.add(&eb.mul_scalar(t)?)
        })
        .collect::<Result<Vec<_>>>()?;
    ag::concat(&rows.iter().collect::<Vec<_>>(), 0)
}

impl Generator for crate::train::attngan::Sampler {
    fn image_size(&self) -> usize {
        crate::train::attngan::Sampler::image_size(self)
    }
    fn draw(&self, rt: &Runtime, captions: &[String], seed: u64) -> Result<Vec<RgbImage>> {
        crate::train::attngan::Sampler::draw(self, rt, captions, seed)
    }
}

/// Held-out scenes `first..first + n` of the test split, one caption each
/// (chosen by `seed` among the scene's captions, held-out phrasings included).
/// Every test scene's first object is a (shape, colour) pair that no
/// training scene shows; [`EvalSet::seen_pairs`] draws scenes of the training
/// distribution instead.
pub struct EvalSet {
    pub split: Split,
    pub scenes: Vec<Scene>,
    pub captions: Vec<String>,
    /// Which of its scene's captions (`World::scene_captions`) each is.
    pub chosen: Vec<usize>,
}

/// The first training-split scene of [`EvalSet::seen_pairs`]: past the most
/// scenes a run trains on (`--scenes` is at most 1,000,000).
pub const SEEN_PAIRS_FIRST: u64 = 10_000_000;

impl EvalSet {
    pub fn new(first: u64, n: usize, seed: u64) -> EvalSet {
        EvalSet::of(Split::Test, first, n, seed)
    }

    /// `n` scenes of the training distribution that no run trains on (the
    /// training split from [`SEEN_PAIRS_FIRST`]): every (shape, colour) pair
    /// and phrasing is one training shows, so a model that draws shapes but
    /// cannot compose an unseen pair scores them here and not on the test
    /// split.
    pub fn seen_pairs(n: usize, seed: u64) -> EvalSet {
        EvalSet::of(Split::Train, SEEN_PAIRS_FIRST, n, seed)
    }

    fn of(split: Split, first: u64, n: usize, seed: u64) -> EvalSet {
        let world = eval_world();
        let mut rng = SplitMix64::keyed(&[seed, 0xE7A1]);
        let scenes: Vec<Scene> = (first..first + n as u64)
            .map(|i| world.scene(split, i))
            .collect();
        let (captions, chosen) = scenes
            .iter()
            .map(|s| {
                let c = world.scene_captions(s);
                let k = rng.below(c.len());
                (c[k].clone(), k)
            })
            .unzip();
        EvalSet {
            split,
            scenes,
            captions,
            chosen,
        }
    }

    /// The world's own renders of these scenes at side `res`.
    pub fn renders(&self, res: usize) -> Vec<RgbImage> {
        self.scenes.iter().map(|s| s.render(res as u32)).collect()
    }
}

pub fn eval_world() -> World {
    World::new(WorldConfig {
        seed: EVAL_WORLD_SEED,
        resolution: 64,
        captions_per_image: 10,
        ..Default::default()
    })
}

// ---------------------------------------------------------------- oracle

/// Oracle scores overall and by the number of objects in the scene (1, 2, 3).
#[derive(Clone, Debug, Default)]
pub struct OracleRow {
    pub all: OracleScores,
    pub by_objects: [OracleScores; 3],
}

impl OracleRow {
    pub fn add(&mut self, r: &ImageReport) {
        self.all.add(r);
        let k = r.objects.len().clamp(1, 3) - 1;
        self.by_objects[k].add(r);
    }

    pub fn to_json(&self) -> serde_json::Value {
        let scores = |s: &OracleScores| {
            let mut m = serde_json::Map::new();
            m.insert("images".into(), s.images.into());
            for (name, t) in s.attributes() {
                m.insert(
                    name.replace(' ', "_"),
                    serde_json::json!({"correct": t.correct, "total": t.total, "accuracy": nan_null(t.accuracy())}),
                );
            }
            m.insert("extra_blobs".into(), s.extra_blobs.into());
            serde_json::Value::Object(m)
        };
        serde_json::json!({
            "all": scores(&self.all),
            "one_object": scores(&self.by_objects[0]),
            "two_objects": scores(&self.by_objects[1]),
            "three_objects": scores(&self.by_objects[2]),
        })
    }
}

fn nan_null(x: f64) -> serde_json::Value {
    if x.is_finite() {
        x.into()
    } else {
        serde_json::Value::Null
    }
}

/// The oracle's three rows: the generator, the world's renders of the same
/// scenes (ceiling), renders of other held-out scenes (floor). Also returns
/// the generated images and their reports, for a grid.
pub struct OracleEval {
    pub generator: OracleRow,
    pub ceiling: OracleRow,
    pub floor: OracleRow,
    pub images: Vec<RgbImage>,
    pub reports: Vec<ImageReport>,
}

pub fn oracle_eval(
    rt: &Runtime,
    g: &dyn Generator,
    set: &EvalSet,
    seed: u64,
) -> Result<OracleEval> {
    let oracle = Oracle::default();
    let res = g.image_size();
    let images = g.draw(rt, &set.captions, seed)?;
    if images.len() != set.scenes.len() {
        return Err(Error::invalid(
            "eval oracle",
            format!(
                "the generator drew {} images for {} captions",
                images.len(),
                set.scenes.len()
            ),
        ));
    }
    let mut out = OracleEval {
        generator: OracleRow::default(),
        ceiling: OracleRow::default(),
        floor: OracleRow::default(),
        images: Vec::new(),
        reports: Vec::new(),
    };
    // The floor's images: scenes of the same split from far past the
    // evaluated ones.
    let far = match set.split {
        Split::Test => 1_000_000,
        Split::Train => SEEN_PAIRS_FIRST + 1_000_000,
    };
    let others = EvalSet::of(set.split, far, set.scenes.len(), seed ^ 0xF100);
    for (i, scene) in set.scenes.iter().enumerate() {
        let r = oracle.score(&images[i], scene);
        out.generator.add(&r);
        out.reports.push(r);
        out.ceiling
            .add(&oracle.score(&scene.render(res as u32), scene));
        out.floor
            .add(&oracle.score(&others.scenes[i].render(res as u32), scene));
    }
    out.images = images;
    Ok(out)
}

// ---------------------------------------------------------------- DAMSM features

/// The DAMSM image encoder's global features `[n][D]` of `images`, resized
/// (bilinear, as the released code resizes) to the DAMSM's input side.
pub fn image_features(rt: &Runtime, damsm: &Damsm, images: &[RgbImage]) -> Result<Vec<Vec<f32>>> {
    let size = damsm.config.image_size;
    let d = damsm.config.embed_dim();
    let mut feats = Vec::with_capacity(images.len());
    no_grad(|| -> Result<()> {
        for chunk in images.chunks(50) {
            let mut pixels = Vec::with_capacity(chunk.len() * 3 * size * size);
            for img in chunk {
                let img = if img.width() as usize == size && img.height() as usize == size {
                    img.clone()
                } else {
                    image::imageops::resize(
                        img,
                        size as u32,
                        size as u32,
                        image::imageops::FilterType::Triangle,
                    )
                };
                pixels.extend(crate::data::imageops::to_chw(&img));
            }
            let t = Tensor::from_slice(rt, &pixels, &[chunk.len(), 3, size, size])?;
            let (_, global) = damsm
                .image
                .forward(&damsm.image_params, &Var::constant(t), false)?;
            let g = global.value().to_vec()?;
            feats.extend(g.chunks(d).map(<[f32]>::to_vec));
            rt.trim_memory();
        }
        Ok(())
    })?;
    Ok(feats)
}

/// The DAMSM text encoder's sentence features `[n][D]` of `captions`
/// (encoded as in training: at most the DAMSM's `max_words` words, dropped at
/// random by `seed`).
pub fn sentence_features(
    rt: &Runtime,
    damsm: &Damsm,
    vocab: &Vocab,
    captions: &[String],
    seed: u64,
) -> Result<Vec<Vec<f32>>> {
    let d = damsm.config.embed_dim();
    let max_words = damsm.config.max_words;
    let mut rng = SplitMix64::keyed(&[seed, 0x5E47]);
    let mut feats = Vec::with_capacity(captions.len());
    no_grad(|| -> Result<()> {
        for chunk in captions.chunks(50) {
            let mut ids = Vec::with_capacity(chunk.len() * max_words);
            let mut lengths = Vec::with_capacity(chunk.len());
            for caption in chunk {
                let mut r =
                    <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(rng.next_u64());
                let fixed = vocab.encode_fixed(caption, max_words, &mut r);
                ids.extend(fixed.ids.iter().map(|&t| t as f32));
                lengths.push(fixed.len.clamp(1, max_words));
            }
            let ids = Tensor::from_slice(rt, &ids, &[chunk.len(), max_words])?;
            let (_, sentence) = damsm
                .text
                .forward(&damsm.text_params, &ids, &lengths, false, 0)?;
            let s = sentence.value().to_vec()?;
            feats.extend(s.chunks(d).map(<[f32]>::to_vec));
        }
        Ok(())
    })?;
    Ok(feats)
}

// ---------------------------------------------------------------- R-precision

/// Top-1 R-precision: mean and standard deviation over draws.
#[derive(Clone, Copy, Debug)]
pub struct RPrecision {
    pub mean: f64,
    pub std: f64,
    pub images: usize,
    pub draws: usize,
    pub candidates: usize,
}

/// For each image `i`, its caption `i` against `candidates - 1` captions of
/// other images (drawn at random, `draws` times), ranked by the cosine of the
/// image and sentence features: the share of images whose true caption ranks
/// first. Ties count against the truth.
pub fn r_precision_of(
    images: &[Vec<f32>],
    sentences: &[Vec<f32>],
    candidates: usize,
    draws: usize,
    seed: u64,
) -> Result<RPrecision> {
    let n = images.len();
    if sentences.len() != n || n < candidates || candidates < 2 || draws == 0 {
        return Err(Error::invalid(
            "r-precision",
            format!(
                "needs at least {candidates} images (>= 2) with one caption each and at least one draw; got {n} images, {} captions, {draws} draws",
                sentences.len()
            ),
        ));
    }
    let im: Vec<Vec<f64>> = images.iter().map(|v| unit(v)).collect();
    let se: Vec<Vec<f64>> = sentences.iter().map(|v| unit(v)).collect();
    let mut rng = SplitMix64::keyed(&[seed, 0x2A9C]);
    let mut accs = Vec::with_capacity(draws);
    for _ in 0..draws {
        let mut hits = 0;
        for i in 0..n {
            let truth = dot(&im[i], &se[i]);
            let mut best_other = f64::MIN;
            let mut chosen = std::collections::HashSet::new();
            while chosen.len() < candidates - 1 {
                let j = rng.below(n);
                if j != i && chosen.insert(j) {
                    best_other = best_other.max(dot(&im[i], &se[j]));
                }
            }
            hits += (truth > best_other) as usize;
        }
        accs.push(hits as f64 / n as f64);
    }
    let mean = accs.iter().sum::<f64>() / draws as f64;
    let std = (accs.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / draws as f64).sqrt();
    Ok(RPrecision {
        mean,
        std,
        images: n,
        draws,
        candidates,
    })
}

/// `v / |v|` in f64.
fn unit(v: &[f32]) -> Vec<f64> {
    let norm = v
        .iter()
        .map(|x| (*x as f64).powi(2))
        .sum::<f64>()
        .sqrt()
        .max(1e-8);
    v.iter().map(|x| *x as f64 / norm).collect()
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

// ---------------------------------------------------------------- attribute swaps

/// How often images rank their true caption above every caption that
/// differs from it in one attribute ([`crate::data::swaps`]).
#[derive(Clone, Copy, Debug)]
pub struct SwapScore {
    /// Share of images whose true caption wins (ties count against it).
    pub accuracy: f64,
    /// What guessing gives: the mean of 1 / (1 + distractors).
    pub chance: f64,
    /// Images scored (those with at least one distractor).
    pub images: usize,
}

/// Image `i`'s features against its true caption's `truth[i]` and its
/// distractors' `swaps[i]`, by cosine.
pub fn swap_accuracy(
    images: &[Vec<f32>],
    truth: &[Vec<f32>],
    swaps: &[Vec<Vec<f32>>],
) -> Result<SwapScore> {
    if truth.len() != images.len() || swaps.len() != images.len() {
        return Err(Error::invalid(
            "attribute swaps",
            format!(
                "{} images, {} true captions and {} distractor sets",
                images.len(),
                truth.len(),
                swaps.len()
            ),
        ));
    }
    let (mut hits, mut chance, mut n) = (0usize, 0.0, 0usize);
    for ((im, t), ds) in images.iter().zip(truth).zip(swaps) {
        if ds.is_empty() {
            continue;
        }
        let im = unit(im);
        let truth = dot(&im, &unit(t));
        hits += ds.iter().all(|d| dot(&im, &unit(d)) < truth) as usize;
        chance += 1.0 / (1 + ds.len()) as f64;
        n += 1;
    }
    let n_f = n.max(1) as f64;
    Ok(SwapScore {
        accuracy: hits as f64 / n_f,
        chance: chance / n_f,
        images: n,
    })
}

// ---------------------------------------------------------------- FD-DAMSM

/// Mean and covariance (unbiased) of feature rows, in f64.
pub fn moments(rows: &[Vec<f32>]) -> (Vec<f64>, Vec<f64>) {
    let n = rows.len();
    let d = rows.first().map_or(0, Vec::len);
    let mut mu = vec![0f64; d];
    for r in rows {
        for (m, x) in mu.iter_mut().zip(r) {
            *m += *x as f64;
        }
    }
    mu.iter_mut().for_each(|m| *m /= n as f64);
    let mut cov = vec![0f64; d * d];
    for r in rows {
        let c: Vec<f64> = r.iter().zip(&mu).map(|(x, m)| *x as f64 - m).collect();
        for i in 0..d {
            let ci = c[i];
            for j in i..d {
                cov[i * d + j] += ci * c[j];
            }
        }
    }
    let denom = (n.max(2) - 1) as f64;
    for i in 0..d {
        for j in i..d {
            let v = cov[i * d + j] / denom;
            cov[i * d + j] = v;
            cov[j * d + i] = v;
        }
    }
    (mu, cov)
}

/// Eigenvalues and eigenvectors (columns of `v`, row-major d x d) of a
/// symmetric matrix, by cyclic Jacobi rotations in f64.
pub fn symmetric_eigen(a: &[f64], d: usize) -> (Vec<f64>, Vec<f64>) {
    let mut a = a.to_vec();
    let mut v = vec![0f64; d * d];
    for i in 0..d {
        v[i * d + i] = 1.0;
    }
    let scale: f64 = a
        .iter()
        .map(|x| x * x)
        .sum::<f64>()
        .sqrt()
        .max(f64::MIN_POSITIVE);
    for _sweep in 0..100 {
        let off: f64 = (0..d)
            .flat_map(|i| (0..d).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * d + j] * a[i * d + j])
            .sum::<f64>()
            .sqrt();
        if off <= 1e-15 * scale {
            break;
        }
        for p in 0..d {
            for q in p + 1..d {
                let apq = a[p * d + q];
                if apq.abs() <= 1e-300 {
                    continue;
                }
                let (app, aqq) = (a[p * d + p], a[q * d + q]);
                let theta = (aqq - app) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..d {
                    let (akp, akq) = (a[k * d + p], a[k * d + q]);
                    a[k * d + p] = c * akp - s * akq;
                    a[k * d + q] = s * akp + c * akq;
                }
                for k in 0..d {
                    let (apk, aqk) = (a[p * d + k], a[q * d + k]);
                    a[p * d + k] = c * apk - s * aqk;
                    a[q * d + k] = s * apk + c * aqk;
                }
                for k in 0..d {
                    let (vkp, vkq) = (v[k * d + p], v[k * d + q]);
                    v[k * d + p] = c * vkp - s * vkq;
                    v[k * d + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    ((0..d).map(|i| a[i * d + i]).collect(), v)
}

/// tr(sqrt(S1 S2)) for symmetric positive semi-definite S1, S2, computed as
/// tr(sqrt(A S2 A)) with A = sqrt(S1), which is symmetric, so both roots come
/// from symmetric eigen-decompositions (no complex parts to discard).
pub fn trace_sqrt_product(s1: &[f64], s2: &[f64], d: usize) -> f64 {
    let (w, v) = symmetric_eigen(s1, d);
    // A = V diag(sqrt(max(w, 0))) V^T
    let mut a = vec![0f64; d * d];
    for i in 0..d {
        for j in 0..d {
            a[i * d + j] = (0..d)
                .map(|k| v[i * d + k] * w[k].max(0.0).sqrt() * v[j * d + k])
                .sum();
        }
    }
    let mul = |x: &[f64], y: &[f64]| {
        let mut z = vec![0f64; d * d];
        for i in 0..d {
            for k in 0..d {
                let xik = x[i * d + k];
                if xik != 0.0 {
                    for j in 0..d {
                        z[i * d + j] += xik * y[k * d + j];
                    }
                }
            }
        }
        z
    };
    let mut m = mul(&mul(&a, s2), &a);
    for i in 0..d {
        for j in i + 1..d {
            let avg = 0.5 * (m[i * d + j] + m[j * d + i]);
            m[i * d + j] = avg;
            m[j * d + i] = avg;
        }
    }
    let (mw, _) = symmetric_eigen(&m, d);
    mw.iter().map(|x| x.max(0.0).sqrt()).sum()
}

/// Fréchet distance between Gaussians fitted to two feature sets:
/// |mu1 - mu2|^2 + tr(S1 + S2 - 2 sqrt(S1 S2)).
pub fn frechet_distance(a: &[Vec<f32>], b: &[Vec<f32>]) -> Result<f64> {
    let d = a.first().map_or(0, Vec::len);
    if a.len() < 2 || b.len() < 2 || b[0].len() != d || d == 0 {
        return Err(Error::invalid(
            "fd-damsm",
            format!(
                "needs two sets of at least 2 feature vectors of one length; got {} and {}",
                a.len(),
                b.len()
            ),
        ));
    }
    let (m1, s1) = moments(a);
    let (m2, s2) = moments(b);
    Ok(frechet_from_moments(&m1, &s1, &m2, &s2))
}

/// The Fréchet distance of two Gaussians given by mean and covariance (d x d, row-major).
pub fn frechet_from_moments(m1: &[f64], s1: &[f64], m2: &[f64], s2: &[f64]) -> f64 {
    let d = m1.len();
    let mean_term: f64 = m1.iter().zip(m2).map(|(x, y)| (x - y).powi(2)).sum();
    let tr1: f64 = (0..d).map(|i| s1[i * d + i]).sum();
    let tr2: f64 = (0..d).map(|i| s2[i * d + i]).sum();
    let cross = trace_sqrt_product(s1, s2, d);
    (mean_term + tr1 + tr2 - 2.0 * cross).max(0.0)
}

/// A file's identity for reports: FNV-1a (64-bit) of its bytes, in hex.
pub fn file_hash(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| Error::Checkpoint {
        path: path.display().to_string(),
        message: format!("cannot read: {e}"),
    })?;
    Ok(bytes_hash(&bytes))
}

/// FNV-1a (64 bits) of `bytes`, as 16 hex digits: what reports name files by.
pub fn bytes_hash(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01B3);
    }
    format!("{h:016x}")
}
