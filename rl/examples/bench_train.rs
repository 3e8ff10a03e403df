//! Training throughput of the image (or state) policy at batch 128: the full loop (sampling,
//! frame lookup, goal-embedding gather, update) and the bare network, in the same run.
//!
//! `cargo run --release -p vlgor-rl --example bench_train -- [bc|cql] [image|state] [SIDE] [STEPS]`
//! Uses the CLEVR dataset written by the `clevr_bc_state` example (or any CLEVR dataset given as
//! `VLGOR_BENCH_DATA`), synthetic frames of SIDE×SIDE and synthetic goal embeddings (the
//! encoder runs once per instruction before training, so it is outside both timings).

use tch::Device;
use vlgor_rl::bench::bench_train;
use vlgor_rl::config::{AlgoKind, RlConfig};
use vlgor_rl::{GoalTable, InMemoryFrames, ObservationSource, TrainingData};
use vlgor_sim::dataset::Dataset;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let algo: AlgoKind = args.get(1).map_or("bc", String::as_str).parse().unwrap();
    let image = args.get(2).map_or("image", String::as_str) == "image";
    let side: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(128);
    let steps: usize = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(10);
    let dir = std::env::var("VLGOR_BENCH_DATA").unwrap_or("/tmp/vlgor-clevr-bc/data".into());
    let data = Dataset::open(std::path::Path::new(&dir), Some("clevr"))
        .expect("a CLEVR dataset (run the clevr_bc_state example first)");
    let rows = data.observations.len() / data.manifest.obs_dim;
    let frames = InMemoryFrames {
        height: side,
        width: side,
        real: (0..rows * side * side * 3)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect(),
        imagined: vec![],
    };
    let mut goals = GoalTable::new(384);
    for e in &data.episodes {
        let v: Vec<f32> = (0..384)
            .map(|k| ((k * 31 + e.instruction.text.len()) % 17) as f32 / 17.0)
            .collect();
        goals.insert(&e.instruction.text, &v).unwrap();
    }
    let observations = if image {
        ObservationSource::Frames(&frames)
    } else {
        ObservationSource::State
    };
    let td = TrainingData {
        real: &data,
        imagined: None,
        observations,
        goals: &goals,
    };
    let device = Device::cuda_if_available();
    let r = bench_train(td, algo, &RlConfig::default(), steps, device).unwrap();
    println!("{}", serde_json::to_string(&r).unwrap());
}
