//! DAMSM: the word and sentence losses and their gradients against an f64 CPU
//! reference on small shapes, and a short training run on the built-in world
//! that lowers the loss.
#![allow(clippy::too_many_arguments, clippy::needless_range_loop)]

mod common;
use rand::{Rng, SeedableRng};
use wgpu_attngan::autograd::Var;
use wgpu_attngan::models::damsm::{sentence_loss, word_loss, Damsm, DamsmConfig};
use wgpu_attngan::train::damsm::{train_damsm, DamsmTrainOptions};
use wgpu_attngan::train::trainer::RunOptions;
use wgpu_attngan::{Runtime, Tensor};

fn rt() -> Runtime {
    Runtime::new().unwrap_or_else(|e| panic!("{e}"))
}

fn softmax(v: &[f64]) -> Vec<f64> {
    let m = v.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = v.iter().map(|x| (x - m).exp()).collect();
    let s: f64 = e.iter().sum();
    e.iter().map(|x| x / s).collect()
}

/// s[i][j]: caption i against image j, the first `b = s[0].len()` captions
/// those of the images, any after them contrast captions -> (loss0, the
/// caption of each image among all captions; loss1, the image of each of the
/// first b captions).
fn cross_entropy_both_ways(s: &[Vec<f64>]) -> (f64, f64) {
    let (nc, b) = (s.len(), s[0].len());
    let ce = |row: &[f64], k: usize| -> f64 { -softmax(row)[k].ln() };
    let l0 = (0..b)
        .map(|j| ce(&(0..nc).map(|i| s[i][j]).collect::<Vec<_>>(), j))
        .sum::<f64>()
        / b as f64;
    let l1 = (0..b).map(|i| ce(&s[i], i)).sum::<f64>() / b as f64;
    (l0, l1)
}

/// AttnGAN's words_loss in f64. words [NC][D][T] (the B captions of the
/// images, then any contrast captions), regions [B][D][R] -> (loss0, loss1):
/// loss0 picks the caption for each image, loss1 the image for each caption.
fn word_loss_ref(
    words: &[f64],
    regions: &[f64],
    lens: &[usize],
    (nc, b): (usize, usize),
    d: usize,
    t: usize,
    r: usize,
    g1: f64,
    g2: f64,
    g3: f64,
) -> (f64, f64) {
    let w = |i: usize, k: usize, tt: usize| words[(i * d + k) * t + tt];
    let rg = |j: usize, k: usize, rr: usize| regions[(j * d + k) * r + rr];
    // s[i][j]: caption i against image j
    let mut s = vec![vec![0.0; b]; nc];
    for i in 0..nc {
        let l = lens[i];
        for j in 0..b {
            // attention of each region over the caption's words, then of each word over regions
            let mut a = vec![vec![0.0; l]; r]; // [r][t]
            for rr in 0..r {
                let sc: Vec<f64> = (0..l)
                    .map(|tt| (0..d).map(|k| rg(j, k, rr) * w(i, k, tt)).sum())
                    .collect();
                a[rr] = softmax(&sc);
            }
            let mut total = 0.0;
            for tt in 0..l {
                let col: Vec<f64> = (0..r).map(|rr| g1 * a[rr][tt]).collect();
                let a2 = softmax(&col);
                let ctx: Vec<f64> = (0..d)
                    .map(|k| (0..r).map(|rr| rg(j, k, rr) * a2[rr]).sum())
                    .collect();
                let wv: Vec<f64> = (0..d).map(|k| w(i, k, tt)).collect();
                let dot: f64 = wv.iter().zip(&ctx).map(|(x, y)| x * y).sum();
                let nw = wv.iter().map(|x| x * x).sum::<f64>().sqrt();
                let nc = ctx.iter().map(|x| x * x).sum::<f64>().sqrt();
                total += (g2 * dot / (nw * nc).max(1e-8)).exp();
            }
            s[i][j] = g3 * total.ln();
        }
    }
    cross_entropy_both_ways(&s)
}

/// sent [NC][D]: the B captions of the images, then any contrast captions.
fn sentence_loss_ref(
    img: &[f64],
    sent: &[f64],
    (nc, b): (usize, usize),
    d: usize,
    g3: f64,
) -> (f64, f64) {
    let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt() + 0.0;
    let mut s = vec![vec![0.0; b]; nc]; // s[i][j]: caption i, image j
    for i in 0..nc {
        for j in 0..b {
            let (x, y) = (&img[j * d..(j + 1) * d], &sent[i * d..(i + 1) * d]);
            let dot: f64 = x.iter().zip(y).map(|(a, c)| a * c).sum();
            s[i][j] = g3 * dot / (norm(x) * norm(y));
        }
    }
    cross_entropy_both_ways(&s)
}

#[test]
fn losses_and_gradients_match_the_reference() {
    losses_and_gradients_against_the_reference(0);
}

/// Hard negatives (`--hard-negatives`): two contrast captions join the
/// captions each image picks from (loss0), and not the images each caption
/// picks from (loss1); the gradients reach the contrast words and sentences.
#[test]
fn hard_negative_losses_and_gradients_match_the_reference() {
    losses_and_gradients_against_the_reference(2);
}

fn losses_and_gradients_against_the_reference(contrast: usize) {
    let rt = rt();
    // Fixed unless ENGINE_TEST_SEED=random (as for the kernel tests).
    let seed: u64 = match std::env::var("ENGINE_TEST_SEED").as_deref() {
        Ok("random") => rand::rng().random(),
        Ok(n) => n.parse().unwrap_or(0),
        Err(_) => 0x5EED,
    };
    let mut r = rand::rngs::StdRng::seed_from_u64(seed ^ contrast as u64);
    let (b, d, t, rr) = (3usize, 5usize, 4usize, 6usize);
    let nc = b + contrast;
    let lens = [4usize, 2, 3, 1, 4];
    let lens = &lens[..nc];
    let mut cfg = DamsmConfig::new(10);
    (cfg.gamma1, cfg.gamma2, cfg.gamma3) = (4.0, 5.0, 10.0);
    let mut words: Vec<f32> = (0..nc * d * t).map(|_| r.random_range(-1.0..1.0)).collect();
    // Padding positions hold zeros, as the LSTM leaves them.
    for (i, &l) in lens.iter().enumerate() {
        for k in 0..d {
            for tt in l..t {
                words[(i * d + k) * t + tt] = 0.0;
            }
        }
    }
    let regions: Vec<f32> = (0..b * d * rr).map(|_| r.random_range(-1.0..1.0)).collect();
    let img: Vec<f32> = (0..b * d).map(|_| r.random_range(-1.0..1.0)).collect();
    let sent: Vec<f32> = (0..nc * d).map(|_| r.random_range(-1.0..1.0)).collect();
    let leaf = |v: &[f32], shape: &[usize]| Var::leaf(Tensor::from_slice(&rt, v, shape).unwrap());
    // The images' captions and the contrast captions as separate leaves.
    let (wv, sv) = (
        leaf(&words[..b * d * t], &[b, d, t]),
        leaf(&sent[..b * d], &[b, d]),
    );
    let cwv = (contrast > 0).then(|| leaf(&words[b * d * t..], &[contrast, d, t]));
    let csv = (contrast > 0).then(|| leaf(&sent[b * d..], &[contrast, d]));
    let (rv, iv) = (leaf(&regions, &[b, d, rr]), leaf(&img, &[b, d]));
    let classes = [1, 2, 3];
    let cw = cwv.as_ref().map(|v| (v, &lens[b..]));
    let (w0, w1) = word_loss(&wv, &rv, &lens[..b], cw, &classes, &cfg).unwrap();
    let (s0, s1) = sentence_loss(&iv, &sv, csv.as_ref(), &classes, cfg.gamma3).unwrap();
    let f64s = |v: &[f32]| v.iter().map(|&x| x as f64).collect::<Vec<_>>();
    let (rw0, rw1) = word_loss_ref(
        &f64s(&words),
        &f64s(&regions),
        lens,
        (nc, b),
        d,
        t,
        rr,
        4.0,
        5.0,
        10.0,
    );
    let (rs0, rs1) = sentence_loss_ref(&f64s(&img), &f64s(&sent), (nc, b), d, 10.0);
    let got = |v: &Var| v.value().to_vec().unwrap()[0] as f64;
    for (name, g, e) in [
        ("word0", got(&w0), rw0),
        ("word1", got(&w1), rw1),
        ("sent0", got(&s0), rs0),
        ("sent1", got(&s1), rs1),
    ] {
        assert!(
            (g - e).abs() < 1e-4 * (1.0 + e.abs()),
            "{name}: {g} vs {e} (seed {seed}, {contrast} contrast captions)"
        );
    }

    // Gradients of the total against central differences of the reference.
    let total = w0.add(&w1).unwrap().add(&s0).unwrap().add(&s1).unwrap();
    total.backward().unwrap();
    let loss = |words: &[f64], regions: &[f64], img: &[f64], sent: &[f64]| {
        let (a, c) = word_loss_ref(words, regions, lens, (nc, b), d, t, rr, 4.0, 5.0, 10.0);
        let (e, f) = sentence_loss_ref(img, sent, (nc, b), d, 10.0);
        a + c + e + f
    };
    let base = [f64s(&words), f64s(&regions), f64s(&img), f64s(&sent)];
    let grad = |v: &Var| v.grad().unwrap().to_vec().unwrap();
    let joined = |a: &Var, c: &Option<Var>| [grad(a), c.as_ref().map_or(vec![], grad)].concat();
    let grads = [joined(&wv, &cwv), grad(&rv), grad(&iv), joined(&sv, &csv)];
    let eps = 1e-6;
    for which in 0..4 {
        let (mut num, mut diff) = (0.0f64, 0.0f64);
        for i in 0..base[which].len() {
            if which == 0 && i % t >= lens[i / (d * t)] {
                continue; // padding words do not enter the loss
            }
            let (mut p, mut m) = (base.clone(), base.clone());
            p[which][i] += eps;
            m[which][i] -= eps;
            let fd =
                (loss(&p[0], &p[1], &p[2], &p[3]) - loss(&m[0], &m[1], &m[2], &m[3])) / (2.0 * eps);
            num += fd * fd;
            diff += (fd - grads[which][i] as f64).powi(2);
        }
        let rel = (diff / num.max(1e-30)).sqrt();
        assert!(
            rel < 1e-3,
            "gradient of input {which}: relative error {rel:e} (seed {seed}, {contrast} contrast captions)"
        );
    }
}

/// The position-aware head (`--positional`): regions are a 1x1 map of the
/// last features and their (x, y), the global feature a linear map of the
/// whole map; values and the gradient into the map against f64 references.
#[test]
fn the_positional_head_matches_an_f64_reference() {
    let rt = rt();
    let mut cfg = DamsmConfig::new(10);
    (
        cfg.image_size,
        cfg.base_channels,
        cfg.hidden,
        cfg.positional,
    ) = (40, 2, 3, true);
    let m = Damsm::new(&rt, cfg.clone(), 5).unwrap();
    let (b, c, s, d) = (2usize, 16usize, 5usize, cfg.embed_dim());
    let mut r = rand::rngs::StdRng::seed_from_u64(0xC0DE);
    let mut random = |n: usize| -> Vec<f32> { (0..n).map(|_| r.random_range(-1.0..1.0)).collect() };
    let h = random(b * c * s * s);
    let hv = Var::leaf(Tensor::from_slice(&rt, &h, &[b, c, s, s]).unwrap());
    let (regions, global) = m.image.head(&m.image_params, &hv).unwrap();
    assert_eq!(regions.shape(), &[b, d, s * s]);
    assert_eq!(global.shape(), &[b, d]);
    let p: std::collections::HashMap<String, Vec<f64>> = m
        .image_params
        .state()
        .unwrap()
        .into_iter()
        .map(|(n, _, v)| (n, v.iter().map(|&x| x as f64).collect()))
        .collect();
    let get = |k: &str| p.get(k).unwrap_or_else(|| panic!("{k} in {:?}", p.keys()));
    // AttnGAN's conv1x1 for the regions has no bias.
    let wr = get("image.emb_features.weight");
    assert!(!p.contains_key("image.emb_features.bias"));
    let (wg, bg) = (
        get("image.emb_cnn_code.weight"),
        get("image.emb_cnn_code.bias"),
    );
    let coord = |i: usize| 2.0 * i as f64 / (s - 1) as f64 - 1.0;
    let hf = |bi: usize, k: usize, q: usize| h[(bi * c + k) * s * s + q] as f64;
    let mut want_r = vec![0.0; b * d * s * s];
    let mut want_g = vec![0.0; b * d];
    for bi in 0..b {
        for di in 0..d {
            for q in 0..s * s {
                let w = |k: usize| wr[di * (c + 2) + k];
                let mut v = w(c) * coord(q % s) + w(c + 1) * coord(q / s);
                for k in 0..c {
                    v += w(k) * hf(bi, k, q);
                }
                want_r[(bi * d + di) * s * s + q] = v;
            }
            want_g[bi * d + di] = bg[di]
                + (0..c * s * s)
                    .map(|j| wg[di * c * s * s + j] * h[bi * c * s * s + j] as f64)
                    .sum::<f64>();
        }
    }
    let close = |got: &[f32], want: &[f64], what: &str| {
        let (mut num, mut den) = (0.0f64, 0.0f64);
        for (g, w) in got.iter().zip(want) {
            num += (*g as f64 - w).powi(2);
            den += w * w;
        }
        let rel = (num / den.max(1e-30)).sqrt();
        assert!(rel < 1e-5, "{what}: relative error {rel:e}");
    };
    close(&regions.value().to_vec().unwrap(), &want_r, "regions");
    close(&global.value().to_vec().unwrap(), &want_g, "global");
    // L = sum(regions * A) + sum(global * G): dL/dh = Wr[:, :c]^T A + Wg^T G.
    let (a, g) = (random(b * d * s * s), random(b * d));
    let av = Var::constant(Tensor::from_slice(&rt, &a, &[b, d, s * s]).unwrap());
    let gv = Var::constant(Tensor::from_slice(&rt, &g, &[b, d]).unwrap());
    let loss = regions
        .mul(&av)
        .unwrap()
        .sum_all()
        .unwrap()
        .add(&global.mul(&gv).unwrap().sum_all().unwrap())
        .unwrap();
    loss.backward().unwrap();
    let mut want = vec![0.0; b * c * s * s];
    for bi in 0..b {
        for k in 0..c {
            for q in 0..s * s {
                let mut v = 0.0;
                for di in 0..d {
                    v += wr[di * (c + 2) + k] * a[(bi * d + di) * s * s + q] as f64;
                    v += wg[di * c * s * s + k * s * s + q] * g[bi * d + di] as f64;
                }
                want[(bi * c + k) * s * s + q] = v;
            }
        }
    }
    close(&hv.grad().unwrap().to_vec().unwrap(), &want, "d loss / d h");
}

/// `--labels`: the heads' loss (per image, the cross-entropy summed over
/// cells and kinds; its mean over images) and its gradients for the global
/// feature and the heads' weights against an f64 reference, itself checked
/// against finite differences; labels that do not fit are refused.
#[test]
fn the_label_loss_matches_an_f64_reference() {
    use wgpu_attngan::models::labels::LabelHeads;
    use wgpu_attngan::nn::{ParamBuilder, ParamId};
    let rt = rt();
    let (n, d, cells) = (3usize, 7usize, 5usize);
    let classes = [4usize, 3, 2];
    let kinds = classes.len();
    let mut b = ParamBuilder::new(11);
    let heads = LabelHeads::new(&mut b, d, cells, &classes);
    let ps = b.build(&rt).unwrap();
    assert_eq!(heads.per_image(), cells * kinds);
    let mut r = rand::rngs::StdRng::seed_from_u64(0x1AB3);
    let g: Vec<f32> = (0..n * d).map(|_| r.random_range(-2.0..2.0)).collect();
    let labels: Vec<u32> = (0..n * cells * kinds)
        .map(|i| r.random_range(0..classes[i % kinds]) as u32)
        .collect();
    let gv = Var::leaf(Tensor::from_slice(&rt, &g, &[n, d]).unwrap());
    ps.zero_grad().unwrap();
    let loss = heads.loss(&ps, &gv, &labels).unwrap();
    loss.backward().unwrap();
    // Weights [cells * C, d] and biases per kind, in the store's order.
    let state = ps.state().unwrap();
    let weight = |k: usize| -> Vec<f64> {
        let (_, _, v) = state
            .iter()
            .find(|(name, _, _)| *name == format!("labels.head{k}.weight"))
            .unwrap();
        v.iter().map(|&x| x as f64).collect()
    };
    let bias = |k: usize| -> Vec<f64> {
        let (_, _, v) = state
            .iter()
            .find(|(name, _, _)| *name == format!("labels.head{k}.bias"))
            .unwrap();
        v.iter().map(|&x| x as f64).collect()
    };
    let w: Vec<Vec<f64>> = (0..kinds).map(weight).collect();
    let bs: Vec<Vec<f64>> = (0..kinds).map(bias).collect();
    // The reference: loss, d loss / d g, d loss / d W_k.
    let reference = |g: &[f64]| -> (f64, Vec<f64>, Vec<Vec<f64>>) {
        let (mut loss, mut dg) = (0.0, vec![0.0; n * d]);
        let mut dw: Vec<Vec<f64>> = w.iter().map(|wk| vec![0.0; wk.len()]).collect();
        for k in 0..kinds {
            let c = classes[k];
            let rows = n as f64;
            for i in 0..n {
                for cell in 0..cells {
                    let logit = |j: usize| {
                        let o = cell * c + j;
                        bs[k][o] + (0..d).map(|e| w[k][o * d + e] * g[i * d + e]).sum::<f64>()
                    };
                    let z: Vec<f64> = (0..c).map(logit).collect();
                    let p = softmax(&z);
                    let t = labels[(i * cells + cell) * kinds + k] as usize;
                    loss -= p[t].ln() / rows;
                    for j in 0..c {
                        let dz = (p[j] - (j == t) as u8 as f64) / rows;
                        let o = cell * c + j;
                        for e in 0..d {
                            dg[i * d + e] += dz * w[k][o * d + e];
                            dw[k][o * d + e] += dz * g[i * d + e];
                        }
                    }
                }
            }
        }
        (loss, dg, dw)
    };
    let g64: Vec<f64> = g.iter().map(|&x| x as f64).collect();
    let (want, want_dg, want_dw) = reference(&g64);
    let got = loss.value().to_vec().unwrap()[0] as f64;
    assert!(
        (got - want).abs() < 1e-5 * want.abs(),
        "loss {got} against {want}"
    );
    let rel = |got: &[f32], want: &[f64]| {
        let num: f64 = got
            .iter()
            .zip(want)
            .map(|(a, b)| (*a as f64 - b).powi(2))
            .sum();
        let den: f64 = want.iter().map(|b| b * b).sum();
        (num / den.max(1e-30)).sqrt()
    };
    let dg = gv.grad().unwrap().to_vec().unwrap();
    assert!(rel(&dg, &want_dg) < 1e-5, "d/dg: {}", rel(&dg, &want_dg));
    for k in 0..kinds {
        let got = ps.var(ParamId(2 * k)).grad().unwrap().to_vec().unwrap();
        assert!(
            rel(&got, &want_dw[k]) < 1e-5,
            "d/dW{k}: {}",
            rel(&got, &want_dw[k])
        );
    }
    // The reference's gradient against central differences.
    for at in [0, 4, n * d - 1] {
        let h = 1e-6;
        let (mut up, mut down) = (g64.clone(), g64.clone());
        up[at] += h;
        down[at] -= h;
        let fd = (reference(&up).0 - reference(&down).0) / (2.0 * h);
        assert!(
            (fd - want_dg[at]).abs() < 1e-6,
            "{fd} against {}",
            want_dg[at]
        );
    }
    // Labels of the wrong count, or a class a kind does not have.
    let e = heads
        .loss(&ps, &gv, &labels[1..])
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("only the built-in world labels"), "{e}");
    let mut bad = labels.clone();
    bad[kinds + 2] = classes[2] as u32;
    let e = heads.loss(&ps, &gv, &bad).err().unwrap().to_string();
    assert!(e.contains("not below its 2 classes"), "{e}");
}

#[test]
fn a_short_run_on_the_world_lowers_the_loss() {
    let rt = rt();
    let dir = std::env::temp_dir().join(format!("engine-damsm-{}", std::process::id()));
    let opts = DamsmTrainOptions {
        run: RunOptions {
            out: dir.clone(),
            steps: 40,
            batch: 8,
            scenes: 400,
            checkpoint_every: 20,
            quiet: true,
            ..DamsmTrainOptions::default().run
        },
        image_size: 32,
        base_channels: 8,
        positional: false,
        hard_negatives: false,
        init: None,
        labels: 0.0,
    };
    let report = train_damsm(&rt, &opts).unwrap();
    assert_eq!(report.steps, 40);
    let first: f32 = report.losses[..8].iter().sum::<f32>() / 8.0;
    let last: f32 = report.losses[32..].iter().sum::<f32>() / 8.0;
    println!("DAMSM loss {first} -> {last}");
    assert!(
        last < first * 0.8,
        "loss did not fall enough: {first} -> {last}"
    );
    assert!(dir.join("checkpoint.safetensors").exists() && dir.join("loss.png").exists());
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn a_resumed_run_continues_with_identical_losses() {
    let rt = rt();
    let base = std::env::temp_dir().join(format!("engine-damsm-resume-{}", std::process::id()));
    let opts = |out: &str, steps: u64, resume: bool| DamsmTrainOptions {
        run: RunOptions {
            out: base.join(out),
            steps,
            batch: 4,
            scenes: 40,
            checkpoint_every: 3,
            resume,
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
    let straight = train_damsm(&rt, &opts("straight", 8, false)).unwrap();
    train_damsm(&rt, &opts("stopped", 3, false)).unwrap();
    // A new run object from the checkpoint alone, as after a crash.
    let resumed = train_damsm(&rt, &opts("stopped", 8, true)).unwrap();
    assert_eq!(resumed.steps, 8);
    assert_eq!(
        resumed.losses, straight.losses,
        "the resumed run's losses differ"
    );
    // Resuming with other options is refused, each difference listed.
    let mut other = opts("stopped", 9, true);
    other.run.batch = 5;
    other.run.lr = 0.001;
    let e = train_damsm(&rt, &other).unwrap_err().to_string();
    assert!(
        e.contains("batch: 4 in the checkpoint, 5 now")
            && e.contains("lr: 0.002 in the checkpoint, 0.001 now"),
        "{e}"
    );
    // Hard negatives: other losses from the first step, a resume as exact,
    // and a run resumed with the setting changed, either way, refused with
    // the option named.
    let hard = |out: &str, steps: u64, resume: bool| DamsmTrainOptions {
        hard_negatives: true,
        ..opts(out, steps, resume)
    };
    let h = train_damsm(&rt, &hard("hard", 8, false)).unwrap();
    assert!(h.losses.iter().all(|l| l.is_finite()));
    assert_ne!(h.losses[0], straight.losses[0]);
    train_damsm(&rt, &hard("hard-stopped", 3, false)).unwrap();
    let resumed = train_damsm(&rt, &hard("hard-stopped", 8, true)).unwrap();
    assert_eq!(
        resumed.losses, h.losses,
        "the resumed hard-negative run's losses differ"
    );
    for changed in [hard("straight", 9, true), opts("hard", 9, true)] {
        let e = train_damsm(&rt, &changed).unwrap_err().to_string();
        assert!(e.contains("hard_negatives"), "{e}");
    }
    // The label loss (--labels): in the loss from the first step, a resume
    // as exact, and a resume that turns it on or off refused, named.
    let labelled = |out: &str, steps: u64, resume: bool| DamsmTrainOptions {
        labels: 1.0,
        ..opts(out, steps, resume)
    };
    let l = train_damsm(&rt, &labelled("labelled", 8, false)).unwrap();
    assert!(l.losses.iter().all(|l| l.is_finite()));
    assert!(l.losses[0] > straight.losses[0] + 1.0, "{:?}", l.losses);
    train_damsm(&rt, &labelled("labelled-stopped", 3, false)).unwrap();
    let resumed = train_damsm(&rt, &labelled("labelled-stopped", 8, true)).unwrap();
    assert_eq!(
        resumed.losses, l.losses,
        "the resumed labelled run's losses differ"
    );
    for changed in [labelled("straight", 9, true), opts("labelled", 9, true)] {
        let e = train_damsm(&rt, &changed).unwrap_err().to_string();
        assert!(e.contains("labels: "), "{e}");
    }
    // Its checkpoint guides and exports as a plain DAMSM: the heads are
    // training state.
    let (guide, _, _) = wgpu_attngan::train::damsm::load_damsm(&rt, &l.checkpoint).unwrap();
    assert_eq!(guide.config.base_channels, 4);
    // A new run started from a trained DAMSM (--init): its weights, bit for
    // bit, at step 0, with fresh optimisers (no steps asked: the checkpoint
    // holds what it started from); then it trains on from there.
    use wgpu_attngan::nn::checkpoint::Checkpoint;
    let init = base.join("hard").join("checkpoint.safetensors");
    let warm = |out: &str, steps: u64| DamsmTrainOptions {
        init: Some(init.clone()),
        ..opts(out, steps, false)
    };
    let w = train_damsm(&rt, &warm("warm", 0)).unwrap();
    assert_eq!(w.steps, 0);
    let (a, b) = (
        Checkpoint::load(&init).unwrap(),
        Checkpoint::load(&w.checkpoint).unwrap(),
    );
    for (name, t) in a.tensors.iter().filter(|(n, _)| !n.starts_with("optim.")) {
        assert_eq!(Some(t), b.tensors.get(name), "{name} differs from --init's");
    }
    for (name, (_, v)) in b.tensors.iter().filter(|(n, _)| n.starts_with("optim.")) {
        assert!(v.iter().all(|&x| x == 0.0), "{name}: not a fresh optimiser");
    }
    assert!(
        b.metadata["init"].contains("(step 8)"),
        "{:?}",
        b.metadata.get("init")
    );
    let w = train_damsm(&rt, &warm("warm-trained", 2)).unwrap();
    assert_eq!(w.steps, 2);
    assert!(
        w.losses[0] < straight.losses[0],
        "{} against {}",
        w.losses[0],
        straight.losses[0]
    );
    // A DAMSM of other sizes is refused, the difference named.
    let other = DamsmTrainOptions {
        base_channels: 8,
        ..warm("warm-other", 1)
    };
    let e = train_damsm(&rt, &other).unwrap_err().to_string();
    assert!(e.contains("its base channels is 4, this run's 8"), "{e}");
    // So is one that turns the positional image encoder on.
    let positional = DamsmTrainOptions {
        positional: true,
        ..opts("straight", 9, true)
    };
    let e = train_damsm(&rt, &positional).unwrap_err().to_string();
    assert!(
        e.contains("positional: false in the checkpoint, true now"),
        "{e}"
    );
    // A curriculum (--world-objects): 3 steps on one-object scenes, then
    // on with the world's mix. Its vocabulary is the full world's; the
    // resume that changes the stage goes on (it is noted, not refused),
    // and each checkpoint records the stage it ended in.
    let one = |out: &str, steps: u64, resume: bool| {
        let mut o = opts(out, steps, resume);
        o.run.world_objects = 1;
        o
    };
    let c1 = train_damsm(&rt, &one("curriculum", 3, false)).unwrap();
    assert_ne!(c1.losses[0], straight.losses[0]);
    let meta = |p: &std::path::Path, key: &str| Checkpoint::load(p).unwrap().metadata[key].clone();
    assert_eq!(
        meta(&c1.checkpoint, "vocab"),
        meta(&straight.checkpoint, "vocab")
    );
    assert!(meta(&c1.checkpoint, "options").contains("world_objects=1\n"));
    let c2 = train_damsm(&rt, &opts("curriculum", 6, true)).unwrap();
    assert_eq!(c2.steps, 6);
    assert_eq!(c2.losses[..3], c1.losses[..]);
    assert!(meta(&c2.checkpoint, "options").contains("world_objects=3\n"));
    assert!(meta(&c2.checkpoint, "options").contains("twins=none\n"));
    // Minimal pairs (--twins) are a stage too: turned on by a resume, the
    // run goes on from its losses and records them.
    let mut t = opts("curriculum", 8, true);
    t.run.twins = vec![wgpu_attngan::data::swaps::Attribute::Shape];
    let c3 = train_damsm(&rt, &t).unwrap();
    assert_eq!(c3.steps, 8);
    assert_eq!(c3.losses[..6], c2.losses[..]);
    assert!(meta(&c3.checkpoint, "options").contains("twins=shape\n"));
    std::fs::remove_dir_all(base).ok();
}

/// A run whose loss turns non-finite (here: resumed from a checkpoint whose
/// image encoder weights are 1e30, finite but overflowing in the forward
/// pass) stops at once, before its weights move, and leaves the checkpoint
/// on disk as it was, byte for byte.
#[test]
fn a_diverging_run_stops_and_keeps_its_last_checkpoint() {
    use wgpu_attngan::nn::checkpoint::Checkpoint;
    let rt = rt();
    let dir = std::env::temp_dir().join(format!("engine-damsm-nan-{}", std::process::id()));
    let opts = DamsmTrainOptions {
        run: RunOptions {
            out: dir.clone(),
            steps: 1,
            batch: 4,
            scenes: 40,
            checkpoint_every: 1,
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
    train_damsm(&rt, &opts).unwrap();
    let path = dir.join("checkpoint.safetensors");
    let mut ck = Checkpoint::load(&path).unwrap();
    for (name, (_, data)) in ck.tensors.iter_mut() {
        if name.starts_with("image.") && name.ends_with("weight") {
            data.iter_mut().for_each(|x| *x = 1e30);
        }
    }
    ck.save(&path).unwrap();
    let before = std::fs::read(&path).unwrap();
    let e = train_damsm(
        &rt,
        &DamsmTrainOptions {
            run: RunOptions {
                steps: 3,
                resume: true,
                ..opts.run.clone()
            },
            ..opts
        },
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("the loss became") && e.contains("at step 1") && e.contains("is kept"),
        "{e}"
    );
    assert!(
        std::fs::read(&path).unwrap() == before,
        "the checkpoint was rewritten"
    );
    std::fs::remove_dir_all(dir).ok();
}

/// Two runs never write into one folder at once: a live run's lock refuses
/// the second; the lock of a run that has ended is taken over.
#[test]
fn a_folder_in_use_by_a_live_run_is_refused_and_a_stale_lock_taken_over() {
    let rt = rt();
    let dir = std::env::temp_dir().join(format!("engine-damsm-lock-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let opts = DamsmTrainOptions {
        run: RunOptions {
            out: dir.clone(),
            steps: 1,
            batch: 4,
            scenes: 8,
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
    // This test's own process is alive.
    std::fs::write(dir.join("lock"), std::process::id().to_string()).unwrap();
    let e = train_damsm(&rt, &opts).unwrap_err().to_string();
    assert!(e.contains("another run") && e.contains("--out"), "{e}");
    assert!(!dir.join("checkpoint.safetensors").exists());
    // No process has this id (above Linux's largest pid_max).
    std::fs::write(dir.join("lock"), "4194305").unwrap();
    train_damsm(&rt, &opts).unwrap();
    assert!(dir.join("checkpoint.safetensors").exists());
    assert!(
        !dir.join("lock").exists(),
        "the lock is released when the run ends"
    );
    std::fs::remove_dir_all(dir).ok();
}

/// The real thing: `engine train` killed mid-run, then `--resume`, ends with
/// the same losses as a run never stopped (losses are kept in the
/// checkpoint). 12 scenes at batch 4 make an epoch of 3 steps, so the
/// resumed part crosses epoch boundaries (a new data order, the learning
/// rate's schedule).
#[test]
fn engine_train_killed_and_resumed_matches_an_uninterrupted_run() {
    let base = std::env::temp_dir().join(format!("engine-kill-{}", std::process::id()));
    let args = [
        "train",
        "--quiet",
        "--steps",
        "10",
        "--batch",
        "4",
        "--scenes",
        "12",
        "--image-size",
        "32",
        "--checkpoint-every",
        "2",
    ];
    let (straight, killed) = common::kill::kill_and_resume(&base, &args, 10, 8);
    assert_eq!(killed.metadata["losses"], straight.metadata["losses"]);
    assert_eq!(straight.metadata["losses"].split(',').count(), 10);
    std::fs::remove_dir_all(base).ok();
}
