//! The KALM baseline through the binary at toy scale: `train-kalm` trains both stages and keeps
//! them on a rerun, `imagine --generator kalm` writes a validated imagined dataset with the
//! plausibility figures, the same seed gives the same rollouts, and bad input exits 2.

use std::path::Path;
use std::process::Output;

mod common;
use common::last_json;

fn vlgor(args: &[&str]) -> Output {
    common::run(&["--threads", "1"], args)
}

fn ok(args: &[&str]) -> Output {
    common::ok_with(&["--threads", "1"], args)
}

const TOY: &str = r#"
[kalm]
max_steps = 4
base_samples = 48
base_epochs = 1
lora_samples = 24
lora_epochs = 1
batch_size = 8
[vlm]
imagine_horizon = 3
imagine_batch = 4
"#;

fn imagine(cfg: &Path, run: &Path, data: &Path, out: &Path, seed: &str) -> Output {
    vlgor(&[
        "--config",
        cfg.to_str().unwrap(),
        "--seed",
        seed,
        "--json",
        "imagine",
        "--generator",
        "kalm",
        "--run",
        run.to_str().unwrap(),
        "--env",
        "clevr",
        "--instructions",
        "counterfactual-target",
        "--from",
        data.to_str().unwrap(),
        "--count",
        "6",
        "--out",
        out.to_str().unwrap(),
    ])
}

#[test]
fn kalm_trains_imagines_and_is_validated() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("toy.toml");
    std::fs::write(&cfg, TOY).unwrap();
    let data = dir.path().join("real");
    let c = cfg.to_str().unwrap();
    ok(&[
        "--config",
        c,
        "collect",
        "--env",
        "clevr",
        "--episodes",
        "16",
        "--out",
        data.to_str().unwrap(),
    ]);
    let run = dir.path().join("kalm");
    let train = [
        "--config",
        c,
        "--json",
        "train-kalm",
        "--env",
        "clevr",
        "--data",
        data.to_str().unwrap(),
        "--out",
        run.to_str().unwrap(),
    ];
    let first = last_json(&ok(&train));
    assert_eq!(first["lora"]["transitions"], 24, "{first}");
    assert!(run.join("lora/weights.safetensors").is_file());
    // A rerun keeps both finished stages.
    assert_eq!(last_json(&ok(&train)), first);

    let a = imagine(&cfg, &run, &data, &dir.path().join("im-a"), "3");
    assert!(a.status.success(), "{}", String::from_utf8_lossy(&a.stderr));
    let s = last_json(&a);
    assert_eq!(s["rollouts"], 6, "{s}");
    assert_eq!(s["stage"], "kalm-lora");
    let transitions = s["imagined_transitions"].as_u64().unwrap();
    assert!(transitions >= 6, "{s}");
    let p = &s["plausibility"];
    assert!(
        p["replayed_transitions"].as_u64().unwrap() <= transitions,
        "{s}"
    );
    assert!(p["mean_position_error_m"].as_f64().unwrap() >= 0.0, "{s}");
    assert!(s["by_reason"].get("frame_consistency").is_none(), "{s}");
    let manifest = std::fs::read_to_string(dir.path().join("im-a/manifest.json")).unwrap();
    assert!(manifest.contains("kalm:"), "{manifest}");
    let b = last_json(&imagine(&cfg, &run, &data, &dir.path().join("im-b"), "3"));
    let strip = |mut v: serde_json::Value| {
        for k in ["seconds", "imagined_frames_per_sec"] {
            v[k] = serde_json::Value::Null;
        }
        v
    };
    assert_eq!(strip(s), strip(b), "the same seed gives the same rollouts");

    // A world-model run directory (here: none at all) is refused with exit status 2.
    let o = imagine(&cfg, &data, &data, &dir.path().join("im-c"), "3");
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("train-kalm"));
    // The wrong simulator's data is refused too.
    let o = vlgor(&[
        "--config",
        c,
        "train-kalm",
        "--env",
        "metaworld",
        "--data",
        data.to_str().unwrap(),
        "--out",
        dir.path().join("k2").to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}
