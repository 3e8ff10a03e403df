//! Run directories written by earlier releases still load: `config.json` and a checkpoint's
//! JSON of the committed fixture (written by `vlgor train-policy` before the `[rl]` section was
//! split into per-algorithm configs, and before TD3+BC) parse, with TD3+BC's keys at their
//! defaults, and re-serialise to the same keys and values plus those.

use std::path::PathBuf;
use vlgor_rl::Td3PlusBcConfig;
use vlgor_rl::checkpoint::CheckpointMeta;
use vlgor_rl::config::{AlgoKind, RunConfig};

/// Keys added to the `[rl]` table after the fixture was written.
const NEWER_RL_KEYS: [&str; 4] = [
    "td3_alpha",
    "target_smoothing_sigma",
    "target_smoothing_clip",
    "update_actor_interval",
];

/// `v` without the newer `rl` keys (wherever a `rl` object sits: the run or the checkpoint's
/// run), after checking they are present.
fn without_newer_keys(mut v: serde_json::Value) -> serde_json::Value {
    let rl = match v.get_mut("run") {
        Some(run) => run["rl"].as_object_mut().unwrap(),
        None => v["rl"].as_object_mut().unwrap(),
    };
    for k in NEWER_RL_KEYS {
        assert!(rl.remove(k).is_some(), "{k} is written");
    }
    v
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/run-v1")
        .join(name)
}

#[test]
fn config_json_of_today_loads_and_round_trips() {
    let bytes = std::fs::read(fixture("config.json")).unwrap();
    let run: RunConfig = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(run.algo, AlgoKind::Cql);
    assert_eq!(run.rl.training.epochs, 1);
    assert_eq!(run.rl.network.text_hidden, 32);
    assert_eq!(run.rl.td.gamma, 0.99);
    assert_eq!(run.rl.discrete_cql.alpha, 1.0);
    assert_eq!(run.rl.continuous_cql.n_action_samples, 10);
    assert_eq!(run.rl.evaluation.every, 0);
    assert_eq!(run.rl.td3_plus_bc, Td3PlusBcConfig::default());
    run.rl.validate().unwrap();
    let again = serde_json::to_value(&run).unwrap();
    let original: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(without_newer_keys(again), original);
}

#[test]
fn checkpoint_json_of_today_loads() {
    let text = std::fs::read_to_string(fixture("epoch-0001.json")).unwrap();
    let meta: CheckpointMeta = serde_json::from_str(&text).unwrap();
    let config: RunConfig =
        serde_json::from_slice(&std::fs::read(fixture("config.json")).unwrap()).unwrap();
    assert_eq!(meta.run, config);
    assert_eq!(meta.epoch, 1);
    let reserialised = serde_json::to_value(&meta).unwrap();
    let original: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(without_newer_keys(reserialised), original);
}
