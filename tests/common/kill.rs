//! `engine train` killed with SIGKILL mid-run, then resumed: the helper of
//! the DAMSM and AttnGAN kill tests.

#![allow(dead_code)]

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};

use wgpu_attngan::nn::checkpoint::Checkpoint;

/// Runs `engine train ARGS --out OUT` twice: straight to the end in
/// `base/straight`, and in `base/killed` killed by SIGKILL as soon as its
/// first checkpoint lands, then resumed. Asserts that the kill landed
/// mid-run (the child died by the signal, its checkpoint's step below
/// `steps`) and at or before `last_kill_step`, so the resumed part crosses
/// what the caller needs it to (an epoch boundary). Returns both final
/// checkpoints (straight, killed-and-resumed).
pub fn kill_and_resume(
    base: &Path,
    args: &[&str],
    steps: usize,
    last_kill_step: usize,
) -> (Checkpoint, Checkpoint) {
    let exe = env!("CARGO_BIN_EXE_engine");
    let run = |out: &Path, extra: &[&str]| {
        let mut c = Command::new(exe);
        c.args(args)
            .arg("--out")
            .arg(out)
            .args(extra)
            .env("XDG_RUNTIME_DIR", "/tmp");
        c
    };
    let (straight, killed) = (base.join("straight"), base.join("killed"));
    let out = run(&straight, &[]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut child = run(&killed, &[])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let ck = killed.join("checkpoint.safetensors");
    let t0 = std::time::Instant::now();
    while !ck.exists() && t0.elapsed().as_secs() < 300 {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().ok();
    let status = child.wait().unwrap();
    assert_eq!(
        status.signal(),
        Some(9),
        "the run ended before the kill landed ({status})"
    );
    let at: usize = Checkpoint::load(&ck)
        .expect("the checkpoint survives the kill")
        .metadata["step"]
        .parse()
        .unwrap();
    assert!(
        (1..=last_kill_step).contains(&at) && at < steps,
        "killed at step {at}: not mid-run before step {last_kill_step}"
    );
    let out = run(&killed, &["--resume"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let load = |dir: &Path| Checkpoint::load(&dir.join("checkpoint.safetensors")).unwrap();
    (load(&straight), load(&killed))
}
