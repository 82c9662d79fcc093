//! The STREAM captioner: its teacher-forced loss against an f64 reference
//! (embedding, LSTM, linear map, the shifted targets), the gradient that
//! reaches the vocabulary bias, decoding step by step agreeing with the
//! teacher-forced sequence, learning a fixed batch, a run that resumes bit
//! for bit, and the `engine caption` / `engine eval caption` commands.

mod common;
use std::collections::HashMap;

use wgpu_attngan::autograd::Var;
use wgpu_attngan::models::stream::{targets, Stream, StreamConfig};
use wgpu_attngan::nn::optim::Adam;
use wgpu_attngan::Tensor;

use common::fixtures::{det, rt};

fn tiny() -> StreamConfig {
    tiny_with(true)
}

/// The tiny captioner, the image at every step or at the first only.
fn tiny_with(image_every_step: bool) -> StreamConfig {
    StreamConfig {
        image_every_step,
        vocab: 9,
        image_size: 16,
        base_channels: 2,
        embed: 5,
        hidden: 4,
        max_words: 6,
    }
}

type Params = HashMap<String, (Vec<usize>, Vec<f64>)>;

fn params(m: &Stream) -> Params {
    m.params
        .state()
        .unwrap()
        .into_iter()
        .map(|(n, s, d)| (n, (s, d.iter().map(|&x| x as f64).collect())))
        .collect()
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// y = W x + b with W `[out, in]` row-major.
fn affine(w: &[f64], b: Option<&[f64]>, x: &[f64]) -> Vec<f64> {
    let n = x.len();
    (0..w.len() / n)
        .map(|o| (0..n).map(|i| w[o * n + i] * x[i]).sum::<f64>() + b.map_or(0.0, |b| b[o]))
        .collect()
}

/// The reference decoder: for caption `ids` (its words only) after image
/// feature `f`, the log-softmax rows of every step 0..=len (PyTorch's LSTM,
/// gates i, f, g, o); with `every`, each step's input is `[x, f]`.
fn reference_log_probs(p: &Params, f: &[f64], ids: &[u32], every: bool) -> Vec<Vec<f64>> {
    let g = |k: &str| &p[k].1;
    let (w_ih, w_hh) = (
        g("decoder.lstm.weight_ih_l0"),
        g("decoder.lstm.weight_hh_l0"),
    );
    let (b_ih, b_hh) = (g("decoder.lstm.bias_ih_l0"), g("decoder.lstm.bias_hh_l0"));
    let table = g("decoder.embed.weight");
    let e = f.len();
    let hid = b_ih.len() / 4;
    let (mut h, mut c) = (vec![0.0; hid], vec![0.0; hid]);
    let mut out = Vec::new();
    for s in 0..=ids.len() {
        let mut x: Vec<f64> = if s == 0 {
            f.to_vec()
        } else {
            let w = ids[s - 1] as usize;
            table[w * e..(w + 1) * e].to_vec()
        };
        if every {
            x.extend_from_slice(f);
        }
        let a = affine(w_ih, Some(b_ih), &x);
        let r = affine(w_hh, Some(b_hh), &h);
        let z: Vec<f64> = a.iter().zip(&r).map(|(a, r)| a + r).collect();
        for j in 0..hid {
            let (i, fg) = (sigmoid(z[j]), sigmoid(z[hid + j]));
            let (gg, o) = (z[2 * hid + j].tanh(), sigmoid(z[3 * hid + j]));
            c[j] = fg * c[j] + i * gg;
            h[j] = o * c[j].tanh();
        }
        let logits = affine(
            g("decoder.linear.weight"),
            Some(g("decoder.linear.bias")),
            &h,
        );
        let m = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let lse = logits.iter().map(|l| (l - m).exp()).sum::<f64>().ln() + m;
        out.push(logits.iter().map(|l| l - lse).collect());
    }
    out
}

fn images(rt: &wgpu_attngan::Runtime, b: usize, k: usize) -> Tensor {
    det(rt, &[b, 3, 16, 16], k).value().clone()
}

#[test]
fn targets_shift_the_caption_and_end_it() {
    // Captions [7 3 _], [5 _ _], [] with T = 3: rows of [B, T + 1].
    let t = targets(&[7, 3, 0, 5, 0, 0, 0, 0, 0], &[2, 1, 0], 3);
    assert_eq!(t.rows, vec![0, 1, 2, 4, 5, 8]);
    assert_eq!(t.words, vec![7, 3, 0, 5, 0, 0]);
}

#[test]
fn loss_and_its_bias_gradient_match_an_f64_reference() {
    for every in [true, false] {
        loss_matches_reference(every);
    }
}

fn loss_matches_reference(every: bool) {
    let rt = rt();
    let m = Stream::new(&rt, tiny_with(every), 3).unwrap();
    let (b, t) = (3, 6);
    let lengths = [3usize, 6, 1];
    let mut ids = vec![0u32; b * t];
    for (i, &len) in lengths.iter().enumerate() {
        for s in 0..len {
            ids[i * t + s] = 2 + ((i * 5 + s * 3) % 7) as u32;
        }
    }
    let img = images(&rt, b, 1);
    // Eval mode: the encoder's features are a fixed function of the image,
    // read back and handed to the reference decoder.
    let f = m.features(&img).unwrap().to_vec().unwrap();
    let e = m.config.embed;
    m.params.zero_grad().unwrap();
    let loss = m
        .loss(&Var::constant(img.clone()), &ids, &lengths, false)
        .unwrap();
    loss.backward().unwrap();
    let got = loss.value().to_vec().unwrap()[0] as f64;

    let p = params(&m);
    let v = m.config.vocab;
    let (mut sum, mut count) = (0.0, 0usize);
    let mut d_bias = vec![0.0; v];
    let mut rows = Vec::new();
    for (i, &len) in lengths.iter().enumerate() {
        let words = &ids[i * t..i * t + len];
        let fi: Vec<f64> = f[i * e..(i + 1) * e].iter().map(|&x| x as f64).collect();
        for (s, lp) in reference_log_probs(&p, &fi, words, every)
            .into_iter()
            .enumerate()
        {
            let target = if s < len { words[s] as usize } else { 0 };
            sum -= lp[target];
            count += 1;
            rows.push((lp, target));
        }
    }
    let want = sum / count as f64;
    assert!(
        (got - want).abs() <= 1e-4 * want.abs(),
        "every={every}: loss {got} vs f64 reference {want}"
    );
    // d loss / d bias = mean over predicted words of softmax - one-hot.
    for (lp, target) in &rows {
        for (k, d) in d_bias.iter_mut().enumerate() {
            *d += (lp[k].exp() - if k == *target { 1.0 } else { 0.0 }) / count as f64;
        }
    }
    let bias = m.decoder.logits.bias.unwrap();
    let grad = m.params.var(bias).grad().unwrap().to_vec().unwrap();
    for k in 0..v {
        assert!(
            (grad[k] as f64 - d_bias[k]).abs() <= 1e-5 + 1e-4 * d_bias[k].abs(),
            "bias grad {k}: {} vs {}",
            grad[k],
            d_bias[k]
        );
    }
    // The image's path: d loss / d encoder.linear.bias = sum over images of
    // d loss / d f (central differences of the f64 reference) times the
    // eval-mode batch norm's gamma / sqrt(running var + eps).
    let reference_loss = |f: &[f64]| -> f64 {
        let (mut sum, mut count) = (0.0, 0usize);
        for (i, &len) in lengths.iter().enumerate() {
            let words = &ids[i * t..i * t + len];
            for (s, lp) in reference_log_probs(&p, &f[i * e..(i + 1) * e], words, every)
                .into_iter()
                .enumerate()
            {
                sum -= lp[if s < len { words[s] as usize } else { 0 }];
                count += 1;
            }
        }
        sum / count as f64
    };
    let f64s: Vec<f64> = f.iter().map(|&x| x as f64).collect();
    let (gamma, var) = (&p["encoder.bn.weight"].1, &p["encoder.bn.running_var"].1);
    let got = m
        .params
        .var(m.encoder_linear_bias())
        .grad()
        .unwrap()
        .to_vec()
        .unwrap();
    for j in 0..e {
        let mut d = 0.0;
        for i in 0..b {
            let h = 1e-5;
            let (mut up, mut down) = (f64s.clone(), f64s.clone());
            up[i * e + j] += h;
            down[i * e + j] -= h;
            d += (reference_loss(&up) - reference_loss(&down)) / (2.0 * h);
        }
        let want = d * gamma[j] / (var[j] + 1e-5).sqrt();
        assert!(
            (got[j] as f64 - want).abs() <= 1e-5 + 1e-3 * want.abs(),
            "every={every}: encoder.linear.bias grad {j}: {} vs {want}",
            got[j]
        );
    }
}

/// The teacher-forced log-probabilities of `ids` (one caption) and the
/// argmax of each step's row (never `<unk>`).
fn teacher_forced(m: &Stream, img: &Tensor, ids: &[u32]) -> (f64, Vec<u32>) {
    let t = m.config.max_words;
    let mut padded = ids.to_vec();
    padded.resize(t, 0);
    let rt = m.params.runtime();
    let ids_t = Tensor::from_slice(
        rt,
        &padded.iter().map(|&x| x as f32).collect::<Vec<_>>(),
        &[1, t],
    )
    .unwrap();
    let tg = targets(&padded, &[ids.len()], t);
    let logits = m
        .logits(
            &Var::constant(img.clone()),
            &ids_t,
            &[ids.len()],
            &tg,
            false,
        )
        .unwrap()
        .value()
        .to_vec()
        .unwrap();
    let v = m.config.vocab;
    let mut total = 0.0;
    let mut best = Vec::new();
    for (r, &w) in tg.words.iter().enumerate() {
        let row: Vec<f64> = logits[r * v..(r + 1) * v]
            .iter()
            .map(|&x| x as f64)
            .collect();
        let mx = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let lse = row.iter().map(|l| (l - mx).exp()).sum::<f64>().ln() + mx;
        total += row[w as usize] - lse;
        let arg = (0..v)
            .filter(|&k| k != 1)
            .max_by(|&a, &b| row[a].total_cmp(&row[b]).then(b.cmp(&a)))
            .unwrap();
        best.push(arg as u32);
    }
    (total, best)
}

#[test]
fn decoding_step_by_step_agrees_with_the_teacher_forced_sequence() {
    let rt = rt();
    for (seed, every) in [(1, true), (2, false), (5, true)] {
        let m = Stream::new(&rt, tiny_with(every), seed).unwrap();
        let img = images(&rt, 4, seed as usize);
        let greedy = m.decode(&img, 1, m.config.max_words).unwrap();
        let beam = m.decode(&img, 3, m.config.max_words).unwrap();
        let all = img.to_vec().unwrap();
        for i in 0..4 {
            let one =
                Tensor::from_slice(&rt, &all[i * 768..(i + 1) * 768], &[1, 3, 16, 16]).unwrap();
            let g = &greedy[i];
            let (lp, best) = teacher_forced(&m, &one, &g.ids);
            // Greedy: every step's choice is that step's argmax.
            for (s, &w) in g.ids.iter().enumerate() {
                assert_eq!(best[s], w, "seed {seed} image {i} step {s}: {:?}", g.ids);
            }
            if g.ids.len() < m.config.max_words {
                assert_eq!(best[g.ids.len()], 0, "greedy stops at <end>");
            }
            // The decoder's running sum is the sequence's log-probability,
            // its <end> included (forced at the word limit).
            assert!(
                (g.log_prob - lp).abs() < 1e-3,
                "seed {seed} image {i}: {} vs {lp}",
                g.log_prob
            );
            let (blp, _) = teacher_forced(&m, &one, &beam[i].ids);
            assert!(
                (beam[i].log_prob - blp).abs() < 1e-3,
                "beam: {} vs {blp}",
                beam[i].log_prob
            );
        }
    }
}

#[test]
fn training_learns_a_fixed_batch() {
    let rt = rt();
    let m = Stream::new(&rt, tiny(), 7).unwrap();
    let mut adam = Adam::new(&m.params, 0.05, (0.9, 0.999)).unwrap();
    let (b, t) = (4, 6);
    let lengths = [4usize, 6, 2, 5];
    let mut ids = vec![0u32; b * t];
    for (i, &len) in lengths.iter().enumerate() {
        for s in 0..len {
            ids[i * t + s] = 2 + ((i * 3 + s) % 7) as u32;
        }
    }
    // Four images of four colours (and a little texture).
    let noise = images(&rt, b, 9).to_vec().unwrap();
    let plain: Vec<f32> = (0..b * 768)
        .map(|k| {
            let (i, c) = (k / 768, k / 256 % 3);
            [-0.8f32, 0.8][(i >> c) & 1] + 0.1 * noise[k]
        })
        .collect();
    let img = Var::constant(Tensor::from_slice(&rt, &plain, &[b, 3, 16, 16]).unwrap());
    let mut losses = Vec::new();
    for _ in 0..120 {
        m.params.zero_grad().unwrap();
        let loss = m.loss(&img, &ids, &lengths, true).unwrap();
        loss.backward().unwrap();
        losses.push(loss.value().to_vec().unwrap()[0]);
        adam.step(&m.params).unwrap();
    }
    println!("loss {:?}", losses);
    assert!(
        losses[119] < 0.5 * losses[0],
        "the loss of a fixed batch falls: {losses:?}"
    );
    // Each caption starts with its own word: only the image tells which.
    let ids_t = Tensor::from_slice(
        &rt,
        &ids.iter().map(|&x| x as f32).collect::<Vec<_>>(),
        &[b, t],
    )
    .unwrap();
    let tg = targets(&ids, &lengths, t);
    let logits = m
        .logits(&img, &ids_t, &lengths, &tg, true)
        .unwrap()
        .value()
        .to_vec()
        .unwrap();
    let v = m.config.vocab;
    let mut first = 0;
    for (i, &len) in lengths.iter().enumerate() {
        let row = &logits[first * v..(first + 1) * v];
        let arg = (0..v).max_by(|&a, &c| row[a].total_cmp(&row[c])).unwrap();
        assert_eq!(arg as u32, ids[i * t], "image {i}'s first word");
        first += len + 1;
    }
}

#[test]
fn a_tiny_run_resumes_bit_for_bit_and_captions_from_the_command_line() {
    use wgpu_attngan::nn::checkpoint::Checkpoint;
    use wgpu_attngan::train::stream::{load_captioner, train_stream, StreamTrainOptions};
    use wgpu_attngan::train::trainer::RunOptions;
    let rt = rt();
    let base = std::env::temp_dir().join(format!("engine-stream-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let opts = |out: &str, steps: u64, resume: bool, image_size: usize| StreamTrainOptions {
        run: RunOptions {
            out: base.join(out),
            steps,
            batch: 4,
            scenes: 16,
            checkpoint_every: 2,
            resume,
            quiet: true,
            ..StreamTrainOptions::default().run
        },
        image_size,
        base_channels: 2,
    };
    let straight = train_stream(&rt, &opts("straight", 4, false, 16)).unwrap();
    assert_eq!(straight.steps, 4);
    assert!(straight.losses.iter().all(|l| l.is_finite()));
    train_stream(&rt, &opts("split", 2, false, 16)).unwrap();
    let resumed = train_stream(&rt, &opts("split", 4, true, 16)).unwrap();
    common::same::assert_same_run(
        &Checkpoint::load(&straight.checkpoint).unwrap(),
        &Checkpoint::load(&resumed.checkpoint).unwrap(),
        &["losses", "step", "engine.model"],
    );
    let e = train_stream(&rt, &opts("split", 6, true, 24))
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("image_size: 16 in the checkpoint, 24 now"),
        "{e}"
    );

    // The library: captions in the model's vocabulary, the same twice.
    let c = load_captioner(&rt, &straight.checkpoint).unwrap();
    let world = wgpu_attngan::train::eval::eval_world();
    let scene = world.scene(wgpu_attngan::data::world::Split::Test, 3);
    let img = scene.render(40); // not the model's side: scaled
    let a = c.caption(&[img.clone(), img.clone()], 2).unwrap();
    assert_eq!(a.len(), 2);
    assert_eq!(a[0], a[1]);
    for w in a[0].split_whitespace() {
        assert!(c.vocab.id(w).is_some(), "{w} in {:?}", a[0]);
    }

    // The command line, as a user runs it.
    let png = base.join("scene.png");
    img.save(&png).unwrap();
    let ck = straight.checkpoint.to_str().unwrap();
    let (ok, out) = common::cli::engine(&["caption", png.to_str().unwrap(), "--model", ck]);
    assert!(ok, "{out}");
    assert_eq!(out.lines().count(), 1, "{out}");
    let missing = base.join("missing.png");
    let (ok, out) = common::cli::engine(&["caption", missing.to_str().unwrap(), "--model", ck]);
    assert!(!ok && out.contains("missing.png"), "{out}");
    let (ok, out) = common::cli::engine(&[
        "caption",
        png.to_str().unwrap(),
        "--model",
        png.to_str().unwrap(),
    ]);
    assert!(!ok && out.contains("scene.png"), "{out}");
    let (ok, out) = common::cli::engine(&[
        "caption",
        png.to_str().unwrap(),
        "--model",
        ck,
        "--beam",
        "0",
    ]);
    assert!(!ok && out.contains("--beam 0"), "{out}");
    let json = base.join("eval.json");
    let (ok, out) = common::cli::engine(&[
        "eval",
        "caption",
        "--model",
        ck,
        "--images",
        "6",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert!(ok, "{out}");
    assert!(
        out.contains("BLEU-4") && out.contains("ceiling: another caption"),
        "{out}"
    );
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let ceiling = doc["ceiling"]["colour"]["correct"].as_u64().unwrap();
    assert_eq!(
        ceiling,
        doc["ceiling"]["colour"]["total"].as_u64().unwrap(),
        "the world's own captions name every colour"
    );

    // engine export: the weights alone caption exactly as the checkpoint
    // does (f32), an f16 export loads and captions, and neither resumes.
    let exported = base.join("captioner.safetensors");
    let half = base.join("captioner-f16.safetensors");
    let (ok, out) = common::cli::engine(&["export", ck, "-o", exported.to_str().unwrap()]);
    assert!(ok && out.contains("captioner"), "{out}");
    let (ok, out) = common::cli::engine(&["export", ck, "-o", half.to_str().unwrap(), "--f16"]);
    assert!(ok, "{out}");
    let e = load_captioner(&rt, &exported).unwrap();
    assert_eq!(e.caption(std::slice::from_ref(&img), 2).unwrap()[0], a[0]);
    let h = load_captioner(&rt, &half).unwrap();
    assert_eq!(h.caption(std::slice::from_ref(&img), 2).unwrap().len(), 1);
    assert!(std::fs::metadata(&half).unwrap().len() < std::fs::metadata(&exported).unwrap().len());
    let split = base.join("split");
    std::fs::copy(&exported, split.join("checkpoint.safetensors")).unwrap();
    let err = train_stream(&rt, &opts("split", 6, true, 16))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("exported captioner"), "{err}");
    let _ = std::fs::remove_dir_all(&base);
}

/// The captioner that ships inside the binary reads the world: on the
/// world's own renders of held-out scenes it names the background and the
/// objects' positions as the README's evaluation says (100% and 92% on 500
/// images; here 40 images, with room for their noise).
#[test]
fn the_shipped_captioner_reads_held_out_world_scenes() {
    use wgpu_attngan::data::caption_score::CaptionAttributes;
    use wgpu_attngan::train::stream::shipped_captioner;
    let rt = rt();
    let c = shipped_captioner(&rt).unwrap();
    let set = wgpu_attngan::train::eval::EvalSet::new(0, 40, 0);
    let read = c
        .caption(&set.renders(c.model.config.image_size), 3)
        .unwrap();
    let mut score = CaptionAttributes::default();
    for (caption, scene) in read.iter().zip(&set.scenes) {
        score.add(caption, scene);
    }
    let share = |t: &wgpu_attngan::data::oracle::Tally| t.correct as f64 / t.total.max(1) as f64;
    assert!(share(&score.background) >= 0.95, "{read:?}");
    assert!(share(&score.position) >= 0.75, "{read:?}");
    assert!(share(&score.count) >= 0.9, "{read:?}");
    // The CLI reads with it when no --model is given.
    let base = std::env::temp_dir().join(format!("engine-shipped-cap-{}", std::process::id()));
    std::fs::create_dir_all(&base).unwrap();
    let png = base.join("scene.png");
    set.renders(64)[0].save(&png).unwrap();
    let (ok, out) = common::cli::engine(&["caption", png.to_str().unwrap()]);
    assert!(ok, "{out}");
    assert_eq!(out.trim(), read[0], "{out}");
    let _ = std::fs::remove_dir_all(&base);
}
