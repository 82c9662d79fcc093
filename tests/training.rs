//! The training core end to end: a small network learns a toy task; a run
//! saved, dropped and resumed from its checkpoint continues with the very
//! same losses; bad checkpoints are clear errors.

mod common;
use common::cli::engine;
use std::collections::HashMap;
use std::path::Path;

use wgpu_attngan::autograd::Var;
use wgpu_attngan::nn::checkpoint::Checkpoint;
use wgpu_attngan::nn::layers::Linear;
use wgpu_attngan::nn::optim::Adam;
use wgpu_attngan::nn::{Init, ParamBuilder, ParamStore, SplitMix64};
use wgpu_attngan::{Runtime, Tensor};

fn rt() -> Runtime {
    Runtime::new().unwrap_or_else(|e| panic!("{e}"))
}

/// A two-layer MLP regressing y = sin(3 x0) + x1 x2 on random batches.
struct Toy {
    ps: ParamStore,
    l1: Linear,
    l2: Linear,
    adam: Adam,
    data_rng: SplitMix64,
}

impl Toy {
    fn new(rt: &Runtime, seed: u64) -> Toy {
        let mut b = ParamBuilder::new(seed);
        let l1 = Linear::new(&mut b, "toy.l1", 3, 32, true, Init::XavierUniform(1.0));
        let l2 = Linear::new(&mut b, "toy.l2", 32, 1, true, Init::XavierUniform(1.0));
        let ps = b.build(rt).unwrap();
        let adam = Adam::new(&ps, 0.02, (0.9, 0.999)).unwrap();
        Toy {
            ps,
            l1,
            l2,
            adam,
            data_rng: SplitMix64::new(seed ^ 0xDA7A),
        }
    }

    fn step(&mut self) -> f32 {
        let rt = self.ps.runtime().clone();
        let n = 64;
        let mut x = Vec::with_capacity(n * 3);
        let mut y = Vec::with_capacity(n);
        for _ in 0..n {
            let v: Vec<f32> = (0..3)
                .map(|_| (self.data_rng.uniform() * 2.0 - 1.0) as f32)
                .collect();
            y.push((3.0 * v[0]).sin() + v[1] * v[2]);
            x.extend(v);
        }
        let x = Var::constant(Tensor::from_slice(&rt, &x, &[n, 3]).unwrap());
        let y = Var::constant(Tensor::from_slice(&rt, &y, &[n, 1]).unwrap());
        self.ps.zero_grad().unwrap();
        let h = self.l1.forward(&self.ps, &x).unwrap().tanh().unwrap();
        let pred = self.l2.forward(&self.ps, &h).unwrap();
        let loss = pred.sub(&y).unwrap().square().unwrap().mean_all().unwrap();
        loss.backward().unwrap();
        self.adam.step(&self.ps).unwrap();
        loss.value().to_vec().unwrap()[0]
    }

    fn save(&self, path: &Path) {
        let mut ck = Checkpoint::default();
        ck.extend("model.", self.ps.state().unwrap());
        self.adam.save_into(&mut ck, "optim.").unwrap();
        ck.metadata
            .insert("data_rng".into(), self.data_rng.state.to_string());
        ck.save(path).unwrap();
    }

    fn resume(rt: &Runtime, path: &Path) -> Toy {
        let ck = Checkpoint::load(path).unwrap();
        let mut toy = Toy::new(rt, 999); // different init: everything must come from the file
        toy.ps
            .load_state(&ck.with_prefix("model."), "checkpoint")
            .unwrap();
        toy.adam.load_from(&ck, "optim.", "checkpoint").unwrap();
        toy.data_rng.state = ck.metadata["data_rng"].parse().unwrap();
        toy
    }
}

/// Two DAMSM steps on `data` into `out`, at 32x32.
fn train_tiny_damsm(data: &str, out: &str) -> (bool, String) {
    engine(&[
        "train",
        "--data",
        data,
        "--out",
        out,
        "--steps",
        "2",
        "--batch",
        "4",
        "--image-size",
        "32",
        "--quiet",
    ])
}

/// Two steps of a one-stage AttnGAN (32x32) on `data`, guided by `damsm`.
fn train_tiny_gan(data: &str, damsm: &str, out: &str) -> (bool, String) {
    engine(&[
        "train",
        "--model",
        "attngan",
        "--data",
        data,
        "--damsm",
        damsm,
        "--out",
        out,
        "--steps",
        "2",
        "--batch",
        "4",
        "--stages",
        "1",
        "--base-size",
        "32",
        "--quiet",
    ])
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("engine-test-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn toy_network_learns() {
    let rt = rt();
    let mut toy = Toy::new(&rt, 7);
    let first: f32 = (0..5).map(|_| toy.step()).sum::<f32>() / 5.0;
    for _ in 0..400 {
        toy.step();
    }
    let last: f32 = (0..5).map(|_| toy.step()).sum::<f32>() / 5.0;
    println!("toy loss {first} -> {last}");
    assert!(
        last < 0.05 && last < first / 4.0,
        "loss went from {first} to {last}"
    );
}

#[test]
fn resume_continues_with_identical_losses() {
    let rt = rt();
    let dir = temp_dir("resume");
    let path = dir.join("checkpoint.safetensors");
    let mut straight = Toy::new(&rt, 11);
    let expect: Vec<f32> = (0..20).map(|_| straight.step()).collect();

    let mut first = Toy::new(&rt, 11);
    let mut got: Vec<f32> = (0..10).map(|_| first.step()).collect();
    first.save(&path);
    drop(first); // the "kill": nothing survives but the file
    let mut resumed = Toy::resume(&rt, &path);
    got.extend((0..10).map(|_| resumed.step()));
    assert_eq!(
        got, expect,
        "resumed losses differ from the uninterrupted run"
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn bad_checkpoints_are_clear_errors() {
    let rt = rt();
    let dir = temp_dir("bad");
    let path = dir.join("checkpoint.safetensors");
    let e = Checkpoint::load(&dir.join("missing.safetensors"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("missing.safetensors") && e.contains("no such file"),
        "{e}"
    );

    let toy = Toy::new(&rt, 3);
    toy.save(&path);
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let e = Checkpoint::load(&path).unwrap_err().to_string();
    assert!(e.contains("truncated or corrupt"), "{e}");
    std::fs::write(&path, b"definitely not a checkpoint").unwrap();
    assert!(Checkpoint::load(&path).is_err());

    // A tensor missing, and one of the wrong shape.
    let mut tensors: HashMap<String, (Vec<usize>, Vec<f32>)> = toy
        .ps
        .state()
        .unwrap()
        .into_iter()
        .map(|(n, s, d)| (n, (s, d)))
        .collect();
    tensors.remove("toy.l2.bias");
    let e = toy.ps.load_state(&tensors, "ck").unwrap_err().to_string();
    assert!(e.contains("toy.l2.bias"), "{e}");
    tensors.insert("toy.l2.bias".into(), (vec![2], vec![0.0, 0.0]));
    let e = toy.ps.load_state(&tensors, "ck").unwrap_err().to_string();
    assert!(
        e.contains("toy.l2.bias") && e.contains("[2]") && e.contains("[1]"),
        "{e}"
    );

    // A crash during the write leaves the previous checkpoint readable: the
    // temporary file is never the checkpoint itself.
    toy.save(&path);
    std::fs::write(path.with_extension("safetensors.tmp"), b"half-written").unwrap();
    assert!(Checkpoint::load(&path).is_ok());
    std::fs::remove_dir_all(dir).ok();
}

/// f16 storage (engine export --f16) widens back to within f16's rounding;
/// a value beyond its range refuses to be stored; a non-finite value, in
/// either type, refuses to load and names its tensor.
#[test]
fn f16_checkpoints_round_trip_and_non_finite_values_refuse_to_load() {
    let dir = temp_dir("f16");
    let path = dir.join("m.safetensors");
    let data: Vec<f32> = (0..1001)
        .map(|i| ((i as f32) * 0.7311).sin() * 300.0 / (1.0 + i as f32))
        .collect();
    let mut ck = Checkpoint {
        f16: true,
        ..Default::default()
    };
    ck.insert("w", vec![7, 11, 13], data.clone());
    ck.metadata.insert("k".into(), "v".into());
    ck.save(&path).unwrap();
    let back = Checkpoint::load(&path).unwrap();
    assert!(back.f16);
    assert_eq!(back.metadata["k"], "v");
    let (shape, got) = &back.tensors["w"];
    assert_eq!(shape, &vec![7, 11, 13]);
    for (a, b) in got.iter().zip(&data) {
        // f16 keeps 11 significant bits; below 2^-14 it is subnormal (steps of 2^-24).
        let tol = (b.abs() * 2f32.powi(-11)).max(2f32.powi(-25));
        assert!((a - b).abs() <= tol, "{b} came back as {a}");
    }
    let size_f16 = std::fs::metadata(&path).unwrap().len();
    ck.f16 = false;
    ck.save(&path).unwrap();
    let size_f32 = std::fs::metadata(&path).unwrap().len();
    assert!(size_f16 * 2 < size_f32 + 200, "{size_f16} vs {size_f32}");
    assert_eq!(Checkpoint::load(&path).unwrap().tensors["w"].1, data);

    ck.f16 = true;
    ck.insert("big", vec![1], vec![70000.0]);
    let e = ck.save(&path).unwrap_err().to_string();
    assert!(e.contains("\"big\"") && e.contains("f16"), "{e}");
    // Saving a non-finite value is refused and keeps the file as it was.
    let mut good = Checkpoint::default();
    good.insert("ok", vec![2], vec![1.0, 2.0]);
    good.save(&path).unwrap();
    let mut bad = good.clone();
    bad.insert("gen.fc.weight", vec![3], vec![0.5, f32::NAN, 1.0]);
    let e = bad.save(&path).unwrap_err().to_string();
    assert!(
        e.contains("gen.fc.weight") && e.contains("not written"),
        "{e}"
    );
    assert_eq!(Checkpoint::load(&path).unwrap(), good);
    // A file holding one (written by another tool) refuses to load, in either type.
    for dtype in [safetensors::Dtype::F32, safetensors::Dtype::F16] {
        let vals = [0.5f32, f32::NAN, 1.0];
        let bytes: Vec<u8> = if dtype == safetensors::Dtype::F32 {
            bytemuck::cast_slice(&vals).to_vec()
        } else {
            vals.iter()
                .flat_map(|&v| half::f16::from_f32(v).to_le_bytes())
                .collect()
        };
        let view = safetensors::tensor::TensorView::new(dtype, vec![3], &bytes).unwrap();
        let blob = safetensors::serialize(vec![("gen.fc.weight", view)], None).unwrap();
        std::fs::write(&path, blob).unwrap();
        let e = Checkpoint::load(&path).unwrap_err().to_string();
        assert!(e.contains("gen.fc.weight") && e.contains("NaN"), "{e}");
    }
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn bad_numbers_and_environment_are_clear_errors_not_panics() {
    let exe = env!("CARGO_BIN_EXE_engine");
    let out_dir = temp_dir("bad-flags");
    let run = |args: &[&str], env: Option<(&str, &str)>| {
        let mut cmd = std::process::Command::new(exe);
        cmd.args(args);
        if let Some((k, v)) = env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let out = out_dir.to_str().unwrap();
    for minutes in ["nan", "inf", "-1", "0"] {
        let flag = format!("--minutes={minutes}");
        let (code, err) = run(&["train", "--out", out, &flag], None);
        assert_eq!(code, Some(1), "--minutes {minutes}: {err}");
        assert!(
            err.contains("--minutes") && !err.contains("panicked"),
            "{err}"
        );
    }
    // A flag the chosen model does not use is an error, not ignored.
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    for (args, flag) in [
        (vec!["train", "--out", out, "--stages", "2"], "--stages"),
        (
            vec!["train", "--out", out, "--base-size", "32"],
            "--base-size",
        ),
        (vec!["train", "--out", out, "--damsm", manifest], "--damsm"),
        (
            vec![
                "train",
                "--model",
                "attngan",
                "--out",
                out,
                "--damsm",
                manifest,
                "--image-size",
                "64",
            ],
            "--image-size",
        ),
        (
            vec!["train", "--out", out, "--data", out, "--scenes", "10"],
            "--scenes",
        ),
        (
            vec!["train", "--out", out, "--scenes", "1000000000000"],
            "--scenes 1000000000000",
        ),
        (
            vec![
                "train",
                "--model",
                "dcgan",
                "--out",
                out,
                "--damsm",
                manifest,
                "--hard-negatives",
            ],
            "--hard-negatives applies to --model damsm, attngan and mirrorgan",
        ),
        (
            vec![
                "train", "--model", "dcgan", "--out", out, "--damsm", manifest, "--init", manifest,
            ],
            "--init applies to --model damsm",
        ),
        (
            vec!["train", "--out", out, "--init", "no-such.safetensors"],
            "--init no-such.safetensors: no such file",
        ),
        (
            vec![
                "train",
                "--model",
                "attngan",
                "--out",
                out,
                "--damsm",
                manifest,
                "--data",
                out,
                "--hard-negatives",
            ],
            "only the built-in world",
        ),
        (
            vec!["train", "--out", out, "--world-objects", "0"],
            "--world-objects 0 must be 1, 2 or 3",
        ),
        (
            vec!["train", "--out", out, "--data", out, "--world-objects", "1"],
            "--world-objects caps the built-in world's scenes",
        ),
        (
            vec!["train", "--out", out, "--data", out, "--twins", "shape"],
            "--twins pairs each built-in world scene",
        ),
        (
            vec!["train", "--out", out, "--twins", "shape", "--batch", "7"],
            "--twins needs an even --batch",
        ),
        (
            vec![
                "train",
                "--out",
                out,
                "--twins",
                "shape",
                "--hard-negatives",
            ],
            "--twins and --hard-negatives",
        ),
        (
            vec!["train", "--model", "stream", "--out", out, "--labels", "1"],
            "--labels applies to --model damsm",
        ),
        (
            vec![
                "train",
                "--model",
                "damsm",
                "--out",
                out,
                "--label-guide",
                "1",
            ],
            "--label-guide applies to --model attngan",
        ),
        (
            vec![
                "train", "--model", "damsm", "--out", out, "--data", out, "--labels", "1",
            ],
            "--labels needs labels of what each image shows",
        ),
        (
            vec!["train", "--model", "damsm", "--out", out, "--labels", "0"],
            "--labels takes the label loss's weight",
        ),
        (
            vec!["train", "--model", "damsm", "--out", out, "--labels", "NaN"],
            "--labels takes the label loss's weight",
        ),
        (
            vec!["train", "--out", out, "--pixel-loss", "1"],
            "--pixel-loss applies to --model attngan",
        ),
        (
            vec![
                "train",
                "--model",
                "attngan",
                "--out",
                out,
                "--damsm",
                manifest,
                "--pixel-loss",
                "inf",
            ],
            "--pixel-loss takes the pixel loss's weight",
        ),
        (
            vec!["train", "--out", out, "--label-damsm", manifest],
            "--label-damsm names the label guide's DAMSM; add --label-guide",
        ),
        (
            vec![
                "train",
                "--model",
                "attngan",
                "--out",
                out,
                "--damsm",
                manifest,
                "--label-guide",
                "1",
                "--label-damsm",
                "/no/such/damsm.safetensors",
            ],
            "--label-damsm: /no/such/damsm.safetensors does not exist",
        ),
    ] {
        let (code, err) = run(&args, None);
        assert!(code == Some(1) && err.contains(flag), "{args:?}: {err}");
    }
    // clap's own refusal of a value it does not know exits with 2.
    let (code, err) = run(&["train", "--out", out, "--twins", "shap"], None);
    assert!(
        code == Some(2) && err.contains("invalid value 'shap' for '--twins"),
        "{err}"
    );
    let (code, err) = run(&["world", "--size", "1000", "--out", out], None);
    assert!(code == Some(1) && err.contains("--size 1000"), "{err}");
    let (code, err) = run(&["world", "--count", "100000000", "--out", out], None);
    assert!(
        code == Some(1) && err.contains("--count 100000000"),
        "{err}"
    );
    for var in ["ENGINE_KERNELS", "ENGINE_TRACE"] {
        let (code, err) = run(&["devices"], Some((var, "bogus")));
        assert!(
            code == Some(1) && err.contains(var) && err.contains("bogus"),
            "{err}"
        );
    }
    // The short-K matmul's limit and the tiled GEMM's forced tile: named
    // when the first matmul runs.
    for (var, bad) in [
        ("ENGINE_SMALL_K", "bogus"),
        ("ENGINE_SMALL_K", "17"),
        ("ENGINE_SMALL_K", "-1"),
        ("ENGINE_GEMM_TILE", "bogus"),
        ("ENGINE_GEMM_TILE", "32"),
    ] {
        let png = format!("{out}/bad-env.png");
        let (code, err) = run(&["generate", "a red circle", "-o", &png], Some((var, bad)));
        assert!(
            code == Some(1) && err.contains(var) && err.contains(bad),
            "{err}"
        );
        assert!(
            !std::path::Path::new(&png).exists(),
            "{var}={bad} wrote {png}"
        );
    }
    // The subgroups flavour forced where subgroups are missing: wgpu's GL
    // backend offers none (where GL runs at all; CI's lavapipe has EGL).
    let gl = std::process::Command::new(exe)
        .args(["generate", "a red circle", "-o", &format!("{out}/gl.png")])
        .env("WGPU_BACKEND", "gl")
        .env("ENGINE_KERNELS", "subgroups")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&gl.stderr);
    if err.contains("no GPU adapter") || err.contains("No adapter") {
        eprintln!("skipped the GL case: no GL adapter here ({err})");
    } else {
        assert!(
            gl.status.code() == Some(1) && err.contains("\"subgroups\" needs the SUBGROUP feature"),
            "{err}"
        );
    }
    let (code, err) = run(&["devices"], Some(("WGPU_BACKEND", "dx12")));
    if code == Some(1) {
        // No DX12 here (Linux): the message names the variable that narrowed the search.
        assert!(err.contains("WGPU_BACKEND=\"dx12\""), "{err}");
    }
    std::fs::remove_dir_all(out_dir).ok();
}

/// Your own captioned images from the command line: a folder of PNG and
/// JPEG files of any size, grayscale, RGBA and 16-bit among them, trains a
/// DAMSM and an AttnGAN guided by it (vocabulary from the folder's
/// captions), and generates with unknown words named. Mixing data sets is
/// refused with the reason: resuming on other data, a DAMSM of other data,
/// and scoring a folder model on the world.
#[test]
fn train_and_generate_on_a_folder_from_the_command_line() {
    let dir = temp_dir("folder-cli");
    let data = dir.join("pictures");
    std::fs::create_dir_all(&data).unwrap();
    let colours = [
        ("red", [220u8, 30, 30]),
        ("blue", [30, 30, 220]),
        ("green", [30, 200, 30]),
    ];
    for i in 0..12 {
        let (name, rgb) = colours[i % 3];
        let (w, h) = (30 + 7 * i as u32, 40 - i as u32);
        let stem = data.join(format!("p{i:02}"));
        let rgb_img = image::RgbImage::from_fn(w, h, |x, y| {
            if (x + y) % 9 < 5 {
                image::Rgb(rgb)
            } else {
                image::Rgb([250, 250, 250])
            }
        });
        let path = match i % 4 {
            0 => {
                let p = stem.with_extension("png");
                rgb_img.save(&p).unwrap();
                p
            }
            1 => {
                let p = stem.with_extension("jpg");
                rgb_img.save(&p).unwrap();
                p
            }
            2 => {
                let p = stem.with_extension("png");
                image::DynamicImage::ImageRgb8(rgb_img)
                    .to_luma8()
                    .save(&p)
                    .unwrap();
                p
            }
            _ => {
                let p = stem.with_extension("png");
                let img = image::DynamicImage::ImageRgb8(rgb_img);
                if i % 8 == 3 {
                    img.to_rgba8().save(&p)
                } else {
                    img.to_rgb16().save(&p)
                }
                .unwrap();
                p
            }
        };
        std::fs::write(
            path.with_extension("txt"),
            format!("a {name} pattern of stripes\nstripes in {name} on white\n"),
        )
        .unwrap();
    }
    let run = engine;
    let (d, g) = (dir.join("damsm"), dir.join("gan"));
    let (ds, gs, datas) = (
        d.to_str().unwrap(),
        g.to_str().unwrap(),
        data.to_str().unwrap(),
    );
    let (ok, text) = train_tiny_damsm(datas, ds);
    assert!(ok, "{text}");
    assert!(
        text.contains("images (no split.txt") && text.contains("0 skipped"),
        "{text}"
    );
    assert!(
        text.contains("vocabulary: ") && text.contains("held-out captions' words"),
        "{text}"
    );
    assert!(text.contains("compiling the kernels"), "{text}");
    let dck = d.join("checkpoint.safetensors");
    let ck = Checkpoint::load(&dck).unwrap();
    assert!(
        ck.metadata["data"].starts_with("folder "),
        "{:?}",
        ck.metadata["data"]
    );
    assert!(ck.metadata["vocab"].contains("stripes") && !ck.metadata["vocab"].contains("circle"));
    // Resuming it on the world is refused, with both sources named.
    let (ok, text) = run(&[
        "train",
        "--out",
        ds,
        "--steps",
        "3",
        "--batch",
        "4",
        "--image-size",
        "32",
        "--resume",
    ]);
    assert!(
        !ok && text.contains("was trained on folder") && text.contains("not world"),
        "{text}"
    );
    let dcks = dck.to_str().unwrap();
    let (ok, text) = train_tiny_gan(datas, dcks, gs);
    assert!(ok, "{text}");
    let gck = g.join("checkpoint.safetensors");
    let gcks = gck.to_str().unwrap();
    // A world AttnGAN cannot be guided by the folder's DAMSM.
    let (ok, text) = run(&[
        "train",
        "--model",
        "attngan",
        "--damsm",
        dcks,
        "--out",
        dir.join("g2").to_str().unwrap(),
        "--steps",
        "1",
    ]);
    assert!(
        !ok && text.contains("is a DAMSM of folder") && text.contains("on world"),
        "{text}"
    );
    let sample = dir.join("s.png");
    let (ok, text) = run(&[
        "generate",
        "a red pattern of zebras",
        "--model",
        gcks,
        "-o",
        sample.to_str().unwrap(),
    ]);
    assert!(ok, "{text}");
    assert!(text.contains("zebras"), "unknown words are named: {text}");
    assert_eq!(image::open(&sample).unwrap().width(), 32);
    // The world's evaluation refuses a folder model and a folder DAMSM.
    let (ok, text) = run(&["eval", "oracle", "--model", gcks, "--captions", "4"]);
    assert!(!ok && text.contains("was trained on folder"), "{text}");
    let (ok, text) = run(&["eval", "r-precision", "--damsm", dcks, "--images", "100"]);
    assert!(!ok && text.contains("was trained on folder"), "{text}");
    let (ok, text) = run(&["train", "--data", dir.join("missing").to_str().unwrap()]);
    assert!(
        !ok && text.contains("missing") && text.contains("--data"),
        "{text}"
    );
    std::fs::remove_dir_all(dir).ok();
}

/// `engine eval r-precision` and `engine eval fd` with --data: a folder's
/// held-out split (split.txt) scores the models trained on that folder, with
/// the candidates and chance the split allows; other data is refused.
#[test]
fn eval_on_a_folder_from_the_command_line() {
    let dir = temp_dir("folder-eval");
    let data = dir.join("shapes");
    std::fs::create_dir_all(&data).unwrap();
    let colours = [
        ("red", [220u8, 30, 30]),
        ("blue", [30, 30, 220]),
        ("green", [30, 200, 30]),
        ("yellow", [230, 220, 40]),
    ];
    let mut split = String::new();
    for i in 0..36u32 {
        let (name, rgb) = colours[i as usize % 4];
        let big = i % 3 == 0;
        let img = image::RgbImage::from_fn(40, 40, |x, y| {
            let r = if big { 15 } else { 8 };
            if (x as i32 - 20).pow(2) + (y as i32 - 20).pow(2) < r * r {
                image::Rgb(rgb)
            } else {
                image::Rgb([245, 245, 245])
            }
        });
        let file = format!("d{i:02}.png");
        img.save(data.join(&file)).unwrap();
        let size = if big { "big" } else { "small" };
        std::fs::write(
            data.join(format!("d{i:02}.txt")),
            format!("a {size} {name} disc\na {name} disc on white\n"),
        )
        .unwrap();
        let part = if i % 3 == 1 { "test" } else { "train" };
        split.push_str(&format!("{part} {file}\n"));
    }
    std::fs::write(data.join("split.txt"), split).unwrap();
    let run = engine;
    let (d, g) = (dir.join("damsm"), dir.join("gan"));
    let datas = data.to_str().unwrap();
    let (ok, text) = train_tiny_damsm(datas, d.to_str().unwrap());
    assert!(ok, "{text}");
    let dck = d.join("checkpoint.safetensors");
    let dcks = dck.to_str().unwrap();
    let (ok, text) = train_tiny_gan(datas, dcks, g.to_str().unwrap());
    assert!(ok, "{text}");
    let gck = g.join("checkpoint.safetensors");
    let gcks = gck.to_str().unwrap();

    // Without --data: refused, and told which flag scores it.
    let (ok, text) = run(&["eval", "r-precision", "--damsm", dcks, "--model", gcks]);
    assert!(
        !ok && text.contains("was trained on folder")
            && text.contains(&format!(
                "--data {}",
                data.canonicalize().unwrap().display()
            )),
        "{text}"
    );
    // On its held-out split: 12 images, so each caption among 12.
    let json = dir.join("rp.json");
    let (ok, text) = run(&[
        "eval",
        "r-precision",
        "--damsm",
        dcks,
        "--model",
        gcks,
        "--data",
        datas,
        "--json",
        json.to_str().unwrap(),
    ]);
    assert!(ok, "{text}");
    assert!(text.contains("12 held-out images of folder"), "{text}");
    assert!(
        text.contains("top-1 among 12 captions") && text.contains("chance 8.33%"),
        "{text}"
    );
    assert!(
        text.contains("generator") && text.contains("ceiling: the real images at 32x32"),
        "{text}"
    );
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert!(doc["data"]["source"]
        .as_str()
        .unwrap()
        .starts_with("folder "));
    assert_eq!(doc["rows"]["generator"]["candidates"], 12);
    let mean = doc["rows"]["ceiling"]["mean"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&mean), "{doc}");
    let (ok, text) = run(&[
        "eval", "fd", "--damsm", dcks, "--model", gcks, "--data", datas,
    ]);
    assert!(ok, "{text}");
    assert!(
        text.contains("12 real held-out images")
            && text.contains("ceiling: real images, 6 against the other 6")
            && text.contains("floor: each real image flattened"),
        "{text}"
    );
    // Another folder, or the world, is not what these were trained on.
    let other = dir.join("other");
    std::fs::create_dir_all(&other).unwrap();
    let (ok, text) = run(&[
        "eval",
        "fd",
        "--damsm",
        dcks,
        "--model",
        gcks,
        "--data",
        other.to_str().unwrap(),
    ]);
    assert!(!ok && text.contains("cannot be scored on folder"), "{text}");
    let (ok, text) = run(&[
        "eval", "fd", "--data", "world", "--model", gcks, "--damsm", dcks,
    ]);
    assert!(!ok && text.contains("was trained on folder"), "{text}");
    std::fs::remove_dir_all(dir).ok();
}

/// A full disk while a checkpoint is written (its temporary file made a link
/// to /dev/full, where every write fails with "no space left"): a clear
/// error, a non-zero exit, and the previous checkpoint intact. An output
/// folder that cannot be made fails before any training.
#[test]
fn a_full_disk_keeps_the_last_checkpoint_and_a_bad_out_folder_fails_at_once() {
    use wgpu_attngan::nn::checkpoint::Checkpoint;
    let exe = env!("CARGO_BIN_EXE_engine");
    let dir = temp_dir("full-disk");
    let out = dir.join("damsm");
    let run = |extra: &[&str]| {
        let o = std::process::Command::new(exe)
            .args(["train", "--quiet", "--batch", "4", "--scenes", "8"])
            .args(["--image-size", "32", "--checkpoint-every", "2", "--out"])
            .arg(&out)
            .args(extra)
            .output()
            .unwrap();
        let text =
            String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr);
        (o.status.success(), text)
    };
    let (ok, text) = run(&["--steps", "2"]);
    assert!(ok, "{text}");
    let ck = out.join("checkpoint.safetensors");
    let before = std::fs::read(&ck).unwrap();
    std::os::unix::fs::symlink("/dev/full", out.join("checkpoint.safetensors.tmp")).unwrap();
    let (ok, text) = run(&["--steps", "4", "--resume"]);
    assert!(!ok, "{text}");
    assert!(
        text.contains("No space left")
            && text.contains("disk full")
            && text.contains("checkpoint.safetensors"),
        "{text}"
    );
    assert_eq!(
        std::fs::read(&ck).unwrap(),
        before,
        "the last checkpoint changed"
    );
    assert_eq!(Checkpoint::load(&ck).unwrap().metadata["step"], "2");
    // The disk has room again: the run resumes from step 2.
    let _ = std::fs::remove_file(out.join("checkpoint.safetensors.tmp"));
    let (ok, text) = run(&["--steps", "4", "--resume"]);
    assert!(ok, "{text}");
    assert_eq!(Checkpoint::load(&ck).unwrap().metadata["step"], "4");

    // --out below a regular file: refused before the first step.
    let file = dir.join("a-file");
    std::fs::write(&file, "not a folder").unwrap();
    let t0 = std::time::Instant::now();
    let o = std::process::Command::new(exe)
        .args(["train", "--quiet", "--steps", "1000", "--out"])
        .arg(file.join("run"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(!o.status.success());
    assert!(
        text.contains("a-file/run") && !text.contains("step 10"),
        "{text}"
    );
    assert!(t0.elapsed().as_secs() < 60, "it trained before failing");
    std::fs::remove_dir_all(dir).ok();
}

/// Output into a closed pipe (`engine devices | head -0`) ends the command
/// by SIGPIPE, as for any Unix tool, not with a panic's backtrace.
#[test]
fn a_closed_pipe_ends_a_command_quietly() {
    use std::os::unix::process::ExitStatusExt;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_engine"))
        .arg("devices")
        .env("XDG_RUNTIME_DIR", "/tmp")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.signal(), Some(13), "{}: {err}", out.status);
    assert!(!err.contains("panicked"), "{err}");
}

/// ENGINE_TRACE=0 prints every dispatch with its kernel, defines, grid and
/// time, and changes nothing it computes.
#[test]
fn engine_trace_names_every_kernel_and_changes_no_result() {
    let dir = temp_dir("trace");
    let run = |trace: Option<&str>, name: &str| {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_engine"));
        c.args(["generate", "a big red circle", "--seed", "3", "-o"])
            .arg(dir.join(name))
            .env("XDG_RUNTIME_DIR", "/tmp");
        if let Some(t) = trace {
            c.env("ENGINE_TRACE", t);
        }
        let out = c.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stderr).to_string()
    };
    let plain = run(None, "plain.png");
    assert!(!plain.contains("trace:"), "{plain}");
    let traced = run(Some("0"), "traced.png");
    let lines: Vec<&str> = traced
        .lines()
        .filter(|l| l.starts_with("trace: "))
        .collect();
    assert!(lines.len() > 20, "{traced}");
    assert!(
        lines
            .iter()
            .all(|l| l.contains(" groups [") && l.ends_with(" ms")),
        "{traced}"
    );
    assert!(lines.iter().any(|l| l.contains("attention")), "{traced}");
    let img = |n: &str| image::open(dir.join(n)).unwrap().to_rgb8().into_raw();
    assert_eq!(img("plain.png"), img("traced.png"));
    std::fs::remove_dir_all(dir).ok();
}

/// An engine built without MPI that finds itself launched as one of several
/// ranks refuses (K copies of one run would overwrite one another's
/// checkpoints), naming the build that does it.
#[cfg(not(feature = "mpi"))]
#[test]
fn a_build_without_mpi_refuses_to_be_one_of_several_workers() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_engine"))
        .args(["train", "--steps", "1"])
        .env("OMPI_COMM_WORLD_RANK", "1")
        .env("OMPI_COMM_WORLD_SIZE", "2")
        .env("XDG_RUNTIME_DIR", "/tmp")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("rank 1 of 2") && err.contains("--features mpi"),
        "{err}"
    );
    // Launched as the only rank, it runs as usual.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_engine"))
        .args(["train", "--steps", "0"])
        .env("OMPI_COMM_WORLD_RANK", "0")
        .env("OMPI_COMM_WORLD_SIZE", "1")
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&out.stderr).contains("without MPI"));
}
