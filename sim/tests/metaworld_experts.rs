//! Scripted experts succeed on every task (10 seeded episodes each, plain goals). Override with
//! `MW_EPISODES`, `MW_SEED0` and `MW_NOISE` (probability of a random action) for reports.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use vlgor_sim::Env;
use vlgor_sim::metaworld::{MetaWorldEnv, Task};

/// Runs `episodes` expert episodes; returns (successes, median steps to first success).
pub fn expert_stats(task: Task, episodes: u64, seed0: u64, noise: f32) -> (usize, usize) {
    let mut env = MetaWorldEnv::new(task);
    let instr = env.instruction().clone();
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut steps = Vec::new();
    for ep in 0..episodes {
        env.reset(seed0 + ep, &instr).unwrap();
        for t in 1..=env.horizon() {
            let a = env.expert_action(noise, &mut rng);
            if env.step(&a).unwrap().success {
                steps.push(t);
                break;
            }
        }
    }
    let n = steps.len();
    steps.sort();
    (n, steps.get(n / 2).copied().unwrap_or(0))
}

#[test]
fn experts_succeed_on_every_task() {
    let episodes: u64 = std::env::var("MW_EPISODES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let mut failed = Vec::new();
    for task in Task::ALL {
        let seed0: u64 = std::env::var("MW_SEED0")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(1000);
        let noise: f32 = std::env::var("MW_NOISE")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0.0);
        let (n, median) = expert_stats(task, episodes, seed0, noise);
        println!("{:<20} {n}/{episodes} median steps {median}", task.name());
        if (n as f32) < 0.9 * episodes as f32 {
            failed.push(task.name());
        }
    }
    assert!(failed.is_empty(), "experts below 90%: {failed:?}");
}
