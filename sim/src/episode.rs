//! Seeding of evaluation episodes, shared by `vlgor eval` and the Python bindings so that both
//! meet identical episodes: episode `index` of evaluation `seed` at `level` has its own seed
//! ([`episode_seed`]); that seed draws the instruction ([`instruction_rng`]), the initial state
//! (`Env::reset(seed, ..)`) and the policy's random choices ([`action_rng`]).

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::Level;

/// Salt of the per-episode action stream (noisy expert and random policy).
const ACTION_SALT: u64 = 0x0005_eeda_c710;

/// Deterministic seed of episode `index` of evaluation `seed` at `level`.
pub fn episode_seed(seed: u64, level: Level, index: usize) -> u64 {
    // SplitMix64 over the three parts: well mixed, stable across platforms.
    let mut z = seed
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add((level as u64 + 1).wrapping_mul(0xBF58_476D_1CE4_E5B9))
        .wrapping_add(index as u64);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The generator the episode's instruction is sampled with.
pub fn instruction_rng(episode_seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(episode_seed)
}

/// The generator of the episode's random actions (scripted policies' noise).
pub fn action_rng(episode_seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(episode_seed ^ ACTION_SALT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_differ_by_level_and_index() {
        let a = episode_seed(0, Level::Seen, 0);
        assert_ne!(a, episode_seed(0, Level::Seen, 1));
        assert_ne!(a, episode_seed(0, Level::Rephrase, 0));
        assert_ne!(a, episode_seed(1, Level::Seen, 0));
        assert_eq!(a, episode_seed(0, Level::Seen, 0));
    }
}
