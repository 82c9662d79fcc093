//! MirrorGAN: GLAM's sentence attention against an f64 reference, the
//! captioner's term in G's loss weighted as asked, and a tiny run (DAMSM,
//! captioner, MirrorGAN) that resumes bit for bit and refuses a captioner
//! that cannot read its images.

mod common;
use std::collections::HashMap;

use wgpu_attngan::models::attngan::{AttnGan, AttnGanConfig};
use wgpu_attngan::train::trainer::RunOptions;

use common::fixtures::{det, rt};

fn tiny(glam: bool) -> AttnGanConfig {
    AttnGanConfig {
        ngf: 4,
        ndf: 4,
        embed_dim: 8,
        z_dim: 6,
        cond_dim: 5,
        stages: 2,
        base_size: 32,
        res_blocks: 1,
        max_words: 7,
        glam,
    }
}

#[test]
fn sentence_attention_matches_an_f64_reference() {
    let rt = rt();
    let gan = AttnGan::new(&rt, tiny(true), 4).unwrap();
    assert_eq!(gan.gen.glam.len(), 1, "one refinement stage, one GLAM");
    assert!(AttnGan::new(&rt, tiny(false), 4)
        .unwrap()
        .gen
        .glam
        .is_empty());
    let (b, g, hw) = (2, 4, 3 * 5);
    let cond = det(&rt, &[b, 5], 1);
    let h = det(&rt, &[b, g, 3, 5], 2);
    let (ws, attn) = gan.gen.glam[0]
        .sentence(&gan.gen_params, &cond, &h)
        .unwrap();
    assert_eq!(ws.shape(), &[b, g, 3, 5]);
    let (ws, attn) = (ws.value().to_vec().unwrap(), attn.value().to_vec().unwrap());
    let p: HashMap<String, Vec<f64>> = gan
        .gen_params
        .state()
        .unwrap()
        .into_iter()
        .map(|(n, _, d)| (n, d.iter().map(|&x| x as f64).collect()))
        .collect();
    let w = &p["gen.stage2.att.linear.weight"]; // [g, cond]
    let bias = &p["gen.stage2.att.linear.bias"];
    let vis = &p["gen.stage2.att.conv_sentence_vis.weight"]; // [g, g, 1, 1]
    let c = cond.value().to_vec().unwrap();
    let x = h.value().to_vec().unwrap();
    for n in 0..b {
        // s = W c + b
        let s: Vec<f64> = (0..g)
            .map(|o| {
                bias[o]
                    + (0..5)
                        .map(|i| w[o * 5 + i] * c[n * 5 + i] as f64)
                        .sum::<f64>()
            })
            .collect();
        for q in 0..hw {
            // v = vis (h * s) at pixel q; softmax over channels; times s.
            let v: Vec<f64> = (0..g)
                .map(|o| {
                    (0..g)
                        .map(|i| vis[o * g + i] * x[(n * g + i) * hw + q] as f64 * s[i])
                        .sum::<f64>()
                })
                .collect();
            let m = v.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let z: f64 = v.iter().map(|t| (t - m).exp()).sum();
            for o in 0..g {
                let a = (v[o] - m).exp() / z;
                let k = (n * g + o) * hw + q;
                assert!((attn[k] as f64 - a).abs() < 1e-5, "attn {n} {o} {q}");
                assert!(
                    (ws[k] as f64 - a * s[o]).abs() < 1e-5 * (1.0 + s[o].abs()),
                    "weighted sentence {n} {o} {q}: {} vs {}",
                    ws[k],
                    a * s[o]
                );
            }
        }
    }
}

#[test]
fn a_tiny_mirrorgan_run_weighs_its_captioner_and_resumes_bit_for_bit() {
    use wgpu_attngan::nn::checkpoint::Checkpoint;
    use wgpu_attngan::train::attngan::{train_attngan, AttnGanTrainOptions, Mirror};
    use wgpu_attngan::train::damsm::{train_damsm, DamsmTrainOptions};
    use wgpu_attngan::train::stream::{train_stream, StreamTrainOptions};
    let rt = rt();
    let base = std::env::temp_dir().join(format!("engine-mirrorgan-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let small = |out: &str, steps: u64| RunOptions {
        out: base.join(out),
        steps,
        batch: 4,
        scenes: 16,
        quiet: true,
        ..RunOptions::default()
    };
    let damsm = train_damsm(
        &rt,
        &DamsmTrainOptions {
            run: RunOptions {
                lr: 0.002,
                ..small("damsm", 1)
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
    let stream = |out: &str, image_size: usize| {
        train_stream(
            &rt,
            &StreamTrainOptions {
                run: RunOptions {
                    lr: 0.001,
                    ..small(out, 1)
                },
                image_size,
                base_channels: 2,
            },
        )
        .unwrap()
        .checkpoint
    };
    let (reader64, reader32) = (stream("stream64", 64), stream("stream32", 32));
    let opts = |out: &str, steps: u64, resume: bool, stream: &std::path::Path, lambda: f32| {
        AttnGanTrainOptions {
            run: RunOptions {
                resume,
                checkpoint_every: 1,
                batch: 2,
                ..small(out, steps)
            },
            damsm: damsm.checkpoint.clone(),
            stages: 2,
            base_size: 32,
            lambda: 0.0,
            ngf: 4,
            ndf: 4,
            mirror: Some(Mirror {
                stream: stream.to_path_buf(),
                lambda,
            }),
            hard_negatives: false,
            label_guide: 0.0,
            label_damsm: None,
            pixel_loss: 0.0,
        }
    };
    let straight = train_attngan(&rt, &opts("straight", 2, false, &reader64, 10.0)).unwrap();
    train_attngan(&rt, &opts("split", 1, false, &reader64, 10.0)).unwrap();
    let resumed = train_attngan(&rt, &opts("split", 2, true, &reader64, 10.0)).unwrap();
    let a = Checkpoint::load(&straight.checkpoint).unwrap();
    common::same::assert_same_run(
        &a,
        &Checkpoint::load(&resumed.checkpoint).unwrap(),
        &["losses", "step", "engine.model", "engine.variant"],
    );
    assert_eq!(a.metadata["engine.variant"], "mirrorgan");
    // The captioner's term: the first step's G loss grows linearly with
    // its weight (same weights, noise and batch; D's step is the same).
    let g_at = |lambda: f32, out: &str| {
        train_attngan(&rt, &opts(out, 1, false, &reader64, lambda))
            .unwrap()
            .losses[0]
            .1 as f64
    };
    let (g0, g5, g10) = (g_at(0.0, "w0"), g_at(5.0, "w5"), g_at(10.0, "w10"));
    let (d5, d10) = (g5 - g0, g10 - g0);
    assert!(
        d5 > 0.0,
        "the captioner's cross-entropy adds to G's loss: {g0} {g5}"
    );
    assert!(
        (d10 - 2.0 * d5).abs() < 1e-3 * d10.abs(),
        "weight 10 adds twice what 5 does: {d5} {d10}"
    );
    // Sampled like AttnGAN, GLAM included.
    let s = wgpu_attngan::train::attngan::Sampler::load(&rt, &straight.checkpoint, true).unwrap();
    assert!(s.gan.config.glam);
    let img = s
        .draw(&rt, &["a small red circle on a white background".into()], 1)
        .unwrap();
    assert_eq!(img[0].dimensions(), (64, 64));
    // A captioner of other images is refused, saying what to do.
    let e = train_attngan(&rt, &opts("bad", 1, false, &reader32, 10.0))
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("--image-size 64"), "{e}");
    let _ = std::fs::remove_dir_all(&base);
}
