//! Closed-loop success of a trained CLEVR state policy, per goal kind, with a count of episodes
//! that got stuck (the greedy action stopped changing the state).
//!
//! `cargo run --release -p vlgor-rl --example clevr_eval_state -- RUN_DIR [EPISODES] [LEVEL]`

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;
use tch::Device;
use vlgor_rl::{Policy, PolicyObservations};
use vlgor_sim::clevr::{self, ClevrEnv, ClevrGoal};
use vlgor_sim::{Env, GoalSpec, Level};
use vlgor_vlm::{EmbeddingCache, SentenceEncoder};

fn main() {
    tch::set_num_threads(1);
    let args: Vec<String> = std::env::args().collect();
    let run = std::path::PathBuf::from(args.get(1).expect("RUN_DIR"));
    let n: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(200);
    let level: Level = args.get(3).map_or("seen", String::as_str).parse().unwrap();
    let policy = Policy::load(&run, Device::Cpu).unwrap();
    let encoder = SentenceEncoder::from_env(Device::Cpu).unwrap();
    let mut envs = Vec::new();
    let mut kinds = Vec::new();
    let mut texts = Vec::new();
    for i in 0..n as u64 {
        let seed = 0xE7A1_0000 + i;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let instruction = clevr::sample_instruction(level, &mut rng);
        let mut env = ClevrEnv::new();
        env.reset(seed, &instruction).unwrap();
        kinds.push(match &instruction.goal {
            GoalSpec::Clevr(ClevrGoal::Relation { .. }) => "relation",
            GoalSpec::Clevr(ClevrGoal::Move { .. }) => "move",
            _ => "hard",
        });
        texts.push(instruction.text.clone());
        envs.push(env);
    }
    let goals = EmbeddingCache::new()
        .get_or_embed(&encoder, &texts)
        .unwrap();
    let (mut done, mut success, mut stuck) = (vec![false; n], vec![false; n], vec![false; n]);
    for _ in 0..clevr::HORIZON {
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
            let before = envs[i].observation();
            let o = envs[i].step(a).unwrap();
            let moved = envs[i]
                .observation()
                .iter()
                .zip(&before)
                .any(|(x, y)| (x - y).abs() > 1e-4);
            success[i] |= o.success;
            if !moved && !o.success {
                stuck[i] = true;
                done[i] = true; // a deterministic policy repeats the same action forever
            }
            done[i] |= o.success || o.terminal || o.timeout || envs[i].steps() >= envs[i].horizon();
        }
    }
    let mut table: BTreeMap<&str, (usize, usize, usize)> = BTreeMap::new();
    for i in 0..n {
        let e = table.entry(kinds[i]).or_default();
        e.0 += 1;
        e.1 += success[i] as usize;
        e.2 += stuck[i] as usize;
    }
    let total = success.iter().filter(|s| **s).count();
    println!(
        "{level}: success {total}/{n} = {:.1}%",
        100.0 * total as f64 / n as f64
    );
    for (k, (count, ok, st)) in table {
        println!("  {k:9} {ok:4}/{count:<4} success, {st} stuck");
    }
}
