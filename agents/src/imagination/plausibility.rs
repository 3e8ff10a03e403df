//! Physical plausibility of imagined rollouts, the same figures for every generator: per
//! reason the transitions the validator condemns, and the position error against rapier
//! replaying the generated actions from the generated states.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use vlgor_sim::validate::verdict::violating_transition;
use vlgor_sim::validate::{Replayer, Verdict};
use vlgor_sim::{Action, GoalSpec};

/// Plausibility tallies of one imagination run (shares: divide by the summary's `rollouts`
/// and `imagined_transitions`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Plausibility {
    /// Per reason, the transitions it condemns (a bad state condemns the transition into it).
    pub transitions_by_reason: BTreeMap<String, usize>,
    /// Transitions condemned by any reason.
    pub flagged_transitions: usize,
    /// Transitions rapier replayed (a replay that fails, e.g. diverges, has no error).
    pub replayed_transitions: usize,
    /// Mean over replayed transitions of the mean object position error (m): CLEVR the five
    /// balls, Meta-World the object point and the hand.
    pub mean_position_error_m: f64,
    /// Mean over replayed transitions of the largest object position error (m).
    pub mean_max_position_error_m: f64,
}

/// Per transition of one rollout, (mean, largest) object position error against the replay,
/// `None` where the replay failed.
pub fn replay_errors(
    replayer: &mut Replayer,
    goal: &GoalSpec,
    states: &[Vec<f32>],
    actions: &[Action],
    h: usize,
) -> Vec<Option<(f64, f64)>> {
    actions
        .iter()
        .enumerate()
        .map(|(k, a)| {
            let e = replayer
                .replay_errors(goal, &states[k], a, &states[k + 1], h)
                .ok()?;
            let max = e.iter().copied().fold(0f32, f32::max) as f64;
            let mean = e.iter().map(|&x| x as f64).sum::<f64>() / e.len().max(1) as f64;
            Some((mean, max))
        })
        .collect()
}

impl Plausibility {
    /// Adds one rollout of `transitions` transitions: its verdict and replay errors.
    pub fn add(&mut self, transitions: usize, verdict: &Verdict, errors: &[Option<(f64, f64)>]) {
        let mut by_reason: BTreeMap<String, BTreeSet<usize>> = BTreeMap::new();
        let mut any = BTreeSet::new();
        for v in &verdict.violations {
            if let Some(k) = violating_transition(v).filter(|&k| k < transitions) {
                by_reason.entry(v.reason.to_string()).or_default().insert(k);
                any.insert(k);
            }
        }
        for (reason, ks) in by_reason {
            *self.transitions_by_reason.entry(reason).or_default() += ks.len();
        }
        self.flagged_transitions += any.len();
        // Running means over every replayed transition so far.
        for &(mean, max) in errors.iter().flatten() {
            self.replayed_transitions += 1;
            let n = self.replayed_transitions as f64;
            self.mean_position_error_m += (mean - self.mean_position_error_m) / n;
            self.mean_max_position_error_m += (max - self.mean_max_position_error_m) / n;
        }
    }
}
