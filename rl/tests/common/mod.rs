//! Small datasets, goal tables and configs shared by the tests.
#![allow(dead_code)]

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::path::Path;
use vlgor_rl::GoalTable;
use vlgor_rl::{NetworkConfig, RlConfig, TrainingConfig};
use vlgor_sim::clevr::{self, ClevrEnv};
use vlgor_sim::dataset::*;
use vlgor_sim::metaworld::{self, Task};
use vlgor_sim::{Action, Env, Level};

fn header(
    env: &str,
    state_dim: usize,
    obs_dim: usize,
    action_space: ActionSpace,
    episodes: usize,
) -> DatasetHeader {
    DatasetHeader {
        env: env.into(),
        origin: Origin::Real,
        collection: Collection {
            policy: "expert".into(),
            seed: 0,
            noise: 0.0,
            episodes,
            episodes_per_shard: 8,
            task: None,
            preset: "test".into(),
            max_steps: None,
        },
        split: SplitInfo {
            level: "seen".into(),
            definition: "test".into(),
        },
        state_dim,
        obs_dim,
        action_space,
        frames: None,
    }
}

/// `episodes` ε-noisy expert CLEVR episodes (at most `max_len` steps each), written to `dir`.
pub fn clevr_dataset(
    dir: &Path,
    episodes: usize,
    max_len: usize,
    noise: f32,
    seed: u64,
) -> Dataset {
    let mut env = ClevrEnv::new();
    let mut records = vec![];
    for index in 0..episodes as u64 {
        let mut rng = ChaCha8Rng::seed_from_u64(seed * 1000 + index);
        let instruction = clevr::sample_instruction(Level::Seen, &mut rng);
        let rec = EpisodeRecord::record(
            &mut env,
            index,
            seed * 1000 + index,
            instruction,
            max_len,
            |env| env.expert_action(noise, &mut rng),
        )
        .unwrap();
        records.push(rec);
    }
    let h = header(
        "clevr",
        env.state().len(),
        env.observation().len(),
        ActionSpace::Discrete { n: 40 },
        episodes,
    );
    let mut w = DatasetWriter::create_or_resume(dir, h).unwrap();
    for chunk in records.chunks(8) {
        w.append_shard(chunk).unwrap();
    }
    Dataset::open(dir, Some("clevr")).unwrap()
}

/// Synthetic continuous-control data labelled `metaworld`: 6-d observations, the action a fixed
/// smooth function of the observation, reward = −‖a‖.
pub fn continuous_dataset(dir: &Path, episodes: usize, len: usize, seed: u64) -> Dataset {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut records = vec![];
    for index in 0..episodes as u64 {
        let instruction =
            metaworld::sample_instruction(Task::ALL[index as usize % 2], Level::Seen, &mut rng);
        let mut obs: Vec<f32> = (0..6).map(|_| rng.random_range(-1.0..1.0)).collect();
        let mut rec = EpisodeRecord {
            index,
            seed: index,
            instruction,
            states: obs.clone(),
            observations: obs.clone(),
            actions: vec![],
            rewards: vec![],
            success: vec![],
            terminals: vec![],
            timeouts: vec![],
            frames: None,
            verdict: None,
        };
        for t in 0..len {
            let a = [
                (obs[0] - obs[1]).tanh(),
                (0.5 * obs[2]).tanh(),
                -obs[3].tanh(),
                (obs[4] * obs[5]).tanh(),
            ];
            rec.actions.push(Action::Continuous(a));
            rec.rewards
                .push(-(a.iter().map(|x| x * x).sum::<f32>()).sqrt());
            rec.success.push(false);
            rec.terminals.push(false);
            rec.timeouts.push(t + 1 == len);
            for (k, o) in obs.iter_mut().enumerate() {
                *o = (*o + 0.1 * a[k % 4]).clamp(-1.0, 1.0);
            }
            rec.states.extend(&obs);
            rec.observations.extend(&obs);
        }
        records.push(rec);
    }
    let h = header(
        "metaworld",
        6,
        6,
        ActionSpace::Continuous { dim: 4 },
        episodes,
    );
    let mut w = DatasetWriter::create_or_resume(dir, h).unwrap();
    for chunk in records.chunks(8) {
        w.append_shard(chunk).unwrap();
    }
    Dataset::open(dir, Some("metaworld")).unwrap()
}

/// Deterministic pseudo-random unit embeddings of width `dim` for every instruction.
pub fn goal_table(datasets: &[&Dataset], dim: usize) -> GoalTable {
    let mut table = GoalTable::new(dim);
    for d in datasets {
        for e in &d.episodes {
            let text = &e.instruction.text;
            let seed = text.bytes().fold(1469598103934665603u64, |h, b| {
                (h ^ b as u64).wrapping_mul(1099511628211)
            });
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let v: Vec<f32> = (0..dim).map(|_| rng.random_range(-1.0f32..1.0)).collect();
            let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            table
                .insert(text, &v.iter().map(|x| x / n).collect::<Vec<_>>())
                .unwrap();
        }
    }
    table
}

/// Narrow networks and short runs for tests.
pub fn tiny_rl() -> RlConfig {
    let mut rl = RlConfig::default();
    rl.training = TrainingConfig {
        epochs: 4,
        batch_size: 32,
        steps_per_epoch: 10,
        lr: 1e-3,
        log_every: 1,
        ..rl.training
    };
    rl.network = NetworkConfig {
        text_hidden: 32,
        feature_dim: 16,
        joint_dim: 32,
    };
    rl.continuous_cql.n_action_samples = 4;
    rl
}

static TORCH: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Single-threaded torch, and one test at a time per binary: torch's random generator is
/// global, so concurrent tests would draw from each other's streams. Hold the guard.
pub fn init() -> std::sync::MutexGuard<'static, ()> {
    tch::set_num_threads(1);
    TORCH.lock().unwrap_or_else(|e| e.into_inner())
}
