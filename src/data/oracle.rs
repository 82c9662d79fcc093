//! An oracle that checks an image against the scene it was asked to show:
//! the right background, and for each object a blob of the right colour, of
//! the right shape and size, at the right position, in the right relation
//! to the others. It knows only the palette and the shapes' geometry, so it
//! works on any RGB image: the world's own renders, or a generator's output.
//!
//! Method: every pixel gets the nearest palette colour (or none, when it is
//! far from all); the background is the most frequent background colour;
//! same-colour 4-connected components are the candidate objects. Each scene
//! object takes the largest unclaimed component of its colour (colour
//! correct), else the unclaimed component nearest its expected centre
//! (colour wrong, the rest still judged). Shape is the template with the best
//! IoU inside the component's box, size compares the box half-side with the
//! midpoint of the small and large ranges, position is the 3x3 cell of the
//! box centre.

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

/// Per-object verdicts.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ObjectReport {
    pub found: bool,
    pub colour: bool,
    pub shape: bool,
    pub size: bool,
    pub position: bool,
    pub detected_shape: Option<Shape>,
}

/// Verdicts for one image.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ImageReport {
    pub background: bool,
    pub objects: Vec<ObjectReport>,
    /// Pairs of objects whose relative placement (above/below, left/right)
    /// matches the scene.
    pub relation: Tally,
}

impl ImageReport {
    /// Everything right.
    pub fn all_correct(&self) -> bool {
        self.background
            && self.relation.correct == self.relation.total
            && self
                .objects
                .iter()
                .all(|o| o.colour && o.shape && o.size && o.position)
    }
}

/// Per-attribute accuracy over many images.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OracleScores {
    pub images: u64,
    pub background: Tally,
    pub colour: Tally,
    pub shape: Tally,
    pub size: Tally,
    pub position: Tally,
    pub relation: Tally,
    /// Images with every attribute right.
    pub exact: Tally,
}

impl OracleScores {
    pub fn add(&mut self, r: &ImageReport) {
        self.images += 1;
        self.background.add(r.background);
        for o in &r.objects {
            self.colour.add(o.colour);
            self.shape.add(o.shape);
            self.size.add(o.size);
            self.position.add(o.position);
        }
        self.relation.correct += r.relation.correct;
        self.relation.total += r.relation.total;
        self.exact.add(r.all_correct());
    }

    pub fn attributes(&self) -> [(&'static str, Tally); 7] {
        [
            ("background", self.background),
            ("colour", self.colour),
            ("shape", self.shape),
            ("size", self.size),
            ("position", self.position),
            ("relation", self.relation),
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
        let mut stack = Vec::new();
        for start in 0..labels.len() {
            let l = labels[start];
            if seen[start] || l == NONE || l < nb {
                continue;
            }
            seen[start] = true;
            stack.push(start);
            let mut c = Component {
                label: l - nb,
                area: 0,
                x0: w,
                y0: h,
                x1: 0,
                y1: 0,
                pixels: vec![],
            };
            while let Some(i) = stack.pop() {
                let (x, y) = ((i as u32) % w, (i as u32) / w);
                c.area += 1;
                c.x0 = c.x0.min(x);
                c.y0 = c.y0.min(y);
                c.x1 = c.x1.max(x);
                c.y1 = c.y1.max(y);
                c.pixels.push((x, y));
                let mut visit = |j: usize| {
                    if !seen[j] && labels[j] == l {
                        seen[j] = true;
                        stack.push(j);
                    }
                };
                if x > 0 {
                    visit(i - 1);
                }
                if x + 1 < w {
                    visit(i + 1);
                }
                if y > 0 {
                    visit(i - w as usize);
                }
                if y + 1 < h {
                    visit(i + w as usize);
                }
            }
            if c.area >= min_area {
                out.push(c);
            }
        }
        out
    }

    /// Score one image against the scene it should show.
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
        let mut claimed = vec![false; comps.len()];
        let mut report = ImageReport {
            background: bg == scene.background,
            ..Default::default()
        };
        let mut centres: Vec<Option<[f32; 2]>> = Vec::new();
        for o in &scene.objects {
            let by_colour = (0..comps.len())
                .filter(|&i| !claimed[i] && comps[i].label as usize == o.colour)
                .max_by_key(|&i| comps[i].area);
            let centre_of = |c: &Component| {
                [
                    (c.x0 + c.x1 + 1) as f32 * 0.5 / w as f32,
                    (c.y0 + c.y1 + 1) as f32 * 0.5 / h as f32,
                ]
            };
            let pick = by_colour.or_else(|| {
                (0..comps.len()).filter(|&i| !claimed[i]).min_by(|&a, &b| {
                    let d = |i: usize| {
                        let c = centre_of(&comps[i]);
                        (c[0] - o.center[0]).powi(2) + (c[1] - o.center[1]).powi(2)
                    };
                    d(a).total_cmp(&d(b))
                })
            });
            let Some(i) = pick else {
                report.objects.push(ObjectReport::default());
                centres.push(None);
                continue;
            };
            claimed[i] = true;
            let c = &comps[i];
            let centre = centre_of(c);
            let shape = classify_shape(c);
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
                colour: by_colour.is_some(),
                shape: shape == o.shape,
                size: size == o.size,
                position: Cell::of(centre[0], centre[1]) == o.cell,
                detected_shape: Some(shape),
            });
            centres.push(Some(centre));
        }
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
