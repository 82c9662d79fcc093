//! `engine eval attributes`: which attributes a DAMSM reads, and which a
//! generator draws as that DAMSM sees them. Each held-out scene's caption is
//! ranked against the captions of the same scene with its first object's
//! colour, shape, size or position changed to each other value
//! (`data::swaps`), by the cosine of the DAMSM's sentence and image
//! features, as R-precision ranks captions. On the world's own renders it
//! measures the DAMSM (an attribute it cannot tell apart is one its loss
//! cannot teach a generator); on generated images, the generator.

use std::path::Path;

use wgpu_attngan::data::swaps::{swapped, Attribute};
use wgpu_attngan::data::DataSpec;
use wgpu_attngan::train::damsm::load_damsm;
use wgpu_attngan::train::eval::{self, EvalSet, SwapScore, EVAL_WORLD_SEED};
use wgpu_attngan::{Error, Result, Runtime};

use super::eval::{
    check_data, checkpoint_json, exists, header, load_generator, write_json, Common,
};

pub fn run(damsm_path: &Path, model: Option<&Path>, n: usize, common: &Common) -> Result<()> {
    if !(10..=100_000).contains(&n) {
        return Err(Error::invalid(
            "eval attributes",
            format!("--captions {n} must be between 10 and 100000"),
        ));
    }
    exists(damsm_path, "DAMSM", "engine train --model damsm")?;
    let rt = Runtime::new()?;
    let (damsm, vocab, ck) = load_damsm(&rt, damsm_path)?;
    check_data(
        damsm_path,
        &DataSpec::id_of(&ck.metadata),
        &DataSpec::World,
        false,
    )?;
    let g = model
        .map(|m| load_generator(&rt, m, None, common))
        .transpose()?;
    let world = eval::eval_world();
    let set = EvalSet::new(0, n, common.seed);
    println!(
        "attribute swaps ({n} held-out captions of the built-in world, test split, world seed {EVAL_WORLD_SEED}, seed {}) on {}",
        common.seed,
        rt.adapter_info().name
    );
    println!(
        "scored by DAMSM {} (fnv1a64 {}): each image's caption against the same scene's caption with its first object's attribute changed to each other value, by cosine",
        damsm_path.display(),
        eval::file_hash(damsm_path)?
    );
    let truth = eval::sentence_features(&rt, &damsm, &vocab, &set.captions, common.seed)?;
    // Per attribute: each image's distractor features.
    let mut swaps = Vec::new();
    for a in Attribute::ALL {
        let mut captions = Vec::new();
        let mut counts = Vec::with_capacity(n);
        for (scene, &k) in set.scenes.iter().zip(&set.chosen) {
            let others = swapped(scene, a);
            counts.push(others.len());
            captions.extend(others.iter().map(|s| world.scene_captions(s)[k].clone()));
        }
        let mut feats =
            eval::sentence_features(&rt, &damsm, &vocab, &captions, common.seed)?.into_iter();
        let grouped: Vec<Vec<Vec<f32>>> = counts
            .iter()
            .map(|&c| feats.by_ref().take(c).collect())
            .collect();
        swaps.push((a, grouped));
    }
    let mut rows = serde_json::Map::new();
    println!(
        "{:<36}{}",
        "",
        Attribute::ALL
            .iter()
            .map(|a| format!("{:>11}", a.name()))
            .collect::<String>()
    );
    let mut chance = Vec::new();
    let mut line = |label: &str, key: &str, images: &[image::RgbImage]| -> Result<()> {
        let feats = eval::image_features(&rt, &damsm, images)?;
        let mut cells = String::new();
        let mut row = serde_json::Map::new();
        chance.clear();
        for (a, grouped) in &swaps {
            let s: SwapScore = eval::swap_accuracy(&feats, &truth, grouped)?;
            cells += &format!("{:>10.1}%", 100.0 * s.accuracy);
            row.insert(
                a.name().into(),
                serde_json::json!({"accuracy": s.accuracy, "chance": s.chance, "images": s.images}),
            );
            chance.push(s.chance);
        }
        println!("{label:<36}{cells}");
        rows.insert(key.into(), serde_json::Value::Object(row));
        Ok(())
    };
    if let Some(g) = &g {
        let images = g.draw(&rt, &set.captions, common.seed)?;
        line("generator", "generator", &images)?;
    }
    let res = damsm.config.image_size;
    line(
        &format!("the world's renders ({res}x{res})"),
        "renders",
        &set.renders(res),
    )?;
    println!(
        "{:<36}{}",
        "chance",
        chance
            .iter()
            .map(|c| format!("{:>10.1}%", 100.0 * c))
            .collect::<String>()
    );
    let mut doc = header(&rt, common, "attribute-swaps", &DataSpec::World, n);
    doc["damsm"] = checkpoint_json(damsm_path)?;
    if let Some(m) = model {
        doc["model"] = checkpoint_json(m)?;
    }
    doc["rows"] = serde_json::Value::Object(rows);
    write_json(common.json.as_deref(), doc)
}
