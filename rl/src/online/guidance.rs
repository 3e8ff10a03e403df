//! VARL's guidance schedule: on which steps the action advisor is queried and how much the
//! behaviour-cloning term toward its suggestions weighs in the update.
//!
//! The advisor is queried on every `advise_every`-th vector step (steps 0, k, 2k, ...; all
//! simulators in one batched request) while fewer than `advice_cutoff` environment steps have
//! been taken. On an advised step every simulator executes the suggestion (the exploratory
//! action) and the transition is stored with it as its advised action. The BC weight decays
//! linearly from `bc_weight` at step 0 to zero at `advice_cutoff` and stays zero after it, so the
//! final policy is the RL agent's own.

use super::OnlineConfig;

/// The guidance of one run (disabled without an advisor: never queried, BC weight zero).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Guidance {
    pub enabled: bool,
    pub every: u64,
    pub cutoff: u64,
    pub bc_weight: f64,
}

impl Guidance {
    pub fn new(config: &OnlineConfig, enabled: bool) -> Self {
        Guidance {
            enabled,
            every: config.advise_every.max(1) as u64,
            cutoff: config.advice_cutoff as u64,
            bc_weight: config.bc_weight,
        }
    }

    /// Whether vector step `vector_step` (0-based), taken after `env_steps` environment steps,
    /// is advised.
    pub fn advises(&self, vector_step: u64, env_steps: u64) -> bool {
        self.enabled && env_steps < self.cutoff && vector_step.is_multiple_of(self.every)
    }

    /// Weight of the BC term in an update made after `env_steps` environment steps.
    pub fn bc_weight(&self, env_steps: u64) -> f64 {
        if !self.enabled || env_steps >= self.cutoff {
            return 0.0;
        }
        self.bc_weight * (1.0 - env_steps as f64 / self.cutoff as f64)
    }

    /// Advised vector steps among the first `vector_steps` ones when each advances `parallel`
    /// simulators (the schedule's closed form, which the loop's count must equal).
    pub fn advised_steps(&self, vector_steps: u64, parallel: u64) -> u64 {
        (0..vector_steps)
            .filter(|&t| self.advises(t, t * parallel))
            .count() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guidance() -> Guidance {
        let c = OnlineConfig {
            advise_every: 3,
            advice_cutoff: 100,
            bc_weight: 2.0,
            ..OnlineConfig::default()
        };
        Guidance::new(&c, true)
    }

    #[test]
    fn bc_weight_decays_to_zero_at_the_cutoff_and_stays_there() {
        let g = guidance();
        assert_eq!(g.bc_weight(0), 2.0);
        assert!((g.bc_weight(50) - 1.0).abs() < 1e-12);
        assert!(g.bc_weight(99) > 0.0);
        for s in [100, 101, 1_000, u64::MAX] {
            assert_eq!(g.bc_weight(s), 0.0, "step {s}");
        }
        let off = Guidance::new(&OnlineConfig::default(), false);
        assert_eq!(off.bc_weight(0), 0.0);
    }

    #[test]
    fn advisor_is_queried_every_kth_step_before_the_cutoff_only() {
        let g = guidance();
        let advised: Vec<u64> = (0..40).filter(|&t| g.advises(t, t * 4)).collect();
        // Vector steps 0, 3, 6, ... while t * 4 < 100 (t <= 24).
        assert_eq!(advised, vec![0, 3, 6, 9, 12, 15, 18, 21, 24]);
        assert_eq!(g.advised_steps(40, 4), 9);
        let off = Guidance::new(&OnlineConfig::default(), false);
        assert_eq!(off.advised_steps(40, 4), 0);
    }
}
