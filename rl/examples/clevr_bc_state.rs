//! CLEVR behaviour cloning on state observations, end to end: collect ε-noisy expert episodes
//! on training (`seen`) instructions, embed the instructions with the frozen sentence encoder,
//! train BC, then measure closed-loop success on fresh `seen` instructions and initial states.
//!
//! `cargo run --release -p vlgor-rl --example clevr_bc_state -- [EPISODES] [EPOCHS] [EVAL] [OUT]`
//! (defaults 1000, 10, 100, /tmp/vlgor-clevr-bc). Prints one JSON line with the results.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::path::PathBuf;
use tch::Device;
use vlgor_rl::config::{AlgoKind, RlConfig};
use vlgor_rl::{GoalTable, ObservationSource, Policy, PolicyObservations, Trainer, TrainingData};
use vlgor_sim::clevr::{self, ClevrEnv};
use vlgor_sim::dataset::*;
use vlgor_sim::{Env, Level};
use vlgor_vlm::{EmbeddingCache, SentenceEncoder};

fn episode(index: u64, noise: f32) -> EpisodeRecord {
    let seed = 0x5EED_0000 + index;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let instruction = clevr::sample_instruction(Level::Seen, &mut rng);
    let mut env = ClevrEnv::new();
    EpisodeRecord::record(&mut env, index, seed, instruction, usize::MAX, |env| {
        env.expert_action(noise, &mut rng)
    })
    .unwrap()
}

fn collect(dir: &std::path::Path, episodes: usize) -> Dataset {
    if let Ok(d) = Dataset::open(dir, Some("clevr"))
        && d.episodes.len() == episodes
    {
        return d;
    }
    let _ = std::fs::remove_dir_all(dir);
    let probe = ClevrEnv::new();
    let header = DatasetHeader {
        env: "clevr".into(),
        origin: Origin::Real,
        collection: Collection {
            policy: "expert".into(),
            seed: 0,
            noise: 0.1,
            episodes,
            episodes_per_shard: 256,
            task: None,
            preset: "example".into(),
        },
        split: SplitInfo {
            level: "seen".into(),
            definition: "clevr_bc_state example".into(),
        },
        state_dim: probe.state().len(),
        obs_dim: probe.observation().len(),
        action_space: ActionSpace::Discrete { n: 40 },
        frames: None,
    };
    let mut w = DatasetWriter::create_or_resume(dir, header).unwrap();
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    for start in (0..episodes).step_by(256) {
        let end = (start + 256).min(episodes);
        let mut shard: Vec<EpisodeRecord> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    s.spawn(move || {
                        (start + t..end)
                            .step_by(threads)
                            .map(|i| episode(i as u64, 0.1))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap())
                .collect()
        });
        shard.sort_by_key(|r| r.index);
        w.append_shard(&shard).unwrap();
    }
    Dataset::open(dir, Some("clevr")).unwrap()
}

fn main() {
    // One intra-op thread: the machine is shared, and OpenMP spinning under contention is slow.
    tch::set_num_threads(
        std::env::var("VLGOR_TORCH_THREADS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1),
    );
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize, d: usize| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(d);
    let (episodes, epochs, eval) = (arg(1, 1000), arg(2, 10), arg(3, 100));
    let out = PathBuf::from(args.get(4).cloned().unwrap_or("/tmp/vlgor-clevr-bc".into()));
    let t0 = std::time::Instant::now();
    let data = collect(&out.join("data"), episodes);
    let collect_s = t0.elapsed().as_secs_f64();
    let success_rate = data.manifest.counts.successes as f64 / episodes as f64;
    eprintln!(
        "data: {} episodes, {} transitions, expert success {:.1}% ({collect_s:.1} s)",
        episodes,
        data.transitions(),
        100.0 * success_rate
    );

    let encoder =
        SentenceEncoder::from_env(Device::Cpu).expect("sentence encoder (run make setup)");
    let mut cache = EmbeddingCache::new();
    let goals = GoalTable::for_datasets(&encoder, &mut cache, &[&data]).unwrap();
    eprintln!("{} distinct instructions embedded", goals.len());

    let rl = RlConfig {
        epochs,
        ..RlConfig::default()
    };
    let run = out.join(format!("run-e{epochs}"));
    let _ = std::fs::remove_dir_all(&run);
    let td = TrainingData {
        real: &data,
        imagined: None,
        observations: ObservationSource::State,
        goals: &goals,
    };
    let t1 = std::time::Instant::now();
    let mut last_epoch = 0;
    let outcome = Trainer::new(&run, "clevr", AlgoKind::Bc, rl, td, 0, Device::Cpu, false)
        .unwrap()
        .train(&mut |p| {
            if p.epoch != last_epoch {
                last_epoch = p.epoch;
                eprintln!(
                    "epoch {}/{} step {} losses {:?}",
                    p.epoch, p.epochs, p.step, p.losses
                );
            }
        })
        .unwrap();
    let train_s = t1.elapsed().as_secs_f64();

    // Closed loop: `eval` fresh seen instructions and initial states, all stepped together.
    let policy = Policy::load(&run, Device::Cpu).unwrap();
    let mut envs: Vec<ClevrEnv> = Vec::new();
    let mut texts = Vec::new();
    for i in 0..eval as u64 {
        let seed = 0xE7A1_0000 + i;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let instruction = clevr::sample_instruction(Level::Seen, &mut rng);
        let mut env = ClevrEnv::new();
        env.reset(seed, &instruction).unwrap();
        texts.push(instruction.text.clone());
        envs.push(env);
    }
    let text_refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let eval_goals = GoalTable::for_texts(&encoder, &mut cache, &text_refs).unwrap();
    let mut done = vec![false; eval];
    let mut success = vec![false; eval];
    for _ in 0..clevr::HORIZON {
        let live: Vec<usize> = (0..eval).filter(|&i| !done[i]).collect();
        if live.is_empty() {
            break;
        }
        let obs: Vec<f32> = live.iter().flat_map(|&i| envs[i].observation()).collect();
        let g: Vec<&str> = live.iter().map(|&i| text_refs[i]).collect();
        let acts = policy
            .act_batch(
                PolicyObservations::States(&obs),
                &eval_goals.tensor(&g, Device::Cpu).unwrap(),
            )
            .unwrap();
        for (&i, a) in live.iter().zip(&acts) {
            let o = envs[i].step(a).unwrap();
            if o.success {
                success[i] = true;
            }
            if o.success || o.terminal || o.timeout || envs[i].steps() >= envs[i].horizon() {
                done[i] = true;
            }
        }
    }
    let rate = success.iter().filter(|s| **s).count() as f64 / eval as f64;
    // A uniformly random policy on the same episodes, for reference.
    let mut random_success = 0;
    for i in 0..eval as u64 {
        let seed = 0xE7A1_0000 + i;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let instruction = clevr::sample_instruction(Level::Seen, &mut rng);
        let mut env = ClevrEnv::new();
        env.reset(seed, &instruction).unwrap();
        for _ in 0..clevr::HORIZON {
            let a = env.random_action(&mut rng);
            let o = env.step(&a).unwrap();
            if o.success {
                random_success += 1;
                break;
            }
            if o.terminal || o.timeout {
                break;
            }
        }
    }
    println!(
        "{}",
        serde_json::json!({
            "episodes": episodes, "transitions": data.transitions(), "epochs": epochs,
            "steps": outcome.steps_done, "train_seconds": train_s, "last_losses": format!("{:?}", outcome.last_losses),
            "eval_episodes": eval, "bc_success": rate, "random_success": random_success as f64 / eval as f64,
            "expert_data_success": success_rate
        })
    );
}
