//! Seeded initial placement of the five balls.

use rand::Rng;

use super::physics::{NUM_BALLS, REACH_X, REACH_Y};

/// Minimum distance between ball centres at reset (m): surfaces at least 0.1 apart, as in the
/// original generator.
pub const MIN_CENTRE_DISTANCE: f32 = 0.36;

/// Draws five ball centres uniformly inside the reachable box (x in [-0.47, 0.47], y in
/// [-0.17, 0.57]) with centres at least [`MIN_CENTRE_DISTANCE`] apart: up to 10 tries per ball,
/// otherwise the whole scene is redrawn (the original's rejection scheme, inside the walls).
pub fn sample_positions(rng: &mut impl Rng) -> [[f32; 2]; NUM_BALLS] {
    loop {
        let mut placed: Vec<[f32; 2]> = Vec::with_capacity(NUM_BALLS);
        'ball: for _ in 0..NUM_BALLS {
            for _ in 0..10 {
                let p = [
                    rng.random_range(REACH_X[0]..=REACH_X[1]),
                    rng.random_range(REACH_Y[0]..=REACH_Y[1]),
                ];
                let free = placed.iter().all(|q| {
                    let (dx, dy) = (p[0] - q[0], p[1] - q[1]);
                    (dx * dx + dy * dy).sqrt() >= MIN_CENTRE_DISTANCE
                });
                if free {
                    placed.push(p);
                    continue 'ball;
                }
            }
            break;
        }
        if placed.len() == NUM_BALLS {
            return std::array::from_fn(|i| placed[i]);
        }
    }
}
