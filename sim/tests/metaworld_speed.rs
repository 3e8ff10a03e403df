//! Throughput (state only, random actions, one core, reset every 500 steps). Run with
//! `cargo test --release -p vlgor-sim --test metaworld_speed -- --ignored --nocapture`.
//! Targets: reach >= 10,000 steps/s, pick-place >= 5,650 (5x the original's 2,030 / 1,130).

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::time::Instant;
use vlgor_sim::Env;
use vlgor_sim::metaworld::{MetaWorldEnv, Task};

fn steps_per_second(task: Task, steps: usize) -> f64 {
    let mut env = MetaWorldEnv::new(task);
    let instr = env.instruction().clone();
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let start = Instant::now();
    for i in 0..steps {
        if i % 500 == 0 {
            env.reset(i as u64, &instr).unwrap();
        }
        let a = env.random_action(&mut rng);
        env.step(&a).unwrap();
        std::hint::black_box(env.observation());
    }
    steps as f64 / start.elapsed().as_secs_f64()
}

#[test]
#[ignore = "benchmark; run explicitly in release"]
fn throughput_per_task() {
    for task in Task::ALL {
        println!(
            "{:<20} {:>8.0} steps/s",
            task.name(),
            steps_per_second(task, 20_000)
        );
    }
}
