//! A run's claim on its output folder, so that two runs never write the
//! same checkpoint at once: `<out>/lock` holds the owner's process id,
//! created exclusively, removed when the run ends. A lock whose process has
//! ended (a crash, kill -9) is stale and taken over with a note.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::runtime::{Error, Result};

pub struct RunLock {
    /// None on data-parallel workers other than rank 0, which write nothing.
    path: Option<PathBuf>,
}

fn alive(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        Path::new(&format!("/proc/{pid}")).exists()
    } else {
        // No cheap portable check: treat the lock as held.
        true
    }
}

impl RunLock {
    pub fn acquire(out: &Path) -> Result<RunLock> {
        if !crate::nn::parallel::is_leader() {
            return Ok(RunLock { path: None });
        }
        let err = |m: String| Error::invalid("train", m);
        std::fs::create_dir_all(out)
            .map_err(|e| err(format!("cannot create {}: {e}", out.display())))?;
        let path = out.join("lock");
        for _ in 0..2 {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(mut f) => {
                    write!(f, "{}", std::process::id())
                        .map_err(|e| err(format!("cannot write {}: {e}", path.display())))?;
                    return Ok(RunLock { path: Some(path) });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let owner = std::fs::read_to_string(&path).unwrap_or_default();
                    match owner.trim().parse::<u32>() {
                        Ok(pid) if alive(pid) => {
                            return Err(err(format!(
                                "another run (process {pid}) is writing into {}; wait for it or stop it, or pass --out DIR (if no such run exists, delete {})",
                                out.display(),
                                path.display()
                            )))
                        }
                        _ => {
                            eprintln!(
                                "note: {} was left by a run that has ended (process {}); taking it over",
                                path.display(),
                                owner.trim()
                            );
                            let _ = std::fs::remove_file(&path);
                        }
                    }
                }
                Err(e) => {
                    return Err(err(format!(
                        "cannot create {}: {e} (is the folder read-only?)",
                        path.display()
                    )))
                }
            }
        }
        Err(err(format!(
            "could not take {}; another run may be starting there",
            path.display()
        )))
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        if let Some(p) = &self.path {
            let _ = std::fs::remove_file(p);
        }
    }
}
