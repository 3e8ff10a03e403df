//! Closed-loop success of a trained Meta-World state policy on one task, next to a random
//! policy on the same episodes.
//!
//! `cargo run --release -p vlgor-rl --example metaworld_eval_state -- RUN_DIR TASK [EPISODES] [LEVEL]`

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tch::Device;
use vlgor_rl::{Policy, PolicyObservations};
use vlgor_sim::metaworld::{self, MetaWorldEnv, Task};
use vlgor_sim::{Env, Level};
use vlgor_vlm::{EmbeddingCache, SentenceEncoder};

fn main() {
    tch::set_num_threads(1);
    let args: Vec<String> = std::env::args().collect();
    let policy = Policy::load(std::path::Path::new(&args[1]), Device::Cpu).unwrap();
    let task: Task = args[2].parse().unwrap();
    let n: usize = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(50);
    let level: Level = args.get(4).map_or("seen", String::as_str).parse().unwrap();
    let encoder = SentenceEncoder::from_env(Device::Cpu).unwrap();
    let episode = |i: u64| {
        let seed = 0x3E7A_0000 + i;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let instruction = metaworld::sample_instruction(task, level, &mut rng);
        let mut env = MetaWorldEnv::new(task);
        env.reset(seed, &instruction).unwrap();
        (env, instruction.text, rng)
    };
    let (mut envs, mut texts) = (Vec::new(), Vec::new());
    for i in 0..n as u64 {
        let (env, text, _) = episode(i);
        envs.push(env);
        texts.push(text);
    }
    let goals = EmbeddingCache::new()
        .get_or_embed(&encoder, &texts)
        .unwrap();
    let (mut done, mut success) = (vec![false; n], vec![false; n]);
    let horizon = envs[0].horizon();
    for _ in 0..horizon {
        let live: Vec<usize> = (0..n).filter(|&i| !done[i]).collect();
        if live.is_empty() {
            break;
        }
        let obs: Vec<f32> = live.iter().flat_map(|&i| envs[i].observation()).collect();
        let idx = tch::Tensor::from_slice(&live.iter().map(|&i| i as i64).collect::<Vec<_>>());
        let acts = policy
            .act_batch(
                PolicyObservations::States(&obs),
                &goals.index_select(0, &idx),
            )
            .unwrap();
        for (&i, a) in live.iter().zip(&acts) {
            let o = envs[i].step(a).unwrap();
            success[i] |= o.success;
            done[i] |= o.success || o.terminal || o.timeout || envs[i].steps() >= horizon;
        }
    }
    let mut random = 0;
    for i in 0..n as u64 {
        let (mut env, _, mut rng) = episode(i);
        for _ in 0..horizon {
            let a = env.random_action(&mut rng);
            let o = env.step(&a).unwrap();
            if o.success {
                random += 1;
                break;
            }
            if o.terminal || o.timeout {
                break;
            }
        }
    }
    let ok = success.iter().filter(|s| **s).count();
    println!(
        "{} {level}: policy {ok}/{n} = {:.1}%, random {random}/{n}",
        task.name(),
        100.0 * ok as f64 / n as f64
    );
}
