//! Files written by an earlier release still load: a 4-episode CLEVR dataset, an imagined dataset
//! with the validator's verdicts, a 1-epoch BC run directory and the stage records of a toy
//! pipeline run (all under `tests/fixtures/`, made with the binary before the typed formats).
//! A rerun of the pipeline on the finished records rewrites `results.json` and `report.md`
//! byte for byte.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

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
    serde_json::from_str(out.lines().last().expect("a JSON line")).expect("JSON")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

/// `vlgor dataset info DIR --json`.
fn info(dir: &Path) -> serde_json::Value {
    last_json(&vlgor(&[
        "dataset",
        "info",
        dir.to_str().unwrap(),
        "--json",
    ]))
}

#[test]
fn real_dataset_of_the_earlier_format_loads() {
    let info = info(&fixture("clevr-4"));
    assert_eq!(info["episodes"], 4, "{info}");
    assert_eq!(info["transitions"], 11, "{info}");
}

#[test]
fn imagined_dataset_with_verdicts_loads_and_is_written_back_byte_for_byte() {
    let dir = fixture("imagined-hard");
    let first = info(&dir);
    assert_eq!(first["episodes"], 4, "{first}");
    assert_eq!(first["origin"], "imagined", "{first}");
    // Merging keeps every episode whole with its verdict.
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("merged");
    vlgor(&[
        "dataset",
        "merge",
        dir.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let merged = info(&out);
    assert_eq!(merged["episodes"], 4, "{merged}");
    // The verdicts load typed and are written back byte for byte (the shard is identical).
    let shard = "shards/episodes-00000.safetensors";
    assert_eq!(
        std::fs::read(dir.join(shard)).unwrap(),
        std::fs::read(out.join(shard)).unwrap(),
        "merged shard differs from its source"
    );
}

#[test]
fn policy_run_directory_of_the_earlier_format_evaluates() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("bc");
    copy_dir(&fixture("bc-1epoch"), &run);
    let o = last_json(&vlgor(&[
        "--threads",
        "1",
        "eval",
        run.to_str().unwrap(),
        "--episodes",
        "2",
        "--reference",
        "none",
        "--json",
    ]));
    let rate = o["success_rate"].as_f64().unwrap_or(f64::NAN);
    assert!((0.0..=1.0).contains(&rate), "{o}");
}

/// A pipeline directory holding the fixture's stage records (in a temporary directory).
fn finished_pipeline() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let src = fixture("pipeline");
    copy_dir(&src.join("stages"), &out.join("stages"));
    std::fs::copy(src.join("pipeline.json"), out.join("pipeline.json")).unwrap();
    (tmp, out)
}

/// Every key of `want` is in `got` with the same value (objects compared key by key, so `got`
/// may hold more keys; arrays element by element); the panic names the first path that differs.
fn assert_holds(path: &str, want: &serde_json::Value, got: &serde_json::Value) {
    match (want, got) {
        (serde_json::Value::Object(w), serde_json::Value::Object(g)) => {
            for (k, v) in w {
                let sub = format!("{path}.{k}");
                let Some(gv) = g.get(k) else {
                    panic!("{sub} is no longer written");
                };
                assert_holds(&sub, v, gv);
            }
        }
        (serde_json::Value::Array(w), serde_json::Value::Array(g)) if w.len() == g.len() => {
            for (i, (v, gv)) in w.iter().zip(g).enumerate() {
                assert_holds(&format!("{path}[{i}]"), v, gv);
            }
        }
        _ => assert_eq!(want, got, "{path} differs from the fixture"),
    }
}

/// `vlgor pipeline` on `out` with the fixture's toy config.
fn rerun(out: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vlgor"))
        .args([
            "--threads",
            "1",
            "--config",
            fixture("pipeline/toy.toml").to_str().unwrap(),
            "pipeline",
            "--env",
            "clevr",
            "--out",
            out.to_str().unwrap(),
        ])
        .output()
        .expect("run vlgor")
}

#[test]
fn pipeline_rerun_on_finished_records_rewrites_an_identical_report() {
    let (_tmp, out) = finished_pipeline();
    let src = fixture("pipeline");
    let o = rerun(&out);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // results.json has gained fields since the fixture was written (TD3+BC's config keys, the
    // world model's visual head, imagination replay counts): every value the fixture holds must
    // be rewritten unchanged; new fields may only add.
    let got: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    let want: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(src.join("results.json")).unwrap()).unwrap();
    assert_holds("results.json", &want, &got);
    let want = std::fs::read_to_string(src.join("report.md")).unwrap();
    let got = std::fs::read_to_string(out.join("report.md")).unwrap();
    if want != got {
        let line = want
            .lines()
            .zip(got.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(0);
        panic!(
            "report.md differs from the fixture at line {}: {:?} vs {:?}",
            line + 1,
            want.lines().nth(line),
            got.lines().nth(line)
        );
    }
}

#[test]
fn a_stage_record_missing_a_field_is_a_clear_load_error() {
    let (_tmp, out) = finished_pipeline();
    let path = out.join("stages/readout.json");
    let mut rec: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    rec["summary"]
        .as_object_mut()
        .unwrap()
        .remove("heldout_error_m");
    std::fs::write(&path, serde_json::to_string_pretty(&rec).unwrap()).unwrap();
    let o = rerun(&out);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("stages/readout.json") && err.contains("heldout_error_m"),
        "{err}"
    );
    assert!(
        !out.join("report.md").exists(),
        "no report from a bad record"
    );
}
