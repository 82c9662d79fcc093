//! DCGAN and GAN-INT-CLS: shapes at 32 and 64, the matching-aware losses
//! against an f64 reference built from the discriminator's own logits, D
//! learning a fixed batch, a tiny run that resumes bit for bit, and the
//! sampler drawing from its checkpoint.

mod common;
use wgpu_attngan::autograd::Var;
use wgpu_attngan::models::dcgan::{self as m, Dcgan, DcganConfig};
use wgpu_attngan::nn::optim::Adam;
use wgpu_attngan::train::eval::Generator;
use wgpu_attngan::train::trainer::RunOptions;

use common::fixtures::{det, rt};

fn tiny(text_dim: usize, image_size: usize) -> DcganConfig {
    DcganConfig {
        ngf: 4,
        ndf: 4,
        z_dim: 10,
        text_dim,
        proj_dim: 6,
        image_size,
        max_words: 18,
    }
}

#[test]
fn generator_and_discriminator_shapes_at_32_and_64() {
    let rt = rt();
    for (text, size) in [(0, 32), (0, 64), (12, 32), (12, 64)] {
        let c = tiny(text, size);
        let g = Dcgan::new(&rt, c.clone(), 1).unwrap();
        let b = 3;
        let z = det(&rt, &[b, 10], 1);
        let s = (text > 0).then(|| det(&rt, &[b, 12], 2));
        let img = g.gen.forward(&g.gen_params, &z, s.as_ref(), true).unwrap();
        assert_eq!(img.shape(), &[b, 3, size, size], "{c:?}");
        let v = img.value().to_vec().unwrap();
        assert!(v.iter().all(|x| x.abs() <= 1.0), "tanh output");
        let logits = g.disc.logits(&g.disc_params, &img, s.as_ref()).unwrap();
        assert_eq!(logits.shape(), &[b]);
        // A sentence where none is taken, or none where one is, is refused.
        let other = if text > 0 {
            None
        } else {
            Some(det(&rt, &[b, 12], 3))
        };
        assert!(g
            .gen
            .forward(&g.gen_params, &z, other.as_ref(), true)
            .is_err());
        assert!(g.disc.logits(&g.disc_params, &img, other.as_ref()).is_err());
    }
    let e = Dcgan::new(&rt, tiny(0, 128), 0).err().unwrap().to_string();
    assert!(e.contains("image_size must be 32 or 64"), "{e}");
}

fn bce(logit: f64, target: f64) -> f64 {
    // max(x, 0) - x t + log(1 + e^-|x|), as PyTorch's BCEWithLogits.
    logit.max(0.0) - logit * target + (1.0 + (-logit.abs()).exp()).ln()
}

fn host(v: &Var) -> Vec<f64> {
    v.value()
        .to_vec()
        .unwrap()
        .into_iter()
        .map(f64::from)
        .collect()
}

/// D's loss is BCE(real, right -> 1) + (BCE(real, wrong -> 0) + BCE(fake,
/// right -> 0)) / 2, the wrong caption of item i being item i+1's; G's is
/// BCE(fake -> 1); the interpolation is the mean of a caption and the
/// next: each against f64 sums of the logits D gives.
#[test]
fn matching_aware_losses_match_an_f64_reference() {
    let rt = rt();
    let g = Dcgan::new(&rt, tiny(12, 32), 7).unwrap();
    let b = 5;
    let real = det(&rt, &[b, 3, 32, 32], 11).mul_scalar(0.9).unwrap();
    let fake = det(&rt, &[b, 3, 32, 32], 23).mul_scalar(0.7).unwrap();
    let s = det(&rt, &[b, 12], 5);
    let (ps, d) = (&g.disc_params, &g.disc);
    // The wrong captions: row i is row i+1, the last the first.
    let (sv, wv) = (host(&s), host(&m::shifted(&s).unwrap()));
    for i in 0..b {
        assert_eq!(&wv[i * 12..(i + 1) * 12], &sv[((i + 1) % b) * 12..][..12]);
    }
    let mean = |xs: &[f64], t: f64| xs.iter().map(|&x| bce(x, t)).sum::<f64>() / xs.len() as f64;
    let right = host(&d.logits(ps, &real, Some(&s)).unwrap());
    let wrong = host(&d.logits(ps, &real, Some(&m::shifted(&s).unwrap())).unwrap());
    let faked = host(&d.logits(ps, &fake, Some(&s)).unwrap());
    let want = mean(&right, 1.0) + 0.5 * (mean(&wrong, 0.0) + mean(&faked, 0.0));
    let got = host(&m::discriminator_loss(d, ps, &real, &fake, Some(&s)).unwrap())[0];
    assert!(
        (got - want).abs() <= 1e-5 * want.abs().max(1.0),
        "D: {got} vs {want}"
    );
    let g_want = mean(&faked, 1.0);
    let g_got = host(&m::generator_loss(d, ps, &fake, Some(&s)).unwrap())[0];
    assert!(
        (g_got - g_want).abs() <= 1e-5 * g_want.max(1.0),
        "G: {g_got} vs {g_want}"
    );
    let mixed = host(&m::interpolated(&s, 0.5).unwrap());
    for (k, x) in mixed.iter().enumerate() {
        let (i, j) = (k / 12, k % 12);
        let r = 0.5 * sv[i * 12 + j] + 0.5 * sv[((i + 1) % b) * 12 + j];
        assert!((x - r).abs() <= 1e-6, "interpolation [{i}, {j}]");
    }
    // The plain DCGAN: BCE(real -> 1) + BCE(fake -> 0).
    let p = Dcgan::new(&rt, tiny(0, 32), 7).unwrap();
    let r = host(&p.disc.logits(&p.disc_params, &real, None).unwrap());
    let f = host(&p.disc.logits(&p.disc_params, &fake, None).unwrap());
    let want = mean(&r, 1.0) + mean(&f, 0.0);
    let got = host(&m::discriminator_loss(&p.disc, &p.disc_params, &real, &fake, None).unwrap())[0];
    assert!(
        (got - want).abs() <= 1e-5 * want.max(1.0),
        "plain D: {got} vs {want}"
    );
    // One caption alone has no wrong one.
    assert!(m::shifted(&det(&rt, &[1, 12], 0)).is_err());
}

/// A few steps on one fixed batch lower D's loss (it learns to tell that
/// batch from G's early fakes), and every loss stays finite.
#[test]
fn a_few_steps_on_a_fixed_batch_lower_the_discriminators_loss() {
    use wgpu_attngan::train::dcgan::gan_step;
    let rt = rt();
    let g = Dcgan::new(&rt, tiny(12, 32), 3).unwrap();
    let (mut ga, mut da) = (
        Adam::new(&g.gen_params, 2e-4, (0.5, 0.999)).unwrap(),
        Adam::new(&g.disc_params, 2e-4, (0.5, 0.999)).unwrap(),
    );
    let real = det(&rt, &[8, 3, 32, 32], 4);
    let s = det(&rt, &[8, 12], 9);
    let mut d_losses = Vec::new();
    for step in 0..12 {
        let (d, gl) = gan_step(&g, &mut ga, &mut da, &real, Some(&s), step).unwrap();
        let (d, gl) = (host(&d)[0], host(&gl)[0]);
        assert!(d.is_finite() && gl.is_finite());
        d_losses.push(d);
    }
    // The mean of the last three steps, against the first three's.
    let (first, last) = (
        d_losses[..3].iter().sum::<f64>() / 3.0,
        d_losses[9..].iter().sum::<f64>() / 3.0,
    );
    println!("D loss {first:.4} -> {last:.4}");
    assert!(last < 0.9 * first, "D loss {d_losses:?}");
}

#[test]
fn a_tiny_run_resumes_bit_for_bit_and_its_sampler_draws() {
    use wgpu_attngan::nn::checkpoint::Checkpoint;
    use wgpu_attngan::train::damsm::{train_damsm, DamsmTrainOptions};
    use wgpu_attngan::train::dcgan::{train_dcgan, DcganSampler, DcganTrainOptions};
    let rt = rt();
    let base = std::env::temp_dir().join(format!("engine-dcgan-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let damsm = train_damsm(
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
    let opts = |out: &str, steps: u64, resume: bool, conditional: bool| DcganTrainOptions {
        run: RunOptions {
            out: base.join(out),
            steps,
            batch: 4,
            scenes: 16,
            checkpoint_every: 2,
            resume,
            quiet: true,
            ..DcganTrainOptions::default().run
        },
        conditional,
        damsm: damsm.checkpoint.clone(),
        image_size: 32,
        ngf: 4,
        ndf: 4,
    };
    for conditional in [true, false] {
        let straight = train_dcgan(&rt, &opts("straight", 4, false, conditional)).unwrap();
        assert_eq!(straight.steps, 4);
        train_dcgan(&rt, &opts("split", 2, false, conditional)).unwrap();
        let resumed = train_dcgan(&rt, &opts("split", 4, true, conditional)).unwrap();
        common::same::assert_same_run(
            &Checkpoint::load(&straight.checkpoint).unwrap(),
            &Checkpoint::load(&resumed.checkpoint).unwrap(),
            &["losses", "step", "engine.model"],
        );
        // The other kind's checkpoint does not resume as this one.
        let e = train_dcgan(&rt, &opts("split", 5, true, !conditional))
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("resume with the same model"), "{e}");
        let sampler = DcganSampler::load(&rt, &straight.checkpoint).unwrap();
        let caps: Vec<String> = [
            "a big red circle",
            "a small blue square",
            "a green triangle",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let a = sampler.draw(&rt, &caps, 5).unwrap();
        let b = sampler.draw(&rt, &caps, 5).unwrap();
        assert_eq!(a.len(), 3);
        assert_eq!(a[0].dimensions(), (32, 32));
        assert_eq!(a, b, "the same seed draws the same images");
        assert_ne!(a, sampler.draw(&rt, &caps, 6).unwrap());
        // The walk between two captions starts and ends at their drawings
        // (the same noise: image 0's of the seed); the plain DCGAN has none.
        let walk = sampler.walk(&rt, &caps[0], &caps[1], 5, 9);
        if conditional {
            let walk = walk.unwrap();
            assert_eq!(walk.len(), 5);
            assert_eq!(walk[0], sampler.draw(&rt, &caps[..1], 9).unwrap()[0]);
            assert_eq!(walk[4], sampler.draw(&rt, &caps[1..2], 9).unwrap()[0]);
            assert_ne!(walk[0], walk[4]);
        } else {
            assert!(walk.err().unwrap().to_string().contains("ignores captions"));
        }
        // From the command line: the export (G and the text encoder) draws
        // the same images; n images side by side; the strip.
        let ck = straight.checkpoint.display().to_string();
        let exported = base.join("export.safetensors").display().to_string();
        let (ok, t) = common::cli::engine(&["export", &ck, "-o", &exported]);
        assert!(ok, "{t}");
        let e = DcganSampler::load(&rt, std::path::Path::new(&exported)).unwrap();
        assert_eq!(e.draw(&rt, &caps, 5).unwrap(), a);
        let png = base.join("g.png").display().to_string();
        let (ok, t) = common::cli::engine(&[
            "generate",
            "a red circle",
            "--model",
            &ck,
            "-n",
            "2",
            "-o",
            &png,
        ]);
        assert!(ok, "{t}");
        assert_eq!(image::image_dimensions(&png).unwrap(), (64, 32));
        let (ok, t) = common::cli::engine(&[
            "generate",
            "--interpolate",
            "a red circle",
            "a blue square",
            "--steps",
            "3",
            "--model",
            &ck,
            "-o",
            &png,
        ]);
        assert_eq!(ok, conditional, "{t}");
        if ok {
            assert_eq!(image::image_dimensions(&png).unwrap(), (96, 32));
        }
        // Scored like AttnGAN: the oracle, R-precision with the DAMSM.
        let (ok, t) = common::cli::engine(&["eval", "oracle", "--model", &ck, "--captions", "6"]);
        assert!(ok && t.contains("generator, 1 object(s)"), "{t}");
        let d = damsm.checkpoint.display().to_string();
        let (ok, t) = common::cli::engine(&[
            "eval",
            "r-precision",
            "--model",
            &ck,
            "--damsm",
            &d,
            "--images",
            "100",
            "--draws",
            "1",
        ]);
        assert!(ok && t.contains("generator "), "{t}");
        for d in ["straight", "split"] {
            std::fs::remove_dir_all(base.join(d)).ok();
        }
    }
    std::fs::remove_dir_all(base).ok();
}
