//! The `vlgor` binary as a user sees it: help, errors, exit codes, JSON output.

use std::process::{Command, Output};

fn vlgor(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vlgor"))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("run vlgor")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The last stdout line parsed as JSON (the `--json` contract).
fn last_json(o: &Output) -> serde_json::Value {
    let out = stdout(o);
    let line = out.lines().last().unwrap_or_default();
    serde_json::from_str(line).unwrap_or_else(|e| panic!("last line is not JSON ({e}): {out}"))
}

const SUBCOMMANDS: &[&str] = &[
    "tasks",
    "collect",
    "dataset",
    "export",
    "import",
    "train-vlm",
    "train-kalm",
    "vlm",
    "imagine",
    "check",
    "train-policy",
    "eval",
    "pipeline",
    "view",
    "bench",
];

#[test]
fn help_lists_every_subcommand_and_each_has_help() {
    let o = vlgor(&["--help"]);
    assert!(o.status.success());
    let help = stdout(&o);
    for sub in SUBCOMMANDS {
        assert!(help.contains(sub), "--help lacks {sub}:\n{help}");
        let o = vlgor(&[sub, "--help"]);
        assert!(o.status.success(), "{sub} --help failed: {}", stderr(&o));
    }
    for bench in ["sim", "render", "collect", "train", "eval", "vlm"] {
        assert!(
            vlgor(&["bench", bench, "--help"]).status.success(),
            "bench {bench}"
        );
    }
    for flag in [
        "--seed",
        "--device",
        "--threads",
        "--preset",
        "--config",
        "--json",
        "--verbose",
        "--quiet",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}");
    }
}

#[test]
fn commands_not_built_yet_exit_2_with_a_clear_message() {
    let out = tempfile::tempdir().unwrap();
    let o = vlgor(&[
        "export",
        out.path().to_str().unwrap(),
        "--format",
        "d3rlpy",
        "--out",
        out.path().join("never-written").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("not built yet"), "{}", stderr(&o));
    assert!(stdout(&o).is_empty(), "no fake output");
}

#[test]
fn export_of_a_directory_without_a_dataset_exits_2() {
    let out = tempfile::tempdir().unwrap();
    let o = vlgor(&[
        "export",
        out.path().to_str().unwrap(),
        "--format",
        "minari",
        "--out",
        out.path().join("x-v0").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains("manifest.json") || e.contains("vlgor package"),
        "{e}"
    );
    assert!(!out.path().join("x-v0").exists());
}

#[test]
fn unknown_names_list_the_valid_ones() {
    let o = vlgor(&["eval", "--env", "mujoco"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("clevr, metaworld"), "{}", stderr(&o));
    let o = vlgor(&["eval", "--env", "metaworld", "--task", "fly"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("pick-place") && stderr(&o).contains("door-open"),
        "{}",
        stderr(&o)
    );
    let o = vlgor(&["eval", "--env", "clevr", "--level", "easy"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("counterfactual"), "{}", stderr(&o));
    let o = vlgor(&["--preset", "huge", "tasks"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("quick, paper"), "{}", stderr(&o));
}

#[test]
fn bad_config_names_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("my.toml");
    std::fs::write(&path, "[eval]\nepisode = 3\n").unwrap();
    let o = vlgor(&["--config", path.to_str().unwrap(), "tasks"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("my.toml") && err.contains("eval.episode") && err.contains("eval.episodes"),
        "{err}"
    );
}

#[test]
fn tasks_lists_levels_with_examples() {
    let o = vlgor(&["tasks", "--env", "clevr", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let rows = last_json(&o)["clevr"].as_array().unwrap().clone();
    for level in [
        "seen",
        "rephrase",
        "counterfactual",
        "unseen-relation",
        "hard",
    ] {
        assert!(rows.iter().any(|r| r["level"] == level), "no {level} row");
    }
    let o = vlgor(&["tasks", "--env", "metaworld"]);
    assert!(stdout(&o).contains("pick-place"), "{}", stdout(&o));
}

#[test]
fn expert_eval_is_reproducible_and_beats_random() {
    let args = [
        "eval",
        "--env",
        "clevr",
        "--policy",
        "expert",
        "--level",
        "seen,counterfactual",
        "--episodes",
        "20",
        "--json",
    ];
    let a = last_json(&vlgor(&args));
    let b = last_json(&vlgor(&args));
    assert_eq!(a, b, "same seed, same table");
    assert!(
        a["per_level"]["seen"]["mean"].as_f64().unwrap() >= 0.9,
        "{a}"
    );
    assert!(
        a["per_level"]["counterfactual"]["mean"].as_f64().unwrap() >= 0.9,
        "{a}"
    );
    let r = last_json(&vlgor(&[
        "eval",
        "--env",
        "clevr",
        "--policy",
        "random",
        "--episodes",
        "20",
        "--json",
    ]));
    assert!(
        r["success_rate"].as_f64().unwrap() < a["success_rate"].as_f64().unwrap(),
        "{r}"
    );
}

#[test]
fn min_success_gate_exits_1_and_still_prints_the_table() {
    let o = vlgor(&[
        "eval",
        "--env",
        "clevr",
        "--policy",
        "random",
        "--episodes",
        "10",
        "--min-success",
        "0.99",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stdout(&o).contains("success"), "{}", stdout(&o));
    assert!(stderr(&o).contains("below --min-success"), "{}", stderr(&o));
    let o = vlgor(&[
        "eval",
        "--env",
        "clevr",
        "--policy",
        "expert",
        "--episodes",
        "10",
        "--min-success",
        "0.5",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn metaworld_task_all_gives_one_row_per_task() {
    let o = vlgor(&[
        "eval",
        "--env",
        "metaworld",
        "--task",
        "all",
        "--policy",
        "expert",
        "--episodes",
        "2",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let j = last_json(&o);
    assert_eq!(j["per_task"].as_object().unwrap().len(), 10, "{j}");
}

#[test]
fn counterfactual_level_is_one_push_and_random_stays_below_20_percent() {
    let o = vlgor(&[
        "eval",
        "--env",
        "clevr",
        "--policy",
        "random",
        "--level",
        "counterfactual,rephrase",
        "--episodes",
        "200",
        "--reference",
        "expert",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let j = last_json(&o);
    let cf = &j["per_level"]["counterfactual"];
    assert!(cf["mean"].as_f64().unwrap() < 0.2, "{cf}");
    // One push decides the episode; KALM's two judges are reported beside ours.
    assert_eq!(cf["mean_steps"].as_f64().unwrap_or(1.0), 1.0, "{cf}");
    let action = cf["judges"]["kalm_action"].as_f64().unwrap();
    assert!(
        action < 0.15,
        "KALM's action judge passes random 7.5% of the time: {cf}"
    );
    assert!(
        cf["within_10"].is_null(),
        "no within-10 figure for a one-push level"
    );
    // The multi-step level reports success within 10 pushes; the expert reference row and the
    // paired difference come with it.
    let re = &j["per_level"]["rephrase"];
    assert!(re["within_10"].as_f64().unwrap() <= re["mean"].as_f64().unwrap());
    let expert = &j["references"]["expert"]["per_level"]["counterfactual"];
    assert!(expert["mean"].as_f64().unwrap() >= 0.9, "{expert}");
    let d = &j["paired"]["expert"][0]["diff"];
    assert!(
        d["hi"].as_f64().unwrap() < 0.0,
        "random is below the expert: {d}"
    );
    // The table says so in words.
    let o = vlgor(&[
        "eval",
        "--env",
        "clevr",
        "--policy",
        "random",
        "--level",
        "counterfactual",
        "--episodes",
        "50",
    ]);
    assert!(stdout(&o).contains("random"), "{}", stdout(&o));
}

/// `groups` of `dataset info --json`, summed: (episodes, successes).
fn episodes_and_successes(dir: &std::path::Path) -> (u64, u64) {
    let o = vlgor(&["dataset", "info", dir.to_str().unwrap(), "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let j = last_json(&o);
    j["groups"]
        .as_array()
        .unwrap()
        .iter()
        .fold((0, 0), |(e, s), g| {
            (
                e + g["episodes"].as_u64().unwrap(),
                s + g["successes"].as_u64().unwrap(),
            )
        })
}

#[test]
fn merge_keeping_verified_episodes_keeps_exactly_the_goal_reaching_ones() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("short");
    // Two pushes with half of them random: some episodes reach their goal, some do not.
    let o = vlgor(&[
        "collect",
        "--env",
        "clevr",
        "--episodes",
        "40",
        "--max-steps",
        "2",
        "--noise",
        "0.5",
        "--out",
        src.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let (episodes, successes) = episodes_and_successes(&src);
    assert!(
        0 < successes && successes < episodes,
        "{successes}/{episodes}"
    );
    let out = dir.path().join("verified");
    let o = vlgor(&[
        "dataset",
        "merge",
        src.to_str().unwrap(),
        "--keep",
        "verified",
        "--filter",
        "keep",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(episodes_and_successes(&out), (successes, successes));
    // An unknown rule lists the valid ones.
    let o = vlgor(&[
        "dataset",
        "merge",
        src.to_str().unwrap(),
        "--keep",
        "sideways",
        "--out",
        dir.path().join("bad").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("verified"), "{}", stderr(&o));
}

/// Commands that run torch between simulator steps keep torch's OpenMP threads from spinning
/// (they restart with `OMP_WAIT_POLICY=PASSIVE`) unless the user chose a policy; others do not
/// restart.
#[test]
fn torch_commands_run_with_a_passive_openmp_wait_policy() {
    let policy = |env: Option<&str>, args: &[&str]| -> String {
        let mut c = Command::new(env!("CARGO_BIN_EXE_vlgor"));
        c.arg("-vv").args(args).env_remove("RUST_LOG");
        match env {
            Some(v) => c.env("OMP_WAIT_POLICY", v),
            None => c.env_remove("OMP_WAIT_POLICY"),
        };
        let o = c.output().unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        let err = stderr(&o);
        let line = err
            .lines()
            .find(|l| l.contains("torch's OpenMP threads"))
            .unwrap_or_else(|| panic!("no OpenMP line in: {err}"))
            .to_string();
        // The value is the line's last quoted string (whatever colours the log carries).
        let quoted: Vec<&str> = line.split('"').collect();
        format!("\"{}\"", quoted[quoted.len() - 2])
    };
    let eval: Vec<&str> = "eval --env clevr --policy random --level seen --episodes 1"
        .split(' ')
        .collect();
    assert_eq!(policy(None, &eval), "\"PASSIVE\"");
    assert_eq!(
        policy(Some("ACTIVE"), &eval),
        "\"ACTIVE\"",
        "the user's choice stays"
    );
    assert_eq!(policy(None, &["tasks", "--env", "clevr"]), "\"\"");
}
