//! Evaluation of generated images (src/train/eval.rs, `engine eval`): the
//! Fréchet distance's linear algebra against closed forms, FD-DAMSM against
//! damage of growing size, R-precision's ranking, a stand-in generator that
//! returns the world's own renders (it must score at the ceiling on every
//! metric), and the commands' JSON and refusals.

use std::collections::HashMap;
use wgpu_attngan::train::trainer::RunOptions;

use image::RgbImage;
use wgpu_attngan::data::world::Scene;
use wgpu_attngan::models::damsm::{Damsm, DamsmConfig};
use wgpu_attngan::train::eval::{self, EvalSet, Generator};
use wgpu_attngan::{Result, Runtime};

mod common;
use common::perturb;

fn rt() -> Runtime {
    Runtime::new().expect("a wgpu adapter (lavapipe on CI)")
}

/// Deterministic values in [-1, 1).
fn values(n: usize, seed: u64) -> Vec<f64> {
    let mut r = wgpu_attngan::data::rng::SplitMix64::new(seed);
    (0..n).map(|_| 2.0 * r.unit() as f64 - 1.0).collect()
}

fn matmul(a: &[f64], b: &[f64], d: usize) -> Vec<f64> {
    let mut c = vec![0.0; d * d];
    for i in 0..d {
        for k in 0..d {
            for j in 0..d {
                c[i * d + j] += a[i * d + k] * b[k * d + j];
            }
        }
    }
    c
}

fn transpose(a: &[f64], d: usize) -> Vec<f64> {
    (0..d * d).map(|k| a[(k % d) * d + k / d]).collect()
}

/// A random symmetric positive definite matrix: X X^T / d + eps I.
fn spd(d: usize, seed: u64) -> Vec<f64> {
    let x = values(d * d, seed);
    let mut s = matmul(&x, &transpose(&x, d), d);
    for (k, v) in s.iter_mut().enumerate() {
        *v /= d as f64;
        if k % (d + 1) == 0 {
            *v += 1e-3;
        }
    }
    s
}

#[test]
fn symmetric_eigen_reconstructs_the_matrix() {
    for d in [1, 2, 7, 33] {
        let a = spd(d, d as u64);
        let (w, v) = eval::symmetric_eigen(&a, d);
        let mut back = vec![0.0; d * d];
        for i in 0..d {
            for j in 0..d {
                back[i * d + j] = (0..d).map(|k| v[i * d + k] * w[k] * v[j * d + k]).sum();
            }
        }
        let scale = a.iter().map(|x| x.abs()).fold(0.0, f64::max);
        let err = a
            .iter()
            .zip(&back)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f64::max);
        assert!(err <= 1e-10 * scale, "d {d}: reconstruction error {err}");
    }
}

#[test]
fn frechet_distance_matches_closed_forms() {
    // Diagonal covariances: FD = |m1 - m2|^2 + sum (sqrt(a) - sqrt(b))^2.
    let d = 9;
    let a: Vec<f64> = (0..d).map(|i| 0.5 + i as f64).collect();
    let b: Vec<f64> = (0..d).map(|i| 2.0 + 0.3 * i as f64).collect();
    let diag = |v: &[f64]| {
        let mut m = vec![0.0; d * d];
        for i in 0..d {
            m[i * d + i] = v[i];
        }
        m
    };
    let m1 = values(d, 1);
    let m2 = values(d, 2);
    let want: f64 = m1
        .iter()
        .zip(&m2)
        .map(|(x, y)| (x - y).powi(2))
        .sum::<f64>()
        + a.iter()
            .zip(&b)
            .map(|(x, y)| (x.sqrt() - y.sqrt()).powi(2))
            .sum::<f64>();
    let got = eval::frechet_from_moments(&m1, &diag(&a), &m2, &diag(&b));
    assert!((got - want).abs() <= 1e-10 * want, "{got} vs {want}");
    // The same Gaussians rotated together: the distance does not change.
    let (_, q) = eval::symmetric_eigen(&spd(d, 5), d); // an orthogonal matrix
    let rot = |s: &[f64]| matmul(&matmul(&q, s, d), &transpose(&q, d), d);
    let rotm = |m: &[f64]| {
        (0..d)
            .map(|i| (0..d).map(|k| q[i * d + k] * m[k]).sum())
            .collect::<Vec<f64>>()
    };
    let got = eval::frechet_from_moments(&rotm(&m1), &rot(&diag(&a)), &rotm(&m2), &rot(&diag(&b)));
    assert!(
        (got - want).abs() <= 1e-9 * want,
        "rotated: {got} vs {want}"
    );
    // A full covariance against itself: zero (tr S + tr S - 2 tr sqrt(S S)).
    let s = spd(40, 9);
    let m = values(40, 3);
    let same = eval::frechet_from_moments(&m, &s, &m, &s);
    let tr: f64 = (0..40).map(|i| s[i * 40 + i]).sum();
    assert!(same.abs() <= 1e-9 * tr, "S against itself: {same}");
}

#[test]
fn r_precision_ranks_the_true_caption() {
    let n = 150;
    let d = 16;
    let feats: Vec<Vec<f32>> = (0..n)
        .map(|i| {
            values(d, 100 + i as u64)
                .iter()
                .map(|&x| x as f32)
                .collect()
        })
        .collect();
    let perfect = eval::r_precision_of(&feats, &feats, 100, 3, 0).unwrap();
    assert_eq!(perfect.mean, 1.0);
    // Captions unrelated to the images: about 1 in 100 by chance.
    let other: Vec<Vec<f32>> = (0..n)
        .map(|i| {
            values(d, 9000 + i as u64)
                .iter()
                .map(|&x| x as f32)
                .collect()
        })
        .collect();
    let chance = eval::r_precision_of(&feats, &other, 100, 10, 0).unwrap();
    assert!(chance.mean <= 0.05, "unrelated features: {}", chance.mean);
    assert!(eval::r_precision_of(&feats[..50], &feats[..50], 100, 1, 0).is_err());
}

#[test]
fn attribute_swaps_count_an_image_whose_true_caption_beats_every_distractor() {
    let v = |x: &[f32]| x.to_vec();
    let images = vec![
        v(&[1.0, 0.0]),
        v(&[0.0, 2.0]),
        v(&[1.0, 1.0]),
        v(&[3.0, 0.0]),
    ];
    // Cosine only: the scale of a caption's features does not matter.
    let truth = vec![
        v(&[5.0, 0.1]),
        v(&[1.0, 0.0]),
        v(&[1.0, 1.0]),
        v(&[1.0, 0.0]),
    ];
    let swaps = vec![
        vec![v(&[0.0, 1.0]), v(&[-1.0, 0.0])], // wins against both
        vec![v(&[0.0, 1.0])],                  // loses
        vec![v(&[1.0, 1.0]), v(&[1.0, 0.0])],  // a tie counts against it
        vec![],                                // nothing to rank: not scored
    ];
    let s = eval::swap_accuracy(&images, &truth, &swaps).unwrap();
    assert_eq!(s.images, 3);
    assert!((s.accuracy - 1.0 / 3.0).abs() < 1e-12, "{}", s.accuracy);
    assert!((s.chance - (1.0 / 3.0 + 1.0 / 2.0 + 1.0 / 3.0) / 3.0).abs() < 1e-12);
    assert!(eval::swap_accuracy(&images, &truth[..2], &swaps).is_err());
}

fn damsm(rt: &Runtime) -> Damsm {
    let mut c = DamsmConfig::new(200);
    c.base_channels = 8;
    Damsm::new(rt, c, 3).unwrap()
}

#[test]
fn fd_damsm_is_zero_on_the_same_set_small_between_halves_and_grows_with_damage() {
    let rt = rt();
    let model = damsm(&rt);
    let a = EvalSet::new(0, 200, 0).renders(64);
    let b = EvalSet::new(5000, 200, 0).renders(64);
    let fa = eval::image_features(&rt, &model, &a).unwrap();
    let fb = eval::image_features(&rt, &model, &b).unwrap();
    let same = eval::frechet_distance(&fa, &fa).unwrap();
    let halves = eval::frechet_distance(&fa, &fb).unwrap();
    let mut damaged = Vec::new();
    for sigma in [0.05, 0.1, 0.2, 0.4] {
        let noisy: Vec<RgbImage> = b
            .iter()
            .enumerate()
            .map(|(i, img)| perturb::noise(img, sigma, i as u64))
            .collect();
        let f = eval::image_features(&rt, &model, &noisy).unwrap();
        damaged.push(eval::frechet_distance(&fa, &f).unwrap());
    }
    let shifted: Vec<RgbImage> = b
        .iter()
        .map(|img| perturb::colour_jitter(img, 0.3, 11))
        .collect();
    let fs = eval::image_features(&rt, &model, &shifted).unwrap();
    let shift = eval::frechet_distance(&fa, &fs).unwrap();
    println!("same {same:.6} halves {halves:.5} noise {damaged:?} shift {shift:.5}");
    assert!(same <= 1e-6 * halves.max(1e-9), "same set: {same}");
    assert!(
        halves > 0.0 && halves < damaged[1],
        "halves {halves} vs noise {damaged:?}"
    );
    assert!(
        damaged.windows(2).all(|w| w[0] < w[1]),
        "more noise must give a larger distance: {damaged:?}"
    );
    assert!(shift > halves, "a colour shift {shift} vs halves {halves}");
}

/// A stand-in generator for tests only: the world's own render of the scene
/// each caption was written for.
struct Renders {
    scenes: HashMap<String, Scene>,
    res: usize,
}

impl Renders {
    /// The world's renders of `set`'s scenes at 64, by caption.
    fn of(set: &EvalSet) -> Renders {
        Renders {
            scenes: set
                .captions
                .iter()
                .cloned()
                .zip(set.scenes.iter().cloned())
                .collect(),
            res: 64,
        }
    }
}

impl Generator for Renders {
    fn image_size(&self) -> usize {
        self.res
    }
    fn draw(&self, _: &Runtime, captions: &[String], _: u64) -> Result<Vec<RgbImage>> {
        Ok(captions
            .iter()
            .map(|c| self.scenes[c].render(self.res as u32))
            .collect())
    }
}

#[test]
fn a_generator_that_returns_the_worlds_renders_scores_at_the_ceiling() {
    let rt = rt();
    let set = EvalSet::new(0, 120, 4);
    let g = Renders::of(&set);
    // The oracle: the generator's row is the ceiling's, which is near 100%.
    let out = eval::oracle_eval(&rt, &g, &set, 4).unwrap();
    assert_eq!(out.generator.all, out.ceiling.all);
    assert!(
        out.ceiling.all.exact.accuracy() >= 0.95,
        "{}",
        out.ceiling.all
    );
    assert!(out.floor.all.exact.accuracy() <= 0.02, "{}", out.floor.all);
    assert_eq!(
        out.generator
            .by_objects
            .iter()
            .map(|s| s.images)
            .sum::<u64>(),
        120
    );
    // R-precision and FD-DAMSM: the generator's figures are the ceiling's.
    let model = damsm(&rt);
    let vocab = wgpu_attngan::data::vocab::Vocab::build(set.captions.iter(), 1);
    let images = g.draw(&rt, &set.captions, 4).unwrap();
    let sent = eval::sentence_features(&rt, &model, &vocab, &set.captions, 4).unwrap();
    let gen = eval::image_features(&rt, &model, &images).unwrap();
    let real = eval::image_features(&rt, &model, &set.renders(64)).unwrap();
    let rg = eval::r_precision_of(&gen, &sent, 100, 3, 4).unwrap();
    let rr = eval::r_precision_of(&real, &sent, 100, 3, 4).unwrap();
    assert_eq!(rg.mean, rr.mean);
    let reference =
        eval::image_features(&rt, &model, &EvalSet::new(9000, 120, 4).renders(64)).unwrap();
    assert_eq!(
        eval::frechet_distance(&gen, &reference).unwrap(),
        eval::frechet_distance(&real, &reference).unwrap()
    );
    // And one that draws the wrong scenes scores at the oracle's floor.
    let wrong = Renders {
        scenes: set
            .captions
            .iter()
            .cloned()
            .zip(set.scenes.iter().cycle().skip(7).cloned())
            .collect(),
        res: 64,
    };
    let out = eval::oracle_eval(&rt, &wrong, &set, 4).unwrap();
    assert!(
        out.generator.all.exact.accuracy() <= 0.02,
        "{}",
        out.generator.all
    );
    assert!(
        out.generator.all.position.accuracy() <= 0.25,
        "{}",
        out.generator.all
    );
}

/// `eval oracle --seen-pairs`: scenes of the training split past any run's
/// (no object a held-out pair), where every held-out scene's first object
/// is one; the world's renders score at the ceiling there too, other
/// scenes' at the floor.
#[test]
fn seen_pairs_are_unseen_training_scenes_and_held_out_first_objects_never_are() {
    use wgpu_attngan::data::world::{is_held_out, Split};
    let held = EvalSet::new(0, 300, 4);
    assert!(held.scenes.iter().all(|s| s.split == Split::Test));
    assert!(held
        .scenes
        .iter()
        .all(|s| is_held_out(s.objects[0].shape, s.objects[0].colour)));
    let set = EvalSet::seen_pairs(300, 4);
    for s in &set.scenes {
        assert_eq!(s.split, Split::Train);
        assert!(s.index >= eval::SEEN_PAIRS_FIRST);
        assert!(s.objects.iter().all(|o| !is_held_out(o.shape, o.colour)));
    }
    let world = eval::eval_world();
    for (k, s) in set.scenes.iter().enumerate() {
        assert_eq!(world.scene_captions(s)[set.chosen[k]], set.captions[k]);
    }
    let rt = rt();
    let g = Renders::of(&set);
    let out = eval::oracle_eval(&rt, &g, &set, 4).unwrap();
    assert_eq!(out.generator.all, out.ceiling.all);
    assert!(
        out.ceiling.all.exact.accuracy() >= 0.9,
        "{}",
        out.ceiling.all
    );
    assert!(out.floor.all.exact.accuracy() <= 0.02, "{}", out.floor.all);
}

#[test]
fn engine_eval_commands_write_json_and_refuse_the_wrong_checkpoints() {
    use wgpu_attngan::train::attngan::{train_attngan, AttnGanTrainOptions};
    use wgpu_attngan::train::damsm::{train_damsm, DamsmTrainOptions};
    let rt = rt();
    let base = std::env::temp_dir().join(format!("engine-eval-{}", std::process::id()));
    std::fs::remove_dir_all(&base).ok();
    let d = train_damsm(
        &rt,
        &DamsmTrainOptions {
            run: RunOptions {
                out: base.join("damsm"),
                steps: 1,
                batch: 4,
                scenes: 16,
                quiet: true,
                ..DamsmTrainOptions::default().run
            },
            image_size: 32,
            base_channels: 4,
            positional: false,
            hard_negatives: false,
            init: None,
            labels: 0.0,
        },
    )
    .unwrap();
    let g = train_attngan(
        &rt,
        &AttnGanTrainOptions {
            run: RunOptions {
                out: base.join("attngan"),
                steps: 1,
                batch: 2,
                scenes: 16,
                quiet: true,
                ..AttnGanTrainOptions::default().run
            },
            damsm: d.checkpoint.clone(),
            stages: 1,
            ngf: 4,
            ndf: 4,
            ..Default::default()
        },
    )
    .unwrap();
    let exe = env!("CARGO_BIN_EXE_engine");
    let run = |args: &[&str]| {
        let out = std::process::Command::new(exe).args(args).output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let (gm, dm) = (
        g.checkpoint.to_str().unwrap(),
        d.checkpoint.to_str().unwrap(),
    );
    let json = base.join("oracle.json");
    let grid = base.join("grid.png");
    let (ok, text) = run(&[
        "eval",
        "oracle",
        "--model",
        gm,
        "--captions",
        "12",
        "--json",
        json.to_str().unwrap(),
        "--grid",
        grid.to_str().unwrap(),
    ]);
    assert!(ok, "{text}");
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(doc["rows"]["generator"]["all"]["images"], 12);
    assert_eq!(doc["data"]["split"], "test");
    assert_eq!(doc["model"]["fnv1a64"].as_str().unwrap().len(), 16);
    assert!(doc["device"].is_string() && doc["seed"] == 0);
    assert!(grid.exists());
    let json = base.join("rp.json");
    let (ok, text) = run(&[
        "eval",
        "r-precision",
        "--damsm",
        dm,
        "--model",
        gm,
        "--images",
        "100",
        "--draws",
        "2",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert!(ok, "{text}");
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let r = doc["rows"]["generator"]["mean"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&r), "{doc}");
    assert!(doc["rows"]["ceiling"]["mean"].is_number() && doc["damsm"]["model"] == "damsm");
    let json = base.join("fd.json");
    let (ok, text) = run(&[
        "eval",
        "fd",
        "--damsm",
        dm,
        "--model",
        gm,
        "--images",
        "24",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert!(ok, "{text}");
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    for row in ["generator", "ceiling", "floor"] {
        assert!(doc["rows"][row].as_f64().unwrap() >= 0.0, "{doc}");
    }
    // The wrong checkpoints: clear errors, non-zero exits.
    let (ok, text) = run(&["eval", "oracle", "--model", dm, "--captions", "4"]);
    assert!(!ok && text.contains("damsm"), "{text}");
    let (ok, text) = run(&["eval", "fd", "--damsm", gm, "--model", gm, "--images", "12"]);
    assert!(!ok && text.contains("not DAMSM"), "{text}");
    let missing = base.join("nothing.safetensors");
    let (ok, text) = run(&["eval", "oracle", "--model", missing.to_str().unwrap()]);
    assert!(!ok && text.contains("no generator at"), "{text}");
    let (ok, text) = run(&["eval", "r-precision", "--damsm", dm, "--images", "10"]);
    assert!(!ok && text.contains("--images 10"), "{text}");
    std::fs::remove_dir_all(base).ok();
}
