//! `vlgor view`: a clear error without a display; under Xvfb it opens, runs and closes.

use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn without_a_display_it_says_so() {
    let o = Command::new(env!("CARGO_BIN_EXE_vlgor"))
        .args(["view", "--env", "clevr", "--max-frames", "3"])
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("no display") && err.contains("xvfb-run"),
        "{err}"
    );
}

#[test]
fn under_xvfb_live_and_replay_windows_run() {
    if Command::new("Xvfb")
        .arg("-help")
        .stderr(Stdio::null())
        .status()
        .is_err()
    {
        eprintln!("SKIPPED: Xvfb not installed (scripts/setup.sh installs it)");
        return;
    }
    let display = format!(":{}", 150 + std::process::id() % 100);
    let mut xvfb = Command::new("Xvfb")
        .args([
            display.as_str(),
            "-screen",
            "0",
            "1024x768x24",
            "-nolisten",
            "tcp",
        ])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(800));
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_vlgor"))
            .args(args)
            .env("DISPLAY", &display)
            .output()
            .unwrap()
    };
    let live = run(&[
        "view",
        "--env",
        "metaworld",
        "--task",
        "push",
        "--max-frames",
        "8",
        "--fps",
        "30",
        "--camera",
        "topview",
    ]);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    let collected = run(&[
        "collect",
        "--env",
        "clevr",
        "--episodes",
        "3",
        "--out",
        data.to_str().unwrap(),
    ]);
    let replay = run(&[
        "view",
        "--env",
        "clevr",
        "--rollout",
        data.to_str().unwrap(),
        "--compare",
        data.to_str().unwrap(),
        "--max-frames",
        "8",
        "--fps",
        "30",
    ]);
    xvfb.kill().ok();
    xvfb.wait().ok();
    assert!(
        live.status.success(),
        "live: {}",
        String::from_utf8_lossy(&live.stderr)
    );
    assert!(
        collected.status.success(),
        "{}",
        String::from_utf8_lossy(&collected.stderr)
    );
    assert!(
        replay.status.success(),
        "replay: {}",
        String::from_utf8_lossy(&replay.stderr)
    );
}
