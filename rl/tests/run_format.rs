//! Run directories written by earlier releases still load: `config.json` and a checkpoint's
//! JSON of the committed fixture (written by `vlgor train-policy` before the `[rl]` section was
//! split into per-algorithm configs) parse, and `config.json` re-serialises byte for byte.

use std::path::PathBuf;
use vlgor_rl::checkpoint::CheckpointMeta;
use vlgor_rl::config::{AlgoKind, RunConfig};

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
    run.rl.validate().unwrap();
    let again = serde_json::to_vec_pretty(&run).unwrap();
    assert_eq!(
        String::from_utf8(again).unwrap(),
        String::from_utf8(bytes).unwrap()
    );
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
    assert_eq!(reserialised, original);
}
