//! AttnGAN: the generator's and discriminators' shapes, gradients reaching
//! every generator stage, and a tiny end-to-end run (DAMSM, then AttnGAN,
//! then sampling with attention maps and unknown words).

use engine::autograd::Var;
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
    let sampler = Sampler::load(&rt, &report.checkpoint, true).unwrap();
    let (images, words, unknown, maps, side) = sampler
        .generate(&rt, "a small red circle on a grey background flumph", 2, 7)
        .unwrap();
    assert_eq!(images.len(), 2);
    assert_eq!(images[0].width(), 128);
    assert_eq!(unknown, vec!["flumph".to_string()]);
    assert_eq!(words.len(), 8);
    assert_eq!((maps.len(), maps[0].len(), side), (2, 8, 64));
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
