//! An oracle that checks an image against the scene it was asked to show:
//! the right background, and for each object a blob of the right colour, of
//! the right shape and size, at the right position, in the right relation
//! to the others. It knows only the palette and the shapes' geometry, so it
//! works on any RGB image: the world's own renders, or a generator's output.
//!
//! Method: every pixel gets the nearest palette colour (or none, when it is far from all); the
//! background is the most frequent background colour; same-colour
//! 4-connected components are the candidate objects. Objects are matched to
//! components without looking at where they should be (see
//! [`Oracle::score`]): by colour, else by shape among colours the scene does
//! not use, else the object is missing and wrong on every attribute.
//! Leftover components away from the matched ones count as hallucinated
//! objects. A matched component is grown over the pixels that are at least
//! half its colour on the way to the background's (soft, blurred edges);
//! shape is then the template with the best IoU inside the component's box, size compares the box half-side with the midpoint of the small and
//! large ranges, position is the 3x3 cell of the box centre.
//!
//! Tested (tests/data.rs) on the world's own renders, on renders blurred,
//! noised, colour-shifted and rescaled, on wrong scenes, and on images made
//! to fool it (a blob of every colour).

use super::world::{Cell, Scene, Shape, Size, BACKGROUNDS, LARGE_HALF, OBJECT_COLOURS, SMALL_HALF};
use image::RgbImage;

/// Correct out of total.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub correct: u64,
    pub total: u64,
}

impl Tally {
    pub fn add(&mut self, ok: bool) {
        self.correct += ok as u64;
        self.total += 1;
    }
    pub fn accuracy(&self) -> f64 {
        if self.total == 0 {
            f64::NAN
        } else {
            self.correct as f64 / self.total as f64
        }
    }
}

/// Per-object verdicts. An object that no blob stands for is wrong on every
/// attribute.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ObjectReport {
    /// Some blob was matched to it: one of its colour, or failing that, one
    /// of a colour the scene does not use, with its shape.
    pub found: bool,
    pub colour: bool,
    pub shape: bool,
    pub size: bool,
    pub position: bool,
    pub detected_shape: Option<Shape>,
}

impl ObjectReport {
    pub fn correct(&self) -> bool {
        self.found && self.colour && self.shape && self.size && self.position
    }
}

/// Verdicts for one image.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ImageReport {
    pub background: bool,
    pub objects: Vec<ObjectReport>,
    /// Pairs of objects whose relative placement (above/below, left/right)
    /// matches the scene.
    pub relation: Tally,
    /// Blobs that stand for no object of the scene (hallucinated objects),
    /// away from every matched blob.
    pub extra: usize,
}

impl ImageReport {
    /// Everything right, and nothing more.
    pub fn all_correct(&self) -> bool {
        self.background
            && self.extra == 0
            && self.relation.correct == self.relation.total
            && self.objects.iter().all(ObjectReport::correct)
    }
}

/// Per-attribute accuracy over many images.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OracleScores {
    pub images: u64,
    pub background: Tally,
    pub found: Tally,
    pub colour: Tally,
    pub shape: Tally,
    pub size: Tally,
    pub position: Tally,
    pub relation: Tally,
    /// Images with no hallucinated blob.
    pub no_extra: Tally,
    /// Hallucinated blobs over all images.
    pub extra_blobs: u64,
    /// Images with every attribute right and nothing more.
    pub exact: Tally,
}

impl OracleScores {
    pub fn add(&mut self, r: &ImageReport) {
        self.images += 1;
        self.background.add(r.background);
        for o in &r.objects {
            self.found.add(o.found);
            self.colour.add(o.colour);
            self.shape.add(o.shape);
            self.size.add(o.size);
            self.position.add(o.position);
        }
        self.relation.correct += r.relation.correct;
        self.relation.total += r.relation.total;
        self.no_extra.add(r.extra == 0);
        self.extra_blobs += r.extra as u64;
        self.exact.add(r.all_correct());
    }

    /// Every figure, in report order: (name, tally).
    pub fn attributes(&self) -> [(&'static str, Tally); 9] {
        [
            ("background", self.background),
            ("found", self.found),
            ("colour", self.colour),
            ("shape", self.shape),
            ("size", self.size),
            ("position", self.position),
            ("relation", self.relation),
            ("no extra", self.no_extra),
            ("all", self.exact),
        ]
    }
}

impl std::fmt::Display for OracleScores {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} images:", self.images)?;
        for (name, t) in self.attributes() {
            write!(f, " {name} {:.1}%", 100.0 * t.accuracy())?;
        }
        Ok(())
    }
}

#[derive(Clone, Debug)]
pub struct Oracle {
    /// A pixel farther than this (RGB Euclidean) from every palette colour
    /// belongs to no colour.
    pub max_distance: f32,
    /// Smallest component, as a fraction of a small object's box area.
    pub min_area: f32,
}

impl Default for Oracle {
    fn default() -> Self {
        Oracle {
            max_distance: 90.0,
            min_area: 0.15,
        }
    }
}

const NONE: u8 = u8::MAX;

struct Component {
    label: u8,
    area: usize,
    x0: u32,
    y0: u32,
    x1: u32,
    y1: u32,
    pixels: Vec<(u32, u32)>,
}

impl Oracle {
    fn palette() -> Vec<[u8; 3]> {
        BACKGROUNDS
            .iter()
            .chain(OBJECT_COLOURS.iter())
            .map(|c| c.rgb)
            .collect()
    }

    /// The nearest palette colour of every pixel, or NONE when it is far
    /// from all of them. (A median filter first was tried: it took pixel
    /// noise out but cost small objects their points and arms, 98% -> 77%
    /// shape accuracy on clean 64x64 renders; noise of sigma 0.1 alone costs
    /// less than 1.5 points without it.)
    fn labels(&self, img: &RgbImage) -> Vec<u8> {
        let pal = Self::palette();
        let max2 = self.max_distance * self.max_distance;
        img.pixels()
            .map(|p| {
                let mut best = (f32::MAX, NONE);
                for (i, c) in pal.iter().enumerate() {
                    let d: f32 = (0..3).map(|k| (p.0[k] as f32 - c[k] as f32).powi(2)).sum();
                    if d < best.0 {
                        best = (d, i as u8);
                    }
                }
                if best.0 <= max2 {
                    best.1
                } else {
                    NONE
                }
            })
            .collect()
    }

    fn components(&self, labels: &[u8], w: u32, h: u32) -> Vec<Component> {
        let nb = BACKGROUNDS.len() as u8;
        let small_box = (2.0 * SMALL_HALF.0) * (2.0 * SMALL_HALF.0) * (w * h) as f32;
        let min_area = (self.min_area * small_box).max(2.0) as usize;
        let mut seen = vec![false; labels.len()];
        let mut out = Vec::new();
        for start in 0..labels.len() {
            let l = labels[start];
            if seen[start] || l == NONE || l < nb {
                continue;
            }
            seen[start] = true;
            let seed = ((start as u32) % w, (start as u32) / w);
            let c = flood(w, h, l - nb, vec![seed], |x, y| {
                let j = (y * w + x) as usize;
                let take = !seen[j] && labels[j] == l;
                seen[j] |= take;
                take
            });
            if c.area >= min_area {
                out.push(c);
            }
        }
        out
    }

    /// Score one image against the scene it should show.
    ///
    /// Blobs are matched to the scene's objects without looking at where the
    /// objects should be: each object takes the largest blob of its colour
    /// (the scene's objects have distinct colours); an object with no blob
    /// of its colour takes the largest unclaimed blob of a colour the scene
    /// does not use whose shape is the object's (found, colour wrong);
    /// otherwise it is missing and wrong on every attribute. Size and
    /// position are then judged on the matched blob. Blobs left over that
    /// lie away from every matched blob are hallucinated objects (`extra`).
    pub fn score(&self, img: &RgbImage, scene: &Scene) -> ImageReport {
        let (w, h) = img.dimensions();
        let labels = self.labels(img);
        let mut hist = [0usize; BACKGROUNDS.len()];
        for &l in &labels {
            if (l as usize) < BACKGROUNDS.len() {
                hist[l as usize] += 1;
            }
        }
        let bg = (0..hist.len()).max_by_key(|&i| hist[i]).unwrap();
        let comps = self.components(&labels, w, h);
        let shapes: Vec<Shape> = comps.iter().map(classify_shape).collect();
        let mut claimed = vec![false; comps.len()];
        let mut report = ImageReport {
            background: bg == scene.background,
            ..Default::default()
        };
        let largest = |ok: &dyn Fn(usize) -> bool, claimed: &[bool]| {
            (0..comps.len())
                .filter(|&i| !claimed[i] && ok(i))
                .max_by_key(|&i| comps[i].area)
        };
        // First every object that has a blob of its colour, so that a
        // wrong-colour fallback never takes a blob another object owns.
        let mut pick: Vec<Option<(usize, bool)>> = vec![None; scene.objects.len()];
        for (k, o) in scene.objects.iter().enumerate() {
            if let Some(i) = largest(&|i| comps[i].label as usize == o.colour, &claimed) {
                claimed[i] = true;
                pick[k] = Some((i, true));
            }
        }
        let scene_colour = |l: u8| scene.objects.iter().any(|o| o.colour == l as usize);
        for (k, o) in scene.objects.iter().enumerate() {
            if pick[k].is_none() {
                let ok = |i: usize| !scene_colour(comps[i].label) && shapes[i] == o.shape;
                if let Some(i) = largest(&ok, &claimed) {
                    claimed[i] = true;
                    pick[k] = Some((i, false));
                }
            }
        }
        // Judge each matched blob by its soft extent: the pixels, connected
        // to it, that are at least half its colour on the way to the
        // background's (a blurred edge is a mixture of the two), so a soft
        // or blurred object keeps its size and outline.
        let bg_rgb = BACKGROUNDS[bg].rgb;
        let grown: Vec<Option<Component>> = pick
            .iter()
            .map(|p| p.map(|(i, _)| grow(img, &comps[i], bg_rgb)))
            .collect();
        let shapes_grown: Vec<Option<Shape>> = grown
            .iter()
            .map(|c| c.as_ref().map(classify_shape))
            .collect();
        let centre_of = |c: &Component| {
            [
                (c.x0 + c.x1 + 1) as f32 * 0.5 / w as f32,
                (c.y0 + c.y1 + 1) as f32 * 0.5 / h as f32,
            ]
        };
        let mut centres: Vec<Option<[f32; 2]>> = Vec::new();
        for (k, (o, p)) in scene.objects.iter().zip(&pick).enumerate() {
            let (Some((_, colour)), Some(c), Some(shape)) = (*p, &grown[k], shapes_grown[k]) else {
                report.objects.push(ObjectReport::default());
                centres.push(None);
                continue;
            };
            let centre = centre_of(c);
            let half = ((c.x1 + 1 - c.x0) as f32 / w as f32)
                .max((c.y1 + 1 - c.y0) as f32 / h as f32)
                * 0.5;
            let size = if half < (SMALL_HALF.1 + LARGE_HALF.0) * 0.5 {
                Size::Small
            } else {
                Size::Large
            };
            report.objects.push(ObjectReport {
                found: true,
                colour,
                shape: shape == o.shape,
                size: size == o.size,
                position: Cell::of(centre[0], centre[1]) == o.cell,
                detected_shape: Some(shape),
            });
            centres.push(Some(centre));
        }
        // A leftover blob is an extra object unless it lies on or beside a
        // matched one (the soft edge of a blurred object can take another
        // palette colour, e.g. red on white gives a pink rim).
        let margin = (w.max(h) as f32 * 0.03).ceil() as i64;
        let near_matched = |c: &Component| {
            pick.iter().flatten().any(|&(i, _)| {
                let m = &comps[i];
                let (cx, cy) = ((c.x0 + c.x1) as i64, (c.y0 + c.y1) as i64);
                cx >= 2 * (m.x0 as i64 - margin)
                    && cx <= 2 * (m.x1 as i64 + margin)
                    && cy >= 2 * (m.y0 as i64 - margin)
                    && cy <= 2 * (m.y1 as i64 + margin)
            })
        };
        report.extra = (0..comps.len())
            .filter(|&i| !claimed[i] && !near_matched(&comps[i]))
            .count();
        let sign = |a: f32, b: f32| {
            if (a - b).abs() < 1.0 / 6.0 {
                0
            } else if a < b {
                -1
            } else {
                1
            }
        };
        for i in 0..scene.objects.len() {
            for j in i + 1..scene.objects.len() {
                let (a, b) = (&scene.objects[i], &scene.objects[j]);
                let ok = match (centres[i], centres[j]) {
                    (Some(p), Some(q)) => {
                        sign(p[0], q[0]) == (a.cell.col as i32 - b.cell.col as i32).signum()
                            && sign(p[1], q[1]) == (a.cell.row as i32 - b.cell.row as i32).signum()
                    }
                    _ => false,
                };
                report.relation.add(ok);
            }
        }
        report
    }

    /// Score image `k` against scene `k` for all k.
    pub fn score_all<'a>(
        &self,
        pairs: impl IntoIterator<Item = (&'a RgbImage, &'a Scene)>,
    ) -> OracleScores {
        let mut s = OracleScores::default();
        for (img, scene) in pairs {
            s.add(&self.score(img, scene));
        }
        s
    }
}

/// The component grown over the connected pixels that are mixtures of its
/// colour and the background's with at least half its colour (projection on
/// the segment from background to colour >= 0.5, and close to that segment),
/// within a margin around its box.
fn grow(img: &RgbImage, c: &Component, bg: [u8; 3]) -> Component {
    let (w, h) = img.dimensions();
    let fg = OBJECT_COLOURS[c.label as usize].rgb;
    let d: [f32; 3] = std::array::from_fn(|k| fg[k] as f32 - bg[k] as f32);
    let dd: f32 = d.iter().map(|x| x * x).sum::<f32>().max(1.0);
    let inside = |x: u32, y: u32| {
        let p = img.get_pixel(x, y).0;
        let v: [f32; 3] = std::array::from_fn(|k| p[k] as f32 - bg[k] as f32);
        let a = v.iter().zip(&d).map(|(v, d)| v * d).sum::<f32>() / dd;
        let off: f32 = (0..3).map(|k| (v[k] - a * d[k]).powi(2)).sum();
        (0.5..=1.5).contains(&a) && off <= 60.0 * 60.0
    };
    let margin = (w.max(h) / 16).max(2);
    let (bx0, by0) = (c.x0.saturating_sub(margin), c.y0.saturating_sub(margin));
    let (bx1, by1) = ((c.x1 + margin).min(w - 1), (c.y1 + margin).min(h - 1));
    let mut seen: std::collections::HashSet<(u32, u32)> = c.pixels.iter().copied().collect();
    flood(w, h, c.label, c.pixels.clone(), |x, y| {
        (bx0..=bx1).contains(&x)
            && (by0..=by1).contains(&y)
            && !seen.contains(&(x, y))
            && inside(x, y)
            && seen.insert((x, y))
    })
}

/// The 4-connected component grown from `seeds` (already taken) over the
/// pixels `take` accepts (it also marks them, so each is taken once).
fn flood(
    w: u32,
    h: u32,
    label: u8,
    seeds: Vec<(u32, u32)>,
    mut take: impl FnMut(u32, u32) -> bool,
) -> Component {
    let mut c = Component {
        label,
        area: 0,
        x0: w,
        y0: h,
        x1: 0,
        y1: 0,
        pixels: Vec::with_capacity(seeds.len()),
    };
    let mut stack = seeds;
    while let Some((x, y)) = stack.pop() {
        c.area += 1;
        c.x0 = c.x0.min(x);
        c.y0 = c.y0.min(y);
        c.x1 = c.x1.max(x);
        c.y1 = c.y1.max(y);
        c.pixels.push((x, y));
        let mut visit = |xx: u32, yy: u32| {
            if take(xx, yy) {
                stack.push((xx, yy));
            }
        };
        if x > 0 {
            visit(x - 1, y);
        }
        if x + 1 < w {
            visit(x + 1, y);
        }
        if y > 0 {
            visit(x, y - 1);
        }
        if y + 1 < h {
            visit(x, y + 1);
        }
    }
    c
}

/// The shape whose template, stretched over the component's box, has the
/// best intersection-over-union with the component.
fn classify_shape(c: &Component) -> Shape {
    let bw = (c.x1 + 1 - c.x0) as usize;
    let bh = (c.y1 + 1 - c.y0) as usize;
    let mut mask = vec![false; bw * bh];
    for &(x, y) in &c.pixels {
        mask[(y - c.y0) as usize * bw + (x - c.x0) as usize] = true;
    }
    let (hw, hh) = (bw as f32 * 0.5, bh as f32 * 0.5);
    let mut best = (f32::MIN, Shape::Circle);
    for shape in Shape::ALL {
        let (mut inter, mut uni) = (0u32, 0u32);
        for y in 0..bh {
            let v = (y as f32 + 0.5 - hh) / hh;
            for x in 0..bw {
                let u = (x as f32 + 0.5 - hw) / hw;
                let t = shape.inside(u, v);
                let m = mask[y * bw + x];
                inter += (t && m) as u32;
                uni += (t || m) as u32;
            }
        }
        let iou = inter as f32 / uni.max(1) as f32;
        if iou > best.0 {
            best = (iou, shape);
        }
    }
    best.1
}
