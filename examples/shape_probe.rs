//! Can the DAMSM's image encoder see the world's shapes? A diagnostic for
//! the issue on AttnGAN drawing the caption: the generator draws no shapes,
//! and every DAMSM trained here reads them barely above chance (`engine eval
//! attributes`). This asks the encoder directly: a linear head on its global
//! feature `[B, 256]` is trained with cross-entropy to name the shape of
//! each training scene's first object (64x64 renders), and scored on the
//! test split's first objects (each shape in its held-out colour, as every
//! `engine eval` has them: a reader that leans on the training set's colours
//! falls below chance there) and on unseen scenes of the training split.
//!
//! - `scratch`: a fresh encoder (the positional one of `--preset world`)
//!   trained with its head: is the architecture able to see shapes at all?
//! - `pooled`: the same with AttnGAN's encoder (the global feature the mean
//!   of the last map, not a linear map of all of it).
//! - `probe CKPT`: the encoder of a trained DAMSM, frozen, and a head on it:
//!   do its features already hold the shape?
//!
//!   cargo run --release --example shape_probe -- scratch|pooled STEPS [OBJECTS]
//!   cargo run --release --example shape_probe -- probe STEPS OBJECTS CKPT
//!   cargo run --release --example shape_probe -- heads CKPT [OBJECTS [G]]
//!
//! `heads CKPT`: no training; the label heads of a DAMSM trained with
//! `--labels` read the first object's cell of each test image: how often
//! they name its shape, colour and size. With G (an AttnGAN checkpoint or
//! export), the images are G's drawings of one caption of each scene
//! instead of the renders: what a label guide with these heads believes G
//! draws, to set beside the oracle's reading of the same kind of images.
//!
//! OBJECTS (1 to 3, default 1) caps the training scenes' objects, as
//! `--world-objects` does. Batch 16, Adam at 2e-3 (the DAMSM's), seed 0;
//! prints both accuracies every 100 steps (chance 1 in 7).

use std::error::Error;

use wgpu_attngan::autograd::{self as ag, Var};
use wgpu_attngan::data::world::{Shape, Split, World, WorldConfig};
use wgpu_attngan::models::damsm::{Damsm, DamsmConfig};
use wgpu_attngan::nn::{layers::Linear, optim::Adam, Init, ParamBuilder, ParamStore};
use wgpu_attngan::{Runtime, Tensor};

const BATCH: usize = 16;
const TEST: usize = 500;

/// Renders of `scenes` at 64 as `[n, 3, 64, 64]` and their first objects'
/// shapes as class indices `[n]`.
fn batch(rt: &Runtime, world: &World, split: Split, first: u64, n: usize) -> (Tensor, Tensor) {
    let (mut px, mut labels) = (Vec::new(), Vec::new());
    for i in 0..n as u64 {
        let scene = world.scene(split, first + i);
        px.extend(scene.render_chw(64));
        labels.push(scene.objects[0].shape.index() as f32);
    }
    (
        Tensor::from_slice(rt, &px, &[n, 3, 64, 64]).unwrap(),
        Tensor::from_slice(rt, &labels, &[n]).unwrap(),
    )
}

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().collect();
    let mode = args.get(1).map(String::as_str).unwrap_or("scratch");
    if mode == "heads" {
        let objects = args.get(3).map(|s| s.parse()).transpose()?.unwrap_or(3);
        let all = World::new(WorldConfig {
            max_objects: objects,
            ..Default::default()
        });
        return heads(&Runtime::new()?, &args, &all);
    }
    let steps: u64 = args.get(2).map(|s| s.parse()).transpose()?.unwrap_or(500);
    let objects: usize = args.get(3).map(|s| s.parse()).transpose()?.unwrap_or(1);
    let rt = Runtime::new()?;
    let world = |max_objects| {
        World::new(WorldConfig {
            max_objects,
            ..Default::default()
        })
    };
    let (train, test) = (world(objects), world(3));
    let damsm = match mode {
        "probe" => {
            let path = args.get(4).ok_or("probe needs a DAMSM checkpoint")?;
            wgpu_attngan::train::damsm::load_damsm(&rt, path.as_ref())?.0
        }
        _ => {
            let mut c = DamsmConfig::new(100);
            c.positional = mode == "scratch";
            Damsm::new(&rt, c, 0)?
        }
    };
    let frozen = mode == "probe";
    let dim = damsm.config.embed_dim();
    let mut hb = ParamBuilder::new(7);
    let head = Linear::new(
        &mut hb,
        "head",
        dim,
        Shape::ALL.len(),
        true,
        Init::Uniform(0.1),
    );
    let head_ps: ParamStore = hb.build(&rt)?;
    let mut head_adam = Adam::new(&head_ps, 2e-3, (0.5, 0.999))?;
    let mut enc_adam = Adam::new(&damsm.image_params, 2e-3, (0.5, 0.999))?;
    // Unseen pairs: the test split's first objects, each of its shape's
    // held-out colour (what `engine eval` scores). Seen pairs: training-split
    // scenes far past any this run trains on.
    let unseen = batch(&rt, &test, Split::Test, 0, TEST);
    let seen = batch(&rt, &test, Split::Train, 10_000_000, TEST);
    let score = |head_ps: &ParamStore,
                 (test_x, test_y): &(Tensor, Tensor)|
     -> Result<f64, Box<dyn Error>> {
        let truth = test_y.to_vec()?;
        let logits = ag::no_grad(|| -> wgpu_attngan::Result<Var> {
            let (_, global) =
                damsm
                    .image
                    .forward(&damsm.image_params, &Var::constant(test_x.clone()), false)?;
            head.forward(head_ps, &global)
        })?;
        let l = logits.value().to_vec()?;
        let k = Shape::ALL.len();
        let right = (0..TEST)
            .filter(|&i| {
                let row = &l[i * k..(i + 1) * k];
                let best = (0..k).max_by(|&a, &b| row[a].total_cmp(&row[b])).unwrap();
                best as f32 == truth[i]
            })
            .count();
        Ok(right as f64 / TEST as f64)
    };
    println!(
        "{mode}: {steps} steps of {BATCH}, training scenes with at most {objects} object(s); scored on {TEST} first objects of each kind, chance 14.3%"
    );
    let started = std::time::Instant::now();
    for step in 1..=steps {
        let (x, y) = batch(&rt, &train, Split::Train, (step - 1) * BATCH as u64, BATCH);
        head_ps.zero_grad()?;
        damsm.image_params.zero_grad()?;
        let (_, global) = damsm
            .image
            .forward(&damsm.image_params, &Var::constant(x), !frozen)?;
        let global = if frozen { global.detach() } else { global };
        let loss = ag::cross_entropy(&head.forward(&head_ps, &global)?, &y)?;
        loss.backward()?;
        head_adam.step(&head_ps)?;
        if !frozen {
            enc_adam.step(&damsm.image_params)?;
        }
        if step % 100 == 0 || step == steps {
            let l = loss.value().to_vec()?[0];
            println!(
                "step {step}: loss {l:.3}, shape accuracy on unseen pairs {:.1}%, on seen pairs {:.1}% ({:.0} s)",
                100.0 * score(&head_ps, &unseen)?,
                100.0 * score(&head_ps, &seen)?,
                started.elapsed().as_secs_f64()
            );
        }
    }
    Ok(())
}

/// The label heads of the DAMSM training checkpoint `args[2]` on the first
/// objects of held-out scenes (unseen pairs) and of unseen training-split
/// scenes (seen pairs): the share of each kind they name right in the
/// object's cell.
fn heads(rt: &Runtime, args: &[String], world: &World) -> Result<(), Box<dyn Error>> {
    let path = std::path::Path::new(args.get(2).ok_or("heads needs a DAMSM checkpoint")?);
    let (damsm, _, _) = wgpu_attngan::train::damsm::load_damsm(rt, path)?;
    let dim = damsm.config.embed_dim();
    let (heads, ps) = wgpu_attngan::train::damsm::load_label_heads(rt, path, dim)?;
    let gen = args
        .get(4)
        .map(|g| wgpu_attngan::train::eval::load_generator(rt, std::path::Path::new(g), true, true))
        .transpose()?;
    for (name, split, first) in [
        ("unseen pairs", Split::Test, 0),
        ("seen pairs", Split::Train, 10_000_000),
    ] {
        let scenes: Vec<_> = (0..TEST as u64)
            .map(|i| world.scene(split, first + i))
            .collect();
        let px: Vec<f32> = match &gen {
            None => scenes.iter().flat_map(|s| s.render_chw(64)).collect(),
            Some((g, _, _)) => {
                if g.image_size() != 64 {
                    return Err(
                        format!("G draws {0}x{0}; the heads read 64x64", g.image_size()).into(),
                    );
                }
                let captions: Vec<String> = scenes
                    .iter()
                    .map(|s| world.scene_captions(s)[0].clone())
                    .collect();
                let mut px = Vec::new();
                for chunk in captions.chunks(50) {
                    for img in g.draw(rt, chunk, px.len() as u64)? {
                        px.extend(wgpu_attngan::data::imageops::to_chw(&img));
                    }
                }
                px
            }
        };
        let x = Tensor::from_slice(rt, &px, &[TEST, 3, 64, 64])?;
        // Right in the object's own cell, and in the cell the shape head
        // finds most object-like (its best non-empty logit over its empty
        // one highest): a drawing in the wrong place still shows its shape.
        let (mut right, mut anywhere) = ([0usize; 3], [0usize; 3]);
        let mut likeliest = vec![0usize; TEST];
        for (k, &classes) in wgpu_attngan::data::world::LABEL_CLASSES.iter().enumerate() {
            let logits = ag::no_grad(|| -> wgpu_attngan::Result<Var> {
                let (_, global) =
                    damsm
                        .image
                        .forward(&damsm.image_params, &Var::constant(x.clone()), false)?;
                heads.logits(&ps, &global, k)
            })?;
            let l = logits.value().to_vec()?; // [n, 9 * classes]
            for (i, s) in scenes.iter().enumerate() {
                let labels = s.labels();
                let o = &s.objects[0];
                let cell = 3 * o.cell.row as usize + o.cell.col as usize;
                let row = &l[(i * 9 + cell) * classes..(i * 9 + cell + 1) * classes];
                let best = (0..classes)
                    .max_by(|&a, &b| row[a].total_cmp(&row[b]))
                    .unwrap();
                right[k] += (best as u32 == labels[3 * cell + k]) as usize;
                let best_of = |c: usize| {
                    let row = &l[(i * 9 + c) * classes..(i * 9 + c + 1) * classes];
                    let b = (1..classes)
                        .max_by(|&a, &b| row[a].total_cmp(&row[b]))
                        .unwrap();
                    (b, row[b] - row[0])
                };
                if k == 0 {
                    likeliest[i] = (0..9)
                        .max_by(|&a, &b| best_of(a).1.total_cmp(&best_of(b).1))
                        .unwrap();
                }
                anywhere[k] += (best_of(likeliest[i]).0 as u32 == labels[3 * cell + k]) as usize;
            }
        }
        let pc = |r: usize| 100.0 * r as f64 / TEST as f64;
        println!(
            "{name}: the heads name the first object's shape {:.1}%, colour {:.1}%, size {:.1}% ({TEST} scenes, {})",
            pc(right[0]), pc(right[1]), pc(right[2]),
            if gen.is_some() { "G's drawings of their captions" } else { "renders" }
        );
        println!(
            "{name}: in the cell most like an object, shape {:.1}%, colour {:.1}%, size {:.1}%",
            pc(anywhere[0]),
            pc(anywhere[1]),
            pc(anywhere[2])
        );
    }
    Ok(())
}
