//! Output paths and numeric flags: every bad one is refused with exit status 2 naming it.

use std::process::{Command, Output};

fn vlgor(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vlgor"))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("run vlgor")
}

fn refs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn assert_exit_2(args: &[&str], needle: &str) {
    let o = vlgor(args);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
    assert!(err.contains(needle), "{args:?}: {err}");
}

#[test]
fn bad_output_paths_and_ranges_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    let o = vlgor(&[
        "collect",
        "--env",
        "clevr",
        "--episodes",
        "2",
        "--out",
        &p("data"),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::write(p("file"), b"x").unwrap();
    let train = |out: &str| {
        vec![
            "train-policy".to_string(),
            "--env".into(),
            "clevr".into(),
            "--algo".into(),
            "bc".into(),
            "--data".into(),
            p("data"),
            "--out".into(),
            out.to_string(),
        ]
    };
    assert_exit_2(&refs(&train(&p("data"))), "holds a dataset");
    assert_exit_2(&refs(&train(&p("file"))), "is not a directory");
    // A policy run directory is not a collection's output.
    std::fs::create_dir_all(dir.path().join("run/checkpoints")).unwrap();
    std::fs::write(dir.path().join("run/config.json"), b"{}").unwrap();
    assert_exit_2(
        &[
            "collect",
            "--env",
            "clevr",
            "--episodes",
            "2",
            "--out",
            &p("run"),
        ],
        "holds a policy run",
    );
    assert_exit_2(
        &["check", &p("data"), "--report", &p("run")],
        "is a directory",
    );
    for bad in ["2.0", "-0.1", "nan"] {
        assert_exit_2(
            &[
                "eval",
                "--env",
                "clevr",
                "--policy",
                "expert",
                &format!("--min-success={bad}"),
            ],
            "min-success",
        );
    }
}

#[test]
fn manifest_paths_outside_the_dataset_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    let o = vlgor(&["collect", "--env", "clevr", "--episodes", "2", "--out", d]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let manifest = data.join("manifest.json");
    let good = std::fs::read(&manifest).unwrap();
    for escape in ["../../etc/passwd", "/etc/passwd", "shards/../../x", ""] {
        let mut m: serde_json::Value = serde_json::from_slice(&good).unwrap();
        m["shards"][0]["file"] = escape.into();
        std::fs::write(&manifest, serde_json::to_vec(&m).unwrap()).unwrap();
        assert_exit_2(&["dataset", "info", d], "shards[0].file");
    }
}
