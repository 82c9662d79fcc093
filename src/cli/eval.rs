//! `engine eval`: the oracle, R-precision and FD-DAMSM on held-out captions
//! of the built-in world (src/train/eval.rs), printed as tables and, with
//! `--json`, written with the device, the checkpoints' hashes, the seed and
//! the data split.

use std::path::{Path, PathBuf};

use wgpu_attngan::data::oracle::{ImageReport, OracleScores, Tally};
use wgpu_attngan::data::world::Split;
use wgpu_attngan::data::DataSpec;
use wgpu_attngan::train::damsm::load_damsm;
use wgpu_attngan::train::eval::{self, EvalSet, Generator, EVAL_WORLD_SEED};
use wgpu_attngan::{Error, Result, Runtime};

#[derive(clap::Subcommand, Debug)]
pub enum EvalCommand {
    /// Generate an image for each held-out caption and score it with the world's oracle,
    /// beside the world's own renders (ceiling) and renders of other scenes (floor).
    Oracle {
        /// A generator: an AttnGAN checkpoint or export, or a DCGAN or GAN-INT-CLS checkpoint (`engine train --model attngan`, `dcgan`, `dcgan-cls`).
        #[arg(long, default_value = "runs/attngan/checkpoint.safetensors")]
        model: PathBuf,
        /// Held-out captions (one image each).
        #[arg(long, default_value_t = 500)]
        captions: usize,
        #[command(flatten)]
        common: Common,
        /// Also write a PNG of the first 24 samples with their captions and a mark per attribute.
        #[arg(long)]
        grid: Option<PathBuf>,
        /// Score scenes of the training distribution instead of held-out ones:
        /// training-split scenes no run trains on (from index 10,000,000),
        /// whose every (shape, colour) pair and phrasing training shows. Each
        /// held-out scene's first object is a pair never seen in training, so
        /// this tells drawing an attribute from composing an unseen pair.
        #[arg(long)]
        seen_pairs: bool,
    },
    /// R-precision (AttnGAN's): each image's true caption ranked against 99 mismatched
    /// ones by a DAMSM; on generated images with --model, and on real held-out images.
    RPrecision {
        /// The DAMSM that scores (use the same one for every model compared).
        #[arg(long, default_value = "runs/damsm/checkpoint.safetensors")]
        damsm: PathBuf,
        /// A generator (AttnGAN, DCGAN or GAN-INT-CLS checkpoint): score its images; without it, only real images are scored.
        #[arg(long)]
        model: Option<PathBuf>,
        /// Held-out captions (one image each); at least 100 on the world
        /// (with --data: up to the held-out split's size).
        #[arg(long, default_value_t = 500)]
        images: usize,
        /// Random draws of the mismatched captions.
        #[arg(long, default_value_t = 10)]
        draws: usize,
        #[command(flatten)]
        data: DataArg,
        #[command(flatten)]
        common: Common,
    },
    /// FD-DAMSM: Fréchet distance between DAMSM image features of generated and of real
    /// held-out images (not FID: no Inception network is involved).
    Fd {
        #[arg(long, default_value = "runs/damsm/checkpoint.safetensors")]
        damsm: PathBuf,
        #[arg(long, default_value = "runs/attngan/checkpoint.safetensors")]
        model: PathBuf,
        /// Images per set; at least 1000 for a stable figure (with --data:
        /// up to the held-out split's size).
        #[arg(long, default_value_t = 1000)]
        images: usize,
        #[command(flatten)]
        data: DataArg,
        #[command(flatten)]
        common: Common,
    },
    /// Which attributes a DAMSM reads (on the world's renders), and which a generator
    /// draws as it sees them: each caption against the same scene's captions with the
    /// first object's colour, shape, size or position changed.
    Attributes {
        #[arg(long, default_value = "runs/damsm/checkpoint.safetensors")]
        damsm: PathBuf,
        /// A generator: also score its images for the same captions.
        #[arg(long)]
        model: Option<PathBuf>,
        /// Held-out captions (one image each).
        #[arg(long, default_value_t = 500)]
        captions: usize,
        #[command(flatten)]
        common: Common,
    },
    /// A captioner (engine train --model stream) on held-out images: BLEU-4 and, on the
    /// world, how often its captions name each object's colour, shape, size and position.
    Caption {
        /// A captioner's checkpoint or export [default: the world captioner built into engine].
        #[arg(long)]
        model: Option<PathBuf>,
        /// Held-out images (one caption each).
        #[arg(long, default_value_t = 500)]
        images: usize,
        /// Hypotheses kept by the beam search; 1 decodes greedily.
        #[arg(long, default_value_t = 3)]
        beam: usize,
        /// Print this many (true caption, decoded caption) pairs.
        #[arg(long, default_value_t = 5)]
        examples: usize,
        #[command(flatten)]
        data: DataArg,
        /// Also write the results, with the device, checkpoint and data split, as JSON.
        #[arg(long)]
        json: Option<PathBuf>,
    },
}

#[derive(clap::Args, Debug)]
pub struct DataArg {
    /// Score on the held-out split of this data instead of the built-in
    /// world's: the folder or CUB root the checkpoints were trained on
    /// (`world`, the default, is the world's test scenes).
    #[arg(long, value_parser = wgpu_attngan::data::spec::parse_arg)]
    data: Option<DataSpec>,
}

#[derive(clap::Args, Debug)]
pub struct Common {
    /// Chooses each scene's caption and the generator's noise.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Also write the results, with the device, checkpoints and data split, as JSON.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Sample from the generator's last weights instead of their moving average.
    #[arg(long)]
    no_ema: bool,
    /// Condition on the mean of conditioning augmentation instead of sampling its noise.
    #[arg(long)]
    no_ca_noise: bool,
}

pub fn eval(cmd: &EvalCommand) -> Result<()> {
    match cmd {
        EvalCommand::Oracle {
            model,
            captions,
            common,
            grid,
            seen_pairs,
        } => oracle(model, *captions, common, grid.as_deref(), *seen_pairs),
        EvalCommand::RPrecision {
            damsm,
            model,
            images,
            draws,
            data,
            common,
        } => r_precision(
            damsm,
            model.as_deref(),
            *images,
            *draws,
            &data.spec(),
            common,
        ),
        EvalCommand::Fd {
            damsm,
            model,
            images,
            data,
            common,
        } => fd(damsm, model, *images, &data.spec(), common),
        EvalCommand::Attributes {
            damsm,
            model,
            captions,
            common,
        } => super::eval_attributes::run(damsm, model.as_deref(), *captions, common),
        EvalCommand::Caption {
            model,
            images,
            beam,
            examples,
            data,
            json,
        } => {
            let common = Common {
                seed: 0,
                json: json.clone(),
                no_ema: false,
                no_ca_noise: false,
            };
            super::eval_caption::run(
                model.as_deref(),
                *images,
                *beam,
                &data.spec(),
                &common,
                *examples,
            )
        }
    }
}

fn bad(what: &'static str, m: String) -> Error {
    Error::invalid(what, m)
}

pub(super) fn exists(path: &Path, what: &str, train: &str) -> Result<()> {
    if path.exists() {
        Ok(())
    } else {
        Err(bad(
            "eval",
            format!(
                "no {what} at {}: train one with `{train}`, or pass the path",
                path.display()
            ),
        ))
    }
}

/// What every report says of itself: the command, device, data and checkpoints.
pub(super) fn header(
    rt: &Runtime,
    common: &Common,
    what: &str,
    data: &DataSpec,
    n: usize,
) -> serde_json::Value {
    let info = rt.adapter_info();
    let data = if data.is_world() {
        serde_json::json!({"source": "built-in world", "world_seed": EVAL_WORLD_SEED, "split": "test", "scenes": n})
    } else {
        serde_json::json!({"source": data.id(), "split": "test", "images": n})
    };
    serde_json::json!({
        "eval": what,
        "command": std::env::args().collect::<Vec<_>>().join(" "),
        "engine_version": env!("CARGO_PKG_VERSION"),
        "device": info.name, "backend": format!("{:?}", info.backend),
        "driver": format!("{} {}", info.driver, info.driver_info),
        "seed": common.seed,
        "use_ema": !common.no_ema, "ca_noise": !common.no_ca_noise,
        "data": data,
        "unix_time": std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0),
    })
}

pub(super) fn checkpoint_json(path: &Path) -> Result<serde_json::Value> {
    let ck = wgpu_attngan::nn::checkpoint::Checkpoint::load(path)?;
    let get = |k: &str| ck.metadata.get(k).cloned().unwrap_or_default();
    Ok(serde_json::json!({
        "path": path.display().to_string(),
        "fnv1a64": eval::file_hash(path)?,
        "model": get("engine.model"),
        "step": get("step"),
        "train_seed": get("seed"),
    }))
}

pub(super) fn write_json(path: Option<&Path>, doc: serde_json::Value) -> Result<()> {
    if let Some(path) = path {
        std::fs::write(path, serde_json::to_string_pretty(&doc).unwrap())
            .map_err(|e| bad("eval", format!("cannot write {}: {e}", path.display())))?;
        println!("wrote {}", path.display());
    }
    Ok(())
}

/// `data`: what --data names (None: a command without --data, the world).
/// A generator of any kind (train::eval::load_generator), refused unless
/// trained on the data it is scored on.
pub(super) fn load_generator(
    rt: &Runtime,
    model: &Path,
    data: Option<&DataSpec>,
    common: &Common,
) -> Result<Box<dyn Generator>> {
    exists(model, "generator", "engine train --model attngan")?;
    let (g, trained_on, _) = eval::load_generator(rt, model, !common.no_ema, !common.no_ca_noise)?;
    match data {
        Some(data) => check_data(model, &trained_on, data, true)?,
        None => on_world(model, &trained_on)?,
    }
    Ok(g)
}

/// The oracle scores on held-out captions of the built-in world, and so do
/// r-precision and fd without --data: a model trained on other data (its
/// vocabulary, its pictures) is refused, not silently scored on the world.
fn on_world(path: &Path, data: &str) -> Result<()> {
    check_data(path, data, &DataSpec::World, false)
}

/// A checkpoint trained on `trained_on` (a [`DataSpec::id`]) is scored only
/// on that data; `data_flag`: whether the command takes --data (the hint).
pub(super) fn check_data(
    path: &Path,
    trained_on: &str,
    data: &DataSpec,
    data_flag: bool,
) -> Result<()> {
    if trained_on == data.id() {
        return Ok(());
    }
    let hint = match (data.is_world(), data_flag) {
        (true, true) => {
            let dir = trained_on.split_once(' ').map_or(trained_on, |(_, d)| d);
            format!("score it on that data's held-out split with --data {dir}")
        }
        (true, false) => "the oracle knows only the built-in world; `engine eval r-precision` and `engine eval fd` take --data for other data".into(),
        (false, _) => format!("it cannot be scored on {} (--data); pass the data it was trained on", data.id()),
    };
    Err(wgpu_attngan::Error::Checkpoint {
        path: path.display().to_string(),
        message: format!("was trained on {trained_on}; {hint}"),
    })
}

impl DataArg {
    fn spec(&self) -> DataSpec {
        self.data.clone().unwrap_or(DataSpec::World)
    }
}

/// Held-out images of --data (a folder or CUB root), one caption each
/// (chosen by `seed`), at most `n`, the images at side `res` (centre crops).
struct HeldOut {
    captions: Vec<String>,
    images: Vec<image::RgbImage>,
    summary: String,
}

fn held_out(data: &DataSpec, n: usize, res: usize, seed: u64) -> Result<HeldOut> {
    let (source, summary) = data
        .open(Split::Test)
        .map_err(|e| bad("eval", e.to_string()))?;
    let n = n.min(source.len());
    let mut rng = wgpu_attngan::data::rng::SplitMix64::keyed(&[seed, 0xE7A1]);
    let mut no_rng = wgpu_attngan::data::rng::SplitMix64::new(seed);
    let (mut captions, mut images) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for i in 0..n {
        let item = source
            .item(i, res as u32, false, &mut no_rng)
            .map_err(|e| bad("eval", e.to_string()))?;
        if item.captions.is_empty() {
            continue;
        }
        captions.push(item.captions[rng.below(item.captions.len())].clone());
        images.push(item.image);
    }
    Ok(HeldOut {
        captions,
        images,
        summary,
    })
}

fn pct(t: Tally) -> String {
    let a = t.accuracy();
    if a.is_finite() {
        format!("{:.1}%", 100.0 * a)
    } else {
        "-".into()
    }
}

fn oracle_line(label: &str, s: &OracleScores) {
    print!("{label:<28}");
    for (_, t) in s.attributes() {
        print!(" {:>10}", pct(t));
    }
    println!(" {:>8.2}", s.extra_blobs as f64 / s.images.max(1) as f64);
}

fn oracle(
    model: &Path,
    n: usize,
    common: &Common,
    grid: Option<&Path>,
    seen_pairs: bool,
) -> Result<()> {
    if n == 0 || n > 100_000 {
        return Err(bad(
            "eval oracle",
            format!("--captions {n} must be between 1 and 100000"),
        ));
    }
    let rt = Runtime::new()?;
    let g = load_generator(&rt, model, None, common)?;
    let res = g.image_size();
    let (set, which) = match seen_pairs {
        false => (EvalSet::new(0, n, common.seed), "held-out captions of the built-in world (test split: each first object a (shape, colour) pair no training scene has"),
        true => (EvalSet::seen_pairs(n, common.seed), "unseen scenes of the training distribution (training split from scene 10,000,000: every pair and phrasing seen in training"),
    };
    println!(
        "oracle on {n} {which}; world seed {EVAL_WORLD_SEED}, seed {}), {res}x{res}, on {}",
        common.seed,
        rt.adapter_info().name
    );
    println!(
        "model: {} (fnv1a64 {})",
        model.display(),
        eval::file_hash(model)?
    );
    let started = std::time::Instant::now();
    let out = eval::oracle_eval(&rt, g.as_ref(), &set, common.seed)?;
    print!("{:<28}", "");
    for (name, _) in out.generator.all.attributes() {
        print!(" {name:>10}");
    }
    println!(" {:>8}", "extra/img");
    oracle_line("generator", &out.generator.all);
    oracle_line("ceiling: the world's renders", &out.ceiling.all);
    oracle_line("floor: other scenes", &out.floor.all);
    println!("by objects in the scene:");
    for (k, row) in [&out.generator, &out.ceiling, &out.floor]
        .iter()
        .enumerate()
    {
        let name = ["generator", "ceiling", "floor"][k];
        for (j, s) in row.by_objects.iter().enumerate() {
            oracle_line(&format!("  {name}, {} object(s) ({})", j + 1, s.images), s);
        }
    }
    println!("({:.0} s)", started.elapsed().as_secs_f64());
    if let Some(path) = grid {
        write_grid(path, &out.images, &set.captions, &out.reports)?;
    }
    let mut doc = header(&rt, common, "oracle", &DataSpec::World, n);
    if seen_pairs {
        doc["data"]["split"] = "train".into();
        doc["data"]["first_scene"] = eval::SEEN_PAIRS_FIRST.into();
    }
    doc["model"] = checkpoint_json(model)?;
    doc["image_size"] = res.into();
    doc["rows"] = serde_json::json!({
        "generator": out.generator.to_json(),
        "ceiling": out.ceiling.to_json(),
        "floor": out.floor.to_json(),
    });
    write_json(common.json.as_deref(), doc)
}

/// "+" when every object has it right, "-" when none has, else "k/n".
fn mark(ok: impl Iterator<Item = bool>) -> String {
    let v: Vec<bool> = ok.collect();
    let k = v.iter().filter(|&&b| b).count();
    if k == v.len() {
        "+".into()
    } else if k == 0 {
        "-".into()
    } else {
        format!("{k}/{}", v.len())
    }
}

fn write_grid(
    path: &Path,
    images: &[image::RgbImage],
    captions: &[String],
    reports: &[ImageReport],
) -> Result<()> {
    let items: Vec<(image::RgbImage, String)> = images
        .iter()
        .zip(captions)
        .zip(reports)
        .take(24)
        .map(|((img, cap), r)| {
            let o = &r.objects;
            let marks = format!(
                "[bg{} colour{} shape{} size{} pos{} rel{} extra {}]",
                if r.background { "+" } else { "-" },
                mark(o.iter().map(|x| x.colour)),
                mark(o.iter().map(|x| x.shape)),
                mark(o.iter().map(|x| x.size)),
                mark(o.iter().map(|x| x.position)),
                if r.relation.total == 0 {
                    "+".to_string()
                } else {
                    mark((0..r.relation.total).map(|i| i < r.relation.correct))
                },
                r.extra
            );
            (img.clone(), format!("{cap} {marks}"))
        })
        .collect();
    let grid = wgpu_attngan::data::grid::caption_grid(&items, 6);
    grid.save(path)
        .map_err(|e| bad("eval", format!("cannot write {}: {e}", path.display())))?;
    println!("wrote {}", path.display());
    Ok(())
}

fn r_precision(
    damsm_path: &Path,
    model: Option<&Path>,
    n: usize,
    draws: usize,
    data: &DataSpec,
    common: &Common,
) -> Result<()> {
    let least = if data.is_world() { 100 } else { 2 };
    if !(least..=100_000).contains(&n) {
        return Err(bad(
            "eval r-precision",
            format!(
                "--images {n} must be between {least} and 100000 (each caption is ranked among 100{})",
                if data.is_world() { "" } else { ", or among all held-out images where fewer" }
            ),
        ));
    }
    if !(1..=1000).contains(&draws) {
        return Err(bad(
            "eval r-precision",
            format!("--draws {draws} must be between 1 and 1000"),
        ));
    }
    exists(damsm_path, "DAMSM", "engine train --model damsm")?;
    let rt = Runtime::new()?;
    let (damsm, vocab, ck) = load_damsm(&rt, damsm_path)?;
    check_data(damsm_path, &DataSpec::id_of(&ck.metadata), data, true)?;
    let g = model
        .map(|m| load_generator(&rt, m, Some(data), common))
        .transpose()?;
    let res = g
        .as_ref()
        .map_or(damsm.config.image_size, |g| g.image_size());
    // The captions, and the real images at `res` (the ceiling).
    let (captions, reals, what) = if data.is_world() {
        let set = EvalSet::new(0, n, common.seed);
        let what = format!(
            "{n} held-out captions of the built-in world, test split, world seed {EVAL_WORLD_SEED}"
        );
        (set.captions.clone(), set.renders(res), what)
    } else {
        let h = held_out(data, n, res, common.seed)?;
        println!("data: {}", h.summary);
        let what = format!("{} held-out images of {}", h.images.len(), data.id());
        (h.captions, h.images, what)
    };
    let candidates = reals.len().min(100);
    if candidates < 2 {
        return Err(bad(
            "eval r-precision",
            format!("{what}: R-precision needs at least 2 captioned held-out images"),
        ));
    }
    println!(
        "R-precision (top-1 among {candidates} captions, {what}, seed {}, {draws} draws) on {}",
        common.seed,
        rt.adapter_info().name
    );
    if candidates < 100 {
        println!(
            "(AttnGAN ranks among 100 captions; this held-out split has {candidates} images, so chance is 1 in {candidates})"
        );
    }
    println!(
        "scored by DAMSM {} (fnv1a64 {})",
        damsm_path.display(),
        eval::file_hash(damsm_path)?
    );
    let chance = format!("(chance {:.2}%)", 100.0 / candidates as f64);
    let sentences = eval::sentence_features(&rt, &damsm, &vocab, &captions, common.seed)?;
    let mut rows = serde_json::Map::new();
    let mut line = |label: &str, key: &str, images: &[image::RgbImage]| -> Result<()> {
        let feats = eval::image_features(&rt, &damsm, images)?;
        let r = eval::r_precision_of(&feats, &sentences, candidates, draws, common.seed)?;
        println!(
            "{label:<40} {:>6.2}% ± {:.2}%   {chance}",
            100.0 * r.mean,
            100.0 * r.std
        );
        rows.insert(
            key.into(),
            serde_json::json!({"mean": r.mean, "std": r.std, "images": r.images, "draws": r.draws, "candidates": r.candidates}),
        );
        Ok(())
    };
    if let Some(g) = &g {
        let images = g.draw(&rt, &captions, common.seed)?;
        line("generator", "generator", &images)?;
    }
    let ceiling = if data.is_world() {
        format!("ceiling: the world's renders at {res}x{res}")
    } else {
        format!("ceiling: the real images at {res}x{res}")
    };
    line(&ceiling, "ceiling", &reals)?;
    let mut doc = header(&rt, common, "r-precision", data, reals.len());
    doc["damsm"] = checkpoint_json(damsm_path)?;
    if let Some(m) = model {
        doc["model"] = checkpoint_json(m)?;
    }
    doc["rows"] = serde_json::Value::Object(rows);
    write_json(common.json.as_deref(), doc)
}

fn fd(damsm_path: &Path, model: &Path, n: usize, data: &DataSpec, common: &Common) -> Result<()> {
    if !(10..=100_000).contains(&n) {
        return Err(bad(
            "eval fd",
            format!(
                "--images {n} must be between 10 and 100000 (1000 or more for a stable figure)"
            ),
        ));
    }
    exists(damsm_path, "DAMSM", "engine train --model damsm")?;
    let rt = Runtime::new()?;
    let (damsm, _, ck) = load_damsm(&rt, damsm_path)?;
    check_data(damsm_path, &DataSpec::id_of(&ck.metadata), data, true)?;
    let g = load_generator(&rt, model, Some(data), common)?;
    let res = g.image_size();
    if !data.is_world() {
        return fd_on_data(&rt, &damsm, g.as_ref(), damsm_path, model, n, data, common);
    }
    let set = EvalSet::new(0, n, common.seed);
    let reference = EvalSet::new(2_000_000, n, common.seed ^ 0x2EF);
    println!(
        "FD-DAMSM ({n} images per set, {res}x{res}, against renders of {n} other held-out scenes; world seed {EVAL_WORLD_SEED}, seed {}) on {}",
        common.seed,
        rt.adapter_info().name
    );
    println!(
        "features: global image features of DAMSM {} (fnv1a64 {}); lower is better",
        damsm_path.display(),
        eval::file_hash(damsm_path)?
    );
    let real = eval::image_features(&rt, &damsm, &reference.renders(res))?;
    let mut rows = serde_json::Map::new();
    let mut line = |label: &str, key: &str, images: &[image::RgbImage]| -> Result<()> {
        let feats = eval::image_features(&rt, &damsm, images)?;
        let d = eval::frechet_distance(&feats, &real)?;
        println!("{label:<44} {d:>10.4}");
        rows.insert(key.into(), d.into());
        Ok(())
    };
    let images = g.draw(&rt, &set.captions, common.seed)?;
    line("generator", "generator", &images)?;
    line(
        "ceiling: the world's renders of its scenes",
        "ceiling",
        &set.renders(res),
    )?;
    let backgrounds: Vec<image::RgbImage> = set
        .scenes
        .iter()
        .map(|s| {
            let mut empty = s.clone();
            empty.objects.clear();
            empty.render(res as u32)
        })
        .collect();
    line(
        "floor: the right background, no objects",
        "floor",
        &backgrounds,
    )?;
    let mut doc = header(&rt, common, "fd-damsm", data, n);
    doc["damsm"] = checkpoint_json(damsm_path)?;
    doc["model"] = checkpoint_json(model)?;
    doc["image_size"] = res.into();
    doc["rows"] = serde_json::Value::Object(rows);
    write_json(common.json.as_deref(), doc)
}

/// FD-DAMSM on the held-out split of --data: the generator's images for the
/// held-out captions against the real held-out images. Ceiling: half of the
/// real images against the other half (FD grows as sets shrink, so it is a
/// pessimistic ceiling); floor: each real image flattened to its mean colour.
#[allow(clippy::too_many_arguments)]
fn fd_on_data(
    rt: &Runtime,
    damsm: &wgpu_attngan::models::damsm::Damsm,
    g: &dyn Generator,
    damsm_path: &Path,
    model: &Path,
    n: usize,
    data: &DataSpec,
    common: &Common,
) -> Result<()> {
    let res = g.image_size();
    let h = held_out(data, n, res, common.seed)?;
    println!("data: {}", h.summary);
    let n = h.images.len();
    if n < 10 {
        return Err(bad(
            "eval fd",
            format!(
                "{} has {n} captioned held-out images; FD-DAMSM needs at least 10 (1000 or more for a stable figure)",
                data.id()
            ),
        ));
    }
    println!(
        "FD-DAMSM ({n} generated images against the {n} real held-out images of {}, {res}x{res}; seed {}) on {}",
        data.id(),
        common.seed,
        rt.adapter_info().name
    );
    if n < 1000 {
        println!("(fewer than 1000 images: FD-DAMSM is biased upwards and noisy at this size; compare only figures of the same size)");
    }
    println!(
        "features: global image features of DAMSM {} (fnv1a64 {}); lower is better",
        damsm_path.display(),
        eval::file_hash(damsm_path)?
    );
    let real = eval::image_features(rt, damsm, &h.images)?;
    let generated = g.draw(rt, &h.captions, common.seed)?;
    let mut rows = serde_json::Map::new();
    let mut line = |label: &str, key: &str, d: f64| {
        println!("{label:<52} {d:>10.4}");
        rows.insert(key.into(), d.into());
    };
    let feats = eval::image_features(rt, damsm, &generated)?;
    line(
        "generator",
        "generator",
        eval::frechet_distance(&feats, &real)?,
    );
    let half = n / 2;
    line(
        &format!(
            "ceiling: real images, {half} against the other {}",
            n - half
        ),
        "ceiling",
        eval::frechet_distance(&real[..half], &real[half..])?,
    );
    let flat: Vec<image::RgbImage> = h.images.iter().map(flat_mean).collect();
    let feats = eval::image_features(rt, damsm, &flat)?;
    line(
        "floor: each real image flattened to its mean colour",
        "floor",
        eval::frechet_distance(&feats, &real)?,
    );
    let mut doc = header(rt, common, "fd-damsm", data, n);
    doc["damsm"] = checkpoint_json(damsm_path)?;
    doc["model"] = checkpoint_json(model)?;
    doc["image_size"] = res.into();
    doc["rows"] = serde_json::Value::Object(rows);
    write_json(common.json.as_deref(), doc)
}

/// An image of one colour: `img`'s mean.
fn flat_mean(img: &image::RgbImage) -> image::RgbImage {
    let mut sum = [0u64; 3];
    for p in img.pixels() {
        for (s, v) in sum.iter_mut().zip(p.0) {
            *s += v as u64;
        }
    }
    let count = (img.width() as u64 * img.height() as u64).max(1);
    let mean = image::Rgb(sum.map(|s| (s / count) as u8));
    image::RgbImage::from_pixel(img.width(), img.height(), mean)
}
