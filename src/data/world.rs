//! The built-in world: procedurally drawn scenes of coloured shapes on a
//! plain background, with captions in many phrasings. Scene `i` of split `s`
//! is a pure function of `(seed, s, i)`, so the data set is unlimited and
//! needs no disk. The test split is held out twice over: every test scene
//! contains a (shape, colour) pair that no training scene contains, and test
//! captions may use phrasings (scene templates and an object phrase form)
//! that never occur in training captions. Held-out phrasings use only words
//! that training captions also use, so a model sees no unknown words.

use super::rng::SplitMix64;
use rand::{Rng, RngCore};
use std::sync::OnceLock;

/// Which half of a data set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Split {
    Train,
    Test,
}

impl Split {
    pub fn name(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Test => "test",
        }
    }
}

impl std::str::FromStr for Split {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "train" => Ok(Split::Train),
            "test" => Ok(Split::Test),
            _ => Err(format!("unknown split {s:?}; use train or test")),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Shape {
    Circle,
    Square,
    Triangle,
    Diamond,
    Cross,
    Ring,
    Star,
}

impl Shape {
    pub const ALL: [Shape; 7] = [
        Shape::Circle,
        Shape::Square,
        Shape::Triangle,
        Shape::Diamond,
        Shape::Cross,
        Shape::Ring,
        Shape::Star,
    ];

    pub fn name(self) -> &'static str {
        self.words()[0]
    }

    /// Words a caption may use for this shape (the first is canonical).
    pub fn words(self) -> &'static [&'static str] {
        match self {
            Shape::Circle => &["circle", "disc"],
            Shape::Square => &["square"],
            Shape::Triangle => &["triangle"],
            Shape::Diamond => &["diamond", "rhombus"],
            Shape::Cross => &["cross", "plus"],
            Shape::Ring => &["ring", "donut"],
            Shape::Star => &["star"],
        }
    }

    pub fn index(self) -> usize {
        Shape::ALL.iter().position(|&s| s == self).unwrap()
    }

    /// Whether the point (u, v) of the shape's box [-1, 1]^2 (v down) is
    /// inside. Every shape touches all four sides of its box, so a shape's
    /// bounding box is its object box.
    pub fn inside(self, u: f32, v: f32) -> bool {
        match self {
            Shape::Circle => u * u + v * v <= 1.0,
            Shape::Square => u.abs() <= 1.0 && v.abs() <= 1.0,
            Shape::Triangle => (-1.0..=1.0).contains(&v) && u.abs() <= (v + 1.0) * 0.5,
            Shape::Diamond => u.abs() + v.abs() <= 1.0,
            Shape::Cross => {
                let (a, b) = (u.abs(), v.abs());
                (a <= 0.34 && b <= 1.0) || (b <= 0.34 && a <= 1.0)
            }
            Shape::Ring => {
                let r2 = u * u + v * v;
                (0.25..=1.0).contains(&r2)
            }
            Shape::Star => point_in_polygon(star_polygon(), u, v),
        }
    }
}

fn star_polygon() -> &'static [(f32, f32)] {
    static STAR: OnceLock<Vec<(f32, f32)>> = OnceLock::new();
    STAR.get_or_init(|| {
        let mut pts = Vec::with_capacity(10);
        for k in 0..10 {
            let r = if k % 2 == 0 { 1.0f32 } else { 0.45 };
            let a = -std::f32::consts::FRAC_PI_2 + k as f32 * std::f32::consts::PI / 5.0;
            pts.push((r * a.cos(), r * a.sin()));
        }
        // Stretch so the star touches all four sides of [-1, 1]^2.
        let (x0, x1) = pts
            .iter()
            .fold((f32::MAX, f32::MIN), |(a, b), p| (a.min(p.0), b.max(p.0)));
        let (y0, y1) = pts
            .iter()
            .fold((f32::MAX, f32::MIN), |(a, b), p| (a.min(p.1), b.max(p.1)));
        pts.iter()
            .map(|&(x, y)| {
                (
                    2.0 * (x - x0) / (x1 - x0) - 1.0,
                    2.0 * (y - y0) / (y1 - y0) - 1.0,
                )
            })
            .collect()
    })
}

fn point_in_polygon(poly: &[(f32, f32)], x: f32, y: f32) -> bool {
    let mut inside = false;
    let mut j = poly.len() - 1;
    for i in 0..poly.len() {
        let (xi, yi) = poly[i];
        let (xj, yj) = poly[j];
        if (yi > y) != (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi {
            inside = !inside;
        }
        j = i;
    }
    inside
}

/// A named colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Colour {
    pub name: &'static str,
    pub words: &'static [&'static str],
    pub rgb: [u8; 3],
}

/// Object colours, far apart in RGB (every pair >= 80 apart) and far from
/// every background colour, so an oracle can tell them apart.
pub const OBJECT_COLOURS: [Colour; 8] = [
    Colour {
        name: "red",
        words: &["red"],
        rgb: [220, 40, 40],
    },
    Colour {
        name: "green",
        words: &["green"],
        rgb: [40, 180, 60],
    },
    Colour {
        name: "blue",
        words: &["blue"],
        rgb: [40, 80, 220],
    },
    Colour {
        name: "yellow",
        words: &["yellow"],
        rgb: [240, 220, 40],
    },
    Colour {
        name: "purple",
        words: &["purple", "violet"],
        rgb: [150, 60, 200],
    },
    Colour {
        name: "orange",
        words: &["orange"],
        rgb: [245, 140, 30],
    },
    Colour {
        name: "cyan",
        words: &["cyan", "turquoise"],
        rgb: [40, 210, 220],
    },
    Colour {
        name: "pink",
        words: &["pink"],
        rgb: [245, 130, 195],
    },
];

/// Background colours; none is an object colour.
pub const BACKGROUNDS: [Colour; 4] = [
    Colour {
        name: "grey",
        words: &["grey", "gray"],
        rgb: [128, 128, 128],
    },
    Colour {
        name: "black",
        words: &["black"],
        rgb: [25, 25, 25],
    },
    Colour {
        name: "white",
        words: &["white"],
        rgb: [235, 235, 235],
    },
    Colour {
        name: "brown",
        words: &["brown"],
        rgb: [110, 72, 42],
    },
];

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Size {
    Small,
    Large,
}

impl Size {
    pub fn name(self) -> &'static str {
        match self {
            Size::Small => "small",
            Size::Large => "large",
        }
    }
    pub fn words(self) -> &'static [&'static str] {
        match self {
            Size::Small => &["small", "little", "tiny"],
            Size::Large => &["large", "big", "huge"],
        }
    }
}

/// Half-side ranges of the object box, as a fraction of the image side.
pub const SMALL_HALF: (f32, f32) = (0.08, 0.09);
pub const LARGE_HALF: (f32, f32) = (0.13, 0.145);
/// Largest offset of an object's centre from its cell's centre.
pub const JITTER: f32 = 0.015;

/// One of the nine named positions: row 0..3 (top to bottom), col 0..3.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Cell {
    pub row: u8,
    pub col: u8,
}

impl Cell {
    pub fn name(self) -> &'static str {
        const NAMES: [[&str; 3]; 3] = [
            ["top left", "top", "top right"],
            ["left", "center", "right"],
            ["bottom left", "bottom", "bottom right"],
        ];
        NAMES[self.row as usize][self.col as usize]
    }
    /// The cell of a normalized point.
    pub fn of(x: f32, y: f32) -> Cell {
        let f = |t: f32| ((t * 3.0).floor().clamp(0.0, 2.0)) as u8;
        Cell {
            row: f(y),
            col: f(x),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Object {
    pub shape: Shape,
    /// Index into [`OBJECT_COLOURS`].
    pub colour: usize,
    pub size: Size,
    pub cell: Cell,
    /// Centre, normalized to [0, 1] (x right, y down).
    pub center: [f32; 2],
    /// Half the side of the object box, normalized.
    pub half: f32,
}

impl Object {
    pub fn colour(&self) -> &'static Colour {
        &OBJECT_COLOURS[self.colour]
    }
    /// Box [x0, y0, x1, y1] normalized to [0, 1].
    pub fn bbox(&self) -> [f32; 4] {
        let [x, y] = self.center;
        [x - self.half, y - self.half, x + self.half, y + self.half]
    }
    /// Box [x0, y0, x1, y1] in pixels of an image of side `res`.
    pub fn bbox_px(&self, res: u32) -> [f32; 4] {
        self.bbox().map(|t| t * res as f32)
    }
    pub fn describe(&self) -> String {
        format!(
            "{} {} {} at {}",
            self.size.name(),
            self.colour().name,
            self.shape.name(),
            self.cell.name()
        )
    }
}

/// Spatial relation of object a to object b, as captions state it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Relation {
    Above,
    Below,
    LeftOf,
    RightOf,
}

impl Relation {
    pub fn phrase(self) -> &'static str {
        match self {
            Relation::Above => "above",
            Relation::Below => "below",
            Relation::LeftOf => "to the left of",
            Relation::RightOf => "to the right of",
        }
    }
    /// Relations that hold between cells a and b.
    pub fn between(a: Cell, b: Cell) -> Vec<Relation> {
        let mut v = Vec::new();
        if a.row < b.row {
            v.push(Relation::Above);
        }
        if a.row > b.row {
            v.push(Relation::Below);
        }
        if a.col < b.col {
            v.push(Relation::LeftOf);
        }
        if a.col > b.col {
            v.push(Relation::RightOf);
        }
        v
    }
}

/// A scene: what an image shows, kept beside the image.
#[derive(Clone, Debug, PartialEq)]
pub struct Scene {
    pub split: Split,
    pub index: u64,
    /// Index into [`BACKGROUNDS`].
    pub background: usize,
    pub objects: Vec<Object>,
}

impl Scene {
    pub fn background(&self) -> &'static Colour {
        &BACKGROUNDS[self.background]
    }
    pub fn describe(&self) -> String {
        let objs: Vec<String> = self.objects.iter().map(Object::describe).collect();
        format!("{} background: {}", self.background().name, objs.join("; "))
    }
    /// Render at `res` x `res` pixels (anti-aliased).
    pub fn render(&self, res: u32) -> image::RgbImage {
        super::render::render(self, res)
    }
    /// Render as CHW floats in [-1, 1].
    pub fn render_chw(&self, res: u32) -> Vec<f32> {
        super::imageops::to_chw(&self.render(res))
    }

    /// What the image shows, as class labels ([`LABELS`] of them): for each
    /// cell of the 3x3 grid in reading order, the shape, colour and size of
    /// its object, each 1 + the attribute's index, or 0 where the cell is
    /// empty. `engine train --model damsm --labels` teaches the image
    /// encoder these (the world's stand-in for the ImageNet pretraining of
    /// AttnGAN's Inception-v3).
    pub fn labels(&self) -> Vec<u32> {
        let mut out = vec![0u32; LABELS];
        for o in &self.objects {
            let at = 3 * (3 * o.cell.row as usize + o.cell.col as usize);
            out[at] = 1 + o.shape.index() as u32;
            out[at + 1] = 1 + o.colour as u32;
            out[at + 2] = match o.size {
                Size::Small => 1,
                Size::Large => 2,
            };
        }
        out
    }
}

/// Cells of [`Scene::labels`]: the 3x3 grid.
pub const LABEL_CELLS: usize = 9;
/// Labels per image of [`Scene::labels`]: (shape, colour, size) per cell.
pub const LABELS: usize = 3 * LABEL_CELLS;
/// Classes of each of a cell's three labels, the empty cell's 0 included:
/// shape, colour, size.
pub const LABEL_CLASSES: [usize; 3] = [Shape::ALL.len() + 1, OBJECT_COLOURS.len() + 1, 3];

#[derive(Clone, Debug)]
pub struct WorldConfig {
    pub seed: u64,
    /// Default rendering resolution (32 to 256).
    pub resolution: u32,
    /// Captions per scene (CUB has 10).
    pub captions_per_image: usize,
    /// At most this many objects per scene (1 to 3; 3, the world's own
    /// mix, by default). A scene keeps its first `max_objects` objects, so
    /// scene i of a one-object world is scene i of the full world with its
    /// first object only: a curriculum's first stage (`engine train
    /// --world-objects 1`).
    pub max_objects: usize,
}

impl Default for WorldConfig {
    fn default() -> Self {
        WorldConfig {
            seed: 0,
            resolution: 64,
            captions_per_image: 10,
            max_objects: WORLD_MAX_OBJECTS,
        }
    }
}

#[derive(Clone, Debug)]
pub struct World {
    pub config: WorldConfig,
}

/// The colour held out of training for each shape: 7 of the 56 (shape,
/// colour) pairs, one per shape, never twice the same colour.
pub fn held_out_colour(shape: Shape) -> usize {
    (3 * shape.index() + 1) % OBJECT_COLOURS.len()
}

pub fn is_held_out(shape: Shape, colour: usize) -> bool {
    held_out_colour(shape) == colour
}

/// Words (tokens) in the longest caption the world can produce: 6 for the
/// longest template ("an image of {o} on a {b} background") and its one-word
/// background, 10 per object for the longest object phrase ("a tiny square
/// in turquoise in the upper left corner", or the test-only "a star, tiny
/// and pink, in the upper left corner"), 4 for a relation ("to the left of")
/// and 1 for the "and" of the object list: 6 + 1 + 3 * 10 + 4 + 1 = 42. The
/// test `world_captions_fit_world_max_words` checks the bound over many
/// scenes of both splits (held-out phrasings included) and that it is
/// reached. AttnGAN cuts birds captions to 18 words; a world caption of two
/// or three objects runs 17 to 42, so the world keeps every word instead.
pub const WORLD_MAX_WORDS: usize = 42;

/// Objects in the world's fullest scenes (its scenes hold 1 to 3).
pub const WORLD_MAX_OBJECTS: usize = 3;

/// Scene templates; `{o}` is the object list, `{b}` the background colour.
const TRAIN_TEMPLATES: [&str; 7] = [
    "{o} on a {b} background",
    "there is {o} on a {b} background",
    "a {b} background with {o}",
    "{o}, on {b}",
    "on a {b} background there is {o}",
    "an image of {o} on a {b} background",
    "{o} against a {b} background",
];
/// Only ever in test captions.
const TEST_TEMPLATES: [&str; 3] = [
    "on a {b} background, {o}",
    "{b} background with {o}",
    "there is a {b} background and {o}",
];

impl World {
    pub fn new(config: WorldConfig) -> World {
        World { config }
    }

    /// Scene `index` of `split`: a pure function of (seed, split, index).
    pub fn scene(&self, split: Split, index: u64) -> Scene {
        let s = match split {
            Split::Train => 1,
            Split::Test => 2,
        };
        let mut rng = SplitMix64::keyed(&[self.config.seed, s, index]);
        let background = rng.below(BACKGROUNDS.len());
        let u = rng.unit();
        let n = if u < 0.4 {
            1
        } else if u < 0.75 {
            2
        } else {
            3
        };
        // Drawn before the cap, so that the scenes of every cap share
        // their first objects (and the rest of the stream).
        let n = n.min(self.config.max_objects.max(1));
        let mut cells: Vec<u8> = (0..9).collect();
        let mut objects: Vec<Object> = Vec::with_capacity(n);
        for k in 0..n {
            let ci = k + rng.below(9 - k);
            cells.swap(k, ci);
            let cell = Cell {
                row: cells[k] / 3,
                col: cells[k] % 3,
            };
            let (shape, colour) = loop {
                let shape = Shape::ALL[rng.below(Shape::ALL.len())];
                let colour = if split == Split::Test && k == 0 {
                    held_out_colour(shape)
                } else {
                    rng.below(OBJECT_COLOURS.len())
                };
                if objects.iter().any(|o| o.colour == colour) {
                    continue;
                }
                if split == Split::Train && is_held_out(shape, colour) {
                    continue;
                }
                break (shape, colour);
            };
            let size = if rng.below(2) == 0 {
                Size::Small
            } else {
                Size::Large
            };
            let (lo, hi) = match size {
                Size::Small => SMALL_HALF,
                Size::Large => LARGE_HALF,
            };
            let half = rng.uniform(lo, hi);
            let cx = (cell.col as f32 + 0.5) / 3.0 + rng.uniform(-JITTER, JITTER);
            let cy = (cell.row as f32 + 0.5) / 3.0 + rng.uniform(-JITTER, JITTER);
            objects.push(Object {
                shape,
                colour,
                size,
                cell,
                center: [cx, cy],
                half,
            });
        }
        Scene {
            split,
            index,
            background,
            objects,
        }
    }

    /// `captions_per_image` captions of a scene, drawn with `rng`. Every
    /// caption states every object's size, colour, shape and position and the
    /// background colour, in varied words and orders.
    pub fn captions<R: RngCore + ?Sized>(&self, scene: &Scene, rng: &mut R) -> Vec<String> {
        (0..self.config.captions_per_image)
            .map(|_| caption(scene, rng))
            .collect()
    }

    /// The scene's captions, deterministic from (seed, split, index).
    pub fn scene_captions(&self, scene: &Scene) -> Vec<String> {
        let mut rng =
            SplitMix64::keyed(&[self.config.seed, 0xCA97, scene.split as u64, scene.index]);
        self.captions(scene, &mut rng)
    }
}

fn pick<'a, R: RngCore + ?Sized>(rng: &mut R, xs: &[&'a str]) -> &'a str {
    xs[rng.random_range(0..xs.len())]
}

fn position_phrase<R: RngCore + ?Sized>(cell: Cell, rng: &mut R) -> String {
    let prep = pick(rng, &["in the", "at the"]);
    let top = pick(rng, &["top", "upper"]);
    let bottom = pick(rng, &["bottom", "lower"]);
    match (cell.row, cell.col) {
        (1, 1) => format!("{prep} {}", pick(rng, &["center", "centre", "middle"])),
        (r, c) if r != 1 && c != 1 => {
            let v = if r == 0 { top } else { bottom };
            let h = if c == 0 { "left" } else { "right" };
            if rng.random_range(0..2) == 0 {
                format!("{prep} {v} {h}")
            } else {
                format!("{prep} {v} {h} corner")
            }
        }
        (r, _) if r != 1 => {
            let v = if r == 0 { top } else { bottom };
            match rng.random_range(0..3) {
                0 => format!("{prep} {}", if r == 0 { "top" } else { "bottom" }),
                1 => format!("{prep} {v} center"),
                _ => format!("{prep} {v} middle"),
            }
        }
        (_, c) => {
            let h = if c == 0 { "left" } else { "right" };
            match rng.random_range(0..3) {
                0 => format!("on the {h}"),
                1 => format!("{prep} middle {h}"),
                _ => format!("{prep} {h} side"),
            }
        }
    }
}

fn object_phrase<R: RngCore + ?Sized>(
    o: &Object,
    held_out_ok: bool,
    pos_first_ok: bool,
    rng: &mut R,
) -> String {
    let size = pick(rng, o.size.words());
    let colour = pick(rng, o.colour().words);
    let shape = pick(rng, o.shape.words());
    let pos = position_phrase(o.cell, rng);
    let forms = if held_out_ok { 4 } else { 3 };
    let mut form = rng.random_range(0..forms);
    if form == 1 && !pos_first_ok {
        form = 0;
    }
    match form {
        0 => format!("a {size} {colour} {shape} {pos}"),
        1 => format!("{pos} a {size} {colour} {shape}"),
        2 => format!("a {size} {shape} in {colour} {pos}"),
        // Test only.
        _ => format!("a {shape}, {size} and {colour}, {pos}"),
    }
}

fn join_list(items: &[String]) -> String {
    match items.len() {
        0 => String::new(),
        1 => items[0].clone(),
        n => format!("{} and {}", items[..n - 1].join(", "), items[n - 1]),
    }
}

fn caption<R: RngCore + ?Sized>(scene: &Scene, rng: &mut R) -> String {
    let test = scene.split == Split::Test;
    let mut order: Vec<usize> = (0..scene.objects.len()).collect();
    for i in (1..order.len()).rev() {
        let j = rng.random_range(0..=i);
        order.swap(i, j);
    }
    let relation = order.len() >= 2 && rng.random_range(0..3) == 0;
    let phrases: Vec<String> = order
        .iter()
        .enumerate()
        .map(|(k, &i)| object_phrase(&scene.objects[i], test, !relation || k >= 2, rng))
        .collect();
    let objs = if relation {
        // "A ... above B ..." and the rest.
        let a = &scene.objects[order[0]];
        let b = &scene.objects[order[1]];
        let rels = Relation::between(a.cell, b.cell);
        let rel = rels[rng.random_range(0..rels.len())];
        let first = format!("{} {} {}", phrases[0], rel.phrase(), phrases[1]);
        let mut rest = vec![first];
        rest.extend(phrases[2..].iter().cloned());
        join_list(&rest)
    } else {
        join_list(&phrases)
    };
    let bg = pick(rng, scene.background().words);
    let n_train = TRAIN_TEMPLATES.len();
    let n = if test {
        n_train + TEST_TEMPLATES.len()
    } else {
        n_train
    };
    let t = rng.random_range(0..n);
    let template = if t < n_train {
        TRAIN_TEMPLATES[t]
    } else {
        TEST_TEMPLATES[t - n_train]
    };
    template.replace("{o}", &objs).replace("{b}", bg)
}

/// Template strings and object forms that occur only in test captions.
pub fn held_out_phrasings() -> Vec<&'static str> {
    let mut v: Vec<&'static str> = TEST_TEMPLATES.to_vec();
    v.push("a {shape}, {size} and {colour}, {pos}");
    v
}
