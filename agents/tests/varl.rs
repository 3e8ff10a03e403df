//! `vlgor varl` through the binary at toy sizes: every (advisor, seed) run is made, results.json
//! carries steps to the threshold and final success per advisor with mean, std and per-seed
//! values, the report and curves are written, a second invocation reads the finished runs back
//! without redoing them, and bad input exits 2 naming the problem.

use std::path::Path;

mod common;

const TOY: &str = "[rl]\ntext_hidden = 32\nfeature_dim = 32\njoint_dim = 32\n\
[online]\nparallel = 4\nbatch_size = 16\nlearning_starts = 16\nupdates_per_step = 1\n\
target_update_interval = 10\neval_every = 32\neval_episodes = 4\ncheckpoint_every = 32\n\
advise_every = 2\nadvice_cutoff = 40\nepsilon_decay_steps = 64\n\
[vlm]\nbase_episodes = 6\nbase_keyframes = 3\nbase_epochs = 1\n\
[varl]\nseeds = [0, 1]\nclevr_steps = 64\nclevr_threshold = 0.25\n";

fn vlgor(cfg: &Path, args: &[&str]) -> std::process::Output {
    common::run(
        &[
            "--threads",
            "1",
            "--quiet",
            "--config",
            cfg.to_str().unwrap(),
        ],
        args,
    )
}

#[test]
fn varl_compares_advised_and_unadvised_runs_and_reads_finished_runs_back() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("toy.toml");
    std::fs::write(&cfg, TOY).unwrap();
    let wm = dir.path().join("wm");
    let o = vlgor(
        &cfg,
        &[
            "train-vlm",
            "--env",
            "clevr",
            "--stage",
            "base",
            "--out",
            wm.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = dir.path().join("cmp");
    let args = [
        "varl",
        "--clevr-vlm",
        wm.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--json",
    ];
    let o = vlgor(&cfg, &args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(out.join("results.json")).unwrap();
    let r: serde_json::Value = serde_json::from_str(&text).unwrap();
    let t = &r["tasks"][0];
    assert_eq!(t["task"], "clevr");
    assert_eq!(t["algo"], "dqn");
    for arm in ["advised", "unadvised"] {
        let s = &t["steps_to_threshold"][arm];
        assert!(
            s["mean"].as_f64().is_some() && s["std"].as_f64().is_some(),
            "{s}"
        );
        assert_eq!(s["per_seed"].as_array().unwrap().len(), 2, "{s}");
        let f = &t["final_success"][arm];
        assert_eq!(f["per_seed"].as_array().unwrap().len(), 2, "{f}");
    }
    // Both seeds of both advisors ran to the end, on the advisor's schedule.
    for adv in ["none", "world-model"] {
        for seed in [0, 1] {
            let run = out.join("runs").join(format!("clevr-{adv}-s{seed}"));
            let s: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(run.join("summary.json")).unwrap())
                    .unwrap();
            assert_eq!(s["env_steps"], 64, "{adv} s{seed}: {s}");
            let advised = if adv == "none" { 0 } else { 5 };
            assert_eq!(s["advised_steps"], advised, "{adv} s{seed}: {s}");
        }
    }
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        report.contains("| clevr | dqn | 64 | 0.25 | advised |"),
        "{report}"
    );
    assert!(report.contains("unadvised"), "{report}");
    let png = std::fs::read(out.join("curves.png")).unwrap();
    assert_eq!(&png[1..4], b"PNG");

    // A second invocation trains nothing: every run is read back, the results are the same.
    let evals = out.join("runs/clevr-world-model-s1/evals.jsonl");
    let before = std::fs::metadata(&evals).unwrap().modified().unwrap();
    let o = vlgor(&cfg, &args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        std::fs::read_to_string(out.join("results.json")).unwrap(),
        text
    );
    assert_eq!(
        std::fs::metadata(&evals).unwrap().modified().unwrap(),
        before
    );
}

#[test]
fn varl_without_a_world_model_or_with_a_missing_one_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("toy.toml");
    std::fs::write(&cfg, TOY).unwrap();
    let out = dir.path().join("cmp");
    let o = vlgor(&cfg, &["varl", "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("--clevr-vlm"), "{e}");
    let o = vlgor(
        &cfg,
        &[
            "varl",
            "--clevr-vlm",
            "/no/such/wm",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains("/no/such/wm") && e.contains("not a directory"),
        "{e}"
    );
    std::fs::write(&cfg, format!("{TOY}metaworld_tasks = [\"fly\"]\n")).unwrap();
    let o = vlgor(&cfg, &["varl", "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("varl.metaworld_tasks"), "{e}");
}
