//! AttnGAN: the generator's and discriminators' shapes, gradients reaching
//! every generator stage, and a tiny end-to-end run (DAMSM, then AttnGAN,
//! then sampling with attention maps and unknown words).

use engine::autograd::Var;
use engine::data::world::WORLD_MAX_WORDS;
use engine::models::attngan::{
    discriminator_loss, generator_adversarial_loss, kl_loss, AttnGan, AttnGanConfig,
};
use engine::{Runtime, Tensor};

fn rt() -> Runtime {
    Runtime::new().unwrap_or_else(|e| panic!("{e}"))
}

fn det(rt: &Runtime, shape: &[usize], k: usize) -> Var {
    let n: usize = shape.iter().product();
    let v: Vec<f32> = (0..n)
        .map(|i| (((i + k) * 7919) % 1000) as f32 / 500.0 - 1.0)
        .collect();
    Var::constant(Tensor::from_slice(rt, &v, shape).unwrap())
}

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
        res_blocks: 1,
        max_words: 18,
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
            .var(engine::nn::ParamId(id))
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
    use engine::train::attngan::{train_attngan, AttnGanTrainOptions, Sampler};
    use engine::train::damsm::{train_damsm, DamsmTrainOptions};
    let rt = rt();
    let base = std::env::temp_dir().join(format!("engine-attngan-{}", std::process::id()));
    let damsm = DamsmTrainOptions {
        out: base.join("damsm"),
        steps: 2,
        batch: 4,
        scenes: 16,
        image_size: 32,
        base_channels: 4,
        quiet: true,
        ..Default::default()
    };
    let d = train_damsm(&rt, &damsm).unwrap();
    let opts = AttnGanTrainOptions {
        out: base.join("attngan"),
        damsm: d.checkpoint.clone(),
        steps: 2,
        batch: 2,
        scenes: 16,
        stages: 2,
        ngf: 4,
        ndf: 4,
        quiet: true,
        ..Default::default()
    };
    let report = train_attngan(&rt, &opts).unwrap();
    assert_eq!(report.steps, 2);
    assert!(report
        .losses
        .iter()
        .all(|(d, g)| d.is_finite() && g.is_finite()));
    // The world's word limit, in the DAMSM's and the generator's checkpoints.
    let (dm, _, _) = engine::train::damsm::load_damsm(&rt, &d.checkpoint).unwrap();
    assert_eq!(dm.config.max_words, WORLD_MAX_WORDS);
    let mut sampler = Sampler::load(&rt, &report.checkpoint, true).unwrap();
    assert_eq!(sampler.max_words(), WORLD_MAX_WORDS);
    assert!(
        sampler.ca_noise,
        "conditioning augmentation samples by default"
    );
    let (images, words, unknown, maps, side) = sampler
        .generate(&rt, "a small red circle on a grey background flumph", 2, 7)
        .unwrap();
    assert_eq!(images.len(), 2);
    assert_eq!(images[0].width(), 128);
    assert_eq!(unknown, vec!["flumph".to_string()]);
    assert_eq!(words.len(), 8);
    assert_eq!((maps.len(), maps[0].len(), side), (2, 8, 64));
    // A three-object caption of 34 words is used whole (18 before).
    let long = "a tiny red circle in the upper left corner to the left of a big blue \
                square in the upper right corner and a small green star at the bottom \
                on a white background";
    assert_eq!(engine::data::vocab::tokenize(long).len(), 34);
    let (_, words, unknown, maps, _) = sampler.generate(&rt, long, 1, 7).unwrap();
    assert!(unknown.is_empty(), "{unknown:?}");
    assert_eq!((words.len(), maps[0].len()), (34, 34));
    // CA noise: the same seed draws the same images; eps = 0 draws others.
    let a = sampler.generate(&rt, long, 2, 7).unwrap().0;
    assert_eq!(a, sampler.generate(&rt, long, 2, 7).unwrap().0);
    sampler.ca_noise = false;
    let mean = sampler.generate(&rt, long, 2, 7).unwrap().0;
    assert_ne!(a, mean, "eps = 0 is another condition");
    assert_eq!(mean, sampler.generate(&rt, long, 2, 7).unwrap().0);
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
    use engine::models::damsm::DamsmConfig;
    let mut d = DamsmConfig::new(50);
    assert_eq!(d.max_words, 18);
    d.max_words = WORLD_MAX_WORDS;
    assert_eq!(DamsmConfig::from_text(&d.to_text()).unwrap(), d);
    let old = d
        .to_text()
        .replace(&format!("max_words={WORLD_MAX_WORDS}\n"), "");
    assert_eq!(DamsmConfig::from_text(&old).unwrap().max_words, 18);
}

fn tiny(stages: usize, t: usize) -> AttnGanConfig {
    AttnGanConfig {
        ngf: 4,
        ndf: 4,
        embed_dim: 8,
        z_dim: 6,
        cond_dim: 5,
        stages,
        res_blocks: 1,
        max_words: t,
    }
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
            let v = ps.var(engine::nn::ParamId(id)).value();
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
        .var(engine::nn::ParamId(id))
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
    use engine::models::damsm::{Damsm, DamsmConfig};
    use engine::train::attngan::{check_damsm_fits, gan_step, GanNets, StepInput, TextModel};
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
        lengths: &lengths,
        class_ids: &[1, 2],
    };
    let (d, g) = gan_step(&mut nets, &damsm, &text, &input, 5.0, 3).unwrap();
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
    let e = gan_step(&mut nets, &damsm, &text, &input, 5.0, 3)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("max_words"), "{e}");
}
