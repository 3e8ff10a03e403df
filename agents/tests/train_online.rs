//! `vlgor train-online` through the binary at toy sizes: a resumed run is byte-identical to an
//! uninterrupted one, the advisor is queried on the documented schedule and the BC weight is
//! zero after the cutoff, and bad input exits 2 with a message naming the problem.

use std::path::Path;
use std::process::Output;

mod common;

fn vlgor(args: &[&str]) -> Output {
    common::run(&["--threads", "1", "--quiet"], args)
}

fn ok(args: &[&str]) -> Output {
    common::ok_with(&["--threads", "1", "--quiet"], args)
}

/// Toy sizes: 4 simulators, small networks, an evaluation and a checkpoint every 32 steps.
const TOY: &str = "[rl]\ntext_hidden = 32\nfeature_dim = 32\njoint_dim = 32\n\
[online]\nparallel = 4\nbatch_size = 16\nlearning_starts = 16\nupdates_per_step = 1\n\
target_update_interval = 10\neval_every = 32\neval_episodes = 4\ncheckpoint_every = 32\n\
advise_every = 2\nadvice_cutoff = 40\nepsilon_decay_steps = 64\n";

fn train(dir: &Path, out: &str, advisor: &str, steps: u64, resume: bool) {
    let cfg = dir.join("toy.toml");
    std::fs::write(&cfg, TOY).unwrap();
    let steps = steps.to_string();
    let out = dir.join(out);
    let mut args = vec![
        "--config",
        cfg.to_str().unwrap(),
        "train-online",
        "--env",
        "clevr",
        "--algo",
        "dqn",
        "--advisor",
        advisor,
        "--steps",
        &steps,
        "--out",
        out.to_str().unwrap(),
    ];
    if resume {
        args.push("--resume");
    }
    ok(&args);
}

/// Every file of `dir` except the timings (`summary.json`), relative path → bytes.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.file_name().unwrap() != "summary.json" {
                let rel = p.strip_prefix(dir).unwrap().display().to_string();
                out.push((rel, std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

fn evals(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("evals.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn resumed_run_is_byte_identical_to_an_uninterrupted_one() {
    let dir = tempfile::tempdir().unwrap();
    train(dir.path(), "full", "none", 64, false);
    train(dir.path(), "split", "none", 32, false);
    train(dir.path(), "split", "none", 64, true);
    let (a, b) = (
        files(&dir.path().join("full")),
        files(&dir.path().join("split")),
    );
    let names: Vec<&String> = a.iter().map(|(n, _)| n).collect();
    assert!(
        names.iter().any(|n| n.starts_with("state/step-")),
        "{names:?}"
    );
    assert!(
        names
            .iter()
            .any(|n| n.contains("policy/checkpoints/epoch-0002")),
        "{names:?}"
    );
    assert_eq!(names, b.iter().map(|(n, _)| n).collect::<Vec<_>>());
    for ((name, x), (_, y)) in a.iter().zip(&b) {
        assert!(
            x == y,
            "{name} differs between the resumed and the uninterrupted run"
        );
    }
    let e = evals(&dir.path().join("full"));
    assert_eq!(e.len(), 2);
    assert_eq!(e[1]["env_steps"], 64);
    assert_eq!(e[0]["advised_steps"], 0);
    // The greedy policy is an offline checkpoint that `vlgor eval` reads.
    let run = dir.path().join("full/policy");
    ok(&[
        "eval",
        run.to_str().unwrap(),
        "--episodes",
        "2",
        "--reference",
        "random",
    ]);
}

#[test]
fn advisor_follows_the_schedule_and_bc_weight_is_zero_after_the_cutoff() {
    let dir = tempfile::tempdir().unwrap();
    train(dir.path(), "advised", "expert", 64, false);
    let out = dir.path().join("advised");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    // 16 vector steps of 4 simulators; advised: every 2nd while env steps < 40, i.e. t = 0, 2,
    // 4, 6, 8 (t·4 < 40).
    assert_eq!(summary["advised_steps"], 5, "{summary}");
    assert_eq!(summary["advisor_requests"], 5, "{summary}");
    let share = summary["advisor_share"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&share), "{summary}");
    let e = evals(&out);
    assert_eq!(e[1]["env_steps"], 64);
    assert_eq!(e[1]["bc_weight"], 0.0, "after the cutoff: {:?}", e[1]);
    assert_eq!(e[1]["losses"]["bc_weight"], 0.0, "{:?}", e[1]);
    assert!(
        e[0]["bc_weight"].as_f64().unwrap() > 0.0,
        "before the cutoff: {:?}",
        e[0]
    );
}

#[test]
fn bad_input_exits_2_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let o = out.to_str().unwrap();
    // Each case: the flags besides `train-online --steps 8 --out RUN`, and the message.
    let cases: [(&[&str], &str); 5] = [
        (
            &["--env", "clevr", "--algo", "sac"],
            "sac needs continuous actions",
        ),
        (
            &[
                "--env",
                "clevr",
                "--algo",
                "dqn",
                "--advisor",
                "world-model",
            ],
            "needs --vlm",
        ),
        (
            &[
                "--env",
                "clevr",
                "--algo",
                "dqn",
                "--advisor",
                "world-model",
                "--vlm",
                "/nonexistent/wm",
            ],
            "/nonexistent/wm",
        ),
        (
            &["--env", "clevr", "--algo", "dqn", "--resume"],
            "no resume checkpoint",
        ),
        (
            &["--env", "clevr", "--algo", "dqn", "--task", "reach"],
            "clevr has none",
        ),
    ];
    for (flags, needle) in cases {
        let mut args = vec!["train-online", "--steps", "8", "--out", o];
        args.extend_from_slice(flags);
        let r = vlgor(&args);
        let err = String::from_utf8_lossy(&r.stderr);
        assert_eq!(r.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    assert!(!out.exists(), "a refused run writes nothing");
    let cfg = dir.path().join("bad.toml");
    std::fs::write(&cfg, "[online]\nparallel = 0\n").unwrap();
    let r = vlgor(&[
        "--config",
        cfg.to_str().unwrap(),
        "train-online",
        "--env",
        "clevr",
        "--algo",
        "dqn",
        "--steps",
        "8",
        "--out",
        o,
    ]);
    let err = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(2), "{err}");
    assert!(
        err.contains("online.parallel") && err.contains("bad.toml"),
        "{err}"
    );
}

#[test]
fn sac_trains_on_metaworld_with_the_sparse_success_reward() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("toy.toml");
    std::fs::write(&cfg, TOY).unwrap();
    let out = dir.path().join("sac");
    ok(&[
        "--config",
        cfg.to_str().unwrap(),
        "train-online",
        "--env",
        "metaworld",
        "--task",
        "reach",
        "--algo",
        "sac",
        "--advisor",
        "expert",
        "--steps",
        "32",
        "--out",
        out.to_str().unwrap(),
    ]);
    let e = evals(&out);
    assert_eq!(e.len(), 1);
    assert_eq!(e[0]["env_steps"], 32);
    for key in ["critic_loss", "actor_loss", "bc_loss", "temperature"] {
        assert!(
            e[0]["losses"][key].as_f64().unwrap().is_finite(),
            "{key}: {:?}",
            e[0]
        );
    }
    let rate = e[0]["success_rate"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&rate));
}
