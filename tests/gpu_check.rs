//! tools/gpu-check.sh, the prepared check for a real GPU, in its dry-run
//! mode on whatever adapter is here (lavapipe on CI), so that the script
//! cannot rot between the rare sessions that have a GPU: every step it takes
//! there runs here at tiny sizes, with the engine binary of this build.

#[test]
fn gpu_check_dry_run_passes_every_step() {
    let root = env!("CARGO_MANIFEST_DIR");
    let base = std::env::temp_dir().join(format!("engine-gpu-check-{}", std::process::id()));
    let bin = base.join("bin");
    let out = base.join("out");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_engine"), bin.join("engine")).unwrap();
    let status = std::process::Command::new("bash")
        .arg(format!("{root}/tools/gpu-check.sh"))
        .args(["--dry-run", "--budget", "900", "--skip", "torch"])
        .arg("--bin")
        .arg(&bin)
        .arg("--out")
        .arg(&out)
        .status()
        .expect("bash runs tools/gpu-check.sh");
    let summary = std::fs::read_to_string(out.join("summary.txt")).unwrap_or_default();
    assert!(status.success(), "gpu-check --dry-run failed:\n{summary}");
    for step in [
        "devices",
        "bench",
        "profile-damsm",
        "profile-attngan",
        "train-damsm",
        "train-attngan",
        "export-attngan",
        "export-damsm",
        "eval-oracle",
        "eval-r-precision",
        "eval-fd",
        "generate",
    ] {
        assert!(
            summary.contains(&format!("{step}: ok")),
            "step {step} did not run:\n{summary}"
        );
    }
    for file in [
        "results.tar.gz",
        "world.safetensors",
        "world-damsm.safetensors",
        "attngan-checkpoint.safetensors.part-00",
    ] {
        assert!(out.join(file).exists(), "{file} did not come back");
    }
    std::fs::remove_dir_all(base).ok();
}
