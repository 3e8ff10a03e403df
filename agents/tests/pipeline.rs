//! The end-to-end experiment at toy scale through the binary: every stage runs (collect, readout,
//! world model base/LoRA/full, its evaluation and sweep, imagination with physics validation,
//! mixes, BC and CQL policies, closed-loop evaluation, report), a rerun resumes without
//! redoing anything, and the world-model commands reject bad input with exit status 2.

use std::process::Output;

mod common;
use common::last_json;

fn vlgor(args: &[&str]) -> Output {
    common::run(&[], args)
}

fn ok(args: &[&str]) -> Output {
    common::ok_with(&[], args)
}

/// `vlgor --threads 1 --config CFG pipeline --env ENV --out OUT --json`.
fn pipeline_args(cfg: &std::path::Path, env: &str, out: &std::path::Path) -> Vec<String> {
    let (cfg, out) = (cfg.to_str().unwrap(), out.to_str().unwrap());
    [
        "--threads",
        "1",
        "--config",
        cfg,
        "pipeline",
        "--env",
        env,
        "--out",
        out,
        "--json",
    ]
    .map(String::from)
    .to_vec()
}

/// Every file of the imagined datasets under `run/data/`, by path: JSON with the run
/// directory's path replaced and wall-clock figures removed, other files as they are.
fn imagined_files(run: &std::path::Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    fn untimed(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(m) => {
                m.retain(|k, _| !k.contains("second") && !k.contains("per_sec"));
                m.values_mut().for_each(untimed);
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(untimed),
            _ => {}
        }
    }
    let mut out = std::collections::BTreeMap::new();
    let mut dirs: Vec<std::path::PathBuf> = std::fs::read_dir(run.join("data"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("imagined-"))
        .map(|e| e.path())
        .collect();
    dirs.extend(dirs.clone().iter().map(|d| d.join("shards")));
    for d in dirs {
        for f in std::fs::read_dir(&d).unwrap().flatten() {
            let p = f.path();
            if !p.is_file() {
                continue;
            }
            let mut bytes = std::fs::read(&p).unwrap();
            if p.extension().is_some_and(|x| x == "json") {
                let text = String::from_utf8(bytes).unwrap();
                let text = text.replace(run.to_str().unwrap(), "DIR");
                let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
                untimed(&mut v);
                bytes = v.to_string().into_bytes();
            }
            out.insert(p.strip_prefix(run).unwrap().display().to_string(), bytes);
        }
    }
    out
}

/// `vlgor dataset info DIR --json`.
fn dataset_info(dir: &std::path::Path) -> serde_json::Value {
    last_json(&ok(&["dataset", "info", dir.to_str().unwrap(), "--json"]))
}

const TOY: &str = r#"
[collect]
episodes = 120
[eval]
episodes = 6
[rl]
epochs = 2
eval_every = 1
eval_episodes = 4
[vlm]
base_episodes = 6
base_keyframes = 3
base_epochs = 1
lora_samples = 48
lora_epochs = 1
readout_frames = 64
readout_epochs = 1
eval_samples = 8
eval_rollouts = 4
goal_rollouts = 8
imagine_horizon = 3
imagine_batch = 8
[pipeline]
seeds = [0]
counterfactual_target = 8
counterfactual_behavior = 8
hard = 4
unseen_relation = 4
sweep = [24, 48]
filter = "keep"
prompt_ablations = true
unvalidated_ablation = true
simulated_arm = true
verify_candidates = 4
[kalm]
base_samples = 64
base_epochs = 1
lora_samples = 48
lora_epochs = 1
"#;

#[test]
fn toy_pipeline_writes_a_complete_report_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("toy.toml");
    std::fs::write(&cfg, TOY).unwrap();
    let out = dir.path().join("run");
    let args = pipeline_args(&cfg, "clevr", &out);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = ok(&args);
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    let last: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert!(last["report"].as_str().unwrap().ends_with("report.md"));
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    for key in ["psnr", "ssim", "med"] {
        for part in ["one_step", "rollout"] {
            let v = results["vlm"][part][key].as_f64().unwrap();
            assert!(v.is_finite(), "vlm.{part}.{key} = {v}");
        }
    }
    let goal = results["vlm"]["goal_rate"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&goal));
    for algo in ["bc", "cql"] {
        for variant in [
            "baseline",
            "oracle",
            "wm_actions_in_sim",
            "kalm",
            "vlgor",
            "wo_target",
            "wo_behavior",
        ] {
            for level in ["rephrase", "counterfactual", "unseen-relation", "hard"] {
                let m = results["success"][algo][variant][level]["mean"].as_f64();
                let m = m.unwrap_or_else(|| panic!("success.{algo}.{variant}.{level} missing"));
                assert!((0.0..=1.0).contains(&m));
                assert!(results["success"][algo][variant][level]["std"].is_number());
            }
        }
    }
    // Success within 10 pushes on the multi-step levels only, for the reference rows and arms.
    for row in ["random", "expert", "bc baseline", "bc vlgor", "cql oracle"] {
        for level in ["rephrase", "unseen-relation", "hard"] {
            let w = results["within_10"][row][level]["mean"].as_f64();
            assert!(w.is_some_and(|w| (0.0..=1.0).contains(&w)), "{row} {level}");
        }
        assert!(results["within_10"][row].get("counterfactual").is_none());
    }
    // Reference rows and paired differences on identical episodes, per level.
    for level in ["rephrase", "counterfactual", "unseen-relation", "hard"] {
        for r in ["random", "expert"] {
            assert!(
                results["reference"][r][level]["mean"].is_number(),
                "{r} {level}"
            );
        }
        for algo in ["bc", "cql"] {
            for row in ["baseline_vs_random", "oracle", "vlgor"] {
                let d = &results["paired"][algo][row][level];
                assert!(
                    d["lo"].as_f64().unwrap() <= d["hi"].as_f64().unwrap(),
                    "{d}"
                );
                assert_eq!(d["n"], 6, "6 paired episodes (1 seed × 6): {d}");
            }
        }
    }
    // The oracle arm's data holds only its level's goals.
    for level in ["rephrase", "counterfactual", "unseen-relation", "hard"] {
        let info = dataset_info(&out.join(format!("data/oracle-{level}")));
        let groups = info["groups"].as_array().unwrap();
        assert!(!groups.is_empty());
        assert!(groups.iter().all(|g| g["level"] == level), "{info}");
    }
    // Generate and verify: each verify set imagines its start states 4 times with sampled
    // actions, and its BC mix holds only goal-reaching rollouts.
    let verify = &results["imagined"]["counterfactual-target-verify"];
    assert_eq!(verify["candidates_per_start"], 4, "{verify}");
    assert_eq!(
        verify["rollouts"].as_u64().unwrap(),
        4 * verify["starts"].as_u64().unwrap(),
        "{verify}"
    );
    assert!(verify["verified"].as_u64().unwrap() <= verify["written"].as_u64().unwrap());
    // The decomposition arm plays VLGOR's prompts from the same start states in rapier: real
    // physics, so the validator passes it whole.
    let sim = &results["imagined"]["counterfactual-target-simulated"];
    assert_eq!(sim["rollouts"], sim["valid"], "{sim}");
    // KALM imagines the world model's greedy sets again: same prompts, same start states.
    let wm = &results["imagined"]["counterfactual-target"];
    let kalm = &results["imagined"]["counterfactual-target-kalm"];
    assert_eq!(kalm["rollouts"], wm["rollouts"], "{kalm}");
    assert_eq!(kalm["starts"], wm["starts"], "{kalm}");
    assert!(
        kalm["plausibility"]["replayed_transitions"].is_number(),
        "{kalm}"
    );
    assert!(results["mixes"]["kalm"]["episodes_out"].is_number());
    // The held-out relations are imagined once per prompt kind, like rephrase.
    for kind in ["target", "behavior"] {
        let set = &results["imagined"][format!("unseen-relation-{kind}")];
        assert!(set["rollouts"].as_u64().unwrap() > 0, "{set}");
    }
    let mix = &results["mixes"]["vlgor_verified"];
    assert_eq!(mix["verified"], true, "{mix}");
    if mix["episodes_out"].as_u64().unwrap() > 0 {
        let info = dataset_info(&out.join("data/mix-vlgor_verified"));
        for g in info["groups"].as_array().unwrap() {
            assert_eq!(g["episodes"], g["successes"], "{info}");
        }
    }
    for key in ["real_false_alarm_rate", "injected_recall", "pass_share"] {
        let v = results["validator"][key].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&v), "validator.{key} = {v}");
    }
    assert!(results["timings"]["stages"]["vlm_base"].as_f64().unwrap() > 0.0);
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    for section in [
        "Table 2",
        "Paired differences",
        "Success within 10 steps",
        "Table 1",
        "Physics validation",
        "Physical plausibility, KALM against the world model",
        "Timings",
    ] {
        assert!(report.contains(section), "report lacks {section}");
    }
    for plot in [
        "success_per_level.png",
        "success_vs_epoch.png",
        "real_vs_imagined.png",
    ] {
        let bytes = std::fs::read(out.join("plots").join(plot)).unwrap();
        assert!(bytes.starts_with(b"\x89PNG"), "{plot} is not a PNG");
    }
    // A rerun finds every stage finished and rebuilds the same results.
    let o = ok(&args);
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(
        stderr.contains("stage policies already finished"),
        "{stderr}"
    );
    assert!(!stderr.contains("stage vlm_base ..."), "{stderr}");
    let again: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    assert_eq!(again["success"], results["success"]);
    assert_eq!(again["vlm"], results["vlm"]);
    // Imagination in parts, as a cluster runs it: the directory copied without its imagined
    // sets, planned with 2 shards, the two parts and the merging job run one by one; every
    // imagined dataset equals the in-process one byte for byte.
    let split = dir.path().join("split");
    let cp = std::process::Command::new("cp")
        .args(["-r", out.to_str().unwrap(), split.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(cp.success());
    for e in std::fs::read_dir(split.join("data")).unwrap().flatten() {
        if e.file_name().to_string_lossy().starts_with("imagined-") {
            std::fs::remove_dir_all(e.path()).unwrap();
        }
    }
    std::fs::remove_file(split.join("stages/imagine.json")).unwrap();
    let (cfg_s, split_s) = (cfg.to_str().unwrap(), split.to_str().unwrap());
    ok(&[
        "--config", cfg_s, "pipeline", "plan", "--env", "clevr", "--out", split_s, "--shards", "2",
    ]);
    for job in ["imagine-part0", "imagine-part1", "imagine"] {
        ok(&[
            "--threads",
            "1",
            "pipeline",
            "run-job",
            split_s,
            "--job",
            job,
        ]);
    }
    let (a, b) = (imagined_files(&out), imagined_files(&split));
    assert!(a.len() > 10, "{:?}", a.keys());
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (name, bytes) in &a {
        assert!(bytes == &b[name], "{name} differs when imagined in parts");
    }
    // Another config on the same directory is refused instead of mixing results.
    let o = vlgor(&["pipeline", "--env", "clevr", "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("another env, preset, seed or config"));
    // The imagined datasets carry frames, observations and verdicts but no states.
    let info = ok(&[
        "dataset",
        "info",
        out.join("data/imagined-counterfactual-target")
            .to_str()
            .unwrap(),
        "--json",
    ]);
    let info = String::from_utf8_lossy(&info.stdout).into_owned();
    assert!(info.contains("imagined"), "{info}");
}

#[test]
fn world_model_commands_reject_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("vlm");
    let o = vlgor(&[
        "train-vlm",
        "--env",
        "clevr",
        "--stage",
        "lora",
        "--out",
        run.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--data"));
    let o = vlgor(&[
        "imagine",
        "--vlm",
        run.to_str().unwrap(),
        "--env",
        "clevr",
        "--instructions",
        "sideways",
        "--from",
        run.to_str().unwrap(),
        "--count",
        "4",
        "--out",
        dir.path().join("im").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(
        err.contains("counterfactual-target") && err.contains("hard"),
        "{err}"
    );
    let o = vlgor(&[
        "vlm",
        "eval",
        run.to_str().unwrap(),
        "--data",
        run.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("train-vlm"));
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[vlm]\nmodel = \"huge\"\n").unwrap();
    let o = vlgor(&[
        "--config",
        bad.to_str().unwrap(),
        "bench",
        "vlm",
        "--env",
        "clevr",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("vlm.model"));
    // TD3+BC has no discrete form: a CLEVR pipeline listing it stops before its first stage.
    std::fs::write(&bad, "[pipeline]\nalgos = [\"bc\", \"td3_plus_bc\"]\n").unwrap();
    let out = dir.path().join("td3-clevr");
    let o = vlgor(&[
        "--config",
        bad.to_str().unwrap(),
        "pipeline",
        "--env",
        "clevr",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(
        err.contains("td3_plus_bc") && err.contains("clevr"),
        "{err}"
    );
    assert!(!out.join("stages").exists());
}

#[test]
fn world_model_stages_resume_and_refuse_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("toy.toml");
    std::fs::write(&cfg, TOY).unwrap();
    let run = dir.path().join("vlm");
    let args = [
        "--threads",
        "1",
        "--config",
        cfg.to_str().unwrap(),
        "train-vlm",
        "--env",
        "clevr",
        "--stage",
        "base",
        "--epochs",
        "2",
        "--out",
        run.to_str().unwrap(),
        "--json",
    ];
    ok(&args);
    let base = run.join("base");
    let progress: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(base.join("progress.json")).unwrap())
            .unwrap();
    assert_eq!(progress["epochs_done"], 2);
    let curves = stage_curves(&base);
    assert_eq!(curves.first().map(|l| l.1), Some(1));
    assert_eq!(curves.last().map(|l| l.1), Some(2));
    // A finished stage is not overwritten.
    let o = vlgor(&args);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("finished stage"));
    // An interrupted stage (one epoch done) needs --resume and continues after that epoch.
    std::fs::remove_file(base.join("train.json")).unwrap();
    std::fs::write(
        base.join("progress.json"),
        r#"{"epochs_done": 1, "epochs": 2}"#,
    )
    .unwrap();
    let o = vlgor(&args);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--resume"));
    let mut resume = args.to_vec();
    resume.push("--resume");
    let o = ok(&resume);
    let s: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&o.stdout).lines().last().unwrap()).unwrap();
    assert_eq!(s["resumed_after_epoch"], 1);
    assert_eq!(s["train"]["epoch_losses"].as_array().unwrap().len(), 1);
    // The resumed stage kept epoch 1's log lines and continued the step count.
    let resumed = stage_curves(&base);
    assert_eq!(resumed.len(), curves.len());
    assert_eq!(
        resumed.iter().map(|l| l.0).collect::<Vec<_>>(),
        curves.iter().map(|l| l.0).collect::<Vec<_>>()
    );
    // A corrupt progress file is a clear error, not a crash.
    std::fs::remove_file(base.join("train.json")).unwrap();
    std::fs::write(base.join("progress.json"), "{not json").unwrap();
    let o = vlgor(&resume);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("corrupt JSON"));
}

/// (step, epoch) of every line of a world-model stage's `train_log.jsonl`, checked against its
/// TensorBoard event file (three losses per line, same steps).
fn stage_curves(stage: &std::path::Path) -> Vec<(i64, i64)> {
    let log = std::fs::read_to_string(stage.join("train_log.jsonl")).unwrap();
    let lines: Vec<(i64, i64)> = log
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (v["step"].as_i64().unwrap(), v["epoch"].as_i64().unwrap())
        })
        .collect();
    assert!(lines.windows(2).all(|w| w[0].0 < w[1].0), "{log}");
    let events = std::fs::read(stage.join(vlgor_vlm::tensorboard::EVENT_FILE)).unwrap();
    let scalars = vlgor_vlm::tensorboard::decode_events(&events).unwrap();
    let loss: Vec<i64> = scalars
        .iter()
        .filter(|s| s.tag == "train/loss")
        .map(|s| s.step)
        .collect();
    assert_eq!(loss, lines.iter().map(|l| l.0).collect::<Vec<_>>());
    assert_eq!(scalars.len(), 3 * lines.len());
    lines
}

/// Meta-World through the same pipeline (keyframe imagination, continuous actions): TD3+BC
/// trains beside BC, the report has a table per task (and no success-within-10 table), a
/// level's figure is the mean of its tasks', `[metaworld.*]` values apply over the user's
/// own, and an interrupted policies stage resumes to the same results.
#[test]
fn toy_metaworld_pipeline_runs_td3_plus_bc_and_reports_per_task() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("toy-mw.toml");
    let toy = format!(
        "{TOY}[metaworld.pipeline]\nalgos = [\"bc\", \"td3_plus_bc\"]\nverify_candidates = 0\n\
         kalm_arm = false\nprompt_ablations = false\nunvalidated_ablation = false\n\
         simulated_arm = false\n[metaworld.eval]\nepisodes = 2\n"
    );
    std::fs::write(&cfg, toy).unwrap();
    let out = dir.path().join("run");
    let args = pipeline_args(&cfg, "metaworld", &out);
    ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    assert_eq!(
        results["eval_episodes"], 2,
        "the [metaworld.eval] value applies"
    );
    let levels = ["rephrase", "counterfactual", "hard"];
    for algo in ["bc", "td3_plus_bc"] {
        for variant in ["baseline", "oracle", "vlgor"] {
            for level in levels {
                let m = results["success"][algo][variant][level]["mean"].as_f64();
                let m = m.unwrap_or_else(|| panic!("success.{algo}.{variant}.{level} missing"));
                let tasks = results["per_task"][format!("{algo} {variant}")][level]
                    .as_object()
                    .unwrap_or_else(|| panic!("per_task.{algo} {variant}.{level} missing"));
                assert_eq!(tasks.len(), 10, "{tasks:?}");
                let mean = tasks
                    .values()
                    .map(|t| t["mean"].as_f64().unwrap())
                    .sum::<f64>()
                    / 10.0;
                assert!(
                    (mean - m).abs() < 1e-9,
                    "{algo} {variant} {level}: {mean} vs {m}"
                );
            }
            assert!(results["success"][algo][variant]["unseen-relation"].is_null());
        }
        let d = &results["paired"][algo]["vlgor"]["counterfactual"];
        assert_eq!(d["n"], 20, "2 episodes × 10 tasks × 1 seed: {d}");
    }
    assert!(
        results["success"]["cql"].is_null(),
        "algos from [metaworld.pipeline]"
    );
    for r in ["random", "expert"] {
        assert!(results["per_task"][r]["hard"]["reach"]["mean"].is_number());
    }
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(report.contains("## Success per task"), "{report}");
    assert!(report.contains("td3_plus_bc baseline"), "{report}");
    // Ten env steps (0.125 s) finish no Meta-World task: success within 10 is CLEVR's figure.
    assert_eq!(results["within_10"], serde_json::json!({}));
    assert!(!report.contains("Success within 10"), "{report}");

    // An interrupted policies stage resumes: the one run without its evaluation is evaluated
    // again, to the same scores; no other run and no earlier stage is redone.
    std::fs::remove_file(out.join("stages/policies.json")).unwrap();
    std::fs::remove_file(out.join("policies/td3_plus_bc-vlgor-s0/pipeline_eval.json")).unwrap();
    let o = ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(
        stderr.contains("pipeline: policy td3_plus_bc vlgor seed 0"),
        "{stderr}"
    );
    assert!(!stderr.contains("pipeline: policy bc baseline"), "{stderr}");
    assert!(!stderr.contains("stage vlm_base ..."), "{stderr}");
    let again: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    assert_eq!(again["success"], results["success"]);
    assert_eq!(again["per_task"], results["per_task"]);
}
