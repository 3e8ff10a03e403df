//! `vlgor collect`: a killed collection resumes with no duplicated or half-written episodes,
//! and ends byte-identical to an uninterrupted one.

use std::process::Command;
use std::time::{Duration, Instant};
use vlgor_sim::dataset::{Dataset, Manifest};

fn collect_cmd(out: &std::path::Path, config: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vlgor"));
    c.args([
        "--config",
        config.to_str().unwrap(),
        "collect",
        "--env",
        "clevr",
        "--episodes",
        "300",
        "--noise",
        "1.0",
        "--out",
        out.to_str().unwrap(),
    ]);
    c
}

#[test]
fn killed_collection_resumes_to_the_same_dataset() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("small_shards.toml");
    std::fs::write(&config, "[collect]\nepisodes_per_shard = 10\n").unwrap();
    let resumed = dir.path().join("resumed");
    let mut child = collect_cmd(&resumed, &config).spawn().unwrap();
    // Kill it once at least one shard is on disk (or let it finish if the machine is fast).
    let start = Instant::now();
    loop {
        let shards = Manifest::read(&resumed)
            .map(|m| m.shards.len())
            .unwrap_or(0);
        if shards >= 1 || start.elapsed() > Duration::from_secs(60) {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().ok();
    child.wait().unwrap();
    let before = Manifest::read(&resumed).unwrap().shards.len();
    assert!(before >= 1);
    assert!(collect_cmd(&resumed, &config).status().unwrap().success());

    let straight = dir.path().join("straight");
    assert!(collect_cmd(&straight, &config).status().unwrap().success());

    let a = Dataset::open(&resumed, Some("clevr")).unwrap();
    let indices: Vec<u64> = a.episodes.iter().map(|e| e.index).collect();
    assert_eq!(
        indices,
        (0..300).collect::<Vec<u64>>(),
        "every episode exactly once, in order"
    );
    let (ma, mb) = (
        Manifest::read(&resumed).unwrap(),
        Manifest::read(&straight).unwrap(),
    );
    let sums = |m: &Manifest| {
        m.shards
            .iter()
            .map(|s| s.sha256.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        sums(&ma),
        sums(&mb),
        "resumed shards are byte-identical to an uninterrupted run"
    );

    // Other arguments on the same directory are refused with a clear error.
    let o = Command::new(env!("CARGO_BIN_EXE_vlgor"))
        .args([
            "--config",
            config.to_str().unwrap(),
            "collect",
            "--env",
            "clevr",
            "--episodes",
            "300",
            "--noise",
            "0.5",
            "--out",
            resumed.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("different arguments"));
}

#[test]
fn dataset_info_reports_counts_and_success() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("d");
    let o = Command::new(env!("CARGO_BIN_EXE_vlgor"))
        .args([
            "collect",
            "--env",
            "metaworld",
            "--task",
            "all",
            "--episodes",
            "20",
            "--noise",
            "0.0",
            "--out",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = Command::new(env!("CARGO_BIN_EXE_vlgor"))
        .args(["dataset", "info", out.to_str().unwrap(), "--json"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    let j: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(j["episodes"], 20);
    assert_eq!(
        j["groups"].as_array().unwrap().len(),
        10,
        "one group per task"
    );
    assert!(j["success_rate"].as_f64().unwrap() >= 0.9, "{j}");
}

#[test]
fn frames_stored_at_collection_equal_frames_rendered_from_states_on_load() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("f");
    let o = Command::new(env!("CARGO_BIN_EXE_vlgor"))
        .args([
            "collect",
            "--env",
            "metaworld",
            "--task",
            "reach",
            "--episodes",
            "2",
            "--noise",
            "0.5",
            "--frames",
            "--out",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut data = Dataset::open(&out, Some("metaworld")).unwrap();
    let stored = data.frames.take().expect("frames stored");
    data.manifest.frames = None; // force re-rendering from the states
    let mut renderer = vlgor_render::Renderer::new(vlgor_render::RenderConfig::default()).unwrap();
    let make = |_: &vlgor_sim::dataset::EpisodeMeta| -> Box<dyn vlgor_sim::Env> {
        Box::new(vlgor_sim::metaworld::MetaWorldEnv::new(
            vlgor_sim::metaworld::Task::Reach,
        ))
    };
    let store =
        vlgor_render::FrameStore::for_dataset(&data, &make, None, &mut renderer, 64, &|_| {})
            .unwrap();
    assert_eq!(
        store.rows(),
        data.episodes.iter().map(|e| e.length + 1).sum::<usize>()
    );
    assert!(
        store.frames == stored,
        "re-rendered frames differ from the frames stored at collection"
    );
}
