//! DF-GAN: shapes at 32 and 64, the affine fusion starting as the identity,
//! D's loss (hinge terms and MA-GP) against an f64 reference with the
//! penalty's input gradient checked by finite differences, D learning a
//! fixed batch, and a tiny run that resumes bit for bit and samples.

mod common;
use wgpu_attngan::autograd::{self as ag, Var};
use wgpu_attngan::models::dfgan::{self as m, Affine, Dfgan, DfganConfig};
use wgpu_attngan::nn::optim::Adam;
use wgpu_attngan::nn::ParamBuilder;
use wgpu_attngan::train::eval::Generator;
use wgpu_attngan::train::trainer::RunOptions;
use wgpu_attngan::Tensor;

use common::fixtures::{det, rt};

fn tiny(image_size: usize) -> DfganConfig {
    DfganConfig {
        ngf: 2,
        ndf: 2,
        z_dim: 6,
        text_dim: 5,
        image_size,
        max_words: 8,
    }
}

#[test]
fn shapes_at_32_and_64() {
    let rt = rt();
    for size in [32, 64] {
        let g = Dfgan::new(&rt, tiny(size), 1).unwrap();
        let b = 3;
        let img = g
            .gen
            .forward(&g.gen_params, &det(&rt, &[b, 6], 1), &det(&rt, &[b, 5], 2))
            .unwrap();
        assert_eq!(img.shape(), &[b, 3, size, size]);
        assert!(img.value().to_vec().unwrap().iter().all(|v| v.abs() <= 1.0));
        let f = g.disc.features(&g.disc_params, &img).unwrap();
        assert_eq!(f.shape(), &[b, 16, 4, 4], "8 ndf at 4x4");
        let l = g
            .disc
            .logits(&g.disc_params, &f, &det(&rt, &[b, 5], 3))
            .unwrap();
        assert_eq!(l.shape(), &[b]);
    }
    let e = Dfgan::new(&rt, tiny(48), 0).err().unwrap().to_string();
    assert!(e.contains("power of two"), "{e}");
}

#[test]
fn affine_fusion_starts_as_the_identity() {
    let rt = rt();
    let mut b = ParamBuilder::new(3);
    let a = Affine::new(&mut b, "a", 5, 4);
    let ps = b.build(&rt).unwrap();
    let x = det(&rt, &[2, 4, 3, 3], 1);
    let y = a.forward(&ps, &x, &det(&rt, &[2, 5], 2)).unwrap();
    assert_eq!(y.value().to_vec().unwrap(), x.value().to_vec().unwrap());
}

fn f64s(v: &Var) -> Vec<f64> {
    v.value()
        .to_vec()
        .unwrap()
        .iter()
        .map(|&x| x as f64)
        .collect()
}

#[test]
fn discriminator_loss_and_ma_gp_match_an_f64_reference() {
    let rt = rt();
    let g = Dfgan::new(&rt, tiny(32), 5).unwrap();
    let (d, ps) = (&g.disc, &g.disc_params);
    // Non-zero residual weights (they start at 0), so that every path of D counts.
    for (k, name) in ps.names().iter().enumerate() {
        if name.ends_with(".gamma") {
            let v = ps.var(wgpu_attngan::nn::ParamId(k));
            v.value().write(&[0.3 + 0.1 * k as f32]).unwrap();
        }
    }
    let b = 3;
    let real = Var::leaf(det(&rt, &[b, 3, 32, 32], 1).value().clone());
    let sent = Var::leaf(det(&rt, &[b, 5], 2).value().clone());
    let fake = det(&rt, &[b, 3, 32, 32], 3);
    let (total, parts) = m::discriminator_loss(d, ps, &real, &fake, &sent).unwrap();
    let got: Vec<f64> = parts.iter().map(|p| f64s(p)[0]).collect();

    // The logits of the three kinds of pair, read back.
    let rf = d.features(ps, &real).unwrap();
    let lr = f64s(&d.logits(ps, &rf, &sent).unwrap());
    let rolled = ag::concat(
        &[
            &ag::narrow(&rf, 0, 1, b - 1).unwrap(),
            &ag::narrow(&rf, 0, 0, 1).unwrap(),
        ],
        0,
    )
    .unwrap();
    let lm = f64s(&d.logits(ps, &rolled, &sent).unwrap());
    let lf = f64s(
        &d.logits(ps, &d.features(ps, &fake).unwrap(), &sent)
            .unwrap(),
    );
    let hinge = |l: &[f64], real: bool| {
        l.iter()
            .map(|&x| {
                if real {
                    (1.0 - x).max(0.0)
                } else {
                    (1.0 + x).max(0.0)
                }
            })
            .sum::<f64>()
            / l.len() as f64
    };
    let (hr, hm, hf) = (hinge(&lr, true), hinge(&lm, false), hinge(&lf, false));
    for (k, (g, w)) in got.iter().zip([hr, hm, hf]).enumerate() {
        assert!(
            (g - w).abs() < 1e-5 * (1.0 + w.abs()),
            "hinge part {k}: {g} vs {w}"
        );
    }
    // MA-GP from the input gradients, themselves checked by central
    // differences of the logits along random directions.
    let gr = ag::grad(
        &d.logits(ps, &d.features(ps, &real).unwrap(), &sent)
            .unwrap(),
        &[&real, &sent],
        false,
    )
    .unwrap();
    let (gi, gs) = (f64s(&gr[0]), f64s(&gr[1]));
    let (per_i, per_s) = (gi.len() / b, gs.len() / b);
    let mut gp = 0.0;
    for n in 0..b {
        let sq: f64 = gi[n * per_i..(n + 1) * per_i]
            .iter()
            .map(|v| v * v)
            .sum::<f64>()
            + gs[n * per_s..(n + 1) * per_s]
                .iter()
                .map(|v| v * v)
                .sum::<f64>();
        gp += sq.powi(3);
    }
    let gp = 2.0 * gp / b as f64;
    assert!(
        (got[3] - gp).abs() < 1e-4 * gp.abs().max(1e-12),
        "MA-GP {} vs {gp}",
        got[3]
    );
    let eps = 1e-2f32;
    for k in 0..3 {
        let vi = det(&rt, &[b, 3, 32, 32], 10 + k).value().to_vec().unwrap();
        let vs = det(&rt, &[b, 5], 20 + k).value().to_vec().unwrap();
        let at = |sign: f32| {
            let x: Vec<f32> = real
                .value()
                .to_vec()
                .unwrap()
                .iter()
                .zip(&vi)
                .map(|(a, v)| a + sign * eps * v)
                .collect();
            let s: Vec<f32> = sent
                .value()
                .to_vec()
                .unwrap()
                .iter()
                .zip(&vs)
                .map(|(a, v)| a + sign * eps * v)
                .collect();
            let x = Var::constant(Tensor::from_slice(&rt, &x, &[b, 3, 32, 32]).unwrap());
            let s = Var::constant(Tensor::from_slice(&rt, &s, &[b, 5]).unwrap());
            f64s(&d.logits(ps, &d.features(ps, &x).unwrap(), &s).unwrap())
                .iter()
                .sum::<f64>()
        };
        let fd = (at(1.0) - at(-1.0)) / (2.0 * eps as f64);
        let an: f64 = gi.iter().zip(&vi).map(|(g, v)| g * *v as f64).sum::<f64>()
            + gs.iter().zip(&vs).map(|(g, v)| g * *v as f64).sum::<f64>();
        assert!(
            (fd - an).abs() < 2e-2 * (an.abs() + 1e-3),
            "direction {k}: finite differences {fd} vs gradient {an}"
        );
    }
    let want = hr + (hf + hm) / 2.0 + gp;
    let t = f64s(&total)[0];
    assert!(
        (t - want).abs() < 1e-5 * (1.0 + want.abs()),
        "D loss {t} vs {want}"
    );
    // It trains D: the penalty's gradient reaches D's weights.
    ps.zero_grad().unwrap();
    total.backward().unwrap();
    let (_, grads) = ps.flat();
    assert!(grads.to_vec().unwrap().iter().any(|v| *v != 0.0));
}

#[test]
fn d_learns_a_fixed_batch() {
    let rt = rt();
    let g = Dfgan::new(&rt, tiny(32), 7).unwrap();
    let mut adam = Adam::new(&g.disc_params, 3e-3, (0.0, 0.9)).unwrap();
    let b = 4;
    let real = Var::leaf(det(&rt, &[b, 3, 32, 32], 1).value().clone());
    let sent = Var::leaf(det(&rt, &[b, 5], 2).value().clone());
    let fake = g
        .gen
        .forward(&g.gen_params, &det(&rt, &[b, 6], 4), &sent.detach())
        .unwrap()
        .detach();
    let mut losses = Vec::new();
    for _ in 0..30 {
        g.disc_params.zero_grad().unwrap();
        let (l, _) = m::discriminator_loss(&g.disc, &g.disc_params, &real, &fake, &sent).unwrap();
        l.backward().unwrap();
        losses.push(l.value().to_vec().unwrap()[0]);
        adam.step(&g.disc_params).unwrap();
    }
    println!("D loss {losses:?}");
    assert!(losses[29] < 0.8 * losses[0], "{losses:?}");
}

#[test]
fn a_tiny_run_resumes_bit_for_bit_and_samples() {
    use wgpu_attngan::nn::checkpoint::Checkpoint;
    use wgpu_attngan::train::damsm::{train_damsm, DamsmTrainOptions};
    use wgpu_attngan::train::dfgan::{train_dfgan, DfganSampler, DfganTrainOptions};
    let rt = rt();
    let base = std::env::temp_dir().join(format!("engine-dfgan-{}", std::process::id()));
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
    let opts = |out: &str, steps: u64, resume: bool| DfganTrainOptions {
        run: RunOptions {
            out: base.join(out),
            steps,
            batch: 4,
            scenes: 16,
            checkpoint_every: 2,
            resume,
            quiet: true,
            ..DfganTrainOptions::default().run
        },
        damsm: damsm.checkpoint.clone(),
        image_size: 32,
        ngf: 2,
        ndf: 2,
    };
    let straight = train_dfgan(&rt, &opts("straight", 4, false)).unwrap();
    assert_eq!(straight.steps, 4);
    train_dfgan(&rt, &opts("split", 2, false)).unwrap();
    let resumed = train_dfgan(&rt, &opts("split", 4, true)).unwrap();
    common::same::assert_same_run(
        &Checkpoint::load(&straight.checkpoint).unwrap(),
        &Checkpoint::load(&resumed.checkpoint).unwrap(),
        &["losses", "step", "engine.model"],
    );
    let s = DfganSampler::load(&rt, &straight.checkpoint).unwrap();
    let caps: Vec<String> = ["a big red circle", "a small blue square"]
        .iter()
        .map(|c| c.to_string())
        .collect();
    let a = s.draw(&rt, &caps, 3).unwrap();
    assert_eq!(a.len(), 2);
    assert_eq!(a[0].dimensions(), (32, 32));
    assert_eq!(
        a,
        s.draw(&rt, &caps, 3).unwrap(),
        "the same seed draws the same images"
    );
    let walk = s.walk(&rt, &caps[0], &caps[1], 4, 3).unwrap();
    assert_eq!(walk.len(), 4);
    assert_eq!(
        walk[0], a[0],
        "the walk starts at A's drawing (image 0's noise)"
    );
    let e = DfganSampler::load(&rt, &damsm.checkpoint)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("not DF-GAN"), "{e}");
    let _ = std::fs::remove_dir_all(&base);
}
