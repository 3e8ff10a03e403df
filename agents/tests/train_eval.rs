//! collect → train-policy → eval RUN_DIR through the binary: the run directory is
//! self-contained and evaluation is reproducible.

use std::process::{Command, Output};

fn vlgor(args: &[&str]) -> Output {
    let o = Command::new(env!("CARGO_BIN_EXE_vlgor"))
        .args(args)
        .output()
        .expect("run vlgor");
    assert!(
        o.status.success(),
        "vlgor {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

fn last_json(o: &Output) -> serde_json::Value {
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    serde_json::from_str(out.lines().last().unwrap()).unwrap()
}

#[test]
fn trained_policy_evaluates_reproducibly_from_its_run_directory() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    std::fs::write(
        p("small.toml"),
        "[rl]\nepochs = 3\neval_every = 2\neval_episodes = 6\n[eval]\ncheckpoints = 2\n[render]\nwidth = 48\nheight = 48\n",
    )
    .unwrap();
    vlgor(&[
        "collect",
        "--env",
        "clevr",
        "--episodes",
        "150",
        "--out",
        &p("data"),
    ]);
    let cfg = p("small.toml");
    for obs in ["state", "image"] {
        let run = p(&format!("run_{obs}"));
        let t = last_json(&vlgor(&[
            "--config",
            &cfg,
            "train-policy",
            "--env",
            "clevr",
            "--algo",
            "bc",
            "--obs",
            obs,
            "--data",
            &p("data"),
            "--out",
            &run,
            "--json",
        ]));
        assert_eq!(t["epochs"], 3, "{t}");
        for f in [
            "config.json",
            "train_log.jsonl",
            "evals.jsonl",
            "events.out.tfevents.vlgor",
            "checkpoints/epoch-0003.safetensors",
            "checkpoints/epoch-0003.json",
        ] {
            assert!(
                std::path::Path::new(&run).join(f).exists(),
                "{obs}: {f} missing"
            );
        }
        let args = [
            "--config",
            &cfg,
            "eval",
            &run,
            "--level",
            "seen,counterfactual",
            "--episodes",
            "12",
            "--seeds",
            "0,1",
            "--json",
        ];
        let first = vlgor(&[&["-vv"][..], &args[..]].concat());
        let a = last_json(&first);
        let b = last_json(&vlgor(&args));
        assert_eq!(a, b, "{obs}: same seeds, same table");
        // The run's last `eval.checkpoints` (2 of 3) checkpoints are each loaded once for the
        // whole evaluation (2 levels × 2 seeds), not once per cell.
        let log = String::from_utf8_lossy(&first.stderr);
        let loads: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("loading policy checkpoint"))
            .collect();
        let checkpoints = std::fs::read_dir(std::path::Path::new(&run).join("checkpoints"))
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|x| x == "safetensors")
            })
            .count();
        assert_eq!(checkpoints, 3, "{obs}: one checkpoint per evaluated epoch");
        assert_eq!(loads.len(), 2, "{obs}: {loads:#?}");
        for (load, epoch) in loads.iter().zip(["epoch-0002", "epoch-0003"]) {
            assert!(
                load.contains(epoch),
                "{obs}: the last two, in order: {loads:#?}"
            );
        }
        // Random and expert reference rows on the same episodes, with paired differences.
        for r in ["random", "expert"] {
            assert!(
                a["references"][r]["per_level"]["counterfactual"]["mean"].is_number(),
                "{a}"
            );
            assert_eq!(a["paired"][r].as_array().unwrap().len(), 2, "{a}");
        }
        assert_eq!(a["references"]["expert"]["per_level"]["seen"]["mean"], 1.0);
        assert_eq!(a["env"], "clevr");
        assert_eq!(
            a["per_level"]["seen"]["per_seed"].as_array().unwrap().len(),
            2,
            "{a}"
        );
        let saved = std::path::Path::new(&run).join("eval/seen+counterfactual-12x0+1.json");
        let saved: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(saved).unwrap()).unwrap();
        assert_eq!(
            saved["per_level"], a["per_level"],
            "eval results kept in the run directory"
        );
        let evals =
            std::fs::read_to_string(std::path::Path::new(&run).join("evals.jsonl")).unwrap();
        let epochs: Vec<u64> = evals
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["epoch"]
                    .as_u64()
                    .unwrap()
            })
            .collect();
        assert_eq!(
            epochs,
            vec![2, 3],
            "periodic evaluations every 2 epochs and at the end"
        );
    }
    // A fresh run refuses a directory that already holds checkpoints; --resume of a finished run
    // is accepted and trains nothing more.
    let again = Command::new(env!("CARGO_BIN_EXE_vlgor"))
        .args([
            "--config",
            &cfg,
            "train-policy",
            "--env",
            "clevr",
            "--algo",
            "bc",
            "--obs",
            "state",
            "--data",
            &p("data"),
            "--out",
            &p("run_state"),
        ])
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("resume"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
}
