//! The data layer: the world, its oracle, the tokenizer, CUB and folder
//! sources against tiny fixtures built in a temp dir, the loader, and every
//! kind of bad data. Nothing is downloaded.

use wgpu_attngan::data::oracle::{Oracle, OracleScores};
use wgpu_attngan::data::world::{self, Split, World, WorldConfig};

mod common;
use common::perturb;

fn world() -> World {
    World::new(WorldConfig {
        seed: 7,
        resolution: 64,
        captions_per_image: 10,
        max_objects: 3,
    })
}

/// Scores of `images` (already made from `scenes`) against their own scenes
/// and against the scene `(i * 37 + 11) mod n` (never their own).
fn own_and_wrong(
    o: &Oracle,
    images: &[image::RgbImage],
    scenes: &[world::Scene],
) -> (OracleScores, OracleScores) {
    let n = scenes.len();
    let own = o.score_all(images.iter().zip(scenes.iter()));
    let shuffled: Vec<_> = (0..n).map(|i| &scenes[(i * 37 + 11) % n]).collect();
    let wrong = o.score_all(images.iter().zip(shuffled));
    (own, wrong)
}

/// Upper bounds for an image scored against another scene: a little above
/// chance (background 1/4, colour: the other scene's colours are used by the
/// image 3 times in 8, position 1/9, shape 1/7, size 1/2).
fn assert_near_floor(s: &OracleScores, what: &str) {
    let bounds = [
        ("background", 0.40),
        ("found", 0.60),
        ("colour", 0.50),
        ("shape", 0.35),
        ("size", 0.45),
        ("position", 0.25),
        ("relation", 0.35),
        ("all", 0.02),
    ];
    for (name, t) in s.attributes() {
        if let Some((_, max)) = bounds.iter().find(|(b, _)| *b == name) {
            assert!(
                t.accuracy() <= *max,
                "{what}: {name} {:.3} on wrong scenes is above its bound {max}",
                t.accuracy()
            );
        }
    }
}

#[test]
fn oracle_scores_own_held_out_images_high_and_random_pairings_low() {
    let w = world();
    let o = Oracle::default();
    for res in [64, 128] {
        let scenes: Vec<_> = (0..300).map(|i| w.scene(Split::Test, i)).collect();
        let images: Vec<_> = scenes.iter().map(|s| s.render(res)).collect();
        let (own, wrong) = own_and_wrong(&o, &images, &scenes);
        println!("res {res} own held-out: {own}");
        println!("res {res} random pairs: {wrong}");
        for (name, t) in own.attributes() {
            assert!(t.accuracy() >= 0.95, "{name} own accuracy {t:?} at {res}");
        }
        assert_near_floor(&wrong, &format!("renders at {res}"));
    }
}

/// How close to the ceiling a perturbed render must score, as measured
/// (2026-11-27). At 128x128, the side generators are scored at, everything
/// stays at 90% or more but the shape under a 2-pixel blur (81%: such a blur
/// rounds a small star's points and a cross's arms into a blob). At 64x64 a
/// small object is 10-12 pixels wide and blur and rescaling cost shape
/// accuracy (blur 1px: 78%, 2x down-up: 70%, blur 2px: 46%) and, for a 2-pixel
/// blur, some objects altogether (found 91%).
fn near_ceiling(res: u32, perturbation: &str, attr: &str) -> f64 {
    let soft = perturbation.contains("blur") || perturbation.contains("down");
    match (res, attr) {
        (128, "shape") if perturbation == "blur 2px" => 0.75,
        (128, "all") if soft => 0.60,
        (128, _) => 0.90,
        (_, _) if !soft => {
            if attr == "all" {
                0.90
            } else {
                0.95
            }
        }
        (_, "shape") if perturbation == "blur 2px" => 0.40,
        (_, "shape") => 0.55,
        (_, "all") => 0.20,
        (_, "size") if perturbation == "blur 2px" => 0.70,
        (_, "relation") if perturbation == "blur 2px" => 0.70,
        _ => 0.85,
    }
}

#[test]
fn oracle_holds_up_on_blurred_noisy_shifted_and_rescaled_renders() {
    let w = world();
    let o = Oracle::default();
    let mut failures = Vec::new();
    for res in [64, 128] {
        let scenes: Vec<_> = (0..200).map(|i| w.scene(Split::Test, i)).collect();
        for (name, perturb) in perturb::all() {
            let images: Vec<_> = scenes
                .iter()
                .enumerate()
                .map(|(i, s)| perturb(&s.render(res), 1000 + i as u64))
                .collect();
            let (own, wrong) = own_and_wrong(&o, &images, &scenes);
            println!("res {res} {name:>18}: own   {own}");
            println!("res {res} {name:>18}: wrong {wrong}");
            for (attr, t) in own.attributes() {
                let min = near_ceiling(res, name, attr);
                if t.accuracy() < min {
                    failures.push(format!(
                        "{name} at {res}: {attr} {:.3} < {min}",
                        t.accuracy()
                    ));
                }
            }
            assert_near_floor(&wrong, &format!("{name} at {res}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn oracle_is_not_fooled_by_a_blob_of_every_colour() {
    // One image with a large blob of each of the 8 colours in 8 of the 9
    // cells, scored against real scenes: every object finds its colour, but
    // the leftover blobs are hallucinations, so no scene is right.
    let w = world();
    let o = Oracle::default();
    let mut scores = OracleScores::default();
    for i in 0..100 {
        let scene = w.scene(Split::Test, i);
        let fake = world::Scene {
            objects: (0..8)
                .map(|c| {
                    let cell = world::Cell {
                        row: ((c + i as usize) % 9 / 3) as u8,
                        col: ((c + i as usize) % 9 % 3) as u8,
                    };
                    world::Object {
                        shape: world::Shape::ALL[(c + i as usize) % 7],
                        colour: c,
                        size: world::Size::Large,
                        cell,
                        center: [(cell.col as f32 + 0.5) / 3.0, (cell.row as f32 + 0.5) / 3.0],
                        half: 0.13,
                    }
                })
                .collect(),
            ..scene.clone()
        };
        scores.add(&o.score(&fake.render(128), &scene));
    }
    println!("a blob of every colour: {scores}");
    assert_eq!(scores.exact.correct, 0, "{scores}");
    assert_eq!(scores.no_extra.correct, 0, "{scores}");
    assert!(scores.extra_blobs >= 100 * 5, "{scores}");
}

#[test]
fn a_missing_object_is_wrong_on_every_attribute_and_no_centre_is_guessed() {
    // The scene's objects drawn in colours the scene does not use and in
    // other shapes: nothing may be credited, whatever the positions.
    let w = world();
    let o = Oracle::default();
    let mut scores = OracleScores::default();
    for i in 0..100 {
        let scene = w.scene(Split::Test, i);
        let used: Vec<usize> = scene.objects.iter().map(|o| o.colour).collect();
        let shapes: Vec<world::Shape> = scene.objects.iter().map(|o| o.shape).collect();
        let mut free = (0..8).filter(|c| !used.contains(c));
        let mut free_shapes = world::Shape::ALL
            .into_iter()
            .filter(|s| !shapes.contains(s));
        let mut moved = scene.clone();
        for ob in &mut moved.objects {
            ob.colour = free.next().unwrap();
            ob.shape = free_shapes.next().unwrap();
        }
        let r = o.score(&moved.render(128), &scene);
        for ob in &r.objects {
            assert!(!ob.found && !ob.position && !ob.size, "{r:?}");
        }
        scores.add(&r);
    }
    println!("recoloured and reshaped: {scores}");
    assert_eq!(scores.position.correct, 0);
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
    let mut rng = wgpu_attngan::data::rng::SplitMix64::new(3);
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
    // Held-out phrasings use only training words: no <unk> at test time.
    let train = WorldSource::new(w.clone(), Split::Train, 3000);
    let vocab = vocab_of(&train, 1);
    for i in 0..300 {
        for c in w.scene_captions(&w.scene(Split::Test, i)) {
            assert!(vocab.encode(&c).unknown.is_empty(), "{c}");
        }
    }
}

use std::path::{Path, PathBuf};
use std::sync::Arc;
use wgpu_attngan::data::error::DataError;
use wgpu_attngan::data::source::{vocab_of, Source, WorldSource};
use wgpu_attngan::data::vocab::{fit_length, tokenize, Vocab, DEFAULT_MAX_WORDS, UNK};
use wgpu_attngan::data::{Cub, CubConfig, Folder, FolderConfig, Loader, LoaderConfig};

/// A fresh empty directory under the system temp dir.
fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("engine-data-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn write_image(path: &Path, w: u32, h: u32, rgb: [u8; 3]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([
            rgb[0].wrapping_add(x as u8),
            rgb[1].wrapping_add(y as u8),
            rgb[2],
        ])
    });
    img.save(path).unwrap();
}

fn write(path: &Path, bytes: impl AsRef<[u8]>) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

/// A tiny CUB in AttnGAN's layout: 2 classes x 2 images, one per split.
fn cub_fixture(name: &str) -> PathBuf {
    let root = temp_dir(name);
    let keys = [
        "001.Black_footed_Albatross/Black_Footed_Albatross_0001_796111",
        "001.Black_footed_Albatross/Black_Footed_Albatross_0002_55",
        "017.Cardinal/Cardinal_0001_17057",
        "017.Cardinal/Cardinal_0003_18",
    ];
    let mut images_txt = String::new();
    let mut bbox_txt = String::new();
    for (i, k) in keys.iter().enumerate() {
        let id = i + 1;
        write_image(
            &root.join(format!("CUB_200_2011/images/{k}.jpg")),
            80,
            60,
            [40 * i as u8, 100, 200],
        );
        images_txt += &format!("{id} {k}.jpg\n");
        bbox_txt += &format!("{id} 10.0 5.0 40.0 30.0\n");
        let caps: String = (0..10)
            .map(|j| format!("this bird number {j} has a red crown\n"))
            .collect();
        write(&root.join(format!("text/{k}.txt")), caps);
    }
    write(&root.join("CUB_200_2011/images.txt"), images_txt);
    write(&root.join("CUB_200_2011/bounding_boxes.txt"), bbox_txt);
    // Byte layout of pickle.dumps([k0, k2], protocol=2) built by hand.
    let mut pk = vec![0x80, 2, b']', b'q', 0, b'('];
    for (m, k) in [keys[0], keys[2]].iter().enumerate() {
        pk.push(b'X');
        pk.extend_from_slice(&(k.len() as u32).to_le_bytes());
        pk.extend_from_slice(k.as_bytes());
        pk.extend_from_slice(&[b'q', m as u8 + 1]);
    }
    pk.extend_from_slice(b"e.");
    write(&root.join("train/filenames.pickle"), pk);
    write(
        &root.join("test/filenames.txt"),
        format!("{}\n{}\n", keys[1], keys[3]),
    );
    root
}

#[test]
fn cub_layout_loads_with_classes_bbox_crop_and_scales() {
    let root = cub_fixture("cub");
    let mut calls = Vec::new();
    let train = Cub::open_with_progress(&CubConfig::new(&root, Split::Train), &mut |d, t| {
        calls.push((d, t))
    })
    .unwrap();
    assert_eq!(
        calls,
        [(1, 2), (2, 2)],
        "indexing reports each image checked"
    );
    let test = Cub::open(&CubConfig::new(&root, Split::Test)).unwrap();
    assert_eq!((train.len(), test.len()), (2, 2));
    let mut rng = wgpu_attngan::data::rng::SplitMix64::new(1);
    let item = train.item(1, 256, true, &mut rng).unwrap();
    assert_eq!(item.image.dimensions(), (256, 256));
    assert_eq!(item.class_id, 17);
    assert_eq!(item.captions.len(), 10);
    assert_eq!(test.item(0, 64, false, &mut rng).unwrap().class_id, 1);

    let vocab = Arc::new(Vocab::build(
        (0..2).flat_map(|i| train.captions(i).into_iter().chain(test.captions(i))),
        1,
    ));
    let cfg = LoaderConfig {
        batch_size: 2,
        sizes: vec![64, 128, 256],
        ..Default::default()
    };
    let batches: Vec<_> = Loader::new(Arc::new(train), vocab, cfg, 0)
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(batches.len(), 1);
    let b = &batches[0];
    for (img, s) in b.images.iter().zip([64usize, 128, 256]) {
        assert_eq!(img.len(), 2 * 3 * s * s);
        assert!(img.iter().all(|v| (-1.0..=1.0).contains(v)));
    }
    assert_eq!(b.tokens.len(), 2 * DEFAULT_MAX_WORDS);
    assert_eq!(b.lengths, [8, 8]);
    assert!(b.unknown_words.is_empty());
    let _ = std::fs::remove_dir_all(root);
}

#[test]
fn cub_missing_pieces_are_named() {
    let root = cub_fixture("cub-bad");
    let missing = temp_dir("nothing").join("birds");
    let e = Cub::open(&CubConfig::new(&missing, Split::Train))
        .err()
        .unwrap();
    assert!(matches!(e, DataError::MissingDir { .. }), "{e}");
    assert!(e.to_string().contains("birds"));

    // A caption file removed: the image is named with the file to create.
    let k = "017.Cardinal/Cardinal_0001_17057";
    std::fs::remove_file(root.join(format!("text/{k}.txt"))).unwrap();
    let e = Cub::open(&CubConfig::new(&root, Split::Train))
        .err()
        .unwrap();
    assert!(matches!(e, DataError::NoCaptions { .. }), "{e}");
    assert!(e.to_string().contains("Cardinal_0001_17057.txt"), "{e}");
    let mut cfg = CubConfig::new(&root, Split::Train);
    cfg.skip_bad = true;
    let cub = Cub::open(&cfg).unwrap();
    assert_eq!((cub.len(), cub.skipped.skipped), (1, 1));

    // A corrupt pickle.
    write(
        &root.join("train/filenames.pickle"),
        b"\x80\x02]q\x00(X\xff\x00",
    );
    let e = Cub::open(&CubConfig::new(&root, Split::Train))
        .err()
        .unwrap();
    assert!(matches!(e, DataError::Pickle { .. }), "{e}");
    assert!(e.to_string().contains("filenames.txt"));
    let _ = std::fs::remove_dir_all(root);
}

fn folder_fixture(name: &str) -> PathBuf {
    let root = temp_dir(name);
    for (i, n) in ["cats/a.png", "cats/b.jpg", "dogs/c.png", "d.jpeg"]
        .iter()
        .enumerate()
    {
        let p = root.join(n);
        write_image(&p, 50 + 10 * i as u32, 40, [200, 30 * i as u8, 10]);
        write(
            &p.with_extension("txt"),
            format!("an animal number {i}\n\nsecond caption {i}\n"),
        );
    }
    root
}

#[test]
fn folder_loads_with_split_file_and_classes() {
    let root = folder_fixture("folder");
    // Indexing reports each image checked, out of all found.
    let mut calls = Vec::new();
    let all = Folder::open_with_progress(&FolderConfig::new(&root), &mut |d, t| calls.push((d, t)))
        .unwrap();
    assert_eq!(calls, [(1, 4), (2, 4), (3, 4), (4, 4)]);
    assert_eq!(all.len(), 4);
    assert_eq!(all.captions(0), ["an animal number 0", "second caption 0"]);
    let mut rng = wgpu_attngan::data::rng::SplitMix64::new(1);
    let classes: Vec<u32> = (0..4)
        .map(|i| all.item(i, 32, true, &mut rng).unwrap().class_id)
        .collect();
    assert_eq!(classes, [1, 1, 0, 2]); // cats/a, cats/b, d.jpeg, dogs/c (sorted paths)

    write(
        &root.join("split.txt"),
        "# held out\ntrain cats/a.png\ntrain dogs/c.png\ntest cats/b.jpg\n",
    );
    let mut cfg = FolderConfig::new(&root);
    cfg.split = Some(Split::Test);
    let test = Folder::open(&cfg).unwrap();
    assert_eq!(test.len(), 1);
    cfg.split = Some(Split::Train);
    assert_eq!(Folder::open(&cfg).unwrap().len(), 2);
    let _ = std::fs::remove_dir_all(root);
}

#[test]
fn folder_bad_data_gets_a_clear_answer_or_is_skipped() {
    let root = folder_fixture("folder-bad");
    let open = |skip: bool| {
        let mut c = FolderConfig::new(&root);
        c.skip_bad = skip;
        Folder::open(&c)
    };
    // Corrupt image.
    write(
        &root.join("cats/zz_corrupt.png"),
        b"\x89PNG\r\n\x1a\nthis is not a png",
    );
    write(&root.join("cats/zz_corrupt.txt"), "a caption\n");
    let e = open(false).err().unwrap();
    assert!(matches!(e, DataError::BadImage { .. }), "{e}");
    assert!(e.to_string().contains("zz_corrupt.png"));
    // Image without captions.
    write_image(&root.join("dogs/no_caps.png"), 8, 8, [0, 0, 0]);
    // Empty caption file.
    write_image(&root.join("dogs/empty.png"), 8, 8, [0, 0, 0]);
    write(&root.join("dogs/empty.txt"), "\n  \n");
    // Non-UTF-8 captions.
    write_image(&root.join("dogs/latin1.png"), 8, 8, [0, 0, 0]);
    write(&root.join("dogs/latin1.txt"), b"caf\xe9 au lait\n");
    let f = open(true).unwrap();
    assert_eq!((f.len(), f.skipped.skipped), (4, 4));
    let reasons = f.skipped.reasons.join("\n");
    for needle in [
        "zz_corrupt.png",
        "no_caps.txt",
        "empty.txt",
        "latin1.txt",
        "UTF-8",
        "one caption per line",
    ] {
        assert!(reasons.contains(needle), "{needle} not in {reasons}");
    }
    std::fs::remove_file(root.join("cats/zz_corrupt.png")).unwrap();
    std::fs::remove_file(root.join("dogs/latin1.png")).unwrap();
    std::fs::remove_file(root.join("dogs/empty.png")).unwrap();
    let e = open(false).err().unwrap();
    assert!(matches!(e, DataError::NoCaptions { .. }), "{e}");
    std::fs::remove_file(root.join("dogs/no_caps.png")).unwrap();

    // An image that is corrupted after opening: the loader stops with the
    // reason, or with skip_bad replaces it and counts it.
    let f = Arc::new(open(false).unwrap());
    let bad = f.paths().next().unwrap().to_path_buf();
    write(&bad, b"garbage");
    let vocab = Arc::new(vocab_of(f.as_ref(), 1));
    let cfg = LoaderConfig {
        batch_size: 4,
        shuffle: false,
        ..Default::default()
    };
    let mut l = Loader::new(f.clone(), vocab.clone(), cfg.clone(), 0);
    let e = l.next().unwrap().err().unwrap();
    assert!(
        e.to_string()
            .contains(&*bad.file_name().unwrap().to_string_lossy()),
        "{e}"
    );
    let mut l = Loader::new(
        f,
        vocab,
        LoaderConfig {
            skip_bad: true,
            ..cfg
        },
        0,
    );
    let b = l.next().unwrap().unwrap();
    assert_eq!(b.len(), 4);
    assert_eq!(l.skipped(), 1);

    let e = Folder::open(&FolderConfig::new(root.join("missing")))
        .err()
        .unwrap();
    assert!(matches!(e, DataError::MissingDir { .. }));
    let _ = std::fs::remove_dir_all(root);
}

#[test]
fn tokenizer_vocab_unknown_words_and_serialisation() {
    assert_eq!(
        tokenize("This bird's WING, 2x_long!"),
        ["this", "bird", "s", "wing", "2x_long"]
    );
    let v = Vocab::build(["a red bird", "a red cat", "a dog"], 2);
    assert_eq!(v.words(), ["<end>", "<unk>", "a", "red"]);
    let enc = v.encode("A red zebra, a RED yak");
    assert_eq!(enc.ids, [2, 3, UNK, 2, 3, UNK]);
    assert_eq!(enc.unknown, ["zebra", "yak"]);
    let text = v.to_text();
    assert_eq!(Vocab::from_text(&text).unwrap(), v);
    assert!(Vocab::from_text("not a vocab").is_err());
    assert!(Vocab::from_text("engine-vocab 1\ntwo words\n").is_err());
}

#[test]
fn long_captions_lose_random_words_in_order_short_ones_are_padded() {
    let mut rng = wgpu_attngan::data::rng::SplitMix64::new(5);
    let ids: Vec<u32> = (10..40).collect();
    let mut seen_different = false;
    let mut first = None;
    for _ in 0..20 {
        let (out, len) = fit_length(&ids, DEFAULT_MAX_WORDS, &mut rng);
        assert_eq!((len, out.len()), (DEFAULT_MAX_WORDS, DEFAULT_MAX_WORDS));
        assert!(out.windows(2).all(|w| w[0] < w[1]), "order kept: {out:?}");
        assert!(out.iter().all(|i| ids.contains(i)));
        seen_different |= first.is_some_and(|f| f != out);
        first = Some(out);
    }
    assert!(seen_different);
    let (out, len) = fit_length(&[5, 6, 7], DEFAULT_MAX_WORDS, &mut rng);
    assert_eq!((len, out.len()), (3, DEFAULT_MAX_WORDS));
    assert_eq!(&out[..4], &[5, 6, 7, 0]);
    assert!(out[3..].iter().all(|&i| i == 0));
    // The limit is the caller's: 30 words fit 42 whole, padded.
    let (out, len) = fit_length(&ids, 42, &mut rng);
    assert_eq!((len, out.len()), (30, 42));
    assert_eq!(&out[..30], &ids[..]);
}

/// The world's word limit covers every caption it can produce, held-out
/// phrasings included, and is reached: many scenes of both splits, then
/// captions of one scene built to allow the longest form.
#[test]
fn world_captions_fit_world_max_words() {
    use wgpu_attngan::data::world::WORLD_MAX_WORDS;
    let w = world();
    let mut longest = 0;
    let mut over_18 = 0usize;
    let mut total = 0usize;
    for split in [Split::Train, Split::Test] {
        let src = WorldSource::new(w.clone(), split, 20_000);
        assert_eq!(src.max_words(), WORLD_MAX_WORDS);
        for i in 0..src.len() {
            for c in src.captions(i) {
                let n = tokenize(&c).len();
                assert!(n <= WORLD_MAX_WORDS, "{n} words: {c:?}");
                longest = longest.max(n);
                over_18 += (n > DEFAULT_MAX_WORDS) as usize;
                total += 1;
            }
        }
    }
    // AttnGAN's 18 would cut a large share of world captions.
    assert!(longest > 30, "longest {longest}");
    assert!(over_18 * 5 > total, "{over_18} of {total} over 18 words");
    // A test scene of three objects in three corners can be captioned with
    // the longest template, three ten-word object phrases and a relation.
    let corner = |o: &wgpu_attngan::data::world::Object| o.cell.row != 1 && o.cell.col != 1;
    let scene = (0..)
        .map(|i| w.scene(Split::Test, i))
        .find(|s| s.objects.len() == 3 && s.objects.iter().all(corner))
        .unwrap();
    let mut rng = wgpu_attngan::data::rng::SplitMix64::new(11);
    let mut best = 0;
    for _ in 0..100_000 {
        for c in w.captions(&scene, &mut rng) {
            let n = tokenize(&c).len();
            assert!(n <= WORLD_MAX_WORDS, "{n} words: {c:?}");
            best = best.max(n);
        }
        if best == WORLD_MAX_WORDS {
            break;
        }
    }
    assert_eq!(best, WORLD_MAX_WORDS, "the bound is reached");
}

#[test]
fn world_loader_is_deterministic_and_matches_scenes() {
    let w = world();
    let src = Arc::new(WorldSource::new(w.clone(), Split::Train, 24));
    let vocab = Arc::new(vocab_of(src.as_ref(), 1));
    let cfg = LoaderConfig {
        batch_size: 8,
        sizes: vec![32, 64],
        workers: 3,
        ..Default::default()
    };
    let a: Vec<_> = Loader::new(src.clone(), vocab.clone(), cfg.clone(), 3)
        .map(Result::unwrap)
        .collect();
    let b: Vec<_> = Loader::new(src.clone(), vocab.clone(), cfg.clone(), 3)
        .map(Result::unwrap)
        .collect();
    assert_eq!(a.len(), 3);
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(
            (&x.indices, &x.tokens, &x.images),
            (&y.indices, &y.tokens, &y.images)
        );
    }
    let mut all: Vec<usize> = a.iter().flat_map(|b| b.indices.clone()).collect();
    all.sort();
    assert_eq!(all, (0..24).collect::<Vec<_>>());
    // The 64px tensor of the first item is the scene rendered at 64.
    let i = a[0].indices[0];
    assert_eq!(
        &a[0].images[1][..3 * 64 * 64],
        &w.scene(Split::Train, i as u64).render_chw(64)[..]
    );
    assert_eq!(a[0].class_ids[0], 1 + i as u32);
    // The default limit (18) cuts long world captions at random.
    assert!(a
        .iter()
        .flat_map(|b| &b.lengths)
        .all(|&l| l as usize <= DEFAULT_MAX_WORDS));
    // With the world's limit every caption is whole.
    let whole = LoaderConfig {
        max_words: src.max_words(),
        ..cfg.clone()
    };
    for b in Loader::new(src.clone(), vocab.clone(), whole, 3).map(Result::unwrap) {
        assert_eq!(b.tokens.len(), b.len() * src.max_words());
        for (k, c) in b.captions.iter().enumerate() {
            let n = tokenize(c).len();
            assert_eq!(b.lengths[k] as usize, n);
            let row = &b.tokens[k * src.max_words()..(k + 1) * src.max_words()];
            assert_eq!(vocab.decode(row), tokenize(c).join(" "));
        }
    }
    // Dropping a loader mid-epoch does not hang.
    let mut l = Loader::new(src, vocab, LoaderConfig { prefetch: 1, ..cfg }, 4);
    l.next();
    drop(l);
}

/// A folder of four 20x20 pictures, each with a one-line caption, and its
/// vocabulary: a source with images of its own (no scenes, no labels).
fn four_picture_folder(name: &str) -> (Arc<dyn Source>, Arc<Vocab>) {
    let root = temp_dir(name);
    for i in 0..4 {
        let p = root.join(format!("img{i}.png"));
        write_image(&p, 20, 20, [i as u8 * 40, 9, 9]);
        write(&p.with_extension("txt"), format!("picture number {i}\n"));
    }
    let folder: Arc<dyn Source> = Arc::new(Folder::open(&FolderConfig::new(&root)).unwrap());
    let vocab = Arc::new(vocab_of(folder.as_ref(), 1));
    (folder, vocab)
}

/// `--twins`: each odd item of an epoch is the item before it with one
/// asked attribute of one object changed, rendered, in the same phrasing;
/// class 0, never a held-out (shape, colour) pair, the same from run to run;
/// a source without scenes refuses.
#[test]
fn world_twins_are_rendered_minimal_pairs() {
    use wgpu_attngan::data::swaps::{swapped_object, Attribute};
    let w = world();
    let src = Arc::new(WorldSource::new(w.clone(), Split::Train, 48));
    let vocab = Arc::new(vocab_of(src.as_ref(), 1));
    for asked in [vec![Attribute::Shape], Attribute::ALL.to_vec()] {
        let cfg = LoaderConfig {
            batch_size: 8,
            sizes: vec![64],
            workers: 2,
            max_words: src.max_words(),
            twins: asked.clone(),
            ..Default::default()
        };
        let a: Vec<_> = Loader::new(src.clone(), vocab.clone(), cfg.clone(), 1)
            .map(Result::unwrap)
            .collect();
        let b: Vec<_> = Loader::new(src.clone(), vocab.clone(), cfg, 1)
            .map(Result::unwrap)
            .collect();
        assert_eq!(a.len(), 6);
        let mut seen = Vec::new();
        for (x, y) in a.iter().zip(&b) {
            assert_eq!((&x.captions, &x.images), (&y.captions, &y.images));
            let px = 3 * 64 * 64;
            for j in (0..x.len()).step_by(2) {
                let i = x.indices[j];
                assert_eq!(x.indices[j + 1], i, "a twin names its scene");
                assert_eq!((x.class_ids[j], x.class_ids[j + 1]), (1 + i as u32, 0));
                let scene = w.scene(Split::Train, i as u64);
                assert_eq!(
                    &x.images[0][j * px..(j + 1) * px],
                    &scene.render_chw(64)[..]
                );
                let phrasing = w
                    .scene_captions(&scene)
                    .iter()
                    .position(|c| *c == x.captions[j])
                    .expect("the original's caption is one of its scene's");
                let twin_px = &x.images[0][(j + 1) * px..(j + 2) * px];
                let found = (0..scene.objects.len())
                    .flat_map(|k| asked.iter().map(move |&at| (k, at)))
                    .flat_map(|(k, at)| {
                        swapped_object(&scene, k, at)
                            .into_iter()
                            .map(move |s| (k, at, s))
                    })
                    .find(|(_, _, s)| {
                        s.render_chw(64)[..] == *twin_px
                            && w.scene_captions(s)[phrasing] == x.captions[j + 1]
                    });
                let (k, at, s) = found.unwrap_or_else(|| {
                    panic!(
                        "{:?} is no swap of {:?} in {asked:?}",
                        x.captions[j + 1],
                        x.captions[j]
                    )
                });
                let o = &s.objects[k];
                assert!(!world::is_held_out(o.shape, o.colour), "{}", s.describe());
                assert_ne!(x.captions[j], x.captions[j + 1]);
                seen.push(at);
            }
        }
        for at in &asked {
            assert!(seen.contains(at), "{at:?} never drawn in {seen:?}");
        }
    }
    // Only the world has twins.
    let (folder, fv) = four_picture_folder("twins");
    let cfg = LoaderConfig {
        batch_size: 2,
        twins: vec![Attribute::Shape],
        ..Default::default()
    };
    let err = Loader::new(folder, fv, cfg, 0).next().unwrap().unwrap_err();
    assert!(err.to_string().contains("--twins"), "{err}");
}

/// `--labels`: each world image's labels name, cell by cell in reading
/// order, its object's shape, colour and size (1 + index) or 0 for an
/// empty cell; the loader carries them for originals and twins alike (a
/// twin's are its own scene's), and a folder's batches have none.
#[test]
fn world_labels_name_each_cells_object() {
    use wgpu_attngan::data::swaps::{swapped_object, Attribute};
    use wgpu_attngan::data::world::{LABELS, LABEL_CLASSES};
    let w = world();
    let expect = |scene: &world::Scene| -> Vec<u32> {
        let mut want = Vec::new();
        for row in 0..3u8 {
            for col in 0..3u8 {
                match scene
                    .objects
                    .iter()
                    .find(|o| (o.cell.row, o.cell.col) == (row, col))
                {
                    Some(o) => want.extend([
                        1 + world::Shape::ALL
                            .iter()
                            .position(|&s| s == o.shape)
                            .unwrap() as u32,
                        1 + o.colour as u32,
                        if o.size == world::Size::Small { 1 } else { 2 },
                    ]),
                    None => want.extend([0, 0, 0]),
                }
            }
        }
        want
    };
    let mut kinds_seen = [[false; 9]; 3];
    for i in 0..300 {
        let scene = w.scene(Split::Train, i);
        let labels = scene.labels();
        assert_eq!(labels.len(), LABELS);
        assert_eq!(labels, expect(&scene), "{}", scene.describe());
        assert_eq!(
            labels.chunks(3).filter(|c| c[0] != 0).count(),
            scene.objects.len()
        );
        for (k, &l) in labels.iter().enumerate() {
            assert!((l as usize) < LABEL_CLASSES[k % 3], "label {k} = {l}");
            kinds_seen[k % 3][l as usize] = true;
        }
    }
    for (k, seen) in kinds_seen.iter().enumerate() {
        assert!(
            seen[..LABEL_CLASSES[k]].iter().all(|&s| s),
            "kind {k}: not every class drawn in 300 scenes: {seen:?}"
        );
    }
    // Through the loader, twins included.
    let src = Arc::new(WorldSource::new(w.clone(), Split::Train, 16));
    let vocab = Arc::new(vocab_of(src.as_ref(), 1));
    let cfg = LoaderConfig {
        batch_size: 8,
        sizes: vec![32],
        max_words: src.max_words(),
        twins: vec![Attribute::Shape],
        ..Default::default()
    };
    for x in Loader::new(src, vocab, cfg, 0).map(Result::unwrap) {
        assert_eq!(x.labels.len(), x.len() * LABELS);
        for j in (0..x.len()).step_by(2) {
            let scene = w.scene(Split::Train, x.indices[j] as u64);
            assert_eq!(x.labels[j * LABELS..(j + 1) * LABELS], scene.labels()[..]);
            let twin = &x.labels[(j + 1) * LABELS..(j + 2) * LABELS];
            let from_a_swap = (0..scene.objects.len())
                .flat_map(|k| swapped_object(&scene, k, Attribute::Shape))
                .any(|s| s.labels()[..] == *twin && expect(&s)[..] == *twin);
            assert!(from_a_swap, "the twin's labels are no shape swap's");
            assert_ne!(twin, &x.labels[j * LABELS..(j + 1) * LABELS]);
        }
    }
    // A folder has no labels.
    let (folder, fv) = four_picture_folder("labels");
    let cfg = LoaderConfig {
        batch_size: 2,
        ..Default::default()
    };
    let x = Loader::new(folder, fv, cfg, 0).next().unwrap().unwrap();
    assert!(x.labels.is_empty());
}

/// `--data DIR` without split.txt holds out a tenth by path hash: train and
/// test cover the folder, never overlap, and an image keeps its side when
/// others are added. Too many unreadable images stop the run; a few are
/// skipped and counted. A CUB root is recognised by its CUB_200_2011/.
#[test]
fn data_spec_splits_folders_by_hash_and_refuses_mostly_bad_ones() {
    use wgpu_attngan::data::DataSpec;
    let root = temp_dir("spec");
    for i in 0..60 {
        let p = root.join(format!("img{i:02}.png"));
        write_image(&p, 20 + i % 7, 24, [i as u8 * 4, 9, 9]);
        write(&p.with_extension("txt"), format!("picture number {i}\n"));
    }
    let spec = DataSpec::parse(root.to_str().unwrap()).unwrap();
    assert!(matches!(spec, DataSpec::Folder(_)));
    assert_eq!(DataSpec::parse("world").unwrap(), DataSpec::World);
    let (train, summary) = spec.open(Split::Train).unwrap();
    let (test, _) = spec.open(Split::Test).unwrap();
    assert!(
        summary.contains("no split.txt") && summary.contains("0 skipped"),
        "{summary}"
    );
    assert_eq!(train.len() + test.len(), 60);
    assert!((1..=15).contains(&test.len()), "{} held out", test.len());
    let caps = |s: &std::sync::Arc<dyn Source>| -> Vec<String> {
        (0..s.len()).map(|i| s.captions(i)[0].clone()).collect()
    };
    let (tr, te) = (caps(&train), caps(&test));
    assert!(te.iter().all(|c| !tr.contains(c)));
    // More images: the held-out ones stay held out.
    for i in 60..90 {
        let p = root.join(format!("img{i:02}.png"));
        write_image(&p, 20, 24, [9, i as u8, 9]);
        write(&p.with_extension("txt"), format!("picture number {i}\n"));
    }
    let te2 = caps(&spec.open(Split::Test).unwrap().0);
    assert!(te.iter().all(|c| te2.contains(c)));
    // One bad training image in 90 is skipped and counted; a dozen are too many.
    let bad = (0..)
        .map(|i| root.join(format!("bad{i:02}.png")))
        .find(|p| !wgpu_attngan::data::folder::held_out(&root, p))
        .unwrap();
    write(&bad, b"not a png");
    write(&bad.with_extension("txt"), "a broken picture\n");
    let (all_train, s) = spec.open(Split::Train).unwrap();
    assert!(s.contains("1 skipped"), "{s}");
    assert!(all_train.len() >= 70);
    for i in 0..16 {
        write(&root.join(format!("worse{i:02}.png")), b"not a png");
        write(&root.join(format!("worse{i:02}.txt")), "a broken picture\n");
    }
    let e = spec.open(Split::Train).err().unwrap().to_string();
    assert!(e.contains("could not be used") && e.contains("5%"), "{e}");
    let e = DataSpec::parse(root.join("nope").to_str().unwrap())
        .unwrap_err()
        .to_string();
    assert!(e.contains("nope") && e.contains("--data"), "{e}");
    let cub = cub_fixture("spec-cub");
    assert!(matches!(
        DataSpec::parse(cub.to_str().unwrap()).unwrap(),
        DataSpec::Cub(_)
    ));
    let _ = std::fs::remove_dir_all(root);
    let _ = std::fs::remove_dir_all(cub);
}

/// A paletted PNG (4-bit indices into a 3-colour palette), 13x9.
fn write_paletted_png(path: &Path) {
    let file = std::fs::File::create(path).unwrap();
    let (w, h) = (13u32, 9u32);
    let mut enc = png::Encoder::new(std::io::BufWriter::new(file), w, h);
    enc.set_color(png::ColorType::Indexed);
    enc.set_depth(png::BitDepth::Four);
    enc.set_palette(vec![200, 20, 20, 20, 20, 200, 250, 250, 250]);
    let mut writer = enc.write_header().unwrap();
    // Two pixels per byte; index 0 (red) on the left half, 2 (white) on the right.
    let row: Vec<u8> = (0..w.div_ceil(2))
        .map(|b| {
            let px = |x: u32| if x < w / 2 { 0u8 } else { 2 };
            (px(2 * b) << 4) | if 2 * b + 1 < w { px(2 * b + 1) } else { 0 }
        })
        .collect();
    let data: Vec<u8> = (0..h).flat_map(|_| row.clone()).collect();
    writer.write_image_data(&data).unwrap();
}

/// A baseline CMYK JPEG (four components, Adobe marker, no colour
/// transform) of one flat colour, 16x16: DC-only blocks, written by hand,
/// since no encoder at hand writes CMYK. `cmyk`: the four stored samples.
fn write_cmyk_jpeg(path: &Path, cmyk: [u8; 4]) {
    let mut b: Vec<u8> = vec![0xFF, 0xD8];
    let mut segment = |marker: u8, body: &[u8]| {
        b.extend([0xFF, marker]);
        b.extend(((body.len() + 2) as u16).to_be_bytes());
        b.extend(body);
    };
    // Adobe APP14: version 100, no flags, transform 0 (plain CMYK).
    segment(0xEE, b"Adobe\x00\x64\x00\x00\x00\x00\x00");
    // One quantisation table of ones.
    segment(0xDB, &[[0u8].as_slice(), &[1u8; 64]].concat());
    // SOF0: 8-bit, 16x16, four components, no subsampling, table 0.
    let mut sof = vec![8, 0, 16, 0, 16, 4];
    for id in 1..=4u8 {
        sof.extend([id, 0x11, 0]);
    }
    segment(0xC0, &sof);
    // DC table: categories 0..=11, every code 4 bits long (0000..1011).
    let mut dht = vec![0x00];
    let mut bits = [0u8; 16];
    bits[3] = 12;
    dht.extend(bits);
    dht.extend(0..12u8);
    segment(0xC4, &dht);
    // AC table: end-of-block alone, code "0".
    let mut dht = vec![0x10];
    let mut bits = [0u8; 16];
    bits[0] = 1;
    dht.extend(bits);
    dht.push(0x00);
    segment(0xC4, &dht);
    let mut sos = vec![4];
    for id in 1..=4u8 {
        sos.extend([id, 0x00]);
    }
    sos.extend([0, 63, 0]);
    segment(0xDA, &sos);
    // Entropy-coded data: four MCUs; the first codes each component's DC
    // (8 * (sample - 128)), the rest a difference of 0; every block ends at once.
    let (mut acc, mut n, mut out) = (0u64, 0u32, Vec::new());
    let mut put = |value: u64, len: u32, out: &mut Vec<u8>| {
        acc = (acc << len) | value;
        n += len;
        while n >= 8 {
            let byte = (acc >> (n - 8)) as u8;
            out.push(byte);
            if byte == 0xFF {
                out.push(0x00);
            }
            n -= 8;
        }
        acc &= (1u64 << n) - 1;
        n
    };
    let mut pending = 0;
    for mcu in 0..4 {
        for &c in &cmyk {
            let dc = if mcu == 0 { 8 * (c as i64 - 128) } else { 0 };
            let size = 64 - dc.unsigned_abs().leading_zeros();
            put(size as u64, 4, &mut out);
            if size > 0 {
                let bits = if dc < 0 { dc + (1 << size) - 1 } else { dc };
                put(bits as u64, size, &mut out);
            }
            pending = put(0, 1, &mut out);
        }
    }
    let pad = (8 - pending % 8) % 8;
    put((1u64 << pad) - 1, pad, &mut out);
    b.extend(out);
    b.extend([0xFF, 0xD9]);
    std::fs::write(path, b).unwrap();
}

/// Paletted PNGs and CMYK JPEGs, the formats of the list that the
/// other tests do not write, load as RGB like any other image.
#[test]
fn folder_reads_paletted_png_and_cmyk_jpeg() {
    let root = temp_dir("palette-cmyk");
    write_paletted_png(&root.join("palette.png"));
    write_cmyk_jpeg(&root.join("cmyk.jpg"), [20, 200, 230, 10]);
    write(&root.join("palette.txt"), "red on the left\n");
    write(&root.join("cmyk.txt"), "a flat cmyk colour\n");
    // Decoded directly: a 4-component JPEG becomes RGB.
    let img = image::open(root.join("cmyk.jpg")).unwrap();
    assert_eq!((img.width(), img.height()), (16, 16));
    let f = Folder::open(&FolderConfig::new(&root)).unwrap();
    assert_eq!(
        (f.len(), f.skipped.skipped),
        (2, 0),
        "{:?}",
        f.skipped.reasons
    );
    let mut rng = wgpu_attngan::data::rng::SplitMix64::new(1);
    let mut seen = Vec::new();
    for i in 0..f.len() {
        let item = wgpu_attngan::data::Source::item(&f, i, 32, false, &mut rng).unwrap();
        assert_eq!(item.image.dimensions(), (32, 32));
        seen.push((item.captions[0].clone(), item.image));
    }
    // The palette's colours come through: red at the left edge, white at the right.
    let (_, pal) = seen.iter().find(|(c, _)| c.starts_with("red")).unwrap();
    let (l, r) = (pal.get_pixel(1, 16).0, pal.get_pixel(30, 16).0);
    assert!(l[0] > 150 && l[1] < 80 && l[2] < 80, "left {l:?}");
    assert!(r.iter().all(|&v| v > 200), "right {r:?}");
    // The CMYK image is one flat colour.
    let (_, flat) = seen.iter().find(|(c, _)| c.contains("cmyk")).unwrap();
    let p0 = flat.get_pixel(0, 0).0;
    assert!(flat
        .pixels()
        .all(|p| p.0.iter().zip(p0).all(|(a, b)| a.abs_diff(b) <= 2)));
    std::fs::remove_dir_all(root).ok();
}

/// Data parallelism: the shards that K workers load of each batch are,
/// concatenated in rank order, the batch one worker loads, item for item
/// (images, the caption drawn, the words cut at random, the tokens).
#[test]
fn shards_of_a_batch_make_up_the_lone_batch() {
    let src = Arc::new(WorldSource::new(world(), Split::Train, 36));
    let vocab = Arc::new(vocab_of(src.as_ref(), 1));
    let cfg = LoaderConfig {
        batch_size: 6,
        sizes: vec![16, 32],
        workers: 2,
        ..Default::default()
    };
    let lone: Vec<_> = Loader::new(src.clone(), vocab.clone(), cfg.clone(), 5)
        .map(Result::unwrap)
        .collect();
    assert_eq!(lone.len(), 6);
    for k in [2, 3] {
        let shards: Vec<Vec<_>> = (0..k)
            .map(|r| {
                let c = LoaderConfig {
                    shard: (r, k),
                    ..cfg.clone()
                };
                Loader::new(src.clone(), vocab.clone(), c, 5)
                    .map(Result::unwrap)
                    .collect()
            })
            .collect();
        for (b, whole) in lone.iter().enumerate() {
            let parts: Vec<_> = shards.iter().map(|s| &s[b]).collect();
            assert!(parts.iter().all(|p| p.len() == 6 / k), "{k} workers");
            let captions: Vec<String> = parts.iter().flat_map(|p| p.captions.clone()).collect();
            assert_eq!(captions, whole.captions);
            let ids: Vec<usize> = parts.iter().flat_map(|p| p.indices.clone()).collect();
            assert_eq!(ids, whole.indices);
            let tokens: Vec<u32> = parts.iter().flat_map(|p| p.tokens.clone()).collect();
            assert_eq!(tokens, whole.tokens);
            let lengths: Vec<u32> = parts.iter().flat_map(|p| p.lengths.clone()).collect();
            assert_eq!(lengths, whole.lengths);
            for s in 0..2 {
                let px: Vec<f32> = parts.iter().flat_map(|p| p.images[s].clone()).collect();
                assert_eq!(px, whole.images[s], "size {s}, {k} workers");
            }
        }
    }
}

/// Hard negatives (`--hard-negatives`): the world's contrast caption states
/// the item's scene with exactly one attribute of one object changed, over
/// every object and attribute, and no training contrast names a held-out
/// (shape, colour) pair. A loader with contrast off delivers the same batch
/// as before, and with it on one contrast caption per item.
#[test]
fn world_contrast_captions_are_one_attribute_away() {
    use wgpu_attngan::data::caption_score::{caption_keys, parse_world_caption, scene_keys};
    use wgpu_attngan::data::rng::SplitMix64;
    let w = world();
    let mut rng = SplitMix64::keyed(&[41]);
    let mut checked = 0;
    let mut fields_changed = [0usize; 5];
    let mut objects_changed = [0usize; 3];
    for split in [Split::Train, Split::Test] {
        let src = WorldSource::new(w.clone(), split, 300);
        for i in 0..300 {
            let scene = w.scene(split, i as u64);
            let caps = w.scene_captions(&scene);
            let c = i % caps.len();
            let own = caption_keys(&parse_world_caption(&caps[c]));
            let other = src.contrast_caption(i, c, &mut rng).expect("a contrast");
            let theirs = caption_keys(&parse_world_caption(&other));
            assert_ne!(other, caps[c]);
            if own != scene_keys(&scene) || theirs.iter().any(Option::is_none) {
                continue; // a phrasing that leaves a position to a relation
            }
            checked += 1;
            assert_eq!(theirs.len(), own.len(), "{other:?} vs {:?}", caps[c]);
            // Exactly one object's key changed, in exactly one field.
            let keys: Vec<_> = own.iter().map(|k| k.unwrap()).collect();
            let gone: Vec<_> = keys
                .iter()
                .filter(|k| !theirs.contains(&Some(**k)))
                .collect();
            let new: Vec<_> = theirs
                .iter()
                .flatten()
                .filter(|k| !keys.contains(k))
                .collect();
            assert_eq!(
                (gone.len(), new.len()),
                (1, 1),
                "{other:?} vs {:?}",
                caps[c]
            );
            let (a, b) = (gone[0], new[0]);
            let diff = [a.0 != b.0, a.1 != b.1, a.2 != b.2, (a.3, a.4) != (b.3, b.4)];
            assert_eq!(diff.iter().filter(|&&d| d).count(), 1, "{a:?} -> {b:?}");
            fields_changed[diff.iter().position(|&d| d).unwrap()] += 1;
            objects_changed[keys.iter().position(|k| k == a).unwrap().min(2)] += 1;
            if split == Split::Train {
                let shape = world::Shape::ALL[b.0];
                assert!(!world::is_held_out(shape, b.1), "train names {other:?}");
            }
        }
    }
    assert!(checked > 300, "only {checked} captions stated every object");
    // Shape, colour, size and position all get changed, on any object.
    assert!(
        fields_changed[..4].iter().all(|&n| n > 20),
        "{fields_changed:?}"
    );
    assert!(objects_changed[1] > 10, "{objects_changed:?}");

    let src = Arc::new(WorldSource::new(w.clone(), Split::Train, 16));
    let vocab = Arc::new(vocab_of(src.as_ref(), 1));
    let cfg = LoaderConfig {
        batch_size: 8,
        sizes: vec![32],
        workers: 2,
        max_words: src.max_words(),
        ..Default::default()
    };
    let plain: Vec<_> = Loader::new(src.clone(), vocab.clone(), cfg.clone(), 2)
        .map(Result::unwrap)
        .collect();
    let on = LoaderConfig {
        contrast: true,
        ..cfg
    };
    let with: Vec<_> = Loader::new(src.clone(), vocab.clone(), on, 2)
        .map(Result::unwrap)
        .collect();
    for (p, q) in plain.iter().zip(&with) {
        assert!(p.contrast_tokens.is_empty() && p.contrast_lengths.is_empty());
        assert_eq!(
            (&p.indices, &p.tokens, &p.images),
            (&q.indices, &q.tokens, &q.images)
        );
        assert_eq!(q.contrast_lengths.len(), q.len());
        assert_eq!(q.contrast_tokens.len(), q.len() * src.max_words());
        assert_ne!(q.contrast_tokens, q.tokens);
    }
}

/// `max_objects` caps every scene and keeps its first objects: scene i of
/// a capped world is scene i of the full world cut to the cap, in both
/// splits, and every cap is reached.
#[test]
fn world_max_objects_keeps_each_scenes_first_objects() {
    let full = world();
    for cap in [1usize, 2] {
        let capped = World::new(WorldConfig {
            max_objects: cap,
            ..full.config.clone()
        });
        let mut reached = false;
        for split in [Split::Train, Split::Test] {
            for i in 0..300 {
                let (a, b) = (full.scene(split, i), capped.scene(split, i));
                assert!(
                    b.objects.len() <= cap,
                    "scene {i}: {} objects",
                    b.objects.len()
                );
                assert_eq!(b.objects.len(), a.objects.len().min(cap));
                assert_eq!(b.objects[..], a.objects[..b.objects.len()]);
                assert_eq!(b.background, a.background);
                reached |= b.objects.len() == cap;
                for c in capped.scene_captions(&b) {
                    assert!(!c.is_empty());
                }
            }
        }
        assert!(reached, "no scene reaches the cap {cap}");
    }
}
