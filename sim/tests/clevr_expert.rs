//! The scripted expert reaches training and counterfactual goals.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::time::Instant;
use vlgor_sim::clevr::{ClevrEnv, sample_instruction};
use vlgor_sim::{Env, Level};

/// Runs `episodes` expert episodes per level; returns (successes, total steps of successes).
fn run(level: Level, episodes: usize, seed: u64, noise: f32) -> (usize, usize) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut env = ClevrEnv::new();
    let (mut wins, mut steps) = (0, 0);
    for ep in 0..episodes {
        let instr = sample_instruction(level, &mut rng);
        env.reset(seed * 1000 + ep as u64, &instr).unwrap();
        for _ in 0..env.horizon() {
            let a = env.expert_action(noise, &mut rng);
            let out = env.step(&a).unwrap();
            if out.success {
                wins += 1;
                steps += env.steps();
                break;
            }
        }
    }
    (wins, steps)
}

#[test]
fn expert_reaches_training_and_counterfactual_goals() {
    for level in [Level::Seen, Level::Counterfactual, Level::UnseenRelation] {
        let (wins, _) = run(level, 40, 5, 0.0);
        assert!(
            wins >= 38,
            "{level}: expert succeeded in {wins}/40 episodes"
        );
    }
}

#[test]
#[ignore]
fn measure_expert_200() {
    for level in [
        Level::Seen,
        Level::Counterfactual,
        Level::UnseenRelation,
        Level::Rephrase,
        Level::Hard,
    ] {
        let t = Instant::now();
        let n = if level == Level::Hard { 40 } else { 200 };
        let (wins, steps) = run(level, n, 9, 0.0);
        println!(
            "{level}: {wins}/{n} = {:.1}% success, mean steps {:.2}, {:.1} s",
            100.0 * wins as f64 / n as f64,
            steps as f64 / wins.max(1) as f64,
            t.elapsed().as_secs_f64()
        );
    }
    let (wins, steps) = run(Level::Seen, 200, 9, 0.2);
    println!(
        "seen, noise 0.2: {wins}/200 success, mean steps {:.2}",
        steps as f64 / wins.max(1) as f64
    );
}
