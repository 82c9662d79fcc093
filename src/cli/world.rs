//! `engine world`: a sample grid of the built-in world, each scene and its
//! captions printed.

use std::path::PathBuf;

use wgpu_attngan::data::grid::caption_grid;
use wgpu_attngan::data::world::{Split, World, WorldConfig};

#[derive(clap::Args, Debug)]
pub struct WorldArgs {
    /// Where to write the grid PNG.
    #[arg(long, default_value = "docs/world-grid.png")]
    pub out: PathBuf,
    /// Image side in pixels (32 to 256).
    #[arg(long, default_value_t = 64)]
    pub size: u32,
    /// Number of scenes.
    #[arg(long, default_value_t = 16)]
    pub count: u64,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// train or test.
    #[arg(long, default_value = "train")]
    pub split: Split,
}

/// Render the grid, write it, print each scene and its captions.
pub fn run(args: &WorldArgs) -> Result<(), String> {
    if !(32..=256).contains(&args.size) {
        return Err(format!(
            "--size {} is out of range (use 32 to 256)",
            args.size
        ));
    }
    if !(1..=1024).contains(&args.count) {
        return Err(format!(
            "--count {} is out of range: a grid holds 1 to 1024 scenes",
            args.count
        ));
    }
    let world = World::new(WorldConfig {
        seed: args.seed,
        resolution: args.size,
        ..Default::default()
    });
    let mut items = Vec::new();
    for i in 0..args.count {
        let scene = world.scene(args.split, i);
        let caps = world.scene_captions(&scene);
        println!("[{} {i}] {}", args.split.name(), scene.describe());
        for c in caps.iter().take(3) {
            println!("    {c}");
        }
        items.push((scene.render(args.size), caps[0].clone()));
    }
    let cols = (args.count as f64).sqrt().ceil() as usize;
    let grid = caption_grid(&items, cols);
    if let Some(dir) = args.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    grid.save(&args.out)
        .map_err(|e| format!("cannot write {}: {e}", args.out.display()))?;
    println!(
        "wrote {} ({}x{})",
        args.out.display(),
        grid.width(),
        grid.height()
    );
    Ok(())
}
