//! StackGAN++: shapes at every stage, the colour-consistency term and the
//! discriminator loss against f64 references, D learning a fixed batch, a
//! tiny run that resumes bit for bit, and its sampler's walk.

mod common;
use common::fixtures::{det, rt};
use wgpu_attngan::autograd::Var;
use wgpu_attngan::models::stackgan_pp::{self as m, StackGanPP, StackGanPPConfig};
use wgpu_attngan::train::eval::Generator;
use wgpu_attngan::train::trainer::RunOptions;

fn tiny(stages: usize) -> StackGanPPConfig {
    StackGanPPConfig {
        ngf: 4,
        ndf: 4,
        z_dim: 10,
        cond_dim: 6,
        embed_dim: 12,
        stages,
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

#[test]
fn every_stage_doubles_the_side() {
    let rt = rt();
    for stages in 1..=3 {
        let g = StackGanPP::new(&rt, tiny(stages), 1).unwrap();
        let b = 2;
        let out = g
            .gen
            .forward(
                &g.gen_params,
                &det(&rt, &[b, 10], 1),
                &det(&rt, &[b, 6], 2),
                &det(&rt, &[b, 12], 3),
                true,
            )
            .unwrap();
        assert_eq!(out.images.len(), stages);
        for (s, img) in out.images.iter().enumerate() {
            assert_eq!(img.shape(), &[b, 3, 32 << s, 32 << s]);
            let code = g.discs[s].encode(&g.disc_params[s], img).unwrap();
            assert_eq!(code.shape(), &[b, 32, 4, 4]);
        }
        assert_eq!(out.mu.shape(), &[b, 6]);
    }
}

/// MSE of per-image channel means, plus 5 x MSE of the 3x3 channel
/// covariances over the pixels, in f64 on the host.
#[test]
fn colour_consistency_matches_an_f64_reference() {
    let rt = rt();
    let (b, side) = (3, 8);
    let a = det(&rt, &[b, 3, side, side], 3);
    let p = det(&rt, &[b, 3, side, side], 17).mul_scalar(0.5).unwrap();
    let got = host(&m::colour_consistency(&a, &p).unwrap())[0];
    let stats = |x: &[f64]| {
        let n = side * side;
        let mut means = vec![0.0; b * 3];
        let mut covs = vec![0.0; b * 9];
        for i in 0..b {
            for c in 0..3 {
                let px = &x[(i * 3 + c) * n..][..n];
                means[i * 3 + c] = px.iter().sum::<f64>() / n as f64;
            }
            for c in 0..3 {
                for d in 0..3 {
                    let (pc, pd) = (&x[(i * 3 + c) * n..][..n], &x[(i * 3 + d) * n..][..n]);
                    covs[i * 9 + c * 3 + d] = (0..n)
                        .map(|k| (pc[k] - means[i * 3 + c]) * (pd[k] - means[i * 3 + d]))
                        .sum::<f64>()
                        / n as f64;
                }
            }
        }
        (means, covs)
    };
    let ((ma, ca), (mp, cp)) = (stats(&host(&a)), stats(&host(&p)));
    let mse = |x: &[f64], y: &[f64]| {
        x.iter().zip(y).map(|(p, q)| (p - q) * (p - q)).sum::<f64>() / x.len() as f64
    };
    let want = mse(&ma, &mp) + 5.0 * mse(&ca, &cp);
    assert!(
        (got - want).abs() <= 1e-5 * want.max(1e-3),
        "{got} vs {want}"
    );
    // Its gradient reaches the newer stage only.
    let x = Var::leaf(a.value().clone());
    let prev = Var::leaf(p.value().clone());
    m::colour_consistency(&x, &prev)
        .unwrap()
        .backward()
        .unwrap();
    assert!(x
        .grad()
        .unwrap()
        .to_vec()
        .unwrap()
        .iter()
        .any(|g| *g != 0.0));
    let pg = prev.grad().map(|g| g.to_vec().unwrap()).unwrap_or_default();
    assert!(
        pg.iter().all(|g| *g == 0.0),
        "the previous stage is detached"
    );
}

fn bce(logit: f64, target: f64) -> f64 {
    logit.max(0.0) - logit * target + (1.0 + (-logit.abs()).exp()).ln()
}

/// StackGAN-v2's D loss: the sum of real_c, real_u, wrong_c, wrong_u,
/// fake_c and fake_u, "wrong" being image i + 1 with code i, real to the
/// unconditional logit and mismatched to the conditional one.
#[test]
fn discriminator_loss_matches_an_f64_reference() {
    let rt = rt();
    let g = StackGanPP::new(&rt, tiny(1), 5).unwrap();
    let (d, ps) = (&g.discs[0], &g.disc_params[0]);
    let b = 4;
    let real = det(&rt, &[b, 3, 32, 32], 7);
    let fake = det(&rt, &[b, 3, 32, 32], 29).mul_scalar(0.6).unwrap();
    let cond = det(&rt, &[b, 6], 11);
    let mean = |xs: &[f64], t: f64| xs.iter().map(|&x| bce(x, t)).sum::<f64>() / xs.len() as f64;
    let rc = d.encode(ps, &real).unwrap();
    let fc = d.encode(ps, &fake).unwrap();
    let real_c = host(&d.cond_logits(ps, &rc, &cond).unwrap());
    let real_u = host(&d.uncond_logits(ps, &rc).unwrap());
    let fake_c = host(&d.cond_logits(ps, &fc, &cond).unwrap());
    let fake_u = host(&d.uncond_logits(ps, &fc).unwrap());
    // The wrong pairs' logits come from the same codes (BN saw the batch).
    let wc = wgpu_attngan::autograd::narrow(&rc, 0, 1, b - 1).unwrap();
    let wcond = wgpu_attngan::autograd::narrow(&cond, 0, 0, b - 1).unwrap();
    let wrong_c = host(&d.cond_logits(ps, &wc, &wcond).unwrap());
    let wrong_u = host(&d.uncond_logits(ps, &wc).unwrap());
    let want = mean(&real_c, 1.0)
        + mean(&real_u, 1.0)
        + mean(&wrong_c, 0.0)
        + mean(&wrong_u, 1.0)
        + mean(&fake_c, 0.0)
        + mean(&fake_u, 0.0);
    let got = host(&m::discriminator_loss(d, ps, &real, &fake, &cond).unwrap())[0];
    assert!((got - want).abs() <= 1e-5 * want, "{got} vs {want}");
    let gl = host(&m::generator_loss(d, ps, &fake, &cond).unwrap())[0];
    let gw = mean(&fake_c, 1.0) + mean(&fake_u, 1.0);
    assert!((gl - gw).abs() <= 1e-5 * gw, "G: {gl} vs {gw}");
}

#[test]
fn a_few_steps_on_a_fixed_batch_lower_the_discriminators_loss() {
    use wgpu_attngan::train::stackgan_pp::{gan_step, Nets};
    let rt = rt();
    let mut nets = Nets::new(StackGanPP::new(&rt, tiny(2), 3).unwrap(), 2e-4).unwrap();
    let reals = vec![det(&rt, &[6, 3, 32, 32], 4), det(&rt, &[6, 3, 64, 64], 5)];
    let s = det(&rt, &[6, 12], 9);
    let mut d = Vec::new();
    for step in 0..12 {
        let (ds, g) = gan_step(&mut nets, &reals, &s, step).unwrap();
        let total: f64 = ds.iter().map(|l| host(l)[0]).sum();
        assert!(total.is_finite() && host(&g)[0].is_finite());
        d.push(total);
    }
    let (first, last) = (d[..3].iter().sum::<f64>(), d[9..].iter().sum::<f64>());
    println!("D loss {:.4} -> {:.4}", first / 3.0, last / 3.0);
    assert!(last < 0.9 * first, "D loss {d:?}");
}

#[test]
fn a_tiny_run_resumes_bit_for_bit_and_its_sampler_walks() {
    use wgpu_attngan::nn::checkpoint::Checkpoint;
    use wgpu_attngan::train::damsm::{train_damsm, DamsmTrainOptions};
    use wgpu_attngan::train::stackgan_pp::{
        train_stackgan_pp, StackGanPPSampler, StackGanPPTrainOptions,
    };
    let rt = rt();
    let base = std::env::temp_dir().join(format!("engine-stackganpp-{}", std::process::id()));
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
    let opts = |out: &str, steps: u64, resume: bool| StackGanPPTrainOptions {
        run: RunOptions {
            out: base.join(out),
            steps,
            batch: 4,
            scenes: 16,
            checkpoint_every: 2,
            resume,
            quiet: true,
            ..StackGanPPTrainOptions::default().run
        },
        damsm: damsm.checkpoint.clone(),
        stages: 2,
        base_size: 32,
        ngf: 4,
        ndf: 4,
    };
    let straight = train_stackgan_pp(&rt, &opts("straight", 4, false)).unwrap();
    train_stackgan_pp(&rt, &opts("split", 2, false)).unwrap();
    let resumed = train_stackgan_pp(&rt, &opts("split", 4, true)).unwrap();
    common::same::assert_same_run(
        &Checkpoint::load(&straight.checkpoint).unwrap(),
        &Checkpoint::load(&resumed.checkpoint).unwrap(),
        &["losses", "step", "ema.updates"],
    );
    let s = StackGanPPSampler::load(&rt, &straight.checkpoint).unwrap();
    let caps: Vec<String> = ["a big red circle", "a small blue square"]
        .iter()
        .map(|c| c.to_string())
        .collect();
    let a = s.draw(&rt, &caps, 3).unwrap();
    assert_eq!(a.len(), 2);
    assert_eq!(a[0].dimensions(), (64, 64));
    assert_eq!(a, s.draw(&rt, &caps, 3).unwrap());
    // Its export (G's moving average, the text encoder) draws the same.
    let exported = base.join("export.safetensors");
    let e = exported.display().to_string();
    let ck = straight.checkpoint.display().to_string();
    let (ok, t) = common::cli::engine(&["export", &ck, "-o", &e]);
    assert!(ok, "{t}");
    let from_export = StackGanPPSampler::load(&rt, &exported).unwrap();
    assert_eq!(from_export.draw(&rt, &caps, 3).unwrap(), a);
    let walk = s.walk(&rt, &caps[0], &caps[1], 4, 3).unwrap();
    assert_eq!(walk.len(), 4);
    assert_eq!(walk[0], s.draw(&rt, &caps[..1], 3).unwrap()[0]);
    assert_eq!(walk[3], s.draw(&rt, &caps[1..], 3).unwrap()[0]);
    std::fs::remove_dir_all(base).ok();
}
