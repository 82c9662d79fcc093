//! StackGAN: stage II's shape, the matching-aware loss against an f64
//! reference, and the two phases: stage I resumes bit for bit, stage II
//! trains on it without moving it, and the sampler draws at each phase.

mod common;
use common::fixtures::{det, rt};
use wgpu_attngan::autograd::Var;
use wgpu_attngan::models::stackgan::{self as m, StackGan, StackGanConfig};
use wgpu_attngan::train::eval::Generator;
use wgpu_attngan::train::trainer::RunOptions;

fn tiny() -> StackGanConfig {
    StackGanConfig {
        ngf: 8,
        ndf: 4,
        z_dim: 10,
        cond_dim: 6,
        embed_dim: 12,
        base_size: 32,
        res_blocks: 1,
        max_words: 18,
    }
}

fn host(v: &Var) -> Vec<f64> {
    v.value()
        .to_vec()
        .unwrap()
        .into_iter()
        .map(f64::from)
        .collect()
}

fn bce(logit: f64, target: f64) -> f64 {
    logit.max(0.0) - logit * target + (1.0 + (-logit.abs()).exp()).ln()
}

#[test]
fn stage_two_draws_four_times_stage_one() {
    let rt = rt();
    let g = StackGan::new(&rt, tiny(), 1).unwrap();
    let b = 2;
    let low = g
        .gen1
        .forward(
            &g.gen1_params,
            &det(&rt, &[b, 10], 1),
            &det(&rt, &[b, 6], 2),
            &det(&rt, &[b, 12], 3),
            true,
        )
        .unwrap()
        .images[0]
        .clone();
    assert_eq!(low.shape(), &[b, 3, 32, 32]);
    let (high, mu, _) = g
        .gen2
        .forward(
            &g.gen2_params,
            &low,
            &det(&rt, &[b, 6], 4),
            &det(&rt, &[b, 12], 3),
            true,
        )
        .unwrap();
    assert_eq!(high.shape(), &[b, 3, 128, 128]);
    let code = g.disc2.encode(&g.disc2_params, &high).unwrap();
    assert_eq!(code.shape(), &[b, 32, 4, 4]);
    assert_eq!(mu.shape(), &[b, 6]);
    let e = StackGan::new(&rt, StackGanConfig { ngf: 6, ..tiny() }, 0)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("multiple of 4"), "{e}");
}

/// BCE(real, 1) + (BCE(image i + 1 with code i, 0) + BCE(fake, 0)) / 2,
/// on the conditional logits.
#[test]
fn discriminator_loss_matches_an_f64_reference() {
    let rt = rt();
    let g = StackGan::new(&rt, tiny(), 5).unwrap();
    let (d, ps) = (&g.disc1, &g.disc1_params);
    let b = 4;
    let real = det(&rt, &[b, 3, 32, 32], 7);
    let fake = det(&rt, &[b, 3, 32, 32], 29).mul_scalar(0.6).unwrap();
    let cond = det(&rt, &[b, 6], 11);
    let mean = |xs: &[f64], t: f64| xs.iter().map(|&x| bce(x, t)).sum::<f64>() / xs.len() as f64;
    let (rc, fc) = (d.encode(ps, &real).unwrap(), d.encode(ps, &fake).unwrap());
    let real_l = host(&d.cond_logits(ps, &rc, &cond).unwrap());
    let fake_l = host(&d.cond_logits(ps, &fc, &cond).unwrap());
    let wc = wgpu_attngan::autograd::narrow(&rc, 0, 1, b - 1).unwrap();
    let wcond = wgpu_attngan::autograd::narrow(&cond, 0, 0, b - 1).unwrap();
    let wrong_l = host(&d.cond_logits(ps, &wc, &wcond).unwrap());
    let want = mean(&real_l, 1.0) + 0.5 * (mean(&wrong_l, 0.0) + mean(&fake_l, 0.0));
    let got = host(&m::discriminator_loss(d, ps, &real, &fake, &cond).unwrap())[0];
    assert!((got - want).abs() <= 1e-5 * want, "{got} vs {want}");
    let gl = host(&m::generator_loss(d, ps, &fake, &cond).unwrap())[0];
    assert!((gl - mean(&fake_l, 1.0)).abs() <= 1e-5 * gl, "G");
}

#[test]
fn two_phases_resume_and_stage_two_leaves_stage_one_alone() {
    use wgpu_attngan::nn::checkpoint::Checkpoint;
    use wgpu_attngan::train::damsm::{train_damsm, DamsmTrainOptions};
    use wgpu_attngan::train::stackgan::{train_stackgan, StackGanSampler, StackGanTrainOptions};
    let rt = rt();
    let base = std::env::temp_dir().join(format!("engine-stackgan-{}", std::process::id()));
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
    let opts = |out: &str, steps: u64, resume: bool, stage1: Option<std::path::PathBuf>| {
        StackGanTrainOptions {
            run: RunOptions {
                out: base.join(out),
                steps,
                batch: 4,
                scenes: 16,
                checkpoint_every: 2,
                resume,
                quiet: true,
                ..StackGanTrainOptions::default().run
            },
            damsm: damsm.checkpoint.clone(),
            stage1,
            base_size: 32,
            ngf: 8,
            ndf: 4,
        }
    };
    // Phase 1, straight and resumed.
    let one = train_stackgan(&rt, &opts("one", 4, false, None)).unwrap();
    train_stackgan(&rt, &opts("split", 2, false, None)).unwrap();
    let resumed = train_stackgan(&rt, &opts("split", 4, true, None)).unwrap();
    let ck1 = Checkpoint::load(&one.checkpoint).unwrap();
    common::same::assert_same_run(
        &ck1,
        &Checkpoint::load(&resumed.checkpoint).unwrap(),
        &["losses", "step", "phase"],
    );
    // Phase 2 on it: stage I's weights stay as they were, stage II's move.
    let two = train_stackgan(&rt, &opts("two", 2, false, Some(one.checkpoint.clone()))).unwrap();
    let ck2 = Checkpoint::load(&two.checkpoint).unwrap();
    assert_eq!(ck2.metadata["phase"], "2");
    for (name, (_, v)) in ck1.with_prefix("gen1.") {
        assert_eq!(ck2.with_prefix("gen1.")[&name].1, v, "{name} moved");
    }
    let (g2a, g2b) = (ck1.with_prefix("gen2."), ck2.with_prefix("gen2."));
    assert!(
        g2a.iter().any(|(n, (_, v))| g2b[n].1 != *v),
        "stage II did not train"
    );
    // A phase-1 run resumed as phase 2 is refused.
    let e = train_stackgan(&rt, &opts("split", 5, true, Some(one.checkpoint.clone())))
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("phase"), "{e}");
    // The samplers: 32x32 after phase 1, 128x128 after phase 2; the walk's
    // ends are the two captions' drawings.
    let caps: Vec<String> = ["a big red circle", "a small blue square"]
        .iter()
        .map(|c| c.to_string())
        .collect();
    let s1 = StackGanSampler::load(&rt, &one.checkpoint).unwrap();
    assert_eq!(s1.draw(&rt, &caps, 2).unwrap()[0].dimensions(), (32, 32));
    let s2 = StackGanSampler::load(&rt, &two.checkpoint).unwrap();
    let a = s2.draw(&rt, &caps, 2).unwrap();
    assert_eq!(a[0].dimensions(), (128, 128));
    // The export (both generators, the text encoder) draws the same.
    let exported = base.join("export.safetensors");
    let (ck, e) = (
        two.checkpoint.display().to_string(),
        exported.display().to_string(),
    );
    let (ok, t) = common::cli::engine(&["export", &ck, "-o", &e]);
    assert!(ok, "{t}");
    assert_eq!(
        StackGanSampler::load(&rt, &exported)
            .unwrap()
            .draw(&rt, &caps, 2)
            .unwrap(),
        a
    );
    let walk = s2.walk(&rt, &caps[0], &caps[1], 3, 2).unwrap();
    assert_eq!(walk[0], s2.draw(&rt, &caps[..1], 2).unwrap()[0]);
    assert_eq!(walk[2], s2.draw(&rt, &caps[1..], 2).unwrap()[0]);
    std::fs::remove_dir_all(base).ok();
}
