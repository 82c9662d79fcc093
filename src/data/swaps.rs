//! Scenes one attribute away from a scene: its first object's colour, shape,
//! size or position changed to each other value the world allows (colours
//! and cells that another object holds are skipped, as the world never
//! repeats them). Their captions, drawn with the scene's own phrasing key,
//! are the distractors of `engine eval attributes`: a model that reads an
//! attribute ranks an image's true caption above every caption that differs
//! from it in that attribute alone. Each swapped scene also renders as it
//! reads (a resized object keeps its place in its size's range, a moved one
//! its offset from its cell's centre), so `--twins` trains on their images.

use super::world::{Cell, Scene, Shape, Size, LARGE_HALF, OBJECT_COLOURS, SMALL_HALF};

/// What a caption says of an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attribute {
    Colour,
    Shape,
    Size,
    Position,
}

impl Attribute {
    pub const ALL: [Attribute; 4] = [
        Attribute::Colour,
        Attribute::Shape,
        Attribute::Size,
        Attribute::Position,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Attribute::Colour => "colour",
            Attribute::Shape => "shape",
            Attribute::Size => "size",
            Attribute::Position => "position",
        }
    }
}

/// The scenes that differ from `scene` in `attribute` of its first object
/// only, one per other value; none for a scene without objects.
pub fn swapped(scene: &Scene, attribute: Attribute) -> Vec<Scene> {
    swapped_object(scene, 0, attribute)
}

/// The scenes that differ from `scene` in `attribute` of object `k` only,
/// one per other value; none where the scene has no object `k`.
pub fn swapped_object(scene: &Scene, k: usize, attribute: Attribute) -> Vec<Scene> {
    let Some(obj) = scene.objects.get(k) else {
        return Vec::new();
    };
    let others: Vec<_> = (scene.objects.iter().enumerate())
        .filter(|&(j, _)| j != k)
        .map(|(_, o)| o)
        .collect();
    let with = |change: &dyn Fn(&mut super::world::Object)| {
        let mut s = scene.clone();
        change(&mut s.objects[k]);
        s
    };
    match attribute {
        Attribute::Colour => (0..OBJECT_COLOURS.len())
            .filter(|&c| c != obj.colour && others.iter().all(|o| o.colour != c))
            .map(|c| with(&|o| o.colour = c))
            .collect(),
        Attribute::Shape => Shape::ALL
            .iter()
            .filter(|&&s| s != obj.shape)
            .map(|&s| with(&|o| o.shape = s))
            .collect(),
        Attribute::Size => [Size::Small, Size::Large]
            .iter()
            .filter(|&&s| s != obj.size)
            .map(|&s| {
                with(&|o| {
                    let range = |z: Size| match z {
                        Size::Small => SMALL_HALF,
                        Size::Large => LARGE_HALF,
                    };
                    let ((a0, a1), (b0, b1)) = (range(o.size), range(s));
                    o.half = b0 + (o.half - a0) / (a1 - a0) * (b1 - b0);
                    o.size = s;
                })
            })
            .collect(),
        Attribute::Position => (0..9u8)
            .map(|i| Cell {
                row: i / 3,
                col: i % 3,
            })
            .filter(|&c| c != obj.cell && others.iter().all(|o| o.cell != c))
            .map(|c| {
                with(&|o| {
                    let (dc, dr) = (
                        c.col as f32 - o.cell.col as f32,
                        c.row as f32 - o.cell.row as f32,
                    );
                    o.center = [o.center[0] + dc / 3.0, o.center[1] + dr / 3.0];
                    o.cell = c;
                })
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::caption_score::{caption_keys, parse_world_caption, scene_keys};
    use crate::data::world::{Split, World, WorldConfig};

    #[test]
    fn each_swap_changes_one_attribute_of_the_first_object_and_its_caption_says_so() {
        let world = World::new(WorldConfig {
            seed: 0,
            resolution: 64,
            captions_per_image: 10,
            ..Default::default()
        });
        let mut seen = [0usize; 4];
        for i in 0..300 {
            let scene = world.scene(Split::Test, i);
            let own = world.scene_captions(&scene);
            for (ai, a) in Attribute::ALL.into_iter().enumerate() {
                let swaps = swapped(&scene, a);
                let (first, others) = (&scene.objects[0], scene.objects.len() - 1);
                let want = match a {
                    Attribute::Colour => 7 - others,
                    Attribute::Shape => 6,
                    Attribute::Size => 1,
                    Attribute::Position => 8 - others,
                };
                assert_eq!(swaps.len(), want, "{a:?} of {}", scene.describe());
                for s in &swaps {
                    assert_eq!(s.background, scene.background);
                    assert_eq!(s.objects[1..], scene.objects[1..]);
                    let o = &s.objects[0];
                    let changed = [
                        o.colour != first.colour,
                        o.shape != first.shape,
                        o.size != first.size,
                        o.cell != first.cell,
                    ];
                    assert_eq!(changed.iter().filter(|&&c| c).count(), 1);
                    assert!(changed[ai], "{a:?}");
                    assert_eq!(Cell::of(o.center[0], o.center[1]), o.cell);
                    // The same phrasing key gives captions of the changed
                    // scene, each unlike the original's.
                    for (k, c) in world.scene_captions(s).iter().enumerate() {
                        assert_ne!(c, &own[k]);
                        let got = caption_keys(&parse_world_caption(c));
                        assert_eq!(got, scene_keys(s), "{c:?}");
                    }
                    seen[ai] += 1;
                }
            }
        }
        assert!(seen.iter().all(|&n| n >= 300), "{seen:?}");
        assert!(swapped(
            &crate::data::world::Scene {
                objects: Vec::new(),
                ..world.scene(Split::Test, 0)
            },
            Attribute::Colour
        )
        .is_empty());
    }

    #[test]
    fn each_swap_renders_as_it_reads() {
        use crate::data::oracle::Oracle;
        use crate::data::world::{LARGE_HALF, SMALL_HALF};
        let world = World::new(WorldConfig {
            seed: 3,
            resolution: 64,
            ..Default::default()
        });
        let oracle = Oracle::default();
        let (mut shapes, mut total) = (0usize, 0usize);
        for i in 0..60 {
            let scene = world.scene(Split::Train, i);
            for k in 0..scene.objects.len() {
                for a in Attribute::ALL {
                    for s in swapped_object(&scene, k, a) {
                        let o = &s.objects[k];
                        let (lo, hi) = match o.size {
                            Size::Small => SMALL_HALF,
                            Size::Large => LARGE_HALF,
                        };
                        assert!(
                            (lo - 1e-6..=hi + 1e-6).contains(&o.half),
                            "{a:?}: {}",
                            o.half
                        );
                        assert_eq!(Cell::of(o.center[0], o.center[1]), o.cell, "{a:?}");
                        let r = oracle.score(&s.render(64), &s);
                        for (j, obj) in r.objects.iter().enumerate() {
                            assert!(
                                obj.found && obj.colour && obj.size && obj.position,
                                "{a:?} object {j} of {}",
                                s.describe()
                            );
                            shapes += obj.shape as usize;
                            total += 1;
                        }
                    }
                }
            }
        }
        // The oracle reads 98% of the world's own shapes.
        assert!(shapes as f64 >= 0.95 * total as f64, "{shapes} of {total}");
    }
}
