//! Fidelity of one push against the original (MuJoCo) environment, and push speed.
//!
//! Original, measured over 500 random pushes: median displacement of the pushed ball 0.209 m
//! (cardinal) and 0.215 m (diagonal). The bar: both medians in [0.18, 0.24] m.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::time::Instant;
use vlgor_sim::clevr::layout::sample_positions;
use vlgor_sim::clevr::physics::{NUM_ACTIONS, WorldState, push};

fn median(v: &mut [f32]) -> f32 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// `pushes` random pushes, a fresh random scene every `per_scene` pushes (so with
/// `per_scene > 1` velocities carry over between pushes); returns the (cardinal, diagonal)
/// medians of the pushed ball's displacement (m).
fn displacement_medians(pushes: usize, per_scene: usize, seed: u64) -> (f32, f32) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (mut card, mut diag) = (Vec::new(), Vec::new());
    let mut state = WorldState::resting(&sample_positions(&mut rng));
    for i in 0..pushes {
        if i % per_scene == 0 {
            state = WorldState::resting(&sample_positions(&mut rng));
        }
        let a = rng.random_range(0..NUM_ACTIONS);
        let (ball, dir) = (a / 8, a % 8);
        let before = state.balls[ball].xy();
        push(&mut state, ball, dir).unwrap();
        let after = state.balls[ball].xy();
        let d = ((after[0] - before[0]).powi(2) + (after[1] - before[1]).powi(2)).sqrt();
        if dir < 4 { card.push(d) } else { diag.push(d) }
    }
    (median(&mut card), median(&mut diag))
}

#[test]
fn push_displacement_matches_original() {
    let (c, d) = displacement_medians(2000, 5, 7);
    eprintln!("median displacement: cardinal {c:.3} m, diagonal {d:.3} m");
    assert!((0.18..=0.24).contains(&c), "cardinal median {c}");
    assert!((0.18..=0.24).contains(&d), "diagonal median {d}");
}

/// `cargo test --release -p vlgor-sim --test clevr_fidelity -- --ignored --nocapture`
#[test]
#[ignore]
fn measure_fidelity_500_and_speed() {
    for seed in [11, 12, 13] {
        let (c, d) = displacement_medians(500, 1, seed);
        let (c5, d5) = displacement_medians(500, 5, seed);
        println!(
            "seed {seed}, 500 pushes: median displacement cardinal {c:.4} m, diagonal {d:.4} m \
             (fresh scene per push); {c5:.4} / {d5:.4} m (5 pushes per scene)"
        );
    }
    let (c, d) = displacement_medians(20000, 5, 1);
    println!("20000 pushes, 5 per scene: cardinal {c:.4} m, diagonal {d:.4} m");
    let (c, d) = displacement_medians(20000, 1, 1);
    println!("20000 pushes, fresh scene each: cardinal {c:.4} m, diagonal {d:.4} m");
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let mut state = WorldState::resting(&sample_positions(&mut rng));
    let n = 6000;
    let t = Instant::now();
    for i in 0..n {
        if i % 50 == 0 {
            state = WorldState::resting(&sample_positions(&mut rng));
        }
        let a = rng.random_range(0..NUM_ACTIONS);
        push(&mut state, a / 8, a % 8).unwrap();
    }
    let dt = t.elapsed().as_secs_f64();
    println!(
        "{n} random pushes (0.4 s each) in {dt:.3} s: {:.0} steps/s on one core",
        n as f64 / dt
    );
}
