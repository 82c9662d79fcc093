//! `engine bench-kernels`: how fast each kernel family runs on this device,
//! at the shapes AttnGAN really runs (batch 20 on CUB) or a `--quick` set
//! small enough for a software GPU, against the device's own two ceilings:
//! memory bandwidth (a large vec4 copy) and arithmetic rate (independent FMA chains).
//!
//! With `--profile` it instead profiles one DAMSM and one AttnGAN training
//! step (the model lines' steps): GPU time per kernel from timestamps, and
//! the rest of the step's wall clock split into host work, submits, uploads,
//! pool misses and waits.

use std::io::Write;

use wgpu_attngan::ops::{self, adam, attention, batch_norm, conv, fill, matmul};
use wgpu_attngan::runtime::Profile;
use wgpu_attngan::{Result, Runtime, Tensor};

#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// Small shapes that finish in minutes on a software GPU (lavapipe).
    #[arg(long)]
    quick: bool,
    /// Run only the kernels whose name or shape contains this text (e.g.
    /// `conv`, `word loss`).
    /// With --profile: `damsm`, `attngan` or `model` pick the steps to profile;
    /// any other text profiles both and lists only the kernels whose name
    /// contains it (shares stay of the whole step; the JSON keeps all kernels).
    #[arg(long)]
    filter: Option<String>,
    /// Also write the results as JSON to this file.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
    /// Timed repetitions per kernel (after warm-up); at least 1.
    #[arg(long)]
    reps: Option<usize>,
    /// Profile one DAMSM and one AttnGAN training step (after a warm-up step)
    /// instead of timing kernels: GPU time per kernel and where the rest goes.
    #[arg(long)]
    profile: bool,
}

/// How the model steps are measured.
enum Mode<'a> {
    /// Median of this many wall-clock timings.
    Time(usize),
    /// One profiled step each; only the kernel rows containing the text are listed.
    Profile(Option<&'a str>),
}

/// Which model steps to run.
#[derive(Clone, Copy)]
struct Models {
    damsm: bool,
    attngan: bool,
}

/// What one run of a case does, for the rate column.
#[derive(Clone, Copy)]
enum Work {
    Flops(f64),
    Bytes(f64),
}

type Runner = Box<dyn FnMut() -> Result<()>>;
/// Builds a case's inputs on the device and returns the timed closure.
type Setup = Box<dyn FnOnce(&Runtime) -> Result<Runner>>;

struct Case {
    name: String,
    shape: String,
    work: Work,
    setup: Setup,
}

fn det(rt: &Runtime, shape: &[usize]) -> Result<Tensor> {
    let n: usize = shape.iter().product();
    let data: Vec<f32> = (0..n)
        .map(|i| ((i.wrapping_mul(7919)) % 1000) as f32 / 1000.0 - 0.5)
        .collect();
    Tensor::from_slice(rt, &data, shape)
}

fn matmul_name(ta: bool, tb: bool) -> String {
    if ta || tb {
        format!("matmul (ta={ta}, tb={tb})")
    } else {
        "matmul".into()
    }
}

fn matmul_case(m: usize, n: usize, k: usize, ta: bool, tb: bool, what: &str) -> Case {
    Case {
        name: matmul_name(ta, tb),
        shape: format!("{m}x{n}x{k} {what}"),
        work: Work::Flops(2.0 * (m * n * k) as f64),
        setup: Box::new(move |rt| {
            let a = det(rt, &if ta { [k, m] } else { [m, k] })?;
            let b = det(rt, &if tb { [n, k] } else { [k, n] })?;
            Ok(Box::new(move || matmul::matmul(&a, &b, ta, tb).map(|_| ())))
        }),
    }
}

/// A batched matmul of the DAMSM word loss (src/models/damsm.rs,
/// word_scores) at the bench's DAMSM step (batch 16, 64 regions, 256
/// dimensions, 18 words): A `a` and B `b` ([batch, rows, cols] or a
/// broadcast [rows, cols]), and with `fold` the products summed down to
/// that many batches (matmul_sum, the backward of a repeated operand).
fn word_loss_case(
    a: [usize; 3],
    b: [usize; 3],
    ta: bool,
    tb: bool,
    fold: Option<usize>,
    what: &str,
) -> Case {
    let batch = a[0].max(b[0]);
    let (m, k) = if ta { (a[2], a[1]) } else { (a[1], a[2]) };
    let n = if tb { b[1] } else { b[2] };
    let summed = fold.map_or(String::new(), |f| format!(", summed to {f}"));
    Case {
        name: matmul_name(ta, tb),
        shape: format!("[{batch}] {m}x{n}x{k} (word loss: {what}{summed})"),
        work: Work::Flops(2.0 * (batch * m * n * k) as f64),
        setup: Box::new(move |rt| {
            let shape = |s: [usize; 3]| {
                if s[0] == 1 {
                    s[1..].to_vec()
                } else {
                    s.to_vec()
                }
            };
            let a = det(rt, &shape(a))?;
            let b = det(rt, &shape(b))?;
            let batches = fold.unwrap_or(batch);
            Ok(Box::new(move || {
                matmul::matmul_sum(&a, &b, ta, tb, batches).map(|_| ())
            }))
        }),
    }
}

#[derive(Clone, Copy)]
enum ConvJob {
    Forward,
    BackwardData,
    BackwardWeight,
}

#[allow(clippy::too_many_arguments)]
fn conv_case(
    job: ConvJob,
    n: usize,
    c: usize,
    h: usize,
    o: usize,
    k: usize,
    s: usize,
    p: usize,
    what: &str,
) -> Case {
    let oh = conv::conv_out(h, k, s, p).unwrap_or(1);
    let flops = 2.0 * (n * o * oh * oh * c * k * k) as f64;
    let name = match job {
        ConvJob::Forward => "conv2d forward",
        ConvJob::BackwardData => "conv2d backward-data",
        ConvJob::BackwardWeight => "conv2d backward-weight",
    };
    Case {
        name: name.into(),
        shape: format!("[{n},{c},{h},{h}] {k}x{k}/{s} -> {o} {what}"),
        work: Work::Flops(flops),
        setup: Box::new(move |rt| {
            let x = det(rt, &[n, c, h, h])?;
            let w = det(rt, &[o, c, k, k])?;
            let dy = det(rt, &[n, o, oh, oh])?;
            Ok(match job {
                ConvJob::Forward => Box::new(move || conv::conv2d(&x, &w, None, s, p).map(|_| ())),
                ConvJob::BackwardData => {
                    Box::new(move || conv::conv2d_backward_data(&dy, &w, [h, h], s, p).map(|_| ()))
                }
                ConvJob::BackwardWeight => Box::new(move || {
                    conv::conv2d_backward_weight(&x, &dy, [k, k], s, p).map(|_| ())
                }),
            })
        }),
    }
}

fn transpose_case(job: ConvJob, n: usize, c: usize, h: usize, o: usize, what: &str) -> Case {
    let (k, s, p) = (4, 2, 1);
    let oh = conv::conv_transpose_out(h, k, s, p).unwrap_or(1);
    let name = match job {
        ConvJob::Forward => "conv_transpose2d forward",
        ConvJob::BackwardData => "conv_transpose2d backward-data",
        ConvJob::BackwardWeight => "conv_transpose2d backward-weight",
    };
    Case {
        name: name.into(),
        shape: format!("[{n},{c},{h},{h}] 4x4/2 -> [{n},{o},{oh},{oh}] {what}"),
        work: Work::Flops(2.0 * (n * c * h * h * o * k * k) as f64),
        setup: Box::new(move |rt| {
            let x = det(rt, &[n, c, h, h])?;
            let w = det(rt, &[c, o, k, k])?;
            let dy = det(rt, &[n, o, oh, oh])?;
            Ok(match job {
                ConvJob::Forward => {
                    Box::new(move || conv::conv_transpose2d(&x, &w, None, s, p).map(|_| ()))
                }
                ConvJob::BackwardData => Box::new(move || {
                    conv::conv_transpose2d_backward_data(&dy, &w, [h, h], s, p).map(|_| ())
                }),
                ConvJob::BackwardWeight => Box::new(move || {
                    conv::conv_transpose2d_backward_weight(&x, &dy, [k, k], s, p).map(|_| ())
                }),
            })
        }),
    }
}

fn elementwise_case(shape: Vec<usize>, what: &str) -> Case {
    let n: usize = shape.iter().product();
    Case {
        name: "elementwise add".into(),
        shape: format!("{shape:?} {what}"),
        work: Work::Bytes(12.0 * n as f64),
        setup: Box::new(move |rt| {
            let a = det(rt, &shape)?;
            let b = det(rt, &shape)?;
            Ok(Box::new(move || a.add(&b).map(|_| ())))
        }),
    }
}

fn adam_case(n: usize, what: &str) -> Case {
    Case {
        name: "adam".into(),
        shape: format!("{n} parameters {what}"),
        // Reads param, grad, m, v; writes param, m, v.
        work: Work::Bytes(28.0 * n as f64),
        setup: Box::new(move |rt| {
            let (p, g, m, v) = (
                det(rt, &[n])?,
                det(rt, &[n])?,
                fill::zeros(rt, &[n])?,
                fill::zeros(rt, &[n])?,
            );
            let sumsq = fill::zeros(rt, &[1])?;
            let mut t = 0;
            Ok(Box::new(move || {
                t += 1;
                let h = adam::AdamStep {
                    lr: 2e-4,
                    beta1: 0.5,
                    beta2: 0.999,
                    eps: 1e-8,
                    weight_decay: 0.0,
                    t,
                    max_norm: 0.0,
                };
                adam::adam_step(&p, &g, &m, &v, &sumsq, h)
            }))
        }),
    }
}

fn batch_norm_case(backward: bool, shape: [usize; 4], what: &str) -> Case {
    let n: usize = shape.iter().product();
    Case {
        name: if backward {
            "batch norm backward"
        } else {
            "batch norm forward (train)"
        }
        .into(),
        shape: format!("{shape:?} {what}"),
        // Forward reads x twice (statistics, normalise) and writes y; backward reads dy, x twice and writes dx.
        work: Work::Bytes(if backward { 20.0 } else { 12.0 } * n as f64),
        setup: Box::new(move |rt| {
            let c = shape[1];
            let x = det(rt, &shape)?;
            let (gamma, beta) = (fill::full(rt, &[c], 1.0)?, fill::zeros(rt, &[c])?);
            let (rm, rv) = (fill::zeros(rt, &[c])?, fill::full(rt, &[c], 1.0)?);
            if backward {
                let (_, saved) = batch_norm::batch_norm_train(&x, &gamma, &beta, None, 0.1, 1e-5)?;
                let dy = det(rt, &shape)?;
                Ok(Box::new(move || {
                    batch_norm::batch_norm_backward(&dy, &x, &gamma, &saved).map(|_| ())
                }))
            } else {
                Ok(Box::new(move || {
                    batch_norm::batch_norm_train(&x, &gamma, &beta, Some((&rm, &rv)), 0.1, 1e-5)
                        .map(|_| ())
                }))
            }
        }),
    }
}

fn attention_case(backward: bool, b: usize, c: usize, p: usize, t: usize, what: &str) -> Case {
    // Scores and context: 2 * (2 B C P T); the backward does about twice that.
    let flops = 4.0 * (b * c * p * t) as f64 * if backward { 2.0 } else { 1.0 };
    Case {
        name: if backward {
            "word attention backward"
        } else {
            "word attention forward"
        }
        .into(),
        shape: format!("q [{b},{c},{p}] words [{b},{c},{t}] {what}"),
        work: Work::Flops(flops),
        setup: Box::new(move |rt| {
            let q = det(rt, &[b, c, p])?;
            let w = det(rt, &[b, c, t])?;
            if backward {
                let a = attention::attention(&q, &w, None)?;
                let dctx = det(rt, &[b, c, p])?;
                Ok(Box::new(move || {
                    attention::attention_backward(&q, &w, &a.attn, &dctx, None).map(|_| ())
                }))
            } else {
                Ok(Box::new(move || {
                    attention::attention(&q, &w, None).map(|_| ())
                }))
            }
        }),
    }
}

fn cases(quick: bool) -> Vec<Case> {
    use ConvJob::*;
    let mut v = Vec::new();
    if quick {
        // The shapes of docs/peers.md (batch 8), to compare with other runtimes.
        v.push(matmul_case(1024, 1024, 1024, false, false, "(peers)"));
        v.push(matmul_case(512, 512, 512, true, false, ""));
        v.push(matmul_case(
            8192,
            200,
            4,
            true,
            false,
            "(G fc weight gradient, K = batch)",
        ));
        // The short-K kernel to its edge (ops::matmul::SMALL_K = 16), and
        // past it on the GEMM core (batch 20, the birds preset's).
        v.push(matmul_case(8192, 200, 8, true, false, "(K = batch 8)"));
        v.push(matmul_case(8192, 200, 16, true, false, "(K = batch 16)"));
        v.push(matmul_case(8192, 200, 20, true, false, "(K = batch 20)"));
        // The DAMSM word loss: (batch 16) x (64 regions) against 18 words of 256.
        let (b, r, d, t) = (16, 64, 256, 18);
        v.push(word_loss_case(
            [1, b * r, d],
            [b, d, t],
            false,
            false,
            None,
            "scores",
        ));
        v.push(word_loss_case(
            [b, b * r, t],
            [b, d, t],
            false,
            true,
            Some(1),
            "dregions",
        ));
        v.push(word_loss_case(
            [1, b * r, d],
            [b, b * r, t],
            true,
            false,
            None,
            "dwords",
        ));
        v.push(word_loss_case(
            [b * b, r, t],
            [b, r, d],
            true,
            false,
            None,
            "context",
        ));
        v.push(word_loss_case(
            [b, r, d],
            [b * b, t, d],
            false,
            true,
            None,
            "dattn",
        ));
        v.push(word_loss_case(
            [b * b, r, t],
            [b * b, t, d],
            false,
            false,
            Some(b),
            "dregions",
        ));
        for job in [Forward, BackwardData, BackwardWeight] {
            v.push(conv_case(job, 8, 64, 32, 64, 3, 1, 1, "(peers)"));
        }
        v.push(conv_case(
            Forward,
            8,
            3,
            64,
            64,
            4,
            2,
            1,
            "(D's first layer)",
        ));
        // The quick AttnGAN step's widest convolution (stage 2's upsampling
        // block at 128x128, 32 channels): a few channels, many pixels.
        for job in [Forward, BackwardData, BackwardWeight] {
            v.push(conv_case(job, 4, 32, 128, 32, 3, 1, 1, "(AttnGAN quick)"));
        }
        for job in [Forward, BackwardData, BackwardWeight] {
            v.push(transpose_case(job, 8, 128, 16, 64, "(peers)"));
        }
        v.push(batch_norm_case(false, [8, 64, 64, 64], "(peers)"));
        v.push(batch_norm_case(true, [8, 64, 64, 64], ""));
        v.push(attention_case(false, 8, 32, 4096, 18, "(peers)"));
        v.push(attention_case(true, 8, 32, 4096, 18, ""));
        // The world preset's stage 2: ngf 16 channels at 64x64, captions
        // padded to the world's 42 words.
        v.push(attention_case(false, 8, 16, 4096, 42, "(world preset)"));
        v.push(attention_case(true, 8, 16, 4096, 42, "(world preset)"));
        v.push(elementwise_case(vec![8, 64, 64, 64], ""));
        v.push(adam_case(1 << 20, ""));
    } else {
        // AttnGAN on CUB at batch 20 (docs/attngan-reference.md).
        v.push(matmul_case(1024, 1024, 1024, false, false, ""));
        v.push(matmul_case(20, 16384, 200, false, true, "(G stage-1 fc)"));
        for job in [Forward, BackwardData, BackwardWeight] {
            v.push(conv_case(
                job,
                20,
                512,
                8,
                512,
                3,
                1,
                1,
                "(G stage-1 upsample)",
            ));
            v.push(conv_case(
                job,
                20,
                64,
                64,
                128,
                3,
                1,
                1,
                "(G stage-2 residual)",
            ));
            v.push(conv_case(
                job,
                20,
                64,
                128,
                64,
                3,
                1,
                1,
                "(G stage-3 upsample)",
            ));
            v.push(conv_case(job, 20, 3, 64, 64, 4, 2, 1, "(D64 first layer)"));
            v.push(conv_case(
                job,
                20,
                128,
                16,
                256,
                4,
                2,
                1,
                "(D64 third layer)",
            ));
        }
        for job in [Forward, BackwardData, BackwardWeight] {
            v.push(transpose_case(job, 20, 128, 16, 64, "(DCGAN upsampler)"));
        }
        v.push(batch_norm_case(false, [20, 64, 128, 128], "(G stage 3)"));
        v.push(batch_norm_case(true, [20, 64, 128, 128], "(G stage 3)"));
        v.push(attention_case(false, 20, 32, 4096, 18, "(G stage 2)"));
        v.push(attention_case(true, 20, 32, 4096, 18, "(G stage 2)"));
        v.push(attention_case(false, 20, 32, 16384, 18, "(G stage 3)"));
        v.push(attention_case(true, 20, 32, 16384, 18, "(G stage 3)"));
        v.push(elementwise_case(vec![20, 64, 128, 128], ""));
        v.push(adam_case(8 << 20, "(G)"));
    }
    v
}

/// One full DAMSM training step (both encoders forward and backward, both
/// Adam steps) on random data: steps/s, images/s and peak memory.
fn model_lines(
    rt: &Runtime,
    quick: bool,
    mode: &Mode,
    which: Models,
) -> Result<Vec<serde_json::Value>> {
    use wgpu_attngan::models::damsm::{Damsm, DamsmConfig};
    use wgpu_attngan::nn::optim::Adam;
    let (batch, size) = if quick { (16, 64) } else { (48, 64) };
    let model = Damsm::new(rt, DamsmConfig::new(1000), 0)?;
    let mut ta = Adam::new(&model.text_params, 2e-3, (0.5, 0.999))?;
    ta.max_grad_norm = 0.25;
    let mut ia = Adam::new(&model.image_params, 2e-3, (0.5, 0.999))?;
    let images = det(rt, &[batch, 3, size, size])?;
    let ids: Vec<f32> = (0..batch * 18).map(|i| (i % 997 + 2) as f32).collect();
    let ids = Tensor::from_slice(rt, &ids, &[batch, 18])?;
    let lengths: Vec<usize> = (0..batch).map(|i| 8 + i % 11).collect();
    let classes: Vec<u32> = (1..=batch as u32).collect();
    let mut step = || -> Result<()> {
        model.text_params.zero_grad()?;
        model.image_params.zero_grad()?;
        model
            .losses(&images, &ids, &lengths, None, &classes, 1)?
            .0
            .total()?
            .backward()?;
        ta.step(&model.text_params)?;
        ia.step(&model.image_params)
    };
    let mut rows = Vec::new();
    let title = format!("DAMSM step, batch {batch} at {size}x{size}");
    if which.damsm {
        step()?;
        rt.sync()?;
    }
    let reps = match *mode {
        Mode::Time(reps) => reps,
        Mode::Profile(kernels) => {
            if which.damsm {
                rows.push(profile_step(rt, &title, "damsm", kernels, &mut step)?);
            }
            if which.attngan {
                rows.push(attngan_line(rt, quick, mode, &model)?);
            }
            return Ok(rows);
        }
    };
    rt.reset_peak_memory();
    let reps = reps.min(5);
    let (med, lo, hi) = median(rt, 0, reps, &mut step)?;
    let peak = rt.memory().peak_in_use as f64 / (1 << 20) as f64;
    println!(
        "\nmodel step: DAMSM (text + image encoders, word and sentence losses, Adam), batch {batch} at {size}x{size}: \
         {med:.0} ms [{lo:.0}..{hi:.0}] = {:.2} steps/s, {:.1} images/s, peak memory {peak:.0} MiB",
        1e3 / med,
        batch as f64 * 1e3 / med
    );
    let damsm_row = serde_json::json!({
        "model": "damsm", "batch": batch, "image_size": size, "median_ms": med, "min_ms": lo, "max_ms": hi,
        "steps_per_s": 1e3 / med, "images_per_s": batch as f64 * 1e3 / med, "peak_memory_mib": peak,
    });
    let gan_row = attngan_line(rt, quick, &Mode::Time(reps), &model)?;
    Ok(vec![damsm_row, gan_row])
}

/// One full AttnGAN training step (G forward, every D forward and backward
/// with its Adam, G backward through the discriminators and the frozen
/// DAMSM, G's Adam and moving average).
fn attngan_line(
    rt: &Runtime,
    quick: bool,
    mode: &Mode,
    damsm: &wgpu_attngan::models::damsm::Damsm,
) -> Result<serde_json::Value> {
    use wgpu_attngan::autograd::Var;
    use wgpu_attngan::models::attngan::{AttnGan, AttnGanConfig};
    use wgpu_attngan::train::attngan::{gan_step, GanNets, StepInput, TextModel};
    let (batch, mut config) = if quick {
        (4, AttnGanConfig::world())
    } else {
        (20, AttnGanConfig::birds())
    };
    // Captions as long as the DAMSM's (AttnGAN's 18), as training takes the
    // limit from its data: the world config alone would ask for 42.
    config.max_words = damsm.config.max_words;
    let words = config.max_words;
    let text = TextModel::from_damsm(rt, damsm)?;
    damsm.image_params.set_trainable(false);
    let mut nets = GanNets::new(AttnGan::new(rt, config.clone(), 0)?, 2e-4)?;
    let reals: Vec<Var> = (0..config.stages)
        .map(|s| {
            det(rt, &[batch, 3, config.image_size(s), config.image_size(s)]).map(Var::constant)
        })
        .collect::<Result<_>>()?;
    let ids: Vec<f32> = (0..batch * words).map(|i| (i % 997 + 2) as f32).collect();
    let ids = Tensor::from_slice(rt, &ids, &[batch, words])?;
    let lengths: Vec<usize> = (0..batch).map(|i| (8 + i % 11).min(words)).collect();
    let classes: Vec<u32> = (1..=batch as u32).collect();
    let input = StepInput {
        reals: &reals,
        ids: &ids,
        tokens: &[],
        lengths: &lengths,
        class_ids: &classes,
        contrast: None,
        labels: None,
        pixel_loss: 0.0,
    };
    let mut step = || gan_step(&mut nets, damsm, &text, &input, 5.0, None, 1).map(|_| ());
    step()?;
    rt.sync()?;
    let side = config.image_size(config.stages - 1);
    let reps = match *mode {
        Mode::Time(reps) => reps,
        Mode::Profile(kernels) => {
            let title = format!(
                "AttnGAN step, {} stages to {side}x{side}, batch {batch}",
                config.stages
            );
            return profile_step(rt, &title, "attngan", kernels, &mut step);
        }
    };
    rt.reset_peak_memory();
    let (med, lo, hi) = median(rt, 0, reps.min(3), &mut step)?;
    let peak = rt.memory().peak_in_use as f64 / (1 << 20) as f64;
    println!(
        "model step: AttnGAN ({} stages to {side}x{side}, ngf {}, ndf {}; G, Ds, frozen DAMSM loss, Adam, EMA), batch {batch}: \
         {med:.0} ms [{lo:.0}..{hi:.0}] = {:.2} steps/s, {:.1} images/s, peak memory {peak:.0} MiB",
        config.stages,
        config.ngf,
        config.ndf,
        1e3 / med,
        batch as f64 * 1e3 / med
    );
    Ok(serde_json::json!({
        "model": "attngan", "batch": batch, "stages": config.stages, "image_size": side, "median_ms": med, "min_ms": lo, "max_ms": hi,
        "steps_per_s": 1e3 / med, "images_per_s": batch as f64 * 1e3 / med, "peak_memory_mib": peak,
    }))
}

/// Times one plain step (wall clock, for the profiler's overhead), then
/// profiles one; prints the profile and returns it as JSON.
fn profile_step(
    rt: &Runtime,
    title: &str,
    model: &str,
    kernels: Option<&str>,
    step: &mut dyn FnMut() -> Result<()>,
) -> Result<serde_json::Value> {
    let start = std::time::Instant::now();
    step()?;
    rt.sync()?;
    let plain_ms = start.elapsed().as_secs_f64() * 1e3;
    let ((), p) = rt.profile(&mut *step)?;
    print_profile(title, &p, plain_ms, kernels);
    let _ = std::io::stdout().flush();
    Ok(profile_json(model, &p, plain_ms))
}

fn share(ms: f64, p: &Profile) -> f64 {
    if p.wall_ms > 0.0 {
        ms / p.wall_ms * 100.0
    } else {
        0.0
    }
}

fn bytes_text(b: u64) -> String {
    match b {
        0 => String::new(),
        b if b < 1 << 20 => format!("{:.1} KiB", b as f64 / 1024.0),
        b => format!("{:.1} MiB", b as f64 / (1 << 20) as f64),
    }
}

/// The profile as two tables: the GPU's kernels (and the gap outside them),
/// then the host's side of the same wall-clock time.
fn print_profile(title: &str, p: &Profile, plain_ms: f64, kernels: Option<&str>) {
    let submits = p.submit.count;
    println!(
        "\nprofile: {title}: {:.1} ms profiled ({plain_ms:.1} ms plain), {} dispatches in {submits} submits",
        p.wall_ms, p.dispatches
    );
    println!(
        "  {:<44} {:>10} {:>11} {:>7}",
        "kernel (GPU time from timestamps)", "dispatches", "GPU ms", "share"
    );
    let (mut hidden, mut hidden_n, mut hidden_ms) = (0, 0, 0.0);
    for k in &p.per_kernel {
        if kernels.is_some_and(|f| !k.name.contains(f)) {
            hidden += 1;
            hidden_n += k.dispatches;
            hidden_ms += k.gpu_ms;
            continue;
        }
        println!(
            "  {:<44} {:>10} {:>11.2} {:>6.1}%",
            k.name,
            k.dispatches,
            k.gpu_ms,
            share(k.gpu_ms, p)
        );
    }
    if hidden > 0 {
        println!(
            "  {:<44} {:>10} {:>11.2} {:>6.1}%",
            format!("({hidden} other kernels)"),
            hidden_n,
            hidden_ms,
            share(hidden_ms, p)
        );
    }
    println!(
        "  {:<44} {:>10} {:>11.2} {:>6.1}%",
        "all kernels",
        p.dispatches,
        p.gpu_ms,
        share(p.gpu_ms, p)
    );
    if !p.gpu_timestamps {
        println!("  (no timestamp queries on this device: GPU times are not measured)");
        return;
    }
    let outside = p.outside_kernels_ms();
    let between = (p.gpu_busy_ms - p.gpu_ms).max(0.0);
    let idle = (p.wall_ms - p.gpu_busy_ms.max(p.gpu_ms)).max(0.0);
    println!(
        "  {:<44} {:>10} {:>11.2} {:>6.1}%",
        "outside kernels (wall - kernels)",
        "",
        outside,
        share(outside, p)
    );
    println!(
        "  {:<44} {:>10} {:>11.2} {:>6.1}%",
        "  GPU between kernels of one submission",
        "",
        between,
        share(between, p)
    );
    println!(
        "  {:<44} {:>10} {:>11.2} {:>6.1}%",
        "  GPU idle between submissions",
        "",
        idle,
        share(idle, p)
    );
    println!(
        "  {:<44} {:>10} {:>11} {:>7} {:>10}",
        "host side of the same wall time", "calls", "host ms", "share", "bytes"
    );
    for (what, h) in p.host() {
        println!(
            "  {:<44} {:>10} {:>11.2} {:>6.1}% {:>10}",
            format!("  {what}"),
            h.count,
            h.ms,
            share(h.ms, p),
            bytes_text(h.bytes)
        );
    }
    let other = p.host_other_ms();
    println!(
        "  {:<44} {:>10} {:>11.2} {:>6.1}%",
        "  other host work (autograd, model code)",
        "",
        other,
        share(other, p)
    );
    println!(
        "  pool: {} requests served from the cache, {} new buffers",
        p.pool_reuses, p.pool_alloc.count
    );
    if p.submit.ms > 0.25 * p.wall_ms {
        println!(
            "  (submits block for {:.0} ms: this driver runs the work inside queue.submit, \
             so the host does not run ahead of the GPU)",
            p.submit.ms
        );
    }
}

fn profile_json(model: &str, p: &Profile, plain_ms: f64) -> serde_json::Value {
    let kernels: Vec<serde_json::Value> = p
        .per_kernel
        .iter()
        .map(|k| {
            serde_json::json!({
                "kernel": k.name, "dispatches": k.dispatches, "gpu_ms": k.gpu_ms,
                "share": share(k.gpu_ms, p) / 100.0,
            })
        })
        .collect();
    let mut host = serde_json::Map::new();
    for (key, h) in [
        ("recording", p.record),
        ("submits", p.submit),
        ("uploads", p.upload),
        ("parameter_uploads", p.params),
        ("pool_misses", p.pool_alloc),
        ("readbacks", p.readback),
        ("waits", p.wait),
    ] {
        host.insert(
            key.into(),
            serde_json::json!({ "ms": h.ms, "count": h.count, "bytes": h.bytes, "share": share(h.ms, p) / 100.0 }),
        );
    }
    let other = p.host_other_ms();
    host.insert(
        "other".into(),
        serde_json::json!({ "ms": other, "share": share(other, p) / 100.0 }),
    );
    serde_json::json!({
        "model": model, "wall_ms": p.wall_ms, "plain_wall_ms": plain_ms,
        "gpu_timestamps": p.gpu_timestamps, "gpu_ms": p.gpu_ms, "gpu_busy_ms": p.gpu_busy_ms,
        "outside_kernels_ms": p.outside_kernels_ms(),
        "dispatches": p.dispatches, "submits": p.submit.count, "pool_reuses": p.pool_reuses,
        "kernels": kernels, "host": host,
    })
}

/// The device's ceilings: (GB/s of a large copy, GFLOP/s of FMA chains,
/// GFLOP/s of v1's FMA probe, which earlier shares were of), each from the
/// fastest of its runs: a ceiling is the best the device did, and a median
/// let one disturbed start of a run (another process on a shared CPU) lower
/// it and so inflate every share of that run.
fn ceilings(rt: &Runtime, quick: bool, reps: usize) -> Result<(f64, f64, f64)> {
    // f32 elements per buffer (a multiple of 64): quick, those of the quick
    // memory-bound cases ([8, 64, 64, 64]), so that the copy meets the same
    // caches; else past any cache.
    let n: usize = if quick { 2 << 20 } else { 32 << 20 };
    let src = det(rt, &[n])?;
    let dst = Tensor::uninit(rt, &[n])?;
    let copy = ops::probe_spec(true, 0);
    let vecs = (n / 4) as u32;
    // The fastest of 1 to 16 vec4s per invocation: llvmpipe pays per
    // invocation, and one vec4 each reached 3.7 GB/s where 4 reached 10.8
    // (2-core Zen 4 EPYC, Mesa 25.0.7; real GPUs want 1).
    let mut best = f64::INFINITY;
    for per in [1u32, 2, 4, 8, 16] {
        let groups = rt.fold_grid((vecs / per).div_ceil(256));
        let t = median(rt, 1, reps, &mut || {
            rt.dispatch(&copy, &[vecs, per], &[src.buffer(), dst.buffer()], groups)
        })?;
        best = best.min(t.1);
    }
    let bandwidth = 8.0 * n as f64 / (best * 1e-3) / 1e9;
    let threads: u32 = if quick { 1 << 14 } else { 1 << 20 };
    // A multiple of 2 x 8, the most k one iteration of a probe takes.
    let iters: u32 = if quick { 2048 } else { 4096 };
    let groups = rt.fold_grid(threads.div_ceil(256));
    let flops = threads as f64 * iters as f64 * 16.0;
    // GFLOP/s of one probe, from its fastest run.
    let rate = |steps: u32| -> Result<f64> {
        let spec = ops::probe_spec(false, steps);
        let t = median(rt, 1, reps, &mut || {
            rt.dispatch(
                &spec,
                &[threads, iters],
                &[src.buffer(), dst.buffer()],
                groups,
            )
        })?;
        Ok(flops / (t.1 * 1e-3) / 1e9)
    };
    // v1's probe paid llvmpipe's loop bookkeeping for every 8 FMAs and
    // measured a third of the FMA units' rate (shaders/bench.wgsl).
    let v1 = rate(0)?;
    let mut best: f64 = 0.0;
    for steps in ops::PROBE_STEPS {
        best = best.max(rate(steps)?);
    }
    Ok((bandwidth, best, v1))
}

/// (median, min, max) in ms of `reps` device timings after `warmup` runs.
fn median(
    rt: &Runtime,
    warmup: usize,
    reps: usize,
    f: &mut dyn FnMut() -> Result<()>,
) -> Result<(f64, f64, f64)> {
    if reps == 0 {
        return Err(wgpu_attngan::Error::invalid(
            "bench-kernels",
            "no timed repetitions (--reps must be at least 1)",
        ));
    }
    for _ in 0..warmup {
        rt.time(&mut *f)?;
    }
    let mut t: Vec<f64> = (0..reps).map(|_| rt.time(&mut *f)).collect::<Result<_>>()?;
    t.sort_by(f64::total_cmp);
    Ok((t[t.len() / 2], t[0], t[t.len() - 1]))
}

pub fn run(args: &BenchArgs) -> Result<()> {
    let reps = args.reps.unwrap_or(if args.quick { 5 } else { 10 });
    if reps == 0 {
        return Err(wgpu_attngan::Error::invalid(
            "bench-kernels",
            "--reps 0: at least one timed repetition is needed",
        ));
    }
    let rt = Runtime::new()?;
    let info = rt.adapter_info().clone();
    println!(
        "engine {} bench-kernels{}{}",
        env!("CARGO_PKG_VERSION"),
        if args.quick { " --quick" } else { "" },
        if args.profile { " --profile" } else { "" }
    );
    println!(
        "device: {} ({:?}, {:?})",
        info.name, info.backend, info.device_type
    );
    println!("driver: {} {}", info.driver, info.driver_info);
    let timestamps = rt.has_gpu_timestamps();
    if args.profile {
        println!(
            "profile: one training step after a warm-up step, kernels: {:?}; {}",
            rt.flavour(),
            if rt.features().contains(wgpu::Features::TIMESTAMP_QUERY) {
                "GPU timestamps at the start and end of every dispatch; shares are of the profiled step's wall time"
            } else {
                "no timestamp queries on this device: dispatch counts and host times only"
            }
        );
    } else {
        println!(
            "timing: {}, median of {reps} runs after warm-up (min..max in brackets); kernels: {:?}",
            if timestamps {
                "GPU timestamps"
            } else {
                "wall clock around a full wait"
            },
            rt.flavour()
        );
    }
    let (rows, model_rows, profiles, ceilings) = if args.profile {
        // A filter naming a model picks the steps; any other text picks kernel rows.
        let filter = args.filter.as_deref();
        let (which, kernels) = match filter {
            Some("damsm") => (
                Models {
                    damsm: true,
                    attngan: false,
                },
                None,
            ),
            Some("attngan") => (
                Models {
                    damsm: false,
                    attngan: true,
                },
                None,
            ),
            Some("model") | None => (
                Models {
                    damsm: true,
                    attngan: true,
                },
                None,
            ),
            Some(f) => (
                Models {
                    damsm: true,
                    attngan: true,
                },
                Some(f),
            ),
        };
        let profiles = model_lines(&rt, args.quick, &Mode::Profile(kernels), which)?;
        (Vec::new(), Vec::new(), profiles, None)
    } else {
        let (rows, c) = kernel_lines(&rt, args, reps)?;
        let ceilings = Some(c);
        write_json(
            args,
            &info,
            timestamps,
            reps,
            &rows,
            &[],
            Vec::new(),
            ceilings,
        )?;
        let model_rows = if args
            .filter
            .as_deref()
            .is_none_or(|f| "damsm".contains(f) || f == "model")
        {
            let both = Models {
                damsm: true,
                attngan: true,
            };
            model_lines(&rt, args.quick, &Mode::Time(reps), both)?
        } else {
            Vec::new()
        };
        (rows, model_rows, Vec::new(), Some(c))
    };
    write_json(
        args,
        &info,
        timestamps,
        reps,
        &rows,
        &model_rows,
        profiles,
        ceilings,
    )
}

/// The results as JSON (--json): written once the kernel lines are done and
/// again with the model lines, so a model step that fails or stalls keeps the
/// kernels' figures.
#[allow(clippy::too_many_arguments)]
fn write_json(
    args: &BenchArgs,
    info: &wgpu::AdapterInfo,
    timestamps: bool,
    reps: usize,
    rows: &[serde_json::Value],
    model_rows: &[serde_json::Value],
    profiles: Vec<serde_json::Value>,
    ceilings: Option<(f64, f64, f64)>,
) -> Result<()> {
    if let Some(path) = &args.json {
        let mut doc = serde_json::json!({
            "engine_version": env!("CARGO_PKG_VERSION"),
            "device": info.name, "backend": format!("{:?}", info.backend), "driver": format!("{} {}", info.driver, info.driver_info),
            "timing": if timestamps { "gpu_timestamps" } else { "wall_clock" },
            "quick": args.quick, "reps": reps,
            "ceilings": ceilings.map(|(bw, fl, v1)| serde_json::json!({ "memory_gb_s": bw, "arithmetic_gflop_s": fl, "arithmetic_v1_probe_gflop_s": v1 })),
            "kernels": rows,
            "models": model_rows,
        });
        if args.profile {
            doc["profile"] = serde_json::Value::Array(profiles);
        }
        std::fs::write(path, serde_json::to_string_pretty(&doc).unwrap()).map_err(|e| {
            wgpu_attngan::Error::invalid(
                "bench-kernels",
                format!("cannot write {}: {e}", path.display()),
            )
        })?;
        println!("\nwrote {}", path.display());
    }
    Ok(())
}

/// The device's ceilings and every kernel case (matching the filter): the JSON
/// rows, memory GB/s and GFLOP/s.
fn kernel_lines(
    rt: &Runtime,
    args: &BenchArgs,
    reps: usize,
) -> Result<(Vec<serde_json::Value>, (f64, f64, f64))> {
    let (bw, fl, v1) = ceilings(rt, args.quick, reps)?;
    println!(
        "ceilings (fastest run): memory {bw:.1} GB/s (vec4 copy), arithmetic {fl:.1} GFLOP/s (FMA chains; v1's probe: {v1:.1})\n"
    );
    println!(
        "{:<34} {:<48} {:>22} {:>14} {:>8}",
        "kernel", "shape", "ms", "rate", "of peak"
    );
    let mut rows = Vec::new();
    for case in cases(args.quick) {
        if let Some(f) = &args.filter {
            if !case.name.contains(f.as_str()) && !case.shape.contains(f.as_str()) {
                continue;
            }
        }
        let mut run = (case.setup)(rt)?;
        let (med, lo, hi) = median(rt, 1, reps, &mut *run)?;
        let (rate, unit, pct) = match case.work {
            Work::Flops(f) => (
                f / (med * 1e-3) / 1e9,
                "GFLOP/s",
                f / (med * 1e-3) / 1e9 / fl * 100.0,
            ),
            Work::Bytes(b) => (
                b / (med * 1e-3) / 1e9,
                "GB/s",
                b / (med * 1e-3) / 1e9 / bw * 100.0,
            ),
        };
        println!(
            "{:<34} {:<48} {:>22} {:>6.2} {:<7} {:>7.1}%",
            case.name,
            case.shape,
            format!("{med:.2} [{lo:.2}..{hi:.2}]"),
            rate,
            unit,
            pct
        );
        let _ = std::io::stdout().flush();
        rows.push(serde_json::json!({
            "kernel": case.name, "shape": case.shape, "median_ms": med, "min_ms": lo, "max_ms": hi,
            "rate": rate, "unit": unit, "percent_of_ceiling": pct,
        }));
        drop(run);
        rt.trim_memory();
    }
    Ok((rows, (bw, fl, v1)))
}
