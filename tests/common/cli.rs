//! The `engine` binary of this build, run as a user would.

#![allow(dead_code)]

/// `engine ARGS`: whether it succeeded, and its stdout then stderr.
pub fn engine(args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_engine"))
        .args(args)
        .env("XDG_RUNTIME_DIR", "/tmp")
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}
