//! Helpers the binary-driven tests share: run `vlgor` with fixed leading flags, require
//! success, read the last stdout line as JSON.

#![allow(dead_code)] // each test binary uses its own subset

use std::process::{Command, Output};

/// `vlgor LEADING.. ARGS..`, whatever its exit status.
pub fn run(leading: &[&str], args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vlgor"))
        .args(leading)
        .args(args)
        .output()
        .expect("run vlgor")
}

/// Like [`run`], and the command must succeed (the panic shows its stderr).
pub fn ok_with(leading: &[&str], args: &[&str]) -> Output {
    let o = run(leading, args);
    assert!(
        o.status.success(),
        "vlgor {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// The last stdout line as JSON (`--json` output).
pub fn last_json(o: &Output) -> serde_json::Value {
    let out = String::from_utf8_lossy(&o.stdout);
    serde_json::from_str(out.lines().last().unwrap_or("")).expect("a JSON last line")
}
