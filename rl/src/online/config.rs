//! The `[online]` preset section: the online learners' schedule (parallel simulators, replay,
//! updates, exploration, evaluation) and the action advisor's guidance (VARL).

use serde::{Deserialize, Serialize};

use crate::RlError;

/// How the world-model advisor turns its predictions into a suggested action.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AdviceSource {
    /// The action head's own prediction from the frame and the instruction (imagination's
    /// step 0: `(s_t, G, no action) → a_t`).
    ActionHead,
    /// One-step look-ahead: the model imagines the outcome of every candidate action (CLEVR:
    /// all 40 pushes; Meta-World: `lookahead_candidates` uniform draws, each held for h steps),
    /// and the candidate whose imagined outcome the instruction's own test scores highest
    /// (success, else the shaped reward on the perceived state: the judge that labels VLGOR's
    /// imagined rollouts) is suggested.
    Lookahead,
}

impl AdviceSource {
    pub fn name(self) -> &'static str {
        match self {
            AdviceSource::ActionHead => "action-head",
            AdviceSource::Lookahead => "lookahead",
        }
    }
}

/// The `[online]` preset section. Every step count is in environment steps (one simulator
/// advancing once). Defaults are the quick preset's values; network widths come from `[rl]`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OnlineConfig {
    /// Simulators stepped together (one vector step advances each once).
    pub parallel: usize,
    /// Transitions per gradient update.
    pub batch_size: usize,
    /// Adam learning rate of every network.
    pub lr: f64,
    /// Discount factor γ.
    pub gamma: f64,
    /// Replay-buffer capacity in transitions (oldest overwritten first).
    pub buffer_size: usize,
    /// Environment steps collected before the first update (SAC acts uniformly at random
    /// until then).
    pub learning_starts: usize,
    /// Gradient updates after each vector step.
    pub updates_per_step: usize,
    /// DQN: updates between hard copies of the online Q-network into the target.
    pub target_update_interval: usize,
    /// SAC: Polyak factor of the soft target update.
    pub tau: f64,
    /// DQN: ε of ε-greedy exploration at step 0 ...
    pub epsilon_start: f64,
    /// ... decayed linearly to this ...
    pub epsilon_end: f64,
    /// ... over this many environment steps.
    pub epsilon_decay_steps: usize,
    /// SAC: initial entropy temperature (learned towards entropy −dim).
    pub initial_temperature: f64,
    /// SAC: learning rate of the temperature.
    pub temperature_lr: f64,
    /// Advisor: queried on every k-th vector step (for all simulators in one batch).
    pub advise_every: usize,
    /// Advisor: weight of the behaviour-cloning term toward advised actions at step 0; it
    /// decays linearly to zero at `advice_cutoff`.
    pub bc_weight: f64,
    /// Advisor: environment step after which the advisor is no longer queried and the BC
    /// weight is zero (the guidance is switched off; the final policy is the agent's own).
    pub advice_cutoff: usize,
    /// Advisor: how the world model suggests an action (see [`AdviceSource`]).
    pub advice: AdviceSource,
    /// Advisor, look-ahead with continuous actions: candidate actions imagined per simulator
    /// (uniform draws; discrete action spaces imagine every action).
    pub lookahead_candidates: usize,
    /// Closed-loop evaluation every this many environment steps into `evals.jsonl` (0 = only
    /// at the end).
    pub eval_every: usize,
    /// Episodes of each evaluation (training-level instructions, the evaluation seed).
    pub eval_episodes: usize,
    /// Resume checkpoint every this many environment steps (and always at the end).
    pub checkpoint_every: usize,
    /// Hindsight relabelling (HER's "future" strategy, CLEVR with the sparse reward): each
    /// transition of a finished episode is stored again with this many goals the episode
    /// achieved later, rewarded by the environment's test (0 = off).
    pub hindsight: usize,
}

impl Default for OnlineConfig {
    fn default() -> Self {
        OnlineConfig {
            parallel: 8,
            batch_size: 64,
            lr: 3e-4,
            gamma: 0.95,
            buffer_size: 50_000,
            learning_starts: 256,
            updates_per_step: 2,
            target_update_interval: 250,
            tau: 0.005,
            epsilon_start: 1.0,
            epsilon_end: 0.05,
            epsilon_decay_steps: 2_000,
            initial_temperature: 0.2,
            temperature_lr: 3e-4,
            advise_every: 4,
            bc_weight: 1.0,
            advice_cutoff: 6_000,
            advice: AdviceSource::Lookahead,
            lookahead_candidates: 16,
            eval_every: 2_000,
            eval_episodes: 40,
            checkpoint_every: 2_000,
            hindsight: 0,
        }
    }
}

impl OnlineConfig {
    /// Checks every key's range; the error names the key (`online.KEY`) and what is allowed.
    pub fn validate(&self) -> Result<(), RlError> {
        let bad = |key: &str, allowed: &str| {
            Err(RlError::Input(format!("online.{key} must be {allowed}")))
        };
        for (key, v) in [
            ("parallel", self.parallel),
            ("batch_size", self.batch_size),
            ("buffer_size", self.buffer_size),
            ("target_update_interval", self.target_update_interval),
            ("advise_every", self.advise_every),
            ("lookahead_candidates", self.lookahead_candidates),
            ("eval_episodes", self.eval_episodes),
            ("checkpoint_every", self.checkpoint_every),
        ] {
            if v == 0 {
                return bad(key, "at least 1");
            }
        }
        if self.parallel > 4096 {
            return bad("parallel", "at most 4096");
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return bad("lr", "a positive number");
        }
        if !(self.temperature_lr.is_finite() && self.temperature_lr > 0.0) {
            return bad("temperature_lr", "a positive number");
        }
        if !(self.initial_temperature.is_finite() && self.initial_temperature > 0.0) {
            return bad("initial_temperature", "a positive number");
        }
        if !(0.0..=1.0).contains(&self.gamma) {
            return bad("gamma", "a number in [0, 1]");
        }
        if !(self.tau > 0.0 && self.tau <= 1.0) {
            return bad("tau", "a number in (0, 1]");
        }
        for (key, v) in [
            ("epsilon_start", self.epsilon_start),
            ("epsilon_end", self.epsilon_end),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return bad(key, "a number in [0, 1]");
            }
        }
        if !(self.bc_weight.is_finite() && self.bc_weight >= 0.0) {
            return bad("bc_weight", "a non-negative number");
        }
        Ok(())
    }

    /// ε of ε-greedy exploration after `env_steps` environment steps.
    pub fn epsilon(&self, env_steps: u64) -> f64 {
        let t = if self.epsilon_decay_steps == 0 {
            1.0
        } else {
            (env_steps as f64 / self.epsilon_decay_steps as f64).min(1.0)
        };
        self.epsilon_start + (self.epsilon_end - self.epsilon_start) * t
    }
}
