//! Training throughput: the full loop (sampling, observation/frame lookup, goal-embedding
//! gather, update) and the bare network update on one fixed batch, measured in the same run.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::time::Instant;
use tch::{Device, Kind, Tensor};
use vlgor_sim::dataset::ActionSpace;

use crate::batch::{Batch, BatchBuilder, observation_stats};
use crate::config::{AlgoKind, ObsSpec, RUN_FORMAT_VERSION, RlConfig, RunConfig};
use crate::{ObservationSource, RlError, TrainingData};

/// Samples per second of both measurements.
#[derive(Clone, Debug, Serialize)]
pub struct TrainBench {
    pub algo: AlgoKind,
    pub obs: ObsSpec,
    pub batch_size: usize,
    pub steps: usize,
    /// Full loop (`None` when only the network was measured).
    pub full_samples_per_sec: Option<f64>,
    /// Forward + backward + Adam on a fixed batch already on the device.
    pub network_samples_per_sec: f64,
    pub device: String,
}

#[allow(clippy::too_many_arguments)]
fn run_config(
    env: &str,
    algo: AlgoKind,
    obs: ObsSpec,
    action_space: ActionSpace,
    goal_dim: usize,
    rl: &RlConfig,
    mean: Vec<f32>,
    std: Vec<f32>,
) -> RunConfig {
    RunConfig {
        format_version: RUN_FORMAT_VERSION,
        env: env.to_string(),
        algo,
        obs,
        action_space,
        goal_dim,
        rl: rl.clone(),
        seed: 0,
        steps_per_epoch: 1,
        total_steps: 1,
        obs_mean: mean,
        obs_std: std,
        data: vec![],
    }
}

fn time_updates(
    steps: usize,
    batch: usize,
    mut f: impl FnMut() -> Result<(), RlError>,
) -> Result<f64, RlError> {
    f()?; // warm-up (allocations, kernel selection)
    let start = Instant::now();
    for _ in 0..steps {
        f()?;
    }
    Ok((steps * batch) as f64 / start.elapsed().as_secs_f64())
}

/// Measures `steps` updates of the full loop on `data`, then `steps` bare updates on one batch.
pub fn bench_train(
    data: TrainingData,
    algo_kind: AlgoKind,
    rl: &RlConfig,
    steps: usize,
    device: Device,
) -> Result<TrainBench, RlError> {
    let real = data.real;
    let obs = match data.observations {
        ObservationSource::State => ObsSpec::State {
            dim: real.manifest.obs_dim,
        },
        ObservationSource::Frames(f) => {
            let (height, width) = f.frame_shape();
            ObsSpec::Image { height, width }
        }
    };
    let (mean, std) = match obs {
        ObsSpec::State { .. } => observation_stats(real),
        ObsSpec::Image { .. } => (vec![], vec![]),
    };
    let run = run_config(
        &real.manifest.env,
        algo_kind,
        obs,
        real.manifest.action_space,
        data.goals.dim(),
        rl,
        mean,
        std,
    );
    tch::manual_seed(0);
    let mut algo = run.create_algorithm(device)?;
    let builder = BatchBuilder::new(
        real,
        data.imagined,
        rl.training.ratio,
        data.observations,
        obs,
        data.goals,
        &run.obs_mean,
        &run.obs_std,
        rl.training.reward_scale as f32,
        device,
    )?;
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let b = rl.training.batch_size;
    let full = time_updates(steps, b, || {
        let items = builder.sample(b, &mut rng);
        let batch = builder.build(&items, algo.needs_next());
        algo.update(&batch, 1.0).map(|_| ())
    })?;
    let items = builder.sample(b, &mut rng);
    let batch = builder.build(&items, algo.needs_next());
    let net = time_updates(steps, b, || algo.update(&batch, 1.0).map(|_| ()))?;
    Ok(TrainBench {
        algo: algo_kind,
        obs,
        batch_size: b,
        steps,
        full_samples_per_sec: Some(full),
        network_samples_per_sec: net,
        device: format!("{device:?}").to_lowercase(),
    })
}

/// Bare-network throughput on a synthetic batch (random frames/states, goals and actions), for
/// machines without a dataset at hand.
pub fn bench_network(
    obs: ObsSpec,
    action_space: ActionSpace,
    goal_dim: usize,
    algo_kind: AlgoKind,
    rl: &RlConfig,
    steps: usize,
    device: Device,
) -> Result<TrainBench, RlError> {
    let (mean, std) = match obs {
        ObsSpec::State { dim } => (vec![0.0; dim], vec![1.0; dim]),
        ObsSpec::Image { .. } => (vec![], vec![]),
    };
    let run = run_config(
        "synthetic",
        algo_kind,
        obs,
        action_space,
        goal_dim,
        rl,
        mean,
        std,
    );
    tch::manual_seed(0);
    let mut algo = run.create_algorithm(device)?;
    let b = rl.training.batch_size as i64;
    let observation = || match obs {
        ObsSpec::State { dim } => Tensor::randn([b, dim as i64], (Kind::Float, device)),
        ObsSpec::Image { height, width } => Tensor::randint(
            256,
            [b, height as i64, width as i64, 3],
            (Kind::Uint8, device),
        ),
    };
    let actions = match action_space {
        ActionSpace::Discrete { n } => Tensor::randint(n as i64, [b], (Kind::Int64, device)),
        ActionSpace::Continuous { dim } => {
            Tensor::rand([b, dim as i64], (Kind::Float, device)) * 2.0 - 1.0
        }
    };
    let batch = Batch {
        obs: observation(),
        next_obs: Some(observation()),
        goals: Tensor::randn([b, goal_dim as i64], (Kind::Float, device)),
        actions,
        rewards: Tensor::rand([b], (Kind::Float, device)),
        terminals: Tensor::zeros([b], (Kind::Float, device)),
    };
    let net = time_updates(steps, rl.training.batch_size, || {
        algo.update(&batch, 1.0).map(|_| ())
    })?;
    Ok(TrainBench {
        algo: algo_kind,
        obs,
        batch_size: rl.training.batch_size,
        steps,
        full_samples_per_sec: None,
        network_samples_per_sec: net,
        device: format!("{device:?}").to_lowercase(),
    })
}
