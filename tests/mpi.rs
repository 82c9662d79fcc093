//! Data-parallel training over MPI (`cargo test --features mpi --test mpi`;
//! needs Open MPI's `mpirun`, as `.ci/run` installs it). Each test runs
//! the engine binary under `mpirun -n 2`, on this machine's one device.
//!
//! What must agree, and is tested here to the bit:
//! - with every worker on the whole batch (`ENGINE_DP_REPLICATE=1`), the
//!   mean of their gradients is the lone run's gradients, so two workers
//!   write the checkpoint of one process, bit for bit (DAMSM and AttnGAN:
//!   the all-reduce, the averaged running statistics, Adam, the lock-step
//!   stop, rank 0's writing);
//! - the workers hold the same parameters at every checkpoint (the engine
//!   checks it itself; a run whose workers start apart is refused);
//! - the shards of a batch make up the lone batch (tests/data.rs).
//!
//! What differs, by design, between two workers of 4 and one of 8: what a
//! loss or layer computes within a batch stays within a worker's share
//! (batch-norm statistics, DAMSM's negatives, AttnGAN's mismatched pairs,
//! DAMSM's dropout masks), as in PyTorch's DistributedDataParallel.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use wgpu_attngan::nn::checkpoint::Checkpoint;

fn mpirun(k: usize, env: &[(&str, &str)], args: &[&str]) -> Command {
    let mut c = Command::new("mpirun");
    // CI runs as root on 2 cores: Open MPI wants both said.
    c.args([
        "--allow-run-as-root",
        "--oversubscribe",
        "-n",
        &k.to_string(),
    ]);
    for (key, value) in env {
        c.args(["-x", &format!("{key}={value}")]);
    }
    c.arg(env!("CARGO_BIN_EXE_engine"))
        .args(args)
        .env("XDG_RUNTIME_DIR", "/tmp");
    c
}

fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr)
}

fn run_ok(mut c: Command) -> String {
    let o = c.output().expect("mpirun (Open MPI) is on PATH");
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    t
}

fn temp(name: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("engine-mpi-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&p);
    p
}

/// Every tensor of `a` and `b` (parameters, statistics, Adam moments,
/// moving average) equal to the bit.
fn assert_same_tensors(a: &Path, b: &Path) {
    let (a, b) = (Checkpoint::load(a).unwrap(), Checkpoint::load(b).unwrap());
    common::same::assert_same_run(&a, &b, &["step"]);
}

const DAMSM: &[&str] = &[
    "train",
    "--steps",
    "6",
    "--batch",
    "8",
    "--scenes",
    "48",
    "--image-size",
    "32",
    "--checkpoint-every",
    "3",
    "--quiet",
];

fn attngan(damsm: &Path) -> Vec<String> {
    [
        "train",
        "--model",
        "attngan",
        "--stages",
        "1",
        "--base-size",
        "32",
        "--steps",
        "4",
        "--batch",
        "8",
        "--scenes",
        "48",
        "--quiet",
        "--damsm",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([damsm.display().to_string()])
    .collect()
}

fn with_out(args: &[&str], out: &Path) -> Vec<String> {
    args.iter()
        .map(|s| s.to_string())
        .chain(["--out".into(), out.display().to_string()])
        .collect()
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn the_all_reduce_averages_exactly_and_each_worker_names_its_device() {
    let t = run_ok(mpirun(2, &[], &["devices"]));
    assert!(
        t.contains("worker 0 of 2 on ") && t.contains("worker 1 of 2 on "),
        "{t}"
    );
    assert!(
        t.contains("all-reduce (mean) of 16 MiB over 2 workers") && t.contains("checked"),
        "{t}"
    );
}

#[test]
fn two_workers_on_the_whole_batch_write_the_lone_runs_checkpoint_bit_for_bit() {
    let base = temp("replica");
    let replicate = [("ENGINE_DP_REPLICATE", "1")];
    // DAMSM: one process, then two.
    let lone = base.join("damsm-1");
    let (ok, t) = common::cli::engine(&strs(&with_out(DAMSM, &lone)));
    assert!(ok, "{t}");
    let two = base.join("damsm-2");
    let t = run_ok(mpirun(2, &replicate, &strs(&with_out(DAMSM, &two))));
    assert!(t.contains("data-parallel over 2 workers"), "{t}");
    assert_same_tensors(
        &lone.join("checkpoint.safetensors"),
        &two.join("checkpoint.safetensors"),
    );
    // AttnGAN (batch norm in G and D, two optimisers, the moving average),
    // guided by that DAMSM.
    let damsm = lone.join("checkpoint.safetensors");
    let args = attngan(&damsm);
    let args: Vec<&str> = strs(&args);
    let (g1, g2) = (base.join("gan-1"), base.join("gan-2"));
    let (ok, t) = common::cli::engine(&strs(&with_out(&args, &g1)));
    assert!(ok, "{t}");
    run_ok(mpirun(2, &replicate, &strs(&with_out(&args, &g2))));
    assert_same_tensors(
        &g1.join("checkpoint.safetensors"),
        &g2.join("checkpoint.safetensors"),
    );
    std::fs::remove_dir_all(base).ok();
}

#[test]
fn two_workers_share_each_batch_and_resume_only_as_two() {
    let base = temp("shards");
    let out = base.join("damsm");
    let args = with_out(DAMSM, &out);
    let t = run_ok(mpirun(2, &[], &strs(&args)));
    // Rank 0 alone reports and writes; no lock is left behind.
    assert_eq!(t.matches("6 steps in").count(), 1, "{t}");
    assert!(out.join("checkpoint.safetensors").exists() && out.join("loss.png").exists());
    assert!(!out.join("lock").exists());
    let ck = Checkpoint::load(&out.join("checkpoint.safetensors")).unwrap();
    assert!(
        ck.metadata["options"].contains("workers=2"),
        "{:?}",
        ck.metadata
    );
    // Resumed by one process: refused, naming the difference.
    let more: Vec<String> = with_out(DAMSM, &out)
        .into_iter()
        .map(|a| if a == "6" { "8".into() } else { a })
        .chain(["--resume".into()])
        .collect();
    let (ok, t) = common::cli::engine(&strs(&more));
    assert!(
        !ok && t.contains("workers: 2 in the checkpoint, 1 now"),
        "{t}"
    );
    // By two: it goes on.
    let t = run_ok(mpirun(2, &[], &strs(&more)));
    assert!(t.contains("8 steps in"), "{t}");
    // AttnGAN on two shards, guided by that DAMSM.
    let damsm = out.join("checkpoint.safetensors");
    let gan = with_out(&strs(&attngan(&damsm)), &base.join("gan"));
    run_ok(mpirun(2, &[], &strs(&gan)));
    let ck = Checkpoint::load(&base.join("gan/checkpoint.safetensors")).unwrap();
    assert_eq!(ck.metadata["step"], "4");
    // A global batch that does not split evenly is refused up front.
    let odd: Vec<String> = with_out(DAMSM, &base.join("odd"))
        .into_iter()
        .map(|a| if a == "8" { "7".into() } else { a })
        .collect();
    let o = mpirun(2, &[], &strs(&odd)).output().unwrap();
    assert!(!o.status.success());
    assert!(
        text(&o).contains("split evenly over the 2 workers"),
        "{}",
        text(&o)
    );
    std::fs::remove_dir_all(base).ok();
}

#[test]
fn workers_that_start_apart_are_refused() {
    let base = temp("apart");
    // Two ranks, two different seeds: their weights differ from the start.
    let out = base.join("run").display().to_string();
    let one = |seed: &str| {
        let mut v: Vec<String> = DAMSM.iter().map(|s| s.to_string()).collect();
        v.extend(["--seed".into(), seed.into(), "--out".into(), out.clone()]);
        v
    };
    let mut c = Command::new("mpirun");
    c.args(["--allow-run-as-root", "--oversubscribe", "-n", "1"])
        .arg(env!("CARGO_BIN_EXE_engine"))
        .args(one("1"))
        .args([":", "-n", "1"])
        .arg(env!("CARGO_BIN_EXE_engine"))
        .args(one("2"))
        .env("XDG_RUNTIME_DIR", "/tmp");
    let o = c.output().unwrap();
    let t = text(&o);
    assert!(!o.status.success(), "{t}");
    assert!(t.contains("disagree on the parameters at the start"), "{t}");
    assert!(!base.join("run/checkpoint.safetensors").exists());
    std::fs::remove_dir_all(base).ok();
}

/// One worker killed with SIGKILL mid-run: mpirun ends the other and
/// fails; the last checkpoint is whole and the run resumes from it.
#[test]
fn a_killed_worker_ends_the_run_and_the_checkpoint_resumes() {
    let base = temp("kill");
    let out = base.join("run");
    let long: Vec<String> = with_out(DAMSM, &out)
        .into_iter()
        .map(|a| if a == "6" { "400".into() } else { a })
        .collect();
    let mut c = mpirun(2, &[], &strs(&long));
    let mut child = c
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let ck_path = out.join("checkpoint.safetensors");
    let start = Instant::now();
    while !ck_path.exists() {
        assert!(start.elapsed() < Duration::from_secs(300), "no checkpoint");
        std::thread::sleep(Duration::from_millis(100));
    }
    // The workers are mpirun's children (read from /proc: no procps
    // needed); kill the second one.
    let pids = children(child.id());
    assert_eq!(pids.len(), 2, "workers: {pids:?}");
    // SAFETY: sending a signal to a process id has no memory-safety requirements.
    unsafe {
        libc::kill(pids[1] as i32, libc::SIGKILL);
    }
    let status = child.wait().unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert!(
        !status.success(),
        "mpirun succeeded after a worker was killed"
    );
    assert!(err.contains("signal 9") || err.contains("Killed"), "{err}");
    // mpirun may return before the other worker has quite gone (its run
    // lock stays taken until then, and a resume says so): wait for it.
    let gone = Instant::now();
    while Path::new(&format!("/proc/{}", pids[0])).exists() {
        assert!(
            gone.elapsed() < Duration::from_secs(60),
            "worker 0 lives on"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let ck = Checkpoint::load(&ck_path).unwrap();
    let step: usize = ck.metadata["step"].parse().unwrap();
    assert!(step > 0 && step < 400, "step {step}");
    // Resumed on two workers, a few steps further.
    let target = (step + 3).to_string();
    let resume: Vec<String> = long
        .into_iter()
        .map(|a| if a == "400" { target.clone() } else { a })
        .chain(["--resume".into()])
        .collect();
    run_ok(mpirun(2, &[], &strs(&resume)));
    let ck = Checkpoint::load(&ck_path).unwrap();
    assert_eq!(ck.metadata["step"], target);
    std::fs::remove_dir_all(base).ok();
}

/// The processes whose parent is `pid`, in ascending id order.
fn children(pid: u32) -> Vec<u32> {
    let mut out: Vec<u32> = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|p| {
            // /proc/P/stat: "P (name) state ppid ...": the name may hold spaces.
            std::fs::read_to_string(format!("/proc/{p}/stat"))
                .ok()
                .and_then(|s| {
                    let rest = s.rsplit_once(')')?.1.to_string();
                    rest.split_whitespace().nth(1)?.parse::<u32>().ok()
                })
                == Some(pid)
        })
        .collect();
    out.sort();
    out
}
