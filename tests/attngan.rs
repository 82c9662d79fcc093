//! AttnGAN: the generator's and discriminators' shapes, gradients reaching
//! every generator stage, and a tiny end-to-end run (DAMSM, then AttnGAN,
//! then sampling with attention maps and unknown words).

mod common;
use wgpu_attngan::autograd::Var;
use wgpu_attngan::data::world::WORLD_MAX_WORDS;
use wgpu_attngan::models::attngan::{
    discriminator_loss, generator_adversarial_loss, kl_loss, AttnGan, AttnGanConfig,
};
use wgpu_attngan::nn::config::ModelConfig;
use wgpu_attngan::train::trainer::RunOptions;
use wgpu_attngan::Tensor;

/// Two AttnGAN training checkpoints hold the same run, bit for bit: G, the
/// discriminators, the Adam states, the moving average, the losses.
fn assert_same_run(
    a: &wgpu_attngan::nn::checkpoint::Checkpoint,
    b: &wgpu_attngan::nn::checkpoint::Checkpoint,
) {
    common::same::assert_same_run(a, b, &["losses", "step", "ema.updates"]);
}

use common::fixtures::{det, rt};

#[test]
fn shapes_losses_and_gradients_of_every_stage() {
    let rt = rt();
    let config = AttnGanConfig {
        ngf: 4,
        ndf: 4,
        embed_dim: 8,
        z_dim: 6,
        cond_dim: 5,
        stages: 2,
        base_size: 64,
        res_blocks: 1,
        max_words: 18,
        glam: false,
    };
    let gan = AttnGan::new(&rt, config.clone(), 1).unwrap();
    let (b, t) = (3, 18);
    let mut mask = vec![0.0f32; b * t];
    mask[t - 3..t].fill(1.0); // the first caption has 15 words
    let mask = Tensor::from_slice(&rt, &mask, &[b, t]).unwrap();
    let (noise, eps) = (det(&rt, &[b, 6], 0), det(&rt, &[b, 5], 1));
    let (sentence, words) = (det(&rt, &[b, 8], 2), det(&rt, &[b, 8, t], 3));
    let out = gan
        .gen
        .forward(
            &gan.gen_params,
            &noise,
            &eps,
            &sentence,
            &words,
            &mask,
            true,
        )
        .unwrap();
    assert_eq!(out.images[0].shape(), &[b, 3, 64, 64]);
    assert_eq!(out.images[1].shape(), &[b, 3, 128, 128]);
    assert_eq!(out.attention[0].shape(), &[b, 64 * 64, t]);
    // Attention rows sum to 1 over the real words, and padding words get none.
    let a = out.attention[0].to_vec().unwrap();
    let row: f32 = a[..t].iter().sum();
    assert!((row - 1.0).abs() < 1e-4 && a[t - 1] == 0.0, "row sum {row}");
    for img in &out.images {
        assert!(
            img.value().to_vec().unwrap().iter().all(|v| v.abs() <= 1.0),
            "tanh range"
        );
    }
    let reals = [det(&rt, &[b, 3, 64, 64], 4), det(&rt, &[b, 3, 128, 128], 5)];
    for (s, real) in reals.iter().enumerate() {
        let d = discriminator_loss(
            &gan.discs[s],
            &gan.disc_params[s],
            real,
            &out.images[s],
            &sentence,
            None,
        )
        .unwrap();
        let v = d.value().to_vec().unwrap()[0];
        assert!(v.is_finite() && v > 0.0, "D loss {v}");
    }
    let mut g = kl_loss(&out.mu, &out.logvar).unwrap();
    for s in 0..2 {
        g = g
            .add(
                &generator_adversarial_loss(
                    &gan.discs[s],
                    &gan.disc_params[s],
                    &out.images[s],
                    &sentence,
                )
                .unwrap(),
            )
            .unwrap();
    }
    gan.gen_params.zero_grad().unwrap();
    g.backward().unwrap();
    // Every generator parameter receives some gradient (the refinement stage's
    // word projection too, through the attention).
    for (id, name) in gan.gen_params.names().iter().enumerate() {
        let grad = gan
            .gen_params
            .var(wgpu_attngan::nn::ParamId(id))
            .grad()
            .unwrap()
            .to_vec()
            .unwrap();
        let norm: f32 = grad.iter().map(|x| x * x).sum();
        assert!(norm.is_finite() && norm > 0.0, "no gradient reaches {name}");
    }
}

#[test]
fn tiny_run_then_generate_with_attention_maps() {
    use wgpu_attngan::train::attngan::{train_attngan, AttnGanTrainOptions, Sampler};
    use wgpu_attngan::train::damsm::{train_damsm, DamsmTrainOptions};
    let rt = rt();
    let base = std::env::temp_dir().join(format!("engine-attngan-{}", std::process::id()));
    let damsm = DamsmTrainOptions {
        run: RunOptions {
            out: base.join("damsm"),
            steps: 2,
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
    };
    let d = train_damsm(&rt, &damsm).unwrap();
    let opts = AttnGanTrainOptions {
        run: RunOptions {
            out: base.join("attngan"),
            steps: 2,
            batch: 2,
            scenes: 16,
            quiet: true,
            ..AttnGanTrainOptions::default().run
        },
        damsm: d.checkpoint.clone(),
        stages: 2,
        base_size: 32,
        ngf: 4,
        ndf: 4,
        ..Default::default()
    };
    let report = train_attngan(&rt, &opts).unwrap();
    assert_eq!(report.steps, 2);
    assert!(report
        .losses
        .iter()
        .all(|(d, g)| d.is_finite() && g.is_finite()));
    // D and G each get their own axis (G is ~50x D): two stacked charts.
    let curve = image::image_dimensions(base.join("attngan/loss.png")).unwrap();
    assert_eq!(curve, (640, 480));
    // Resume is exact: one step, then a resumed second, writes bit for bit
    // the checkpoint of two steps straight (G, Ds, Adam states, moving
    // average, losses).
    use wgpu_attngan::nn::checkpoint::Checkpoint;
    let split = AttnGanTrainOptions {
        run: RunOptions {
            out: base.join("attngan-resumed"),
            steps: 1,
            ..opts.run.clone()
        },
        ..opts.clone()
    };
    train_attngan(&rt, &split).unwrap();
    let resumed = train_attngan(
        &rt,
        &AttnGanTrainOptions {
            run: RunOptions {
                steps: 2,
                resume: true,
                ..split.run.clone()
            },
            ..split
        },
    )
    .unwrap();
    let (a, b) = (
        Checkpoint::load(&report.checkpoint).unwrap(),
        Checkpoint::load(&resumed.checkpoint).unwrap(),
    );
    assert_same_run(&a, &b);
    // Hard negatives: the discriminators see more mismatches (another D
    // loss from the first step), and a run resumed with the setting changed,
    // either way, is refused with the option named.
    let hard = AttnGanTrainOptions {
        run: RunOptions {
            out: base.join("attngan-hard"),
            ..opts.run.clone()
        },
        hard_negatives: true,
        ..opts.clone()
    };
    let h = train_attngan(&rt, &hard).unwrap();
    assert_eq!(h.steps, 2);
    assert!(h.losses.iter().all(|(d, g)| d.is_finite() && g.is_finite()));
    assert_ne!(h.losses[0].0, report.losses[0].0);
    for (run, flag) in [(&hard, false), (&opts, true)] {
        let changed = AttnGanTrainOptions {
            run: RunOptions {
                steps: 3,
                resume: true,
                ..run.run.clone()
            },
            hard_negatives: flag,
            ..run.clone()
        };
        let err = train_attngan(&rt, &changed).unwrap_err().to_string();
        assert!(err.contains("hard_negatives"), "{err}");
    }
    // The label guide (--label-guide): a DAMSM trained with --labels lends
    // its heads; G's first loss differs from the unguided run's (its Ds'
    // do not: they step before G), a resume is exact, and a guide without
    // heads is refused with the fix named.
    let labelled = train_damsm(
        &rt,
        &DamsmTrainOptions {
            run: RunOptions {
                out: base.join("damsm-labels"),
                ..damsm.run.clone()
            },
            labels: 1.0,
            ..damsm.clone()
        },
    )
    .unwrap();
    let guided =
        |out: &str, steps: u64, resume: bool, guide: &std::path::Path| AttnGanTrainOptions {
            run: RunOptions {
                out: base.join(out),
                steps,
                resume,
                ..opts.run.clone()
            },
            damsm: guide.to_path_buf(),
            label_guide: 2.0,
            ..opts.clone()
        };
    let plain = train_attngan(
        &rt,
        &AttnGanTrainOptions {
            label_guide: 0.0,
            ..guided("attngan-unguided", 2, false, &labelled.checkpoint)
        },
    )
    .unwrap();
    let l = train_attngan(
        &rt,
        &guided("attngan-guided", 2, false, &labelled.checkpoint),
    )
    .unwrap();
    assert!(l.losses.iter().all(|(d, g)| d.is_finite() && g.is_finite()));
    assert_eq!(l.losses[0].0, plain.losses[0].0);
    // Its gradient reaches G: the Ds' second loss, on fakes of the G that
    // step one moved, differs.
    assert_ne!(l.losses[1].0, plain.losses[1].0);
    assert!(
        l.losses[0].1 > plain.losses[0].1,
        "{:?} against {:?}",
        l.losses,
        plain.losses
    );
    train_attngan(
        &rt,
        &guided("attngan-guided-split", 1, false, &labelled.checkpoint),
    )
    .unwrap();
    let resumed = train_attngan(
        &rt,
        &guided("attngan-guided-split", 2, true, &labelled.checkpoint),
    )
    .unwrap();
    assert_same_run(
        &Checkpoint::load(&l.checkpoint).unwrap(),
        &Checkpoint::load(&resumed.checkpoint).unwrap(),
    );
    // --label-damsm: the heads, and the encoder they read with, come from
    // their own DAMSM. Naming the guiding DAMSM again reads as the guided
    // run (the same first losses; the second within rounding, as the two
    // encoders' gradients now add up at the image); naming the plain DAMSM
    // for the term gives its run's first D loss and a higher G loss.
    let own = |out: &str, term: &std::path::Path, resume: bool| AttnGanTrainOptions {
        label_damsm: Some(labelled.checkpoint.clone()),
        ..guided(out, 2, resume, term)
    };
    let same = train_attngan(&rt, &own("attngan-guide-same", &labelled.checkpoint, false)).unwrap();
    assert_eq!(same.losses[0], l.losses[0]);
    let close = |a: f32, b: f32| (a - b).abs() <= 1e-4 * a.abs().max(b.abs());
    assert!(
        close(same.losses[1].0, l.losses[1].0) && close(same.losses[1].1, l.losses[1].1),
        "{:?} against {:?}",
        same.losses,
        l.losses
    );
    // The heads read with their checkpoint's encoder, not the term's: the
    // labelled checkpoint with the plain DAMSM's image encoder swapped in
    // changes G's first loss and not D's.
    let mut swapped = Checkpoint::load(&labelled.checkpoint).unwrap();
    let plain_ck = Checkpoint::load(&d.checkpoint).unwrap();
    let mut n = 0;
    for (name, t) in swapped.tensors.iter_mut() {
        if name.starts_with("image.") {
            *t = plain_ck.tensors[name].clone();
            n += 1;
        }
    }
    assert!(n > 0);
    let swapped_path = base.join("damsm-labels-swapped.safetensors");
    swapped.save(&swapped_path).unwrap();
    let other = train_attngan(
        &rt,
        &AttnGanTrainOptions {
            label_damsm: Some(swapped_path),
            ..guided("attngan-guide-swapped", 1, false, &labelled.checkpoint)
        },
    )
    .unwrap();
    assert_eq!(other.losses[0].0, l.losses[0].0);
    assert_ne!(other.losses[0].1, l.losses[0].1);
    let mixed = train_attngan(&rt, &own("attngan-guide-mixed", &d.checkpoint, false)).unwrap();
    assert_eq!(mixed.losses[0].0, report.losses[0].0);
    assert!(
        mixed.losses[0].1 > report.losses[0].1,
        "{:?} against {:?}",
        mixed.losses,
        report.losses
    );
    // A resume may switch the guide on, off or to another DAMSM (a
    // curriculum's next stage: a guide once G draws objects); the
    // checkpoint records the new setting. The DAMSM term's stays fixed.
    let options = |r: &wgpu_attngan::train::attngan::AttnGanReport| {
        Checkpoint::load(&r.checkpoint).unwrap().metadata["options"].clone()
    };
    let on = train_attngan(
        &rt,
        &guided("attngan-unguided", 3, true, &labelled.checkpoint),
    )
    .unwrap();
    assert_eq!(on.steps, 3);
    assert!(options(&on).contains("label_guide=2\n"), "{}", options(&on));
    let back = train_attngan(
        &rt,
        &AttnGanTrainOptions {
            label_damsm: None,
            ..guided("attngan-guide-same", 3, true, &labelled.checkpoint)
        },
    )
    .unwrap();
    assert!(
        options(&back).contains("label_damsm=\n"),
        "{}",
        options(&back)
    );
    let e = train_attngan(&rt, &own("attngan-guide-mixed", &labelled.checkpoint, true))
        .unwrap_err()
        .to_string();
    assert!(e.contains("\n  damsm:"), "{e}");
    let e = train_attngan(&rt, &guided("attngan-no-heads", 1, false, &d.checkpoint))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("has no label heads") && e.contains("--labels"),
        "{e}"
    );
    // The pixel loss (--pixel-loss): D's first loss as the plain run's, G's
    // higher, and its gradient reaches G (the second D loss differs); a
    // resume that changes it is refused, naming it.
    let pixel = AttnGanTrainOptions {
        run: RunOptions {
            out: base.join("attngan-pixel"),
            ..opts.run.clone()
        },
        pixel_loss: 100.0,
        ..opts.clone()
    };
    let p = train_attngan(&rt, &pixel).unwrap();
    assert_eq!(p.losses[0].0, report.losses[0].0);
    assert!(p.losses[0].1 > report.losses[0].1, "{:?}", p.losses);
    assert_ne!(p.losses[1].0, report.losses[1].0);
    let e = train_attngan(
        &rt,
        &AttnGanTrainOptions {
            run: RunOptions {
                steps: 3,
                resume: true,
                ..pixel.run.clone()
            },
            pixel_loss: 10.0,
            ..pixel.clone()
        },
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("pixel_loss"), "{e}");
    // The world's word limit, in the DAMSM's and the generator's checkpoints.
    let (dm, _, _) = wgpu_attngan::train::damsm::load_damsm(&rt, &d.checkpoint).unwrap();
    assert_eq!(dm.config.max_words, WORLD_MAX_WORDS);
    let mut sampler = Sampler::load(&rt, &report.checkpoint, true).unwrap();
    assert_eq!(sampler.max_words(), WORLD_MAX_WORDS);
    assert!(
        sampler.ca_noise,
        "conditioning augmentation samples by default"
    );
    let drawn = sampler
        .generate(&rt, "a small red circle on a grey background flumph", 2, 7)
        .unwrap();
    let (images, words, unknown, maps, side) = (
        drawn.images,
        drawn.words,
        drawn.unknown,
        drawn.maps,
        drawn.map_side,
    );
    assert_eq!(images.len(), 2);
    assert_eq!(images[0].width(), 64);
    assert_eq!(unknown, vec!["flumph".to_string()]);
    assert_eq!(words.len(), 8);
    assert_eq!((maps.len(), maps[0].len(), side), (2, 8, 32));
    // A three-object caption of 34 words is used whole (18 before).
    let long = "a tiny red circle in the upper left corner to the left of a big blue \
                square in the upper right corner and a small green star at the bottom \
                on a white background";
    assert_eq!(wgpu_attngan::data::vocab::tokenize(long).len(), 34);
    let drawn = sampler.generate(&rt, long, 1, 7).unwrap();
    let (words, unknown, maps) = (drawn.words, drawn.unknown, drawn.maps);
    assert!(unknown.is_empty(), "{unknown:?}");
    assert_eq!((words.len(), maps[0].len()), (34, 34));
    // CA noise: the same seed draws the same images; eps = 0 draws others.
    let a = sampler.generate(&rt, long, 2, 7).unwrap().images;
    assert_eq!(a, sampler.generate(&rt, long, 2, 7).unwrap().images);
    sampler.ca_noise = false;
    let mean = sampler.generate(&rt, long, 2, 7).unwrap().images;
    assert_ne!(a, mean, "eps = 0 is another condition");
    assert_eq!(mean, sampler.generate(&rt, long, 2, 7).unwrap().images);
    // The exported model (f32) samples exactly the images of the full
    // checkpoint; f16 within its rounding, in half the bytes.
    sampler.ca_noise = true;
    let caps: Vec<String> = [
        "a big red circle at the top left on a white background",
        long,
    ]
    .iter()
    .map(|c| c.to_string())
    .collect();
    let full = sampler.draw(&rt, &caps, 5).unwrap();
    let (x32, x16) = (base.join("m32.safetensors"), base.join("m16.safetensors"));
    sampler.export(&x32, false, &[]).unwrap();
    sampler.export(&x16, true, &[]).unwrap();
    let exported = Sampler::load(&rt, &x32, true).unwrap();
    assert_eq!(exported.draw(&rt, &caps, 5).unwrap(), full);
    let half = Sampler::load(&rt, &x16, true)
        .unwrap()
        .draw(&rt, &caps, 5)
        .unwrap();
    let diff: Vec<i32> = half
        .iter()
        .zip(&full)
        .flat_map(|(a, b)| {
            a.as_raw()
                .iter()
                .zip(b.as_raw())
                .map(|(&p, &q)| p as i32 - q as i32)
        })
        .collect();
    let mean = diff.iter().map(|d| d.abs() as f64).sum::<f64>() / diff.len() as f64;
    assert!(mean < 2.0, "f16 export moves pixels by {mean} on average");
    let size = |p: &std::path::Path| std::fs::metadata(p).unwrap().len() as f64;
    assert!((0.45..0.55).contains(&(size(&x16) / size(&x32))));
    assert!(
        size(&x32) < size(&report.checkpoint) / 3.0,
        "no optimiser or D in the export"
    );
    // A checkpoint is checked when loaded: nonsense sizes and a vocabulary
    // longer than the embedding table are refused, naming the file and field.
    use wgpu_attngan::nn::checkpoint::Checkpoint as Ck;
    let good = Ck::load(&x32).unwrap();
    let bad_path = base.join("bad.safetensors");
    let vocab = good.metadata["vocab"].clone();
    let longer = vocab.clone() + "zebra\nquokka\nwombat\n";
    for (key, from, to, named) in [
        ("config", "\"ngf\":4", "\"ngf\":0", "ngf=0"),
        ("vocab", vocab.as_str(), longer.as_str(), "vocabulary"),
        (
            "damsm_config",
            "\"image_size\":32",
            "\"image_size\":7",
            "image_size=7",
        ),
    ] {
        let mut bad = good.clone();
        let text = bad.metadata[key].replace(from, to);
        assert_ne!(text, bad.metadata[key], "{key}: {from} not found");
        bad.metadata.insert(key.into(), text);
        bad.save(&bad_path).unwrap();
        let e = Sampler::load(&rt, &bad_path, true)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("bad.safetensors") && e.contains(named), "{e}");
    }
    // An exported model has no last weights to fall back to.
    let e = Sampler::load(&rt, &x16, false).err().unwrap().to_string();
    assert!(e.contains("--no-ema"), "{e}");
    // engine export on the DAMSM keeps both encoders (it loads and scores
    // alike) and drops the optimiser state (so it cannot resume).
    let dx = base.join("damsm-export.safetensors");
    let (ok, text) = common::cli::engine(&[
        "export",
        d.checkpoint.to_str().unwrap(),
        "-o",
        dx.to_str().unwrap(),
    ]);
    assert!(ok, "{text}");
    let (dm2, _, ck2) = wgpu_attngan::train::damsm::load_damsm(&rt, &dx).unwrap();
    assert!(!ck2.tensors.keys().any(|k| k.starts_with("optim")));
    assert_eq!(
        dm2.text_params.state().unwrap(),
        dm.text_params.state().unwrap()
    );
    assert_eq!(
        dm2.image_params.state().unwrap(),
        dm.image_params.state().unwrap()
    );
    std::fs::create_dir_all(base.join("damsm-resume")).unwrap();
    std::fs::copy(&dx, base.join("damsm-resume/checkpoint.safetensors")).unwrap();
    let e = train_damsm(
        &rt,
        &DamsmTrainOptions {
            run: RunOptions {
                out: base.join("damsm-resume"),
                steps: 3,
                resume: true,
                ..damsm.run.clone()
            },
            ..damsm.clone()
        },
    )
    .err()
    .unwrap()
    .to_string();
    assert!(e.contains("exported DAMSM"), "{e}");
    // A DAMSM checkpoint is not a generator: a clear error.
    let e = Sampler::load(&rt, &d.checkpoint, true)
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("damsm") && e.contains("engine train --model attngan"),
        "{e}"
    );
    std::fs::remove_dir_all(base).ok();
}

#[test]
fn config_carries_max_words_and_old_configs_load_as_18() {
    assert_eq!(AttnGanConfig::birds().max_words, 18);
    assert_eq!(AttnGanConfig::world().max_words, WORLD_MAX_WORDS);
    let c = AttnGanConfig::world();
    assert_eq!(AttnGanConfig::from_text(&c.to_text()).unwrap(), c);
    // A checkpoint written before max_words was recorded.
    let old = "ngf=16\nndf=16\nz_dim=100\ncond_dim=100\nembed_dim=256\nstages=2\nres_blocks=2\n";
    assert_eq!(AttnGanConfig::from_text(old).unwrap().max_words, 18);
    use wgpu_attngan::models::damsm::DamsmConfig;
    let mut d = DamsmConfig::new(50);
    assert_eq!(d.max_words, 18);
    d.max_words = WORLD_MAX_WORDS;
    assert_eq!(DamsmConfig::from_text(&d.to_text()).unwrap(), d);
    // Written before max_words was recorded (and before configs were JSON).
    let old = "vocab=50\nword_dim=300\nhidden=128\nimage_size=64\nbase_channels=16\ndropout=0.5\ngamma1=4\ngamma2=5\ngamma3=10\n";
    assert_eq!(DamsmConfig::from_text(old).unwrap().max_words, 18);
    assert_eq!(DamsmConfig::from_text(old).unwrap().vocab, 50);
}

fn tiny(stages: usize, t: usize) -> AttnGanConfig {
    AttnGanConfig {
        ngf: 4,
        ndf: 4,
        embed_dim: 8,
        z_dim: 6,
        cond_dim: 5,
        stages,
        base_size: 64,
        res_blocks: 1,
        max_words: t,
        glam: false,
    }
}

/// A first stage of 32 (the world preset's): three upsamplings from 8g x 4 x
/// 4, then 64; each discriminator still ends at 8 ndf x 4 x 4.
#[test]
fn base_32_draws_32_then_64() {
    let rt = rt();
    let config = AttnGanConfig {
        base_size: 32,
        ..tiny(2, 7)
    };
    assert_eq!((config.image_size(0), config.image_size(1)), (32, 64));
    let gan = AttnGan::new(&rt, config.clone(), 2).unwrap();
    let ups = gan
        .gen_params
        .names()
        .iter()
        .filter(|n| n.starts_with("gen.stage1.up") && n.ends_with("conv.weight"))
        .count();
    assert_eq!(ups, 3);
    let b = 2;
    let mask = Tensor::from_slice(&rt, &[0.0; 14], &[b, 7]).unwrap();
    let out = gan
        .gen
        .forward(
            &gan.gen_params,
            &det(&rt, &[b, 6], 0),
            &det(&rt, &[b, 5], 1),
            &det(&rt, &[b, 8], 2),
            &det(&rt, &[b, 8, 7], 3),
            &mask,
            true,
        )
        .unwrap();
    assert_eq!(out.images[0].shape(), &[b, 3, 32, 32]);
    assert_eq!(out.images[1].shape(), &[b, 3, 64, 64]);
    assert_eq!(out.attention[0].shape(), &[b, 32 * 32, 7]);
    for (s, d) in gan.discs.iter().enumerate() {
        let code = d.encode(&gan.disc_params[s], &out.images[s]).unwrap();
        assert_eq!(code.shape(), &[b, 8 * 4, 4, 4], "stage {s}");
    }
    // Only 32 and 64 are sizes the first stage can have.
    for bad in [16, 48, 128] {
        let c = AttnGanConfig {
            base_size: bad,
            ..config.clone()
        };
        let e = AttnGan::new(&rt, c, 0).err().unwrap().to_string();
        assert!(e.contains("base_size must be 32 or 64"), "{e}");
    }
    let old = "ngf=16\nndf=16\nz_dim=100\ncond_dim=100\nembed_dim=256\nstages=2\nres_blocks=2\n";
    assert_eq!(AttnGanConfig::from_text(old).unwrap().base_size, 64);
}

/// Rows (or columns) of a [rows, cols] matrix are orthonormal.
fn assert_orthonormal(name: &str, w: &[f32], rows: usize) {
    let cols = w.len() / rows;
    let (k, by_rows) = if rows <= cols {
        (rows, true)
    } else {
        (cols, false)
    };
    let at = |a: usize, i: usize| {
        if by_rows {
            w[a * cols + i] as f64
        } else {
            w[i * cols + a] as f64
        }
    };
    let len = if by_rows { cols } else { rows };
    for a in 0..k {
        for b in 0..k {
            let dot: f64 = (0..len).map(|i| at(a, i) * at(b, i)).sum();
            let want = if a == b { 1.0 } else { 0.0 };
            assert!((dot - want).abs() < 1e-4, "{name}: <{a},{b}> = {dot}");
        }
    }
}

/// The released code initialises the discriminators as G: orthogonally.
#[test]
fn discriminators_start_orthogonal() {
    let rt = rt();
    let gan = AttnGan::new(&rt, tiny(2, 18), 3).unwrap();
    for ps in &gan.disc_params {
        let mut convs = 0;
        for (id, name) in ps.names().iter().enumerate() {
            if !name.ends_with("conv.weight") {
                continue;
            }
            let v = ps.var(wgpu_attngan::nn::ParamId(id)).value();
            let w = v.to_vec().unwrap();
            assert_orthonormal(name, &w, v.dim(0));
            convs += 1;
        }
        assert!(convs >= 7, "{convs} convolutions");
    }
}

/// The first stage takes [c, z] (INIT_STAGE_G: torch.cat((c_code, z_code), 1)):
/// with z = 0 the last z_dim columns of its linear layer get no gradient, the
/// first cond_dim do.
#[test]
fn first_stage_takes_condition_then_noise() {
    let rt = rt();
    let config = tiny(1, 7);
    let gan = AttnGan::new(&rt, config.clone(), 2).unwrap();
    let b = 3;
    let zeros = Var::constant(Tensor::from_slice(&rt, &vec![0.0; b * 6], &[b, 6]).unwrap());
    let mask = Tensor::from_slice(&rt, &vec![0.0; b * 7], &[b, 7]).unwrap();
    let out = gan
        .gen
        .forward(
            &gan.gen_params,
            &zeros,
            &det(&rt, &[b, 5], 1),
            &det(&rt, &[b, 8], 2),
            &det(&rt, &[b, 8, 7], 3),
            &mask,
            true,
        )
        .unwrap();
    gan.gen_params.zero_grad().unwrap();
    out.images[0]
        .square()
        .unwrap()
        .mean_all()
        .unwrap()
        .backward()
        .unwrap();
    let id = gan
        .gen_params
        .names()
        .iter()
        .position(|n| n == "gen.stage1.fc.weight")
        .unwrap();
    let g = gan
        .gen_params
        .var(wgpu_attngan::nn::ParamId(id))
        .grad()
        .unwrap()
        .to_vec()
        .unwrap();
    let cols = config.cond_dim + config.z_dim;
    let (mut c_norm, mut z_norm) = (0.0f64, 0.0f64);
    for (i, v) in g.iter().enumerate() {
        if i % cols < config.cond_dim {
            c_norm += (*v as f64).powi(2);
        } else {
            z_norm += (*v as f64).powi(2);
        }
    }
    assert!(c_norm > 0.0 && z_norm == 0.0, "c {c_norm}, z {z_norm}");
}

/// The DAMSM loss resizes G's image bilinearly to the DAMSM's size, also up
/// (a DAMSM larger than G); sizes its encoder cannot take are a clear error
/// before any work, as is a caption tensor of another length than max_words.
#[test]
fn damsm_loss_resizes_g_images_and_checks_sizes_up_front() {
    use wgpu_attngan::models::damsm::{Damsm, DamsmConfig};
    use wgpu_attngan::train::attngan::{check_damsm_fits, gan_step, GanNets, StepInput, TextModel};
    let rt = rt();
    let t = 9;
    let mut dc = DamsmConfig::new(20);
    dc.hidden = 4; // joint space 8, the generator's embed_dim
    dc.word_dim = 6;
    dc.base_channels = 2;
    dc.image_size = 96; // larger than G's 64
    dc.max_words = t;
    let damsm = Damsm::new(&rt, dc.clone(), 1).unwrap();
    damsm.image_params.set_trainable(false);
    let text = TextModel::from_damsm(&rt, &damsm).unwrap();
    let config = tiny(1, t);
    check_damsm_fits(&config, &dc).unwrap();
    let mut nets = GanNets::new(AttnGan::new(&rt, config.clone(), 4).unwrap(), 2e-4).unwrap();
    let b = 2;
    let ids: Vec<f32> = (0..b * t).map(|i| (2 + i % 15) as f32).collect();
    let ids = Tensor::from_slice(&rt, &ids, &[b, t]).unwrap();
    let reals = [det(&rt, &[b, 3, 64, 64], 6)];
    let lengths = [t, 5];
    let input = StepInput {
        reals: &reals,
        ids: &ids,
        tokens: &[],
        lengths: &lengths,
        class_ids: &[1, 2],
        contrast: None,
        labels: None,
        pixel_loss: 0.0,
    };
    let (d, g) = gan_step(&mut nets, &damsm, &text, &input, 5.0, None, 3).unwrap();
    let g = g.value().to_vec().unwrap()[0];
    assert!(g.is_finite() && d[0].value().to_vec().unwrap()[0].is_finite());
    // A DAMSM side its encoder cannot take.
    let mut bad = dc.clone();
    bad.image_size = 36;
    let e = check_damsm_fits(&config, &bad).unwrap_err().to_string();
    assert!(e.contains("36x36") && e.contains("multiple of 8"), "{e}");
    // Another joint space.
    let mut other = config.clone();
    other.embed_dim = 16;
    let e = check_damsm_fits(&other, &dc).unwrap_err().to_string();
    assert!(e.contains("joint space"), "{e}");
    // Captions of 18 ids for a model of 9 words.
    let ids18 = Tensor::from_slice(&rt, &vec![2.0; b * 18], &[b, 18]).unwrap();
    let input = StepInput {
        ids: &ids18,
        ..input
    };
    let e = gan_step(&mut nets, &damsm, &text, &input, 5.0, None, 3)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("max_words"), "{e}");
}

/// mean over a batch of BCE with logits, in f64: softplus(x) - y x.
fn bce_ref(logits: &[f32], y: f64) -> f64 {
    logits
        .iter()
        .map(|&x| {
            let x = x as f64;
            x.max(0.0) + (-x.abs()).exp().ln_1p() - y * x
        })
        .sum::<f64>()
        / logits.len() as f64
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1e-12)
}

/// The discriminator loss against an f64 reference built from D's logits:
/// (real_uncond + real_cond) / 2 + (fake_uncond + fake_cond + wrong_cond) / 3,
/// the wrong pairs being image i + 1 with sentence i (the released code's
/// `real_features[:(batch_size - 1)]` against `conditions[1:batch_size]`
/// pairs the same neighbours); and the generator's adversarial term,
/// uncond + cond against "real". With hard negatives (contrast sentences),
/// the wrong term is the mean of the neighbours' and the contrast pairs'.
#[test]
fn discriminator_and_adversarial_losses_match_an_f64_reference() {
    use wgpu_attngan::autograd as ag;
    let rt = rt();
    let gan_ = AttnGan::new(&rt, tiny(1, 7), 11).unwrap();
    let (d, ps) = (&gan_.discs[0], &gan_.disc_params[0]);
    let b = 5;
    let real = det(&rt, &[b, 3, 64, 64], 4);
    let fake = det(&rt, &[b, 3, 64, 64], 9);
    let sent = det(&rt, &[b, 8], 5);
    let v = |x: &Var| x.value().to_vec().unwrap();
    let real_code = d.encode(ps, &real).unwrap();
    let fake_code = d.encode(ps, &fake).unwrap();
    let ru = v(&d.uncond_logits(ps, &real_code).unwrap());
    let rc = v(&d.cond_logits(ps, &real_code, &sent).unwrap());
    let fu = v(&d.uncond_logits(ps, &fake_code).unwrap());
    let fc = v(&d.cond_logits(ps, &fake_code, &sent).unwrap());
    let pairs = |img0: usize, sent0: usize| {
        let code = ag::narrow(&real_code, 0, img0, b - 1).unwrap();
        let s = ag::narrow(&sent, 0, sent0, b - 1).unwrap();
        v(&d.cond_logits(ps, &code, &s).unwrap())
    };
    let reference = |wrong: &[f32]| {
        (bce_ref(&ru, 1.0) + bce_ref(&rc, 1.0)) / 2.0
            + (bce_ref(&fu, 0.0) + bce_ref(&fc, 0.0) + bce_ref(wrong, 0.0)) / 3.0
    };
    let got = v(&discriminator_loss(d, ps, &real, &fake, &sent, None).unwrap())[0] as f64;
    let want = reference(&pairs(1, 0));
    assert!(rel(got, want) < 1e-5, "D loss {got} vs reference {want}");
    // The other neighbour (image i with sentence i + 1) is another loss, so
    // the check above does see the pairing.
    let other = reference(&pairs(0, 1));
    assert!(rel(other, want) > 1e-4, "{other} vs {want}");

    // Hard negatives: wrong_cond becomes the mean of the neighbours' loss and
    // of image i against contrast sentence i, each a mean over its pairs.
    let contrast = det(&rt, &[b, 8], 6);
    let hc = v(&d.cond_logits(ps, &real_code, &contrast).unwrap());
    let with_contrast = |wrong: &[f32]| {
        (bce_ref(&ru, 1.0) + bce_ref(&rc, 1.0)) / 2.0
            + (bce_ref(&fu, 0.0)
                + bce_ref(&fc, 0.0)
                + (bce_ref(wrong, 0.0) + bce_ref(&hc, 0.0)) / 2.0)
                / 3.0
    };
    let got = v(&discriminator_loss(d, ps, &real, &fake, &sent, Some(&contrast)).unwrap())[0];
    let want = with_contrast(&pairs(1, 0));
    assert!(
        rel(got as f64, want) < 1e-5,
        "D loss with contrast {got} vs reference {want}"
    );
    assert!(rel(want, reference(&pairs(1, 0))) > 1e-4, "contrast seen");
    // Contrast sentence i goes with image i, not with a neighbour.
    let shifted = {
        let code = ag::narrow(&real_code, 0, 1, b - 1).unwrap();
        let s = ag::narrow(&contrast, 0, 0, b - 1).unwrap();
        v(&d.cond_logits(ps, &code, &s).unwrap())
    };
    let misplaced = (bce_ref(&ru, 1.0) + bce_ref(&rc, 1.0)) / 2.0
        + (bce_ref(&fu, 0.0)
            + bce_ref(&fc, 0.0)
            + (bce_ref(&pairs(1, 0), 0.0) + bce_ref(&shifted, 0.0)) / 2.0)
            / 3.0;
    assert!(rel(misplaced, want) > 1e-4, "{misplaced} vs {want}");

    let adv = v(&generator_adversarial_loss(d, ps, &fake, &sent).unwrap())[0] as f64;
    let want = bce_ref(&fu, 1.0) + bce_ref(&fc, 1.0);
    assert!(rel(adv, want) < 1e-5, "G adversarial {adv} vs {want}");
}

/// G's DAMSM term with hard negatives: the contrast captions join the
/// captions each image picks from, in the word and the sentence loss, and
/// not the images each caption picks from. Checked exactly: with each
/// caption as its own contrast, every image's two softmaxes over captions
/// hold each score twice, so the term is the plain one plus 2 ln 2; with
/// other contrast captions it only grows.
#[test]
fn damsm_guidance_with_hard_negatives_adds_competitors() {
    use wgpu_attngan::models::damsm::{Damsm, DamsmConfig};
    use wgpu_attngan::train::attngan::damsm_guidance;
    let rt = rt();
    let config = DamsmConfig {
        word_dim: 8,
        hidden: 4,
        image_size: 32,
        base_channels: 4,
        ..DamsmConfig::new(10)
    };
    let damsm = Damsm::new(&rt, config, 3).unwrap();
    let (b, d, t) = (3, 8, 5);
    let images = det(&rt, &[b, 3, 32, 32], 0).tanh().unwrap();
    let (words, sentence) = (det(&rt, &[b, d, t], 1), det(&rt, &[b, d], 2));
    let lengths = [5, 3, 4];
    let (other_words, other_sentence) = (det(&rt, &[b, d, t], 3), det(&rt, &[b, d], 4));
    let other_lengths = [2, 5, 1];
    let term = |contrast| {
        let v = damsm_guidance(
            &damsm,
            &images,
            (&words, &sentence, &lengths),
            contrast,
            &[0; 3],
        )
        .unwrap();
        v.value().to_vec().unwrap()[0] as f64
    };
    let plain = term(None);
    let doubled = term(Some((&words, &sentence, &lengths[..])));
    let other = term(Some((&other_words, &other_sentence, &other_lengths[..])));
    let expected = plain + 2.0 * std::f64::consts::LN_2;
    assert!(
        (doubled - expected).abs() < 1e-4 * expected,
        "{doubled} against {expected} (plain {plain})"
    );
    assert!(other > plain, "{other} <= {plain}");
}

/// KL(N(mu, sigma^2) || N(0, 1)) as AttnGAN computes it, value and
/// gradients, against f64; the reference gradient against finite differences.
#[test]
fn kl_loss_and_its_gradient_match_an_f64_reference() {
    let rt = rt();
    let (b, c) = (3, 7);
    let n = b * c;
    let mu_v: Vec<f32> = (0..n).map(|i| ((i * 37 % 19) as f32 - 9.0) / 7.0).collect();
    let lv_v: Vec<f32> = (0..n).map(|i| ((i * 23 % 17) as f32 - 8.0) / 6.0).collect();
    let kl64 = |mu: &[f64], lv: &[f64]| {
        -0.5 * mu
            .iter()
            .zip(lv)
            .map(|(m, l)| 1.0 + l - m * m - l.exp())
            .sum::<f64>()
            / n as f64
    };
    let f64s = |x: &[f32]| x.iter().map(|&v| v as f64).collect::<Vec<f64>>();
    let (mu64, lv64) = (f64s(&mu_v), f64s(&lv_v));
    let mu = Var::leaf(Tensor::from_slice(&rt, &mu_v, &[b, c]).unwrap());
    let lv = Var::leaf(Tensor::from_slice(&rt, &lv_v, &[b, c]).unwrap());
    let loss = kl_loss(&mu, &lv).unwrap();
    let got = loss.value().to_vec().unwrap()[0] as f64;
    assert!(rel(got, kl64(&mu64, &lv64)) < 1e-5);
    loss.backward().unwrap();
    let (gmu, glv) = (
        mu.grad().unwrap().to_vec().unwrap(),
        lv.grad().unwrap().to_vec().unwrap(),
    );
    for i in 0..n {
        // d/dmu = mu / n, d/dlogvar = (exp(logvar) - 1) / (2 n).
        let (rm, rl) = (mu64[i] / n as f64, (lv64[i].exp() - 1.0) / (2.0 * n as f64));
        let h = 1e-6;
        let fd = |which: usize| {
            let (mut a, mut l) = (mu64.clone(), lv64.clone());
            let (mut a2, mut l2) = (mu64.clone(), lv64.clone());
            if which == 0 {
                a[i] += h;
                a2[i] -= h;
            } else {
                l[i] += h;
                l2[i] -= h;
            }
            (kl64(&a, &l) - kl64(&a2, &l2)) / (2.0 * h)
        };
        assert!((fd(0) - rm).abs() < 1e-7 && (fd(1) - rl).abs() < 1e-7);
        assert!((gmu[i] as f64 - rm).abs() < 1e-6, "dmu[{i}]");
        assert!(
            (glv[i] as f64 - rl).abs() < 1e-5 * rl.abs().max(1.0),
            "dlogvar[{i}]"
        );
    }
}

/// The moving average of G against an f64 reference:
/// shadow = d shadow + (1 - d) params, d = min(0.999, (1 + n) / (10 + n)).
#[test]
fn ema_matches_an_f64_reference_with_its_warm_up() {
    use wgpu_attngan::nn::optim::Ema;
    use wgpu_attngan::nn::{Init, ParamBuilder};
    let rt = rt();
    let mut pb = ParamBuilder::new(1);
    pb.param("w", &[5, 3], Init::Orthogonal(1.0));
    let ps = pb.build(&rt).unwrap();
    let mut ema = Ema::new(&ps, 0.999).unwrap();
    let mut shadow: Vec<f64> = ps
        .flat()
        .0
        .to_vec()
        .unwrap()
        .iter()
        .map(|&x| x as f64)
        .collect();
    // The flat buffer may be padded past the 15 weights; every value is averaged.
    let len = ps.flat().0.numel();
    for n in 0..40u64 {
        let p: Vec<f32> = (0..len)
            .map(|i| ((i as f32 + n as f32) * 0.37).sin())
            .collect();
        ps.flat().0.write(&p).unwrap();
        let d = 0.999f64.min((1.0 + n as f64) / (10.0 + n as f64));
        assert!((ema.current_decay() as f64 - d).abs() < 1e-7);
        ema.update(&ps).unwrap();
        for (s, &x) in shadow.iter_mut().zip(&p) {
            *s = d * *s + (1.0 - d) * x as f64;
        }
    }
    let got = ema.shadow.to_vec().unwrap();
    for (g, w) in got.iter().zip(&shadow) {
        assert!((*g as f64 - w).abs() < 1e-5, "{g} vs {w}");
    }
    assert_eq!(ema.updates, 40);
}

/// The shipped model (models/world.safetensors, built into the binary):
/// `engine generate` draws with it from any directory, with no --model and
/// no training, and writes the attention maps beside the image.
#[test]
fn generate_uses_the_shipped_model_from_any_directory() {
    let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models/world.safetensors");
    let bytes = std::fs::metadata(&shipped).unwrap().len();
    assert!(bytes <= 20_000_000, "the shipped model is {bytes} bytes");
    let ck = wgpu_attngan::nn::checkpoint::Checkpoint::load(&shipped).unwrap();
    assert_eq!(ck.metadata["engine.model"], "attngan-sampler");
    assert!(
        !ck.tensors
            .keys()
            .any(|k| k.starts_with("disc") || k.starts_with("optim")),
        "only what sampling needs"
    );
    let dir = std::env::temp_dir().join(format!("engine-shipped-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_engine"))
        .current_dir(&dir)
        .args([
            "generate",
            "a big red circle at the top left on a white background",
            "-n",
            "2",
        ])
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    let img = image::open(dir.join("sample.png")).unwrap();
    assert_eq!(
        (img.width(), img.height()),
        (128, 64),
        "two 64x64 images side by side"
    );
    assert!(dir.join("sample-attention.png").exists(), "{text}");
    // --no-ema needs the training checkpoint: a clear refusal, not a crash.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_engine"))
        .current_dir(&dir)
        .args(["generate", "a red circle", "--no-ema"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--no-ema"));
    std::fs::remove_dir_all(dir).ok();
}

/// The previous built-in model, shipped beside it
/// (models/world-unguided.safetensors, the curriculum without the label
/// guide; README "The shipped model"): a sampler-only export that `engine
/// generate --model` draws with.
#[test]
fn the_unguided_model_beside_the_shipped_one_generates() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let guided = root.join("models/world-unguided.safetensors");
    let bytes = std::fs::metadata(&guided).unwrap().len();
    assert!(bytes <= 20_000_000, "the unguided model is {bytes} bytes");
    let ck = wgpu_attngan::nn::checkpoint::Checkpoint::load(&guided).unwrap();
    assert_eq!(ck.metadata["engine.model"], "attngan-sampler");
    let dir = std::env::temp_dir().join(format!("engine-unguided-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let sample = dir.join("sample.png");
    let (ok, text) = common::cli::engine(&[
        "generate",
        "a big red circle at the top left on a white background",
        "--model",
        guided.to_str().unwrap(),
        "-o",
        sample.to_str().unwrap(),
    ]);
    assert!(ok, "{text}");
    let img = image::open(&sample).unwrap();
    assert_eq!((img.width(), img.height()), (64, 64), "{text}");
    std::fs::remove_dir_all(dir).ok();
}

/// `engine train --model attngan` killed by SIGKILL mid-run and resumed ends
/// bit for bit where a run never stopped ends: G, the discriminators, the
/// Adam states, the moving average and the losses. 6 scenes at batch 2 make
/// an epoch of 3 steps, so the resumed part crosses epoch boundaries.
#[test]
fn engine_train_attngan_killed_and_resumed_matches_an_uninterrupted_run() {
    let base = std::env::temp_dir().join(format!("engine-gan-kill-{}", std::process::id()));
    let damsm = base.join("damsm");
    let (ok, text) = common::cli::engine(&[
        "train",
        "--quiet",
        "--steps",
        "2",
        "--batch",
        "4",
        "--scenes",
        "8",
        "--image-size",
        "32",
        "--out",
        damsm.to_str().unwrap(),
    ]);
    assert!(ok, "{text}");
    let dck = damsm.join("checkpoint.safetensors");
    let args = [
        "train",
        "--model",
        "attngan",
        "--damsm",
        dck.to_str().unwrap(),
        "--quiet",
        "--steps",
        "8",
        "--batch",
        "2",
        "--scenes",
        "6",
        "--stages",
        "1",
        "--base-size",
        "32",
        "--checkpoint-every",
        "2",
    ];
    let (straight, killed) = common::kill::kill_and_resume(&base, &args, 8, 6);
    assert_same_run(&straight, &killed);
    assert_eq!(straight.metadata["step"], "8");
    std::fs::remove_dir_all(base).ok();
}

#[test]
fn configs_are_stored_as_json_and_refuse_unknown_keys_and_bad_values() {
    use wgpu_attngan::models::damsm::DamsmConfig;
    let c = AttnGanConfig::world();
    let text = c.to_text();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["ngf"], 16);
    assert_eq!(v["max_words"], WORLD_MAX_WORDS);
    // The same config as "key=value" lines (checkpoints before JSON, the
    // shipped model's among them) reads back equal.
    let lines: String = v
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| format!("{k}={v}\n"))
        .collect();
    assert_eq!(AttnGanConfig::from_text(&lines).unwrap(), c);
    let mut d = DamsmConfig::new(77);
    d.dropout = 0.25;
    let v: serde_json::Value = serde_json::from_str(&d.to_text()).unwrap();
    let lines: String = v
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| format!("{k}={v}\n"))
        .collect();
    assert_eq!(DamsmConfig::from_text(&lines).unwrap(), d);
    for (bad, says) in [
        ("ngf=16\ncolour=3\n", "colour"),
        ("ngf=sixteen\n", "bad value in \"ngf=sixteen\""),
        ("ngf 16\n", "bad line"),
        (r#"{"ngf":16,"colour":3}"#, "colour"),
        (r#"{"ngf":-1}"#, "attngan config"),
        (r#"{"ngf":0}"#, "ngf=0"),
        ("{not json", "attngan config"),
    ] {
        let e = AttnGanConfig::from_text(bad).unwrap_err().to_string();
        assert!(e.contains(says), "{bad:?}: {e}");
    }
}

/// The pixel loss (`--pixel-loss`): the mean of (fake - real)^2 over every
/// value, and its gradient 2 (fake - real) / N, against an f64 reference on
/// an odd shape; the reference's gradient against central differences.
#[test]
fn pixel_loss_against_an_f64_reference() {
    use rand::{Rng, SeedableRng};
    use wgpu_attngan::train::attngan::pixel_loss;
    let rt = rt();
    let shape = [3, 3, 7, 5];
    let n: usize = shape.iter().product();
    let mut r = rand::rngs::StdRng::seed_from_u64(0x91E1);
    let f: Vec<f32> = (0..n).map(|_| r.random_range(-1.0..1.0)).collect();
    let g: Vec<f32> = (0..n).map(|_| r.random_range(-1.0..1.0)).collect();
    let loss_ref = |f: &[f64]| -> f64 {
        f.iter()
            .zip(&g)
            .map(|(a, &b)| (a - b as f64).powi(2))
            .sum::<f64>()
            / n as f64
    };
    let f64s: Vec<f64> = f.iter().map(|&x| x as f64).collect();
    let grad_ref: Vec<f64> = f64s
        .iter()
        .zip(&g)
        .map(|(a, &b)| 2.0 * (a - b as f64) / n as f64)
        .collect();
    // The reference's gradient, by central differences.
    for i in [0, n / 2, n - 1] {
        let h = 1e-6;
        let (mut up, mut down) = (f64s.clone(), f64s.clone());
        up[i] += h;
        down[i] -= h;
        let fd = (loss_ref(&up) - loss_ref(&down)) / (2.0 * h);
        assert!(
            (fd - grad_ref[i]).abs() < 1e-7,
            "{fd} against {}",
            grad_ref[i]
        );
    }
    let fake = Var::leaf(Tensor::from_slice(&rt, &f, &shape).unwrap());
    let real = Var::constant(Tensor::from_slice(&rt, &g, &shape).unwrap());
    let l = pixel_loss(&fake, &real).unwrap();
    let got = l.value().to_vec().unwrap()[0] as f64;
    let want = loss_ref(&f64s);
    assert!((got - want).abs() <= 1e-5 * want, "{got} against {want}");
    l.backward().unwrap();
    let grad = fake.grad().unwrap().to_vec().unwrap();
    let scale = grad_ref.iter().fold(0f64, |m, x| m.max(x.abs()));
    for (a, b) in grad.iter().zip(&grad_ref) {
        assert!((*a as f64 - b).abs() <= 1e-5 * scale, "{a} against {b}");
    }
}
