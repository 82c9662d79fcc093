//! `engine train`: settings, presets and checks, then the DAMSM, AttnGAN or DCGAN loop.

use std::path::PathBuf;

use wgpu_attngan::data::swaps::Attribute;
use wgpu_attngan::nn::parallel;
use wgpu_attngan::train::damsm::{train_damsm, DamsmTrainOptions};
use wgpu_attngan::train::trainer::RunOptions;
use wgpu_attngan::{Result, Runtime};

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Model {
    /// AttnGAN's text-image matching model (text and image encoders).
    Damsm,
    /// AttnGAN's generator and discriminators, guided by a trained, frozen DAMSM.
    Attngan,
    /// The unconditional DCGAN at 64x64 (or --image-size 32): the baseline
    /// that ignores the caption (a DAMSM gives the vocabulary).
    Dcgan,
    /// GAN-INT-CLS: DCGAN conditioned on the frozen DAMSM's sentence
    /// embedding, a matching-aware D, and G trained on interpolated captions.
    DcganCls,
    /// StackGAN: stage I (64x64), then with --stage1 CKPT stage II (256x256)
    /// on it, frozen.
    Stackgan,
    /// StackGAN++: a tree of generators (64, 128, 256) trained jointly, a
    /// D per stage with conditional and unconditional losses, colour
    /// consistency between stages.
    #[value(name = "stackgan++")]
    StackganPp,
    /// STREAM, MirrorGAN's captioner: a CNN encoder and an LSTM decoder
    /// that describe images (`engine caption`, `engine eval caption`).
    Stream,
    /// DF-GAN: one stage from 4x4 to the output side, the sentence fused
    /// into every block by affine transforms, hinge loss with the
    /// matching-aware gradient penalty (MA-GP).
    Dfgan,
    /// MirrorGAN: AttnGAN with sentence attention beside word attention
    /// (GLAM), and a trained captioner (--stream) reading the final image
    /// back into the caption.
    Mirrorgan,
}

impl Model {
    /// Models that learn from a trained DAMSM (`--damsm`).
    fn guided(self) -> bool {
        !matches!(self, Model::Damsm | Model::Stream)
    }

    fn is_dcgan(self) -> bool {
        matches!(self, Model::Dcgan | Model::DcganCls)
    }

    /// Models with stages (`--stages`, `--base-size`).
    fn staged(self) -> bool {
        matches!(
            self,
            Model::Attngan | Model::Mirrorgan | Model::Stackgan | Model::StackganPp
        )
    }

    /// AttnGAN and MirrorGAN, one trainer.
    fn attentional(self) -> bool {
        matches!(self, Model::Attngan | Model::Mirrorgan)
    }
}

/// What a `--twins` pair may differ in.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Twin {
    Colour,
    Shape,
    Size,
    Position,
}

impl Twin {
    fn attribute(self) -> Attribute {
        match self {
            Twin::Colour => Attribute::Colour,
            Twin::Shape => Attribute::Shape,
            Twin::Size => Attribute::Size,
            Twin::Position => Attribute::Position,
        }
    }
}

/// `--twins` as attributes, each once, in the world's order.
fn twin_attributes(twins: &[Twin]) -> Vec<Attribute> {
    let asked: Vec<Attribute> = twins.iter().map(|t| t.attribute()).collect();
    Attribute::ALL
        .into_iter()
        .filter(|a| asked.contains(a))
        .collect()
}

/// A recipe whose settings were chosen and measured (tools/train-world.sh,
/// tools/compare-family.sh).
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Preset {
    /// The built-in world on a software GPU: DAMSM at 64x64; AttnGAN with
    /// two stages from 32x32 to 64x64, widths 16; DCGAN and GAN-INT-CLS at
    /// 64x64, StackGAN 32x32 then 128x128, StackGAN++ 32x32 to 64x64, widths
    /// 16, batch 8 (the family's comparison, tools/compare-family.sh).
    World,
}

/// Settings of one run: the preset's where it has them, else the defaults;
/// a flag given on the command line wins over both.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    pub steps: u64,
    pub batch: usize,
    pub lr: f32,
    pub scenes: usize,
    pub image_size: usize,
    pub stages: usize,
    pub base_size: usize,
    /// ngf of the models that take --width (DCGAN, DF-GAN, StackGAN and
    /// StackGAN++); the others' widths are fixed by their code.
    pub width: usize,
}

impl Settings {
    /// `stage_two`: StackGAN's second phase (`--stage1`), whose preset has
    /// its own steps.
    pub fn of(model: Model, preset: Option<Preset>, stage_two: bool) -> Settings {
        // What most runs share; each arm names what it changes.
        let base = Settings {
            steps: 1000,
            batch: 8,
            lr: 0.0002,
            scenes: 4000,
            image_size: 64,
            stages: 1,
            base_size: 64,
            width: 16,
        };
        // The family's world preset: the sizes of its comparison
        // (tools/compare-family.sh), batch 8, the world's 20,000 scenes.
        let family = Settings {
            scenes: 20000,
            width: 16,
            ..base
        };
        match (model, preset) {
            (Model::Damsm, None) => Settings {
                batch: 16,
                lr: 0.002,
                stages: 2,
                ..base
            },
            (Model::Attngan, None) | (Model::Mirrorgan, _) => Settings { stages: 2, ..base },
            // Both papers' batch and learning rate.
            (Model::Dcgan | Model::DcganCls, None) => Settings {
                batch: 64,
                width: 64,
                ..base
            },
            // StackGAN's learning rate; stage II draws 4 times stage I.
            (Model::Stackgan, None) => Settings { width: 32, ..base },
            // StackGAN-v2's learning rate; three stages from 64.
            (Model::StackganPp, None) => Settings {
                stages: 3,
                width: 32,
                ..base
            },
            // DF-GAN's batch and G's learning rate (D's is 4 times it).
            (Model::Dfgan, _) => Settings {
                batch: 32,
                lr: 0.0001,
                width: 32,
                ..base
            },
            // The tutorial captioner's learning rate.
            (Model::Stream, _) => Settings {
                batch: 16,
                lr: 0.001,
                ..base
            },
            (Model::Damsm, Some(Preset::World)) => Settings {
                steps: DAMSM_WORLD_STEPS,
                batch: 16,
                lr: 0.002,
                scenes: 20000,
                stages: 2,
                ..base
            },
            (Model::Attngan, Some(Preset::World)) => Settings {
                steps: ATTNGAN_WORLD_STEPS,
                scenes: 20000,
                stages: 2,
                base_size: 32,
                ..base
            },
            (Model::Dcgan, Some(Preset::World)) => Settings {
                steps: DCGAN_WORLD_STEPS,
                ..family
            },
            (Model::DcganCls, Some(Preset::World)) => Settings {
                steps: DCGAN_CLS_WORLD_STEPS,
                ..family
            },
            // Stage I at 32x32, so stage II draws 128x128.
            (Model::Stackgan, Some(Preset::World)) => Settings {
                steps: if stage_two {
                    STACKGAN_II_WORLD_STEPS
                } else {
                    STACKGAN_I_WORLD_STEPS
                },
                base_size: 32,
                ..family
            },
            (Model::StackganPp, Some(Preset::World)) => Settings {
                steps: STACKGAN_PP_WORLD_STEPS,
                stages: 2,
                base_size: 32,
                ..family
            },
        }
    }
}

/// The most training scenes of the world (its captions are all read to
/// build the vocabulary before the first step).
pub const MAX_SCENES: usize = 1_000_000;

/// Steps of the world presets: those of the previous shipped model, chosen
/// when a 2-core machine's lavapipe (Mesa 25) took about 2.2 s per DAMSM step
/// and 5.3 to 5.8 s per preset AttnGAN step (about 90 minutes for the pair).
/// With the kernels of 2026-12-06 (release build of 419b3e5) such a machine
/// averaged 0.80 s per positional DAMSM step and 1.12 s per AttnGAN step over
/// a 2-hour run (builds beside it at times), so these steps take about 20
/// minutes; `LAVAPIPE=1 tools/train-world.sh` trains by the clock instead
/// (README, "Two hours on lavapipe").
pub const DAMSM_WORLD_STEPS: u64 = 416;
pub const ATTNGAN_WORLD_STEPS: u64 = 775;

/// Steps of the family's world presets: what each model reached in the
/// 20 minutes of the comparison (tools/compare-family.sh with MINUTES=20,
/// README "The family on one yardstick"), StackGAN's two phases 10 minutes
/// each, on a 2-core machine's lavapipe (Mesa 25.0.7), nothing else running.
pub const DCGAN_WORLD_STEPS: u64 = 10_680;
pub const DCGAN_CLS_WORLD_STEPS: u64 = 3_495;
pub const STACKGAN_I_WORLD_STEPS: u64 = 962;
pub const STACKGAN_II_WORLD_STEPS: u64 = 105;
pub const STACKGAN_PP_WORLD_STEPS: u64 = 558;

#[derive(clap::Args, Debug)]
pub struct TrainArgs {
    /// Which model to train: DAMSM first, then AttnGAN guided by it.
    #[arg(long, value_enum, default_value = "damsm")]
    model: Model,
    /// A measured recipe (flags given beside it win): `world`.
    #[arg(long, value_enum)]
    preset: Option<Preset>,
    /// What to learn from: `world` (the built-in generated world), a folder
    /// of images with same-named .txt captions (optional split.txt; else a
    /// tenth is held out by path hash), or a CUB-200-2011 root (AttnGAN's layout).
    #[arg(long, default_value = "world", value_parser = wgpu_attngan::data::spec::parse_arg)]
    data: wgpu_attngan::data::DataSpec,
    /// Folder for the checkpoint and loss curve [default: runs/MODEL].
    #[arg(long)]
    out: Option<PathBuf>,
    /// AttnGAN: the trained DAMSM it learns from [default: runs/damsm/checkpoint.safetensors].
    #[arg(long)]
    damsm: Option<PathBuf>,
    /// AttnGAN and StackGAN++: generator stages, each doubling the side [default: 2; 3 for StackGAN++].
    #[arg(long)]
    stages: Option<usize>,
    /// AttnGAN and StackGAN++: side of the first stage, 64 (the paper's: 64, 128, 256) or
    /// 32 (32, 64, 128) [default: 64; 32 with --preset world].
    #[arg(long)]
    base_size: Option<usize>,
    /// Total steps, counting those before a resume [default: 1000].
    #[arg(long)]
    steps: Option<u64>,
    /// Stop after this many minutes (a checkpoint is written), whichever comes first.
    #[arg(long)]
    minutes: Option<f64>,
    /// Pairs per step [default: 16 for DAMSM, 8 for AttnGAN].
    #[arg(long)]
    batch: Option<usize>,
    /// Learning rate [default: 0.002 for DAMSM, 0.0002 for AttnGAN].
    #[arg(long)]
    lr: Option<f32>,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Training scenes of the built-in world [default: 4000; 20000 with --preset world].
    #[arg(long)]
    scenes: Option<usize>,
    /// At most this many objects per world scene, 1 to 3 [default: 3, the
    /// world's own mix]: a curriculum's first stage (e.g. 1), which a
    /// --resume with a larger value (or none) moves on from.
    #[arg(long, value_name = "N")]
    world_objects: Option<usize>,
    /// The built-in world in minimal pairs: every second training scene is
    /// the one before it with one of these attributes of one object changed
    /// (comma-separated: colour, shape, size, position), rendered, and both
    /// captions in the same words, so two captions of a batch differ in that
    /// attribute alone and each has its own image. Off by default; a
    /// --resume may turn it on or off (a curriculum's stage).
    #[arg(long, value_enum, value_delimiter = ',', value_name = "ATTRS")]
    twins: Vec<Twin>,
    /// DAMSM and the captioner: image side (32 to 256) [default: 64]; DCGAN: 32 or 64 [default: 64]; DF-GAN: a power of two [default: 64].
    #[arg(long)]
    image_size: Option<usize>,
    /// DCGAN: ngf and ndf [default: 64; 16 with --preset world]; DF-GAN: ngf and ndf [default: 32]; StackGAN and StackGAN++: ngf, with ndf twice it [default: 32, as on birds; 16 with --preset world].
    #[arg(long)]
    width: Option<usize>,
    /// DAMSM: a position-aware image encoder (the global feature from the
    /// whole feature map, region features with their coordinates), a
    /// departure from AttnGAN's that can tell where things are.
    #[arg(long)]
    positional: bool,
    /// DAMSM, built-in world only: add W times a label loss, which teaches
    /// the image encoder each cell's shape, colour and size from the world's
    /// own labels (AttnGAN's encoder comes pretrained on ImageNet; ours
    /// learns outlines from captions alone slowly). Heads on the global
    /// feature, kept in the training checkpoint only. Off by default.
    #[arg(long, value_name = "W")]
    labels: Option<f32>,
    /// AttnGAN, built-in world only: add W times the guiding DAMSM's label
    /// loss on G's final image (the heads of a DAMSM trained with --labels
    /// read what G drew; their cross-entropy against the scene's labels),
    /// as MirrorGAN adds a captioner's. Off by default.
    #[arg(long, value_name = "W")]
    label_guide: Option<f32>,
    /// AttnGAN with --label-guide: read G's images with this labelled DAMSM's
    /// image encoder and heads (its training checkpoint, a run with
    /// --labels) instead of --damsm's, which then gives the DAMSM term only.
    #[arg(long, value_name = "CKPT")]
    label_damsm: Option<PathBuf>,
    /// AttnGAN: add W times the mean squared error of G's final image
    /// against the real image of its caption (pix2pix adds L1 at 100). A
    /// diagnostic departure: on the built-in world a caption fixes its
    /// picture, so this asks whether G can draw what it is shown outright.
    /// Off by default.
    #[arg(long, value_name = "W")]
    pixel_loss: Option<f32>,
    /// DAMSM: start a new run from this DAMSM's weights (a training
    /// checkpoint or an export, trained on the same data with the same
    /// sizes) instead of random ones, with fresh optimisers at step 0; e.g.
    /// to fine-tune a trained DAMSM with --hard-negatives.
    #[arg(long, value_name = "CKPT")]
    init: Option<PathBuf>,
    /// Hard negatives, on the built-in world: every real image also meets its
    /// caption with one attribute of one object changed (colour, shape, size
    /// or place). DAMSM: each image must pick its caption over that one, so
    /// the encoders must tell the attribute apart (on the world it learned
    /// slower with it, places too: README). AttnGAN and MirrorGAN:
    /// each discriminator must refuse that pair, and the DAMSM term asks each
    /// fake to pick its caption over it, so the generator must draw the
    /// attribute. A departure from the released code, which pairs images
    /// only with other images' captions.
    #[arg(long)]
    hard_negatives: bool,
    /// MirrorGAN: the trained captioner that reads the final image back
    /// [default: runs/stream/checkpoint.safetensors].
    #[arg(long)]
    stream: Option<PathBuf>,
    /// StackGAN's phase 2: train stage II on this stage-I checkpoint (frozen).
    #[arg(long)]
    stage1: Option<PathBuf>,
    /// Write a checkpoint every this many steps.
    #[arg(long, default_value_t = 100)]
    checkpoint_every: u64,
    /// Continue from OUT/checkpoint.safetensors.
    #[arg(long)]
    resume: bool,
    /// Plain log lines instead of a progress bar.
    #[arg(long)]
    quiet: bool,
}

impl TrainArgs {
    fn damsm(&self) -> PathBuf {
        self.damsm
            .clone()
            .unwrap_or_else(|| PathBuf::from("runs/damsm/checkpoint.safetensors"))
    }

    fn stream_path(&self) -> PathBuf {
        self.stream
            .clone()
            .unwrap_or_else(|| PathBuf::from("runs/stream/checkpoint.safetensors"))
    }

    fn out(&self) -> PathBuf {
        self.out.clone().unwrap_or_else(|| match self.model {
            Model::Damsm => PathBuf::from("runs/damsm"),
            Model::Attngan => PathBuf::from("runs/attngan"),
            Model::Dcgan => PathBuf::from("runs/dcgan"),
            Model::DcganCls => PathBuf::from("runs/dcgan-cls"),
            Model::Stackgan => PathBuf::from(if self.stage1.is_some() {
                "runs/stackgan-2"
            } else {
                "runs/stackgan"
            }),
            Model::StackganPp => PathBuf::from("runs/stackgan++"),
            Model::Stream => PathBuf::from("runs/stream"),
            Model::Mirrorgan => PathBuf::from("runs/mirrorgan"),
            Model::Dfgan => PathBuf::from("runs/dfgan"),
        })
    }

    /// The run's settings: flags over the preset over the defaults.
    pub fn settings(&self) -> Settings {
        let d = Settings::of(self.model, self.preset, self.stage1.is_some());
        Settings {
            steps: self.steps.unwrap_or(d.steps),
            batch: self.batch.unwrap_or(d.batch),
            lr: self.lr.unwrap_or(d.lr),
            scenes: self.scenes.unwrap_or(d.scenes),
            image_size: self.image_size.unwrap_or(d.image_size),
            stages: self.stages.unwrap_or(d.stages),
            base_size: self.base_size.unwrap_or(d.base_size),
            width: self.width.unwrap_or(d.width),
        }
    }
}

use wgpu_attngan::data::world::WORLD_MAX_OBJECTS;

fn describe(data: &wgpu_attngan::data::DataSpec, scenes: usize, objects: Option<usize>) -> String {
    if data.is_world() {
        match objects {
            Some(n) if n < WORLD_MAX_OBJECTS => format!(
                "the built-in world ({scenes} scenes, at most {n} object{} each)",
                if n == 1 { "" } else { "s" }
            ),
            _ => format!("the built-in world ({scenes} scenes)"),
        }
    } else {
        data.id()
    }
}

fn check(args: &TrainArgs) -> Result<()> {
    let bad = |m: String| Err(wgpu_attngan::Error::invalid("train", m));
    let set = args.settings();
    let (batch, lr) = (set.batch, set.lr);
    if batch < 2 {
        return bad(format!(
            "--batch {batch} is too small: the matching loss needs at least 2 pairs"
        ));
    }
    let workers = parallel::shard().size;
    if workers > 1 && (!batch.is_multiple_of(workers) || batch / workers < 2) {
        return bad(format!(
            "--batch {batch} is the global batch, split evenly over the {workers} workers, with at least 2 each (the matching loss pairs within a worker's share): use a multiple of {workers}, at least {}",
            2 * workers
        ));
    }
    if args.model.guided() && !args.damsm().exists() {
        return bad(format!(
            "{:?} learns from a trained DAMSM, and {} does not exist: run `engine train --model damsm` first, or pass --damsm PATH",
            args.model,
            args.damsm().display()
        ));
    }
    if args.preset.is_some()
        && matches!(args.model, Model::Stream | Model::Mirrorgan | Model::Dfgan)
    {
        return bad(format!(
            "--preset world has no measured recipe for {:?} yet; give the sizes, --batch and --steps",
            args.model
        ));
    }
    if args.model.is_dcgan() {
        if set.image_size != 32 && set.image_size != 64 {
            return bad(format!(
                "--image-size {} must be 32 or 64 for a DCGAN",
                set.image_size
            ));
        }
        for (given, flag) in [
            (args.stages.is_some(), "--stages"),
            (args.base_size.is_some(), "--base-size"),
        ] {
            if given {
                return bad(format!("{flag} applies to --model attngan, not to a DCGAN"));
            }
        }
    } else if args.width.is_some()
        && !matches!(
            args.model,
            Model::StackganPp | Model::Stackgan | Model::Dfgan
        )
    {
        return bad(
            "--width applies to --model dcgan, dcgan-cls, dfgan, stackgan and stackgan++".into(),
        );
    }
    if args.model == Model::Dfgan {
        if !set.image_size.is_power_of_two() {
            return bad(format!(
                "--image-size {} must be a power of two (32, 64, 128 or 256) for DF-GAN",
                set.image_size
            ));
        }
        for (given, flag) in [
            (args.stages.is_some(), "--stages"),
            (args.base_size.is_some(), "--base-size"),
        ] {
            if given {
                return bad(format!(
                    "{flag} applies to the staged models, not to DF-GAN (one stage)"
                ));
            }
        }
    }
    if args.init.is_some() && args.model != Model::Damsm {
        return bad("--init applies to --model damsm".into());
    }
    if let Some(init) = &args.init {
        if !init.is_file() {
            return bad(format!(
                "--init {}: no such file; pass a DAMSM checkpoint (runs/damsm/checkpoint.safetensors) or export",
                init.display()
            ));
        }
    }
    if args.positional && args.model != Model::Damsm {
        return bad("--positional applies to --model damsm (its image encoder)".into());
    }
    if args.hard_negatives {
        if !matches!(args.model, Model::Attngan | Model::Mirrorgan | Model::Damsm) {
            return bad("--hard-negatives applies to --model damsm, attngan and mirrorgan".into());
        }
        if !args.data.is_world() {
            return bad(format!(
                "--hard-negatives needs captions one attribute away from each image's, which only the built-in world can write; {} has none (train without it)",
                args.data
            ));
        }
    }
    if !args.twins.is_empty() {
        if !args.data.is_world() {
            return bad(format!(
                "--twins pairs each built-in world scene with a changed copy that it renders; {} has its own images (train without it)",
                args.data
            ));
        }
        if args.hard_negatives {
            return bad(
                "--twins and --hard-negatives are two kinds of near-miss caption; give one of them"
                    .into(),
            );
        }
        if !batch.is_multiple_of(2 * workers) {
            return bad(format!(
                "--twins needs an even --batch (per worker, with {workers} worker(s)) so that each pair shares a batch; {batch} is not"
            ));
        }
    }
    // The world's labels: the DAMSM learns them, AttnGAN's G is read by them.
    for (flag, weight, model, what) in [
        (
            "--labels",
            args.labels,
            Model::Damsm,
            "damsm (its image encoder)",
        ),
        (
            "--label-guide",
            args.label_guide,
            Model::Attngan,
            "attngan (its generator's loss)",
        ),
    ] {
        let Some(w) = weight else { continue };
        if args.model != model {
            return bad(format!("{flag} applies to --model {what}"));
        }
        if !args.data.is_world() {
            return bad(format!(
                "{flag} needs labels of what each image shows, which only the built-in world has; {} has none (train without it)",
                args.data
            ));
        }
        if !(w.is_finite() && w > 0.0 && w <= 100.0) {
            return bad(format!(
                "{flag} takes the label loss's weight, above 0 and at most 100; {w} is not"
            ));
        }
    }
    if let Some(w) = args.pixel_loss {
        if args.model != Model::Attngan {
            return bad("--pixel-loss applies to --model attngan (its generator's loss)".into());
        }
        if !(w.is_finite() && w > 0.0 && w <= 1000.0) {
            return bad(format!(
                "--pixel-loss takes the pixel loss's weight, above 0 and at most 1000; {w} is not"
            ));
        }
    }
    if let Some(p) = &args.label_damsm {
        if args.label_guide.is_none() {
            return bad("--label-damsm names the label guide's DAMSM; add --label-guide W".into());
        }
        if !p.exists() {
            return bad(format!(
                "--label-damsm: {} does not exist (a DAMSM training checkpoint of a run with --labels, e.g. runs/damsm/checkpoint.safetensors)",
                p.display()
            ));
        }
    }
    if args.stream.is_some() && args.model != Model::Mirrorgan {
        return bad("--stream applies to --model mirrorgan (its captioner)".into());
    }
    if args.model == Model::Mirrorgan && !args.stream_path().exists() {
        return bad(format!(
            "MirrorGAN reads its images back with a trained captioner, and {} does not exist: run `engine train --model stream` first (same data, --image-size of G's last stage), or pass --stream PATH",
            args.stream_path().display()
        ));
    }
    if let Some(s1) = &args.stage1 {
        if args.model != Model::Stackgan {
            return bad("--stage1 applies to --model stackgan (its phase 2)".into());
        }
        if !s1.exists() {
            return bad(format!(
                "--stage1 {}: no such checkpoint; train stage I first with engine train --model stackgan",
                s1.display()
            ));
        }
    }
    if args.model == Model::Stackgan && args.stages.is_some() {
        return bad(
            "--stages: StackGAN has two, trained one after the other (--stage1 for the second)"
                .into(),
        );
    }
    if args.model.staged() {
        if !(1..=3).contains(&set.stages) {
            return bad(format!("--stages {} must be 1, 2 or 3", set.stages));
        }
        if set.base_size != 32 && set.base_size != 64 {
            return bad(format!("--base-size {} must be 32 or 64", set.base_size));
        }
        if args.image_size.is_some() {
            return bad(
                "--image-size is the DAMSM's; AttnGAN's sides come from --base-size and --stages"
                    .into(),
            );
        }
    } else if matches!(args.model, Model::Damsm | Model::Stream) {
        for (given, flag) in [
            (args.stages.is_some(), "--stages"),
            (args.base_size.is_some(), "--base-size"),
            (args.damsm.is_some(), "--damsm"),
        ] {
            if given {
                return bad(format!(
                    "{flag} applies to the generators (e.g. --model attngan), not to {:?}",
                    args.model
                ));
            }
        }
    }
    if !(32..=256).contains(&set.image_size) || !set.image_size.is_multiple_of(8) {
        return bad(format!(
            "--image-size {} must be a multiple of 8 between 32 and 256",
            set.image_size
        ));
    }
    if args.scenes.is_some() && !args.data.is_world() {
        return bad(format!(
            "--scenes counts the built-in world's scenes; {} has its own images",
            args.data
        ));
    }
    if let Some(n) = args.world_objects {
        if !args.data.is_world() {
            return bad(format!(
                "--world-objects caps the built-in world's scenes; {} has its own images",
                args.data
            ));
        }
        if !(1..=WORLD_MAX_OBJECTS).contains(&n) {
            return bad(format!(
                "--world-objects {n} must be 1, 2 or 3 (the world's scenes hold 1 to 3 objects)"
            ));
        }
    }
    if set.scenes > MAX_SCENES {
        return bad(format!(
            "--scenes {} is more than {MAX_SCENES}; the world never repeats a scene, and the vocabulary is built from every training caption first",
            set.scenes
        ));
    }
    if args.data.is_world() && set.scenes < batch {
        return bad(format!(
            "--scenes {} is smaller than one batch ({batch})",
            set.scenes
        ));
    }
    if !(lr > 0.0 && lr.is_finite()) {
        return bad(format!("--lr {lr} must be a positive number"));
    }
    if let Some(m) = args.minutes {
        if !(m.is_finite() && m > 0.0) {
            return bad(format!(
                "--minutes {m} must be a positive number of minutes (e.g. 30 or 0.5)"
            ));
        }
    }
    if args.checkpoint_every == 0 {
        return bad("--checkpoint-every must be at least 1".into());
    }
    let existing = args.out().join("checkpoint.safetensors");
    if !args.resume && existing.exists() {
        return bad(format!(
            "{} already holds a run; pass --resume to continue it, or --out DIR for a new one",
            existing.display()
        ));
    }
    Ok(())
}

/// ", data-parallel over K workers" for K > 1.
fn across(w: parallel::Workers) -> String {
    if w.size == 1 {
        return String::new();
    }
    format!(", data-parallel over {} workers", w.size)
}

/// The options every model's run shares, from the command line and the preset.
fn run_options(args: &TrainArgs) -> RunOptions {
    let set = args.settings();
    RunOptions {
        out: args.out(),
        steps: set.steps,
        minutes: args.minutes,
        batch: set.batch,
        lr: set.lr,
        seed: args.seed,
        data: args.data.clone(),
        scenes: set.scenes,
        world_objects: args.world_objects.unwrap_or(WORLD_MAX_OBJECTS),
        twins: twin_attributes(&args.twins),
        checkpoint_every: args.checkpoint_every,
        resume: args.resume,
        quiet: args.quiet,
    }
}

pub fn train(args: &TrainArgs) -> Result<()> {
    check(args)?;
    let rt = Runtime::new()?;
    let workers = parallel::workers();
    if workers.size > 1 {
        // Every worker names itself; the rest is rank 0's to say.
        println!(
            "worker {} of {} on {}: {} ({:?})",
            workers.rank,
            workers.size,
            parallel::host(),
            rt.adapter_info().name,
            rt.adapter_info().backend
        );
    }
    if args.model.attentional() {
        return train_attngan_cli(&rt, args);
    }
    if args.model.is_dcgan() {
        return train_dcgan_cli(&rt, args);
    }
    if args.model == Model::StackganPp {
        return train_stackgan_pp_cli(&rt, args);
    }
    if args.model == Model::Stackgan {
        return train_stackgan_cli(&rt, args);
    }
    if args.model == Model::Stream {
        return train_stream_cli(&rt, args);
    }
    if args.model == Model::Dfgan {
        return train_dfgan_cli(&rt, args);
    }
    let set = args.settings();
    let leader = parallel::is_leader();
    if leader {
        println!(
            "training {:?} on {} on {}{}{}",
            args.model,
            describe(&args.data, set.scenes, args.world_objects),
            rt.adapter_info().name,
            across(workers),
            if args.hard_negatives {
                "; hard negatives: each image also against its caption with one attribute changed"
            } else {
                ""
            }
        );
    }
    let opts = DamsmTrainOptions {
        run: run_options(args),
        image_size: set.image_size,
        base_channels: 16,
        positional: args.positional,
        hard_negatives: args.hard_negatives,
        init: args.init.clone(),
        labels: args.labels.unwrap_or(0.0),
    };
    let report = train_damsm(&rt, &opts)?;
    if !leader {
        return Ok(());
    }
    let tail = &report.losses[report.losses.len().saturating_sub(20)..];
    let last = tail.iter().sum::<f32>() / tail.len().max(1) as f32;
    println!(
        "{} steps in {:.0} s; mean loss of the last {} steps {last:.3}; checkpoint {}; loss curve {}",
        report.steps,
        report.seconds,
        tail.len(),
        report.checkpoint.display(),
        args.out().join("loss.png").display()
    );
    println!(
        "peak device memory held by tensors: {:.0} MiB",
        rt.memory().peak_in_use as f64 / (1 << 20) as f64
    );
    println!(
        "R-precision: engine eval r-precision --damsm {}",
        report.checkpoint.display()
    );
    Ok(())
}

fn train_attngan_cli(rt: &Runtime, args: &TrainArgs) -> Result<()> {
    use wgpu_attngan::train::attngan::{train_attngan, AttnGanTrainOptions, Mirror};
    let set = args.settings();
    let side = set.base_size << (set.stages - 1);
    let leader = parallel::is_leader();
    let mirror = (args.model == Model::Mirrorgan).then(|| Mirror {
        stream: args.stream_path(),
        lambda: 10.0,
    });
    if leader {
        println!(
            "training {} ({} stages, {}x{} up to {side}x{side}) on {} on {}{}, guided by {}{}{}",
            if mirror.is_some() {
                "MirrorGAN"
            } else {
                "AttnGAN"
            },
            set.stages,
            set.base_size,
            set.base_size,
            describe(&args.data, set.scenes, args.world_objects),
            rt.adapter_info().name,
            across(parallel::workers()),
            args.damsm().display(),
            match &mirror {
                Some(m) => format!(" and read back by {}", m.stream.display()),
                None => String::new(),
            },
            if args.hard_negatives {
                "; hard negatives: each real image is also a mismatch for its caption with one attribute changed, and each fake must be told from it by the DAMSM"
            } else {
                ""
            }
        );
    }
    let opts = AttnGanTrainOptions {
        run: run_options(args),
        damsm: args.damsm(),
        stages: set.stages,
        base_size: set.base_size,
        // MirrorGAN's released configuration (LAMBDA: 0.0) drops AttnGAN's
        // DAMSM loss; the captioner's (LAMBDA1: 10) takes its place.
        lambda: if mirror.is_some() { 0.0 } else { 5.0 },
        ngf: 16,
        ndf: 16,
        mirror,
        hard_negatives: args.hard_negatives,
        label_guide: args.label_guide.unwrap_or(0.0),
        label_damsm: args.label_damsm.clone(),
        pixel_loss: args.pixel_loss.unwrap_or(0.0),
    };
    let report = train_attngan(rt, &opts)?;
    if !leader {
        return Ok(());
    }
    finished(args, &report);
    println!("try: engine generate \"a big red circle in the center on a white background\" --model {} -o sample.png", report.checkpoint.display());
    Ok(())
}

fn train_dcgan_cli(rt: &Runtime, args: &TrainArgs) -> Result<()> {
    use wgpu_attngan::train::dcgan::{train_dcgan, DcganTrainOptions};
    let set = args.settings();
    let leader = parallel::is_leader();
    if leader {
        println!(
            "training {:?} ({}x{}) on {} on {}{}, captions read by {}",
            args.model,
            set.image_size,
            set.image_size,
            describe(&args.data, set.scenes, args.world_objects),
            rt.adapter_info().name,
            across(parallel::workers()),
            args.damsm().display()
        );
    }
    let opts = DcganTrainOptions {
        run: run_options(args),
        conditional: args.model == Model::DcganCls,
        damsm: args.damsm(),
        image_size: set.image_size,
        ngf: set.width,
        ndf: set.width,
    };
    let report = train_dcgan(rt, &opts)?;
    if leader {
        finished(args, &report);
    }
    Ok(())
}

fn train_stackgan_pp_cli(rt: &Runtime, args: &TrainArgs) -> Result<()> {
    use wgpu_attngan::train::stackgan_pp::{train_stackgan_pp, StackGanPPTrainOptions};
    let set = args.settings();
    let side = set.base_size << (set.stages - 1);
    let leader = parallel::is_leader();
    if leader {
        println!(
            "training StackGAN++ ({} stages, {}x{} up to {side}x{side}) on {} on {}{}, captions read by {}",
            set.stages,
            set.base_size,
            set.base_size,
            describe(&args.data, set.scenes, args.world_objects),
            rt.adapter_info().name,
            across(parallel::workers()),
            args.damsm().display()
        );
    }
    let opts = StackGanPPTrainOptions {
        run: run_options(args),
        damsm: args.damsm(),
        stages: set.stages,
        base_size: set.base_size,
        ngf: set.width,
        ndf: 2 * set.width,
    };
    let report = train_stackgan_pp(rt, &opts)?;
    if leader {
        finished(args, &report);
    }
    Ok(())
}

fn train_stackgan_cli(rt: &Runtime, args: &TrainArgs) -> Result<()> {
    use wgpu_attngan::train::stackgan::{train_stackgan, StackGanTrainOptions};
    let set = args.settings();
    let leader = parallel::is_leader();
    let side = match &args.stage1 {
        Some(_) => 4 * set.base_size,
        None => set.base_size,
    };
    if leader {
        println!(
            "training StackGAN {} ({side}x{side}) on {} on {}{}, captions read by {}",
            match &args.stage1 {
                Some(s1) => format!("stage II on stage I {}", s1.display()),
                None => "stage I".to_string(),
            },
            describe(&args.data, set.scenes, args.world_objects),
            rt.adapter_info().name,
            across(parallel::workers()),
            args.damsm().display()
        );
    }
    let opts = StackGanTrainOptions {
        run: run_options(args),
        damsm: args.damsm(),
        stage1: args.stage1.clone(),
        base_size: set.base_size,
        ngf: set.width,
        ndf: 2 * set.width,
    };
    let report = train_stackgan(rt, &opts)?;
    if leader {
        finished(args, &report);
    }
    Ok(())
}

fn train_dfgan_cli(rt: &Runtime, args: &TrainArgs) -> Result<()> {
    use wgpu_attngan::train::dfgan::{train_dfgan, DfganTrainOptions};
    let set = args.settings();
    let leader = parallel::is_leader();
    if leader {
        println!(
            "training DF-GAN ({}x{}) on {} on {}{}, captions read by {}",
            set.image_size,
            set.image_size,
            describe(&args.data, set.scenes, args.world_objects),
            rt.adapter_info().name,
            across(parallel::workers()),
            args.damsm().display()
        );
    }
    let opts = DfganTrainOptions {
        run: run_options(args),
        damsm: args.damsm(),
        image_size: set.image_size,
        ngf: set.width,
        ndf: set.width,
    };
    let report = train_dfgan(rt, &opts)?;
    if leader {
        finished(args, &report);
    }
    Ok(())
}

fn train_stream_cli(rt: &Runtime, args: &TrainArgs) -> Result<()> {
    use wgpu_attngan::train::stream::{train_stream, StreamTrainOptions};
    let set = args.settings();
    let leader = parallel::is_leader();
    if leader {
        println!(
            "training the STREAM captioner ({}x{} images) on {} on {}{}",
            set.image_size,
            set.image_size,
            describe(&args.data, set.scenes, args.world_objects),
            rt.adapter_info().name,
            across(parallel::workers())
        );
    }
    let opts = StreamTrainOptions {
        run: run_options(args),
        image_size: set.image_size,
        base_channels: 16,
    };
    let report = train_stream(rt, &opts)?;
    if !leader {
        return Ok(());
    }
    let tail = &report.losses[report.losses.len().saturating_sub(20)..];
    let last = tail.iter().sum::<f32>() / tail.len().max(1) as f32;
    println!(
        "{} steps in {:.0} s; mean loss of the last {} steps {last:.3}; checkpoint {}; loss curve {}",
        report.steps,
        report.seconds,
        tail.len(),
        report.checkpoint.display(),
        args.out().join("loss.png").display()
    );
    println!(
        "try: engine caption IMAGE.png --model {}; engine eval caption --model {}",
        report.checkpoint.display(),
        report.checkpoint.display()
    );
    Ok(())
}

/// A GAN run's last line: steps, time, where its checkpoint and curves are.
fn finished(args: &TrainArgs, report: &wgpu_attngan::train::trainer::GanReport) {
    println!(
        "{} steps in {:.0} s; checkpoint {}; loss curves {}",
        report.steps,
        report.seconds,
        report.checkpoint.display(),
        args.out().join("loss.png").display()
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        train: TrainArgs,
    }

    fn args(flags: &str) -> TrainArgs {
        let words = std::iter::once("train").chain(flags.split_whitespace());
        Cli::try_parse_from(words).unwrap().train
    }

    #[test]
    fn the_world_preset_gives_the_family_its_comparison_sizes_and_flags_win() {
        let p = |flags: &str| args(&format!("{flags} --preset world")).settings();
        let d = p("--model dcgan");
        assert_eq!(
            (d.image_size, d.width, d.batch, d.scenes, d.steps),
            (64, 16, 8, 20000, DCGAN_WORLD_STEPS)
        );
        assert_eq!(p("--model dcgan-cls").steps, DCGAN_CLS_WORLD_STEPS);
        let s = p("--model stackgan");
        assert_eq!(
            (s.base_size, s.width, s.batch, s.steps),
            (32, 16, 8, STACKGAN_I_WORLD_STEPS)
        );
        assert_eq!(
            p("--model stackgan --stage1 s1.safetensors").steps,
            STACKGAN_II_WORLD_STEPS
        );
        let pp = p("--model stackgan++");
        assert_eq!(
            (pp.stages, pp.base_size, pp.width, pp.steps),
            (2, 32, 16, STACKGAN_PP_WORLD_STEPS)
        );
        // A flag beside the preset wins; without it, the papers' settings.
        let w = p("--model stackgan --stage1 s1.safetensors --width 8 --steps 7 --batch 4");
        assert_eq!((w.width, w.steps, w.batch), (8, 7, 4));
        let plain = args("--model dcgan").settings();
        assert_eq!((plain.width, plain.batch, plain.scenes), (64, 64, 4000));
        assert_eq!(args("--model stackgan++").settings().stages, 3);
        for (model, steps) in [
            ("dcgan", DCGAN_WORLD_STEPS),
            ("dcgan-cls", DCGAN_CLS_WORLD_STEPS),
            ("stackgan", STACKGAN_I_WORLD_STEPS),
            ("stackgan", STACKGAN_II_WORLD_STEPS),
            ("stackgan++", STACKGAN_PP_WORLD_STEPS),
        ] {
            assert!(steps > 0, "{model}: a preset with no steps");
        }
    }

    #[test]
    fn the_world_preset_is_checked_per_model() {
        let out = std::env::temp_dir().join(format!("engine-preset-{}", std::process::id()));
        let with = |model: &str| {
            args(&format!(
                "--model {model} --preset world --damsm Cargo.toml --out {}",
                out.display()
            ))
        };
        for model in ["dcgan", "dcgan-cls", "stackgan", "stackgan++", "attngan"] {
            assert!(check(&with(model)).is_ok(), "{model}");
        }
        let damsm = args(&format!("--preset world --out {}", out.display()));
        assert!(check(&damsm).is_ok());
        for model in ["dfgan", "stream"] {
            let e = check(&with(model)).unwrap_err().to_string();
            assert!(e.contains("no measured recipe"), "{model}: {e}");
        }
    }
}
