//! Byte-identical run directories: for BC and for CQL, two identical trainings (periodic
//! evaluation on) and one killed after its second checkpoint, then resumed, hold the same files
//! with the same bytes.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn vlgor(args: &[&str]) -> Output {
    let o = Command::new(env!("CARGO_BIN_EXE_vlgor"))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("run vlgor");
    assert!(
        o.status.success(),
        "vlgor {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// Every file under `dir`, by relative path, with its bytes.
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            if e.path().is_dir() {
                stack.push(e.path());
            } else {
                let rel = e.path().strip_prefix(dir).unwrap().display().to_string();
                out.insert(rel, std::fs::read(e.path()).unwrap());
            }
        }
    }
    out
}

fn assert_same(a: &Path, b: &Path) {
    let (ta, tb) = (tree(a), tree(b));
    assert_eq!(
        ta.keys().collect::<Vec<_>>(),
        tb.keys().collect::<Vec<_>>(),
        "{} vs {}",
        a.display(),
        b.display()
    );
    for (name, bytes) in &ta {
        assert!(
            bytes == &tb[name],
            "{name} differs between {} and {}",
            a.display(),
            b.display()
        );
    }
}

/// Two identical `algo` runs and a killed-then-resumed one write identical run directories.
fn identical_and_resumed_runs_write_identical_bytes(algo: &str) {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    std::fs::write(
        p("tiny.toml"),
        "[rl]\nepochs = 4\nsteps_per_epoch = 40\nbatch_size = 16\neval_every = 1\n\
         eval_episodes = 2\ntext_hidden = 32\nfeature_dim = 32\njoint_dim = 32\n",
    )
    .unwrap();
    let cfg = p("tiny.toml");
    vlgor(&[
        "collect",
        "--env",
        "clevr",
        "--episodes",
        "20",
        "--out",
        &p("data"),
    ]);
    let data = p("data");
    let train = |out: &str| {
        vec![
            "--config".to_string(),
            cfg.clone(),
            "train-policy".into(),
            "--env".into(),
            "clevr".into(),
            "--algo".into(),
            algo.into(),
            "--data".into(),
            data.clone(),
            "--out".into(),
            p(out),
        ]
    };
    let run = |v: Vec<String>| {
        vlgor(&v.iter().map(String::as_str).collect::<Vec<_>>());
    };
    let start = Instant::now();
    run(train("a"));
    run(train("b"));
    let one_run = start.elapsed() / 2;
    assert_same(Path::new(&p("a")), Path::new(&p("b")));

    // Killed once the second checkpoint exists, then resumed.
    let mut child = Command::new(env!("CARGO_BIN_EXE_vlgor"))
        .args(train("c"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let second = Path::new(&p("c")).join("checkpoints/epoch-0002.json");
    let deadline = Instant::now() + one_run * 4 + Duration::from_secs(30);
    while !second.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        second.exists(),
        "the run never reached its second checkpoint"
    );
    let mut resume = train("c");
    resume.push("--resume".into());
    run(resume);
    assert_same(Path::new(&p("a")), Path::new(&p("c")));
    assert!(Path::new(&p("a")).join("evals.jsonl").is_file());
}

#[test]
fn identical_and_resumed_bc_runs_write_identical_bytes() {
    identical_and_resumed_runs_write_identical_bytes("bc");
}

#[test]
fn identical_and_resumed_cql_runs_write_identical_bytes() {
    identical_and_resumed_runs_write_identical_bytes("cql");
}
