//! Scores for captions that an image captioner wrote, for `engine eval
//! caption`: corpus BLEU against reference captions, and, for the built-in
//! world, what a caption states read back into attributes and checked
//! against the scene its image shows.
//!
//! - [`corpus_bleu`]: BLEU-4 (Papineni et al. 2002) as NLTK's `corpus_bleu`
//!   computes it with uniform weights and no smoothing. BLEU rewards wording
//!   close to the references, which the world varies freely, so it says
//!   little about whether a caption is right.
//! - [`parse_world_caption`]: a world caption (every phrasing
//!   [`super::world`] writes, held-out ones included) read back into its
//!   background and object mentions. It never panics and skips what it
//!   cannot read, so it takes whatever token sequence a model produces.
//! - [`CaptionAttributes`]: per-attribute recall of a caption against a
//!   scene (background, colour, shape, size, position, all four bound to one
//!   object, object count) and the share of invented objects. Unlike BLEU it
//!   does not care how a caption says a thing, only whether it says it.
//!
//! Host only; needs no GPU.

use super::oracle::Tally;
use super::vocab::tokenize;
use super::world::{Cell, Scene, Shape, Size, BACKGROUNDS, OBJECT_COLOURS};
use std::collections::HashMap;

/// Corpus BLEU-4 and its parts.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Bleu {
    /// BLEU-4 in [0, 1]: brevity penalty times the geometric mean of the
    /// four precisions; 0 when any precision is 0 (no smoothing).
    pub score: f64,
    /// Modified (clipped) n-gram precisions for n = 1..=4 at corpus level:
    /// clipped matches summed over the corpus over hypothesis n-grams summed
    /// over the corpus (each hypothesis counting at least 1, as NLTK does).
    pub precisions: [f64; 4],
    /// exp(1 - r / c) when c < r, else 1 (0 when c = 0), with c the
    /// hypothesis words and r the reference words.
    pub brevity_penalty: f64,
    /// Words over all hypotheses (c).
    pub hypothesis_words: usize,
    /// Sum over hypotheses of the length of the reference closest in length
    /// to the hypothesis, the shorter on a tie (r).
    pub reference_words: usize,
}

/// N-gram counts of `tokens` for one `n`.
fn ngrams(tokens: &[String], n: usize) -> HashMap<&[String], usize> {
    let mut m: HashMap<&[String], usize> = HashMap::new();
    if tokens.len() >= n {
        for w in tokens.windows(n) {
            *m.entry(w).or_default() += 1;
        }
    }
    m
}

/// Corpus BLEU-4 as NLTK's `corpus_bleu(references, hypotheses)` with the
/// default uniform weights and no smoothing: `hypotheses[i]` is scored
/// against `references[i]` (one or more token lists). Tokens are as
/// [`tokenize`] gives them. Counts are clipped by the largest count in any
/// one reference and summed over the corpus before dividing. Empty input,
/// or different numbers of hypotheses and reference sets, give a score of 0.
pub fn corpus_bleu(hypotheses: &[Vec<String>], references: &[Vec<Vec<String>>]) -> Bleu {
    if hypotheses.is_empty() || hypotheses.len() != references.len() {
        return Bleu::default();
    }
    let mut num = [0u64; 4];
    let mut den = [0u64; 4];
    let mut c = 0usize;
    let mut r = 0usize;
    for (hyp, refs) in hypotheses.iter().zip(references) {
        for n in 1..=4 {
            let counts = ngrams(hyp, n);
            // Largest count of each n-gram in any one reference.
            let mut max_ref: HashMap<&[String], usize> = HashMap::new();
            for rf in refs {
                for (g, k) in ngrams(rf, n) {
                    let e = max_ref.entry(g).or_default();
                    *e = (*e).max(k);
                }
            }
            let clipped: usize = counts
                .iter()
                .map(|(g, &k)| k.min(max_ref.get(g).copied().unwrap_or(0)))
                .sum();
            num[n - 1] += clipped as u64;
            den[n - 1] += counts.values().sum::<usize>().max(1) as u64;
        }
        c += hyp.len();
        r += refs
            .iter()
            .map(|rf| rf.len())
            .min_by_key(|&len| (len.abs_diff(hyp.len()), len))
            .unwrap_or(0);
    }
    let precisions = std::array::from_fn(|i| num[i] as f64 / den[i] as f64);
    let brevity_penalty = if c == 0 {
        0.0
    } else if c < r {
        (1.0 - r as f64 / c as f64).exp()
    } else {
        1.0
    };
    let score = if num.contains(&0) {
        0.0
    } else {
        let log_mean = precisions.iter().map(|p: &f64| p.ln()).sum::<f64>() / 4.0;
        brevity_penalty * log_mean.exp()
    };
    Bleu {
        score,
        precisions,
        brevity_penalty,
        hypothesis_words: c,
        reference_words: r,
    }
}

/// One object as a caption states it; `None` where the caption does not say.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ObjectMention {
    pub shape: Option<Shape>,
    /// Index into [`OBJECT_COLOURS`].
    pub colour: Option<usize>,
    pub size: Option<Size>,
    pub cell: Option<Cell>,
}

impl ObjectMention {
    /// States at least one of shape, colour and size (a position alone is
    /// not an object).
    fn has_content(&self) -> bool {
        self.shape.is_some() || self.colour.is_some() || self.size.is_some()
    }
}

/// An object's attributes as one comparable key: (shape, colour, size,
/// row, column).
pub type ObjectKey = (usize, usize, u8, u8, u8);

impl ObjectMention {
    /// The key, when the caption states all four attributes.
    pub fn key(&self) -> Option<ObjectKey> {
        Some((
            self.shape?.index(),
            self.colour?,
            self.size? as u8,
            self.cell?.row,
            self.cell?.col,
        ))
    }
}

/// A scene's objects as sorted keys: what a caption of it states in full.
pub fn scene_keys(scene: &Scene) -> Vec<Option<ObjectKey>> {
    sorted(scene.objects.iter().map(|o| {
        Some((
            o.shape.index(),
            o.colour,
            o.size as u8,
            o.cell.row,
            o.cell.col,
        ))
    }))
}

/// A caption's objects as sorted keys (None: an object not stated in full).
pub fn caption_keys(m: &Mentions) -> Vec<Option<ObjectKey>> {
    sorted(m.objects.iter().map(ObjectMention::key))
}

fn sorted(keys: impl Iterator<Item = Option<ObjectKey>>) -> Vec<Option<ObjectKey>> {
    let mut v: Vec<_> = keys.collect();
    v.sort();
    v
}

/// What a caption states: its background and its objects, in caption order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Mentions {
    /// Index into [`BACKGROUNDS`].
    pub background: Option<usize>,
    pub objects: Vec<ObjectMention>,
}

fn shape_of(w: &str) -> Option<Shape> {
    Shape::ALL.into_iter().find(|s| s.words().contains(&w))
}

fn object_colour_of(w: &str) -> Option<usize> {
    OBJECT_COLOURS.iter().position(|c| c.words.contains(&w))
}

fn background_of(w: &str) -> Option<usize> {
    BACKGROUNDS.iter().position(|c| c.words.contains(&w))
}

fn size_of(w: &str) -> Option<Size> {
    [Size::Small, Size::Large]
        .into_iter()
        .find(|s| s.words().contains(&w))
}

/// Words of position phrases: vertical, horizontal, or filler.
enum PosWord {
    Row(u8),
    Col(u8),
    /// "center", "centre", "middle": the middle row or column unless the
    /// phrase names another.
    Centre,
    /// "corner", "side": say nothing on their own.
    Filler,
}

fn pos_word(w: &str) -> Option<PosWord> {
    Some(match w {
        "top" | "upper" => PosWord::Row(0),
        "bottom" | "lower" => PosWord::Row(2),
        "left" => PosWord::Col(0),
        "right" => PosWord::Col(2),
        "center" | "centre" | "middle" => PosWord::Centre,
        "corner" | "side" => PosWord::Filler,
        _ => return None,
    })
}

/// Read a position phrase's words from `toks[i..]`: a run of position
/// words, ended by a word that is not one or that names a row (or column)
/// a second time. Returns the cell (missing row or column: the middle one)
/// and the words read, or `None` when the run names nothing (only
/// "corner" or "side").
fn read_position(toks: &[String], i: usize) -> Option<(Cell, usize)> {
    let (mut row, mut col, mut centre) = (None, None, false);
    let mut j = i;
    while let Some(w) = toks.get(j).and_then(|w| pos_word(w)) {
        match w {
            PosWord::Row(r) if row.is_none() => row = Some(r),
            PosWord::Col(c) if col.is_none() => col = Some(c),
            PosWord::Row(_) | PosWord::Col(_) => break,
            PosWord::Centre => centre = true,
            PosWord::Filler => {}
        }
        j += 1;
    }
    if j == i || (row.is_none() && col.is_none() && !centre) {
        return None;
    }
    let cell = Cell {
        row: row.unwrap_or(1),
        col: col.unwrap_or(1),
    };
    Some((cell, j - i))
}

/// Length of a relation phrase at `toks[i..]` ("above", "below", "to the
/// left of", "to the right of"; "of" may be missing), else 0. Its "left" and
/// "right" are not positions.
fn relation_len(toks: &[String], i: usize) -> usize {
    let at = |k: usize| toks.get(i + k).map(String::as_str);
    match at(0) {
        Some("above" | "below") => 1,
        Some("to") if at(1) == Some("the") && matches!(at(2), Some("left" | "right")) => {
            if at(3) == Some("of") {
                4
            } else {
                3
            }
        }
        _ => 0,
    }
}

/// Builds object mentions from a stream of attributes.
#[derive(Default)]
struct Builder {
    objects: Vec<ObjectMention>,
    current: Option<ObjectMention>,
    /// A position read before the object it belongs to ("in the top a ...").
    pending_cell: Option<Cell>,
    /// An article or relation was read: the next attribute starts an object.
    fresh: bool,
}

enum Attr {
    Shape(Shape),
    Colour(usize),
    Size(Size),
}

impl Builder {
    fn close(&mut self) {
        if let Some(m) = self.current.take() {
            if m.has_content() {
                self.objects.push(m);
            }
        }
    }

    /// A shape, colour or size: it goes to the current object unless an
    /// article or relation came between or the object already has one (a
    /// model that drops "a" still gets its objects split).
    fn attr(&mut self, a: Attr) {
        let taken = match (&self.current, &a) {
            (None, _) => true,
            (Some(m), Attr::Shape(_)) => m.shape.is_some(),
            (Some(m), Attr::Colour(_)) => m.colour.is_some(),
            (Some(m), Attr::Size(_)) => m.size.is_some(),
        };
        if taken || self.fresh {
            self.close();
            self.current = Some(ObjectMention {
                cell: self.pending_cell.take(),
                ..ObjectMention::default()
            });
            self.fresh = false;
        }
        if let Some(m) = self.current.as_mut() {
            match a {
                Attr::Shape(s) => m.shape = Some(s),
                Attr::Colour(c) => m.colour = Some(c),
                Attr::Size(s) => m.size = Some(s),
            }
        }
    }

    /// A position follows the object it belongs to, unless that object has
    /// one already (it was written first: "in the top a ..."), or an article
    /// came between; then it waits for the next object.
    fn position(&mut self, cell: Cell) {
        match self.current.as_mut() {
            Some(m) if m.cell.is_none() && !self.fresh => m.cell = Some(cell),
            _ => self.pending_cell = Some(cell),
        }
    }

    /// An article or a relation: what follows is another object.
    fn boundary(&mut self) {
        self.fresh = true;
    }
}

/// Read a world caption back into what it states: the background (the
/// background colour word next to "background", or the last word after a
/// final "on", as in "{o}, on {b}") and the objects with their shape,
/// colour, size and position. Understands every phrasing the world writes,
/// held-out ones included; relation phrases ("to the left of", "above") are
/// not read as positions. Anything else (unknown words, repetitions, missing
/// words, an empty string) is skipped: the result holds what could be read.
pub fn parse_world_caption(caption: &str) -> Mentions {
    let toks = tokenize(caption);
    let n = toks.len();
    // The background first, so its colour word is never an object's.
    let mut skip = vec![false; n];
    let mut background = None;
    for i in 1..n {
        if toks[i] == "background" {
            let w = toks[i - 1].as_str();
            let bg = background_of(w);
            if bg.is_some() || object_colour_of(w).is_some() {
                skip[i - 1] = true;
            }
            background = background.or(bg);
        }
    }
    if background.is_none() && n >= 2 && toks[n - 2] == "on" {
        if let Some(bg) = background_of(&toks[n - 1]) {
            background = Some(bg);
            skip[n - 1] = true;
        }
    }

    let mut b = Builder::default();
    let mut i = 0;
    while i < n {
        if skip[i] {
            i += 1;
            continue;
        }
        let rel = relation_len(&toks, i);
        if rel > 0 {
            b.boundary();
            i += rel;
            continue;
        }
        if let Some((cell, len)) = read_position(&toks, i) {
            b.position(cell);
            i += len;
            continue;
        }
        let w = toks[i].as_str();
        if let Some(s) = shape_of(w) {
            b.attr(Attr::Shape(s));
        } else if let Some(c) = object_colour_of(w) {
            b.attr(Attr::Colour(c));
        } else if let Some(s) = size_of(w) {
            b.attr(Attr::Size(s));
        } else if w == "a" || w == "an" {
            b.boundary();
        }
        i += 1;
    }
    b.close();
    Mentions {
        background,
        objects: b.objects,
    }
}

/// A captioner's captions scored against the scenes their images show, one
/// [`add`](CaptionAttributes::add) per caption. Object attributes are
/// recall: each counts once per scene object (total = objects), right when
/// some object mention of the caption states it; attributes are judged
/// independently (an object's colour may be stated by one mention and its
/// shape by another), except in `bound`.
#[derive(Default, Clone, Debug)]
pub struct CaptionAttributes {
    /// Once per caption: the caption names the scene's background.
    pub background: Tally,
    /// Per scene object: some mention names its colour.
    pub colour: Tally,
    /// Per scene object: some mention names its shape.
    pub shape: Tally,
    /// Per scene object: some mention names its size.
    pub size: Tally,
    /// Per scene object: some mention names its cell (position).
    pub position: Tally,
    /// Per scene object: one mention names all four of its shape, colour,
    /// size and cell (the attributes bound to the right object).
    pub bound: Tally,
    /// Once per caption: it mentions as many objects as the scene has.
    pub count: Tally,
    /// Per object mention: `correct` counts mentions that no scene object
    /// matches by shape and colour (a shape or colour the mention does not
    /// state matches anything), so `accuracy()` is the share of invented
    /// mentions: lower is better, 0 for a faithful caption, NaN for a
    /// caption with no mentions.
    pub invented: Tally,
}

impl CaptionAttributes {
    /// Score one caption against the scene its image shows.
    pub fn add(&mut self, caption: &str, scene: &Scene) {
        let m = parse_world_caption(caption);
        self.background.add(m.background == Some(scene.background));
        for o in &scene.objects {
            let ms = &m.objects;
            self.colour
                .add(ms.iter().any(|x| x.colour == Some(o.colour)));
            self.shape.add(ms.iter().any(|x| x.shape == Some(o.shape)));
            self.size.add(ms.iter().any(|x| x.size == Some(o.size)));
            self.position.add(ms.iter().any(|x| x.cell == Some(o.cell)));
            self.bound.add(ms.iter().any(|x| {
                x.shape == Some(o.shape)
                    && x.colour == Some(o.colour)
                    && x.size == Some(o.size)
                    && x.cell == Some(o.cell)
            }));
        }
        self.count.add(m.objects.len() == scene.objects.len());
        for x in &m.objects {
            let matched = scene.objects.iter().any(|o| {
                x.shape.is_none_or(|s| s == o.shape) && x.colour.is_none_or(|c| c == o.colour)
            });
            self.invented.add(!matched);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::rng::SplitMix64;
    use crate::data::world::{Split, World, WorldConfig};
    use rand::Rng;

    fn toks(s: &str) -> Vec<String> {
        tokenize(s)
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn bleu_identical_is_one() {
        let h = vec![toks(
            "a small red circle in the top left on a grey background",
        )];
        let r = vec![vec![h[0].clone()]];
        let b = corpus_bleu(&h, &r);
        assert!(close(b.score, 1.0), "{b:?}");
        assert_eq!(b.precisions, [1.0; 4]);
        assert_eq!(b.brevity_penalty, 1.0);
        assert_eq!((b.hypothesis_words, b.reference_words), (12, 12));
    }

    #[test]
    fn bleu_hand_computed() {
        // Sentence 1: hypothesis "a small red circle in the top left" against
        // "a small red circle at the top left", 8 words each.
        //   1-grams: all but "in" match: 7/8.
        //   2-grams: a small, small red, red circle, the top, top left: 5/7.
        //   3-grams: a small red, small red circle, the top left: 3/6.
        //   4-grams: a small red circle: 1/5.
        //   BLEU = (7/8 * 5/7 * 3/6 * 1/5)^(1/4) = (1/16)^(1/4) = 1/2.
        let h1 = toks("a small red circle in the top left");
        let r1 = toks("a small red circle at the top left");
        let b = corpus_bleu(std::slice::from_ref(&h1), &[vec![r1.clone()]]);
        assert!(close(b.score, 0.5), "{b:?}");
        let want = [7.0 / 8.0, 5.0 / 7.0, 3.0 / 6.0, 1.0 / 5.0];
        for (p, w) in b.precisions.iter().zip(want) {
            assert!(close(*p, w), "{b:?}");
        }
        // Corpus: add sentence 2, "a big blue square" with references of 4
        // and 6 words (closest: 4); it matches fully: 4/4, 3/3, 2/2, 1/1.
        // Counts are summed before dividing: 11/12, 8/10, 5/8, 2/6, so
        // BLEU = (11/12 * 8/10 * 5/8 * 2/6)^(1/4) = (11/72)^(1/4) ~ 0.6252,
        // not the mean of the sentence scores.
        let h2 = toks("a big blue square");
        let r2 = vec![h2.clone(), toks("there is a big blue square")];
        let b = corpus_bleu(&[h1, h2], &[vec![r1], r2]);
        let want = [11.0 / 12.0, 8.0 / 10.0, 5.0 / 8.0, 2.0 / 6.0];
        for (p, w) in b.precisions.iter().zip(want) {
            assert!(close(*p, w), "{b:?}");
        }
        assert!(close(b.score, (11.0f64 / 72.0).powf(0.25)), "{b:?}");
        assert_eq!((b.hypothesis_words, b.reference_words), (12, 12));
        assert_eq!(b.brevity_penalty, 1.0);
    }

    #[test]
    fn bleu_brevity_penalty() {
        // 4 words against 8: precisions all 1, BP = exp(1 - 8/4) = exp(-1).
        let h = toks("a small red circle");
        let r = toks("a small red circle in the top left");
        let b = corpus_bleu(std::slice::from_ref(&h), &[vec![r.clone()]]);
        assert_eq!(b.precisions, [1.0; 4]);
        assert!(close(b.brevity_penalty, (-1.0f64).exp()), "{b:?}");
        assert!(close(b.score, (-1.0f64).exp()), "{b:?}");
        assert_eq!((b.hypothesis_words, b.reference_words), (4, 8));
        // References of 3 and 5 words are equally close to 4: the shorter
        // counts, so there is no penalty.
        let b = corpus_bleu(
            &[h],
            &[vec![toks("a small red"), toks("a small red circle here")]],
        );
        assert_eq!(b.reference_words, 3);
        assert_eq!(b.brevity_penalty, 1.0);
        // A longer hypothesis is not penalized.
        let b = corpus_bleu(&[r], &[vec![toks("a small red circle")]]);
        assert_eq!(b.brevity_penalty, 1.0);
    }

    #[test]
    fn bleu_short_or_bad_input_is_zero() {
        let h = toks("red circle");
        let b = corpus_bleu(std::slice::from_ref(&h), &[vec![h.clone()]]);
        assert_eq!(b.score, 0.0);
        assert_eq!(b.precisions[0], 1.0);
        assert_eq!(b.precisions[2], 0.0);
        assert_eq!(corpus_bleu(&[], &[]).score, 0.0);
        assert_eq!(corpus_bleu(std::slice::from_ref(&h), &[]).score, 0.0);
        assert_eq!(corpus_bleu(std::slice::from_ref(&h), &[vec![]]).score, 0.0);
        assert_eq!(corpus_bleu(&[vec![]], &[vec![h]]).score, 0.0);
    }

    #[test]
    fn parses_every_world_caption() {
        // Phrasings the captions must include, so the test covers them:
        // relations, position forms, held-out templates and object forms.
        let phrasings = [
            "to the left of",
            "to the right of",
            " above ",
            " below ",
            "on the left",
            "right side",
            "corner",
            "middle right",
            "upper center",
            "in the bottom ",
            "corner a ",
            "square in ",
            ", on ",
            "an image of",
            "against a",
            "on a grey background, ",
            "white background with",
            "there is a brown background and",
            "a star, ",
            "triangle, big and ",
        ];
        let mut seen = [false; 20];
        let mut captions = 0;
        for seed in [0u64, 7] {
            let world = World::new(WorldConfig {
                seed,
                resolution: 64,
                captions_per_image: 10,
                ..Default::default()
            });
            for split in [Split::Train, Split::Test] {
                for i in 0..800 {
                    let scene = world.scene(split, i);
                    let want = scene_keys(&scene);
                    for c in world.scene_captions(&scene) {
                        let m = parse_world_caption(&c);
                        assert_eq!(m.background, Some(scene.background), "{c:?}");
                        let got = caption_keys(&m);
                        assert_eq!(got, want, "{c:?}\n{m:?}\n{}", scene.describe());
                        for (k, p) in phrasings.iter().enumerate() {
                            seen[k] |= c.contains(p);
                        }
                        captions += 1;
                    }
                }
            }
        }
        assert_eq!(captions, 2 * 2 * 800 * 10);
        for (p, s) in phrasings.iter().zip(seen) {
            assert!(s, "no caption has {p:?}");
        }
    }

    #[test]
    fn parses_garbage_without_panicking() {
        assert_eq!(parse_world_caption(""), Mentions::default());
        assert_eq!(parse_world_caption("  ,, !"), Mentions::default());
        assert_eq!(parse_world_caption("zebra quux 42"), Mentions::default());
        assert_eq!(parse_world_caption("background"), Mentions::default());
        assert_eq!(parse_world_caption("on"), Mentions::default());
        // Repetitions split objects; a relation is not a position.
        let m = parse_world_caption("red red circle circle to the left of");
        assert_eq!(m.objects.len(), 3);
        assert!(m.objects.iter().all(|x| x.cell.is_none()));
        // Missing articles still give two objects, positions attached.
        let m = parse_world_caption("small red circle top left big blue square on grey");
        assert_eq!(m.background, Some(0));
        assert_eq!(m.objects.len(), 2);
        assert_eq!(m.objects[0].cell, Some(Cell { row: 0, col: 0 }));
        assert_eq!(m.objects[1].cell, None);
        // A colour that is not a background's, next to "background", is
        // neither the background nor an object.
        let m = parse_world_caption("a red background");
        assert_eq!(m, Mentions::default());
        // Random sequences of world words and others.
        let vocab: Vec<&str> = "a an the in at on of to and with there is image \
            background against above below left right top upper bottom lower \
            center centre middle corner side circle disc square star ring \
            red pink violet turquoise small big tiny grey gray black white brown \
            zebra , ."
            .split(' ')
            .collect();
        let mut rng = SplitMix64::keyed(&[42]);
        for _ in 0..3000 {
            let len = rng.random_range(0..30);
            let s: Vec<&str> = (0..len)
                .map(|_| vocab[rng.random_range(0..vocab.len())])
                .collect();
            let m = parse_world_caption(&s.join(" "));
            assert!(m.objects.iter().all(|x| x.has_content()));
            let mut a = CaptionAttributes::default();
            let world = World::new(WorldConfig::default());
            a.add(&s.join(" "), &world.scene(Split::Train, 0));
        }
    }

    #[test]
    fn attributes_of_own_other_and_empty_captions() {
        let world = World::new(WorldConfig::default());
        let mut own = CaptionAttributes::default();
        let mut other = CaptionAttributes::default();
        for split in [Split::Train, Split::Test] {
            for i in 0..200 {
                let scene = world.scene(split, i);
                let next = world.scene(split, i + 1000);
                for c in world.scene_captions(&scene) {
                    own.add(&c, &scene);
                    other.add(&c, &next);
                }
            }
        }
        let all = |a: &CaptionAttributes| {
            [
                a.background,
                a.colour,
                a.shape,
                a.size,
                a.position,
                a.bound,
                a.count,
            ]
        };
        for t in all(&own) {
            assert!(t.total > 0 && t.correct == t.total, "{own:?}");
        }
        assert_eq!(own.invented.correct, 0);
        assert!(own.invented.total > 0);
        assert!(other.bound.accuracy() < 0.05, "{other:?}");
        assert!(other.colour.accuracy() < 0.6, "{other:?}");
        assert!(other.position.accuracy() < 0.6, "{other:?}");
        assert!(other.background.accuracy() < 0.5, "{other:?}");
        assert!(other.invented.accuracy() > 0.8, "{other:?}");

        let scene = world.scene(Split::Test, 3);
        let mut empty = CaptionAttributes::default();
        empty.add("", &scene);
        let n = scene.objects.len() as u64;
        for t in [empty.colour, empty.shape, empty.size, empty.position] {
            assert_eq!((t.correct, t.total), (0, n));
        }
        assert_eq!((empty.background.correct, empty.background.total), (0, 1));
        assert_eq!((empty.count.correct, empty.count.total), (0, 1));
        assert_eq!(empty.invented.total, 0);
        assert!(empty.invented.accuracy().is_nan());
    }
}
