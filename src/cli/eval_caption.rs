//! `engine eval caption`: a captioner's BLEU-4 on held-out images and, on
//! the built-in world, how often its captions name each object's colour,
//! shape, size and position, checked against the scene the image shows.
//! Beside it, two yardsticks from the data itself: another of the scene's
//! own captions (ceiling) and a caption of another scene (floor).

use std::path::Path;

use wgpu_attngan::data::caption_score::{corpus_bleu, Bleu, CaptionAttributes};
use wgpu_attngan::data::oracle::Tally;
use wgpu_attngan::data::vocab::tokenize;
use wgpu_attngan::data::world::Split;
use wgpu_attngan::data::DataSpec;
use wgpu_attngan::train::eval::{self, EvalSet, EVAL_WORLD_SEED};
use wgpu_attngan::train::stream::{open_captioner, shipped_captioner_hash, SHIPPED_NAME};
use wgpu_attngan::{Error, Result, Runtime};

use super::eval::{checkpoint_json, header, write_json, Common};

/// One row of the table: a set of captions scored against the images' references.
struct Row {
    label: &'static str,
    bleu: Bleu,
    attributes: Option<CaptionAttributes>,
}

fn bleu_of(hyps: &[String], refs: &[Vec<String>]) -> Bleu {
    let h: Vec<Vec<String>> = hyps.iter().map(|c| tokenize(c)).collect();
    let r: Vec<Vec<Vec<String>>> = refs
        .iter()
        .map(|rs| rs.iter().map(|c| tokenize(c)).collect())
        .collect();
    corpus_bleu(&h, &r)
}

fn pct(t: &Tally) -> String {
    let a = t.accuracy();
    if a.is_finite() {
        format!("{:.1}%", 100.0 * a)
    } else {
        "-".into()
    }
}

fn attribute_cells(a: &CaptionAttributes) -> [(&'static str, &Tally); 8] {
    [
        ("background", &a.background),
        ("colour", &a.colour),
        ("shape", &a.shape),
        ("size", &a.size),
        ("position", &a.position),
        ("bound", &a.bound),
        ("count", &a.count),
        ("invented", &a.invented),
    ]
}

fn row_json(r: &Row) -> serde_json::Value {
    let mut v = serde_json::json!({
        "bleu4": r.bleu.score,
        "precisions": r.bleu.precisions,
        "brevity_penalty": r.bleu.brevity_penalty,
    });
    if let Some(a) = &r.attributes {
        for (name, t) in attribute_cells(a) {
            v[name] = serde_json::json!({"correct": t.correct, "total": t.total});
        }
    }
    v
}

/// `model`: a captioner's checkpoint or export; None: the built-in one.
pub fn run(
    model: Option<&Path>,
    n: usize,
    beam: usize,
    data: &DataSpec,
    common: &Common,
    examples: usize,
) -> Result<()> {
    if n == 0 || n > 100_000 {
        return Err(Error::invalid(
            "eval caption",
            format!("--images {n} must be between 1 and 100000"),
        ));
    }
    if !(1..=32).contains(&beam) {
        return Err(Error::invalid(
            "eval caption",
            format!("--beam {beam} must be between 1 and 32"),
        ));
    }
    if let Some(model) = model.filter(|m| !m.exists()) {
        return Err(Error::invalid(
            "eval caption",
            format!(
                "no captioner at {}: train one with `engine train --model stream`, pass another --model PATH, or leave --model out for the built-in one",
                model.display()
            ),
        ));
    }
    let rt = Runtime::new()?;
    let captioner = open_captioner(&rt, model)?;
    let name = model.map_or(SHIPPED_NAME.to_string(), |m| m.display().to_string());
    if captioner.data != data.id() {
        return Err(Error::invalid(
            "eval caption",
            format!(
                "{} was trained on {}; score it on that data (--data), not on {}",
                name,
                captioner.data,
                data.id()
            ),
        ));
    }
    let res = captioner.model.config.image_size;
    // Images, their reference captions, and the scenes (world only).
    let (images, refs, scenes, what) = if data.is_world() {
        let set = EvalSet::new(0, n, common.seed);
        let world = eval::eval_world();
        let refs: Vec<Vec<String>> = set.scenes.iter().map(|s| world.scene_captions(s)).collect();
        let what = format!(
            "{n} held-out images of the built-in world (test split, world seed {EVAL_WORLD_SEED})"
        );
        (set.renders(res), refs, Some(set.scenes), what)
    } else {
        let (source, summary) = data
            .open(Split::Test)
            .map_err(|e| Error::invalid("eval caption", e.to_string()))?;
        let mut rng = wgpu_attngan::data::rng::SplitMix64::new(common.seed);
        let (mut images, mut refs) = (Vec::new(), Vec::new());
        for i in 0..n.min(source.len()) {
            let item = source
                .item(i, res as u32, false, &mut rng)
                .map_err(|e| Error::invalid("eval caption", e.to_string()))?;
            if item.captions.len() < 2 {
                continue;
            }
            images.push(item.image);
            refs.push(item.captions);
        }
        if images.is_empty() {
            return Err(Error::invalid(
                "eval caption",
                format!("{summary}: no held-out image with two or more captions to score against"),
            ));
        }
        let what = format!("{} held-out images of {summary}", images.len());
        (images, refs, None, what)
    };
    println!(
        "captions of {what}, {res}x{res}, beam {beam}, on {}",
        rt.adapter_info().name
    );
    println!(
        "model: {name} (fnv1a64 {}), step {}",
        match model {
            Some(m) => eval::file_hash(m)?,
            None => shipped_captioner_hash(),
        },
        captioner.step
    );
    let started = std::time::Instant::now();
    let decoded = captioner.caption(&images, beam)?;
    let k = refs.len();
    // Ceiling: each image's first reference against the others; floor: the
    // first reference of the next image against this one's others.
    let others: Vec<Vec<String>> = refs.iter().map(|r| r[1..].to_vec()).collect();
    let own: Vec<String> = refs.iter().map(|r| r[0].clone()).collect();
    let next: Vec<String> = (0..k).map(|i| refs[(i + 1) % k][0].clone()).collect();
    let attributes = |caps: &[String]| {
        scenes.as_ref().map(|scenes| {
            let mut a = CaptionAttributes::default();
            for (c, s) in caps.iter().zip(scenes) {
                a.add(c, s);
            }
            a
        })
    };
    let rows = [
        Row {
            label: "captioner",
            bleu: bleu_of(&decoded, &others),
            attributes: attributes(&decoded),
        },
        Row {
            label: "ceiling: another caption",
            bleu: bleu_of(&own, &others),
            attributes: attributes(&own),
        },
        Row {
            label: "floor: another image's",
            bleu: bleu_of(&next, &others),
            attributes: attributes(&next),
        },
    ];
    print!("{:<26} {:>7}", "", "BLEU-4");
    if let Some(a) = &rows[0].attributes {
        for (name, _) in attribute_cells(a) {
            print!(" {name:>10}");
        }
    }
    println!();
    for r in &rows {
        print!("{:<26} {:>7.4}", r.label, r.bleu.score);
        if let Some(a) = &r.attributes {
            for (_, t) in attribute_cells(a) {
                print!(" {:>10}", pct(t));
            }
        }
        println!();
    }
    println!(
        "BLEU-4 against each image's other {} references (all but the first, so that the three rows are scored alike); corpus level, no smoothing",
        refs[0].len() - 1
    );
    if scenes.is_some() {
        println!("each attribute: the share of the scene's objects the caption names it for; bound: colour, shape, size and position in one phrase; count: the caption names as many objects as the scene has; invented: the share of named objects (shape and colour) the scene does not have, lower is better");
    }
    for i in 0..examples.min(k) {
        println!("  true: {}\n  read: {}", refs[i][0], decoded[i]);
    }
    println!("({:.0} s)", started.elapsed().as_secs_f64());
    let mut doc = header(&rt, common, "caption", data, k);
    if let Some(o) = doc.as_object_mut() {
        // A captioner has no moving average or noise to choose.
        o.remove("use_ema");
        o.remove("ca_noise");
        o.remove("seed");
    }
    doc["model"] = match model {
        Some(m) => checkpoint_json(m)?,
        None => serde_json::json!({
            "path": SHIPPED_NAME,
            "fnv1a64": shipped_captioner_hash(),
            "model": wgpu_attngan::train::stream::KIND,
            "step": captioner.step.to_string(),
        }),
    };
    doc["beam"] = serde_json::json!(beam);
    doc["captioner"] = row_json(&rows[0]);
    doc["ceiling"] = row_json(&rows[1]);
    doc["floor"] = row_json(&rows[2]);
    doc["examples"] = serde_json::json!((0..examples.min(k))
        .map(|i| serde_json::json!({"reference": refs[i][0], "decoded": decoded[i]}))
        .collect::<Vec<_>>());
    write_json(common.json.as_deref(), doc)
}
