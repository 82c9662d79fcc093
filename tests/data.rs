//! The data layer: the world, its oracle, the tokenizer, CUB and folder
//! sources against tiny fixtures built in a temp dir, the loader, and every
//! kind of bad data. Nothing is downloaded.

use engine::data::oracle::{Oracle, OracleScores};
use engine::data::world::{self, Split, World, WorldConfig};

fn world() -> World {
    World::new(WorldConfig {
        seed: 7,
        resolution: 64,
        captions_per_image: 10,
    })
}

fn oracle_figures(split: Split, n: u64, res: u32) -> (OracleScores, OracleScores) {
    let w = world();
    let scenes: Vec<_> = (0..n).map(|i| w.scene(split, i)).collect();
    let images: Vec<_> = scenes.iter().map(|s| s.render(res)).collect();
    let o = Oracle::default();
    let own = o.score_all(images.iter().zip(scenes.iter()));
    // Random pairing: image i against scene (i * 37 + 11) mod n, never itself.
    let shuffled: Vec<_> = (0..n as usize)
        .map(|i| &scenes[(i * 37 + 11) % n as usize])
        .collect();
    let wrong = o.score_all(images.iter().zip(shuffled));
    (own, wrong)
}

#[test]
fn oracle_scores_own_held_out_images_high_and_random_pairings_low() {
    for res in [64, 128] {
        let (own, wrong) = oracle_figures(Split::Test, 300, res);
        println!("res {res} own held-out: {own}");
        println!("res {res} random pairs: {wrong}");
        for (name, t) in own.attributes() {
            if name != "all" {
                assert!(t.accuracy() >= 0.95, "{name} own accuracy {t:?} at {res}");
            }
        }
    }
}

#[test]
fn world_is_deterministic_and_seed_dependent() {
    let a = world();
    let b = world();
    for i in [0u64, 1, 99, 123_456_789] {
        for split in [Split::Train, Split::Test] {
            let (sa, sb) = (a.scene(split, i), b.scene(split, i));
            assert_eq!(sa, sb);
            assert_eq!(sa.render(48), sb.render(48));
            assert_eq!(a.scene_captions(&sa), b.scene_captions(&sb));
        }
    }
    let other = World::new(WorldConfig {
        seed: 8,
        ..a.config.clone()
    });
    let differ = (0..20)
        .filter(|&i| other.scene(Split::Train, i) != a.scene(Split::Train, i))
        .count();
    assert!(differ >= 18);
}

#[test]
fn world_held_out_split_is_disjoint() {
    let w = world();
    for i in 0..2000 {
        let tr = w.scene(Split::Train, i);
        assert!(tr
            .objects
            .iter()
            .all(|o| !world::is_held_out(o.shape, o.colour)));
        assert!((1..=3).contains(&tr.objects.len()));
        let te = w.scene(Split::Test, i);
        assert!(world::is_held_out(
            te.objects[0].shape,
            te.objects[0].colour
        ));
    }
    // Held-out phrasings never in training captions, but present in test.
    let mut rng = engine::data::rng::SplitMix64::new(3);
    let held = |c: &str| {
        c.starts_with("on a ") && c.contains(" background, ")
            || c.contains(" background and ")
            || c.split(' ').nth(1) == Some("background")
            || c.contains(" and ")
                && c.split(", ")
                    .any(|p| p.split(' ').count() == 3 && p.contains(" and "))
    };
    let mut test_held = 0;
    for i in 0..500 {
        for c in w.captions(&w.scene(Split::Train, i), &mut rng) {
            assert!(!held(&c), "held-out phrasing in train: {c}");
        }
        test_held += w
            .captions(&w.scene(Split::Test, i), &mut rng)
            .iter()
            .filter(|c| held(c))
            .count();
    }
    assert!(test_held > 500, "{test_held}");
}
