//! Label consistency: every transition's reward, success and terminal flag recomputed from the
//! goal and the states, by the environment's own goal functions (CLEVR: `ClevrGoal::reward` /
//! `is_success` on the ball centres and the episode's start, directional goals judged on the
//! displacement from the start; Meta-World: the task's reward and success with the goal's
//! stages and path constraint advanced from the earlier state). Runs on true simulator states
//! with one env step per action (see [`ValidatorConfig::check_labels`]).

use super::config::ValidatorConfig;
use super::perceive::check_state;
use super::reason::{Reason, Violation};
use super::replay::Replayer;
use crate::clevr::physics::{NUM_BALLS, WorldState};
use crate::{GoalSpec, SimError, StepOutcome};

/// The labels a rollout carries, one per transition.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Labels {
    pub rewards: Vec<f32>,
    pub success: Vec<bool>,
    pub terminals: Vec<bool>,
}

impl Labels {
    /// Transitions labelled.
    pub fn len(&self) -> usize {
        self.rewards.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rewards.is_empty()
    }
}

/// What the environment reports for the step from full state `from` to full state `to`.
pub fn transition_outcome(
    replayer: &mut Replayer,
    goal: &GoalSpec,
    from: &[f32],
    to: &[f32],
) -> Result<StepOutcome, SimError> {
    check_state(goal, from)?;
    check_state(goal, to)?;
    match goal {
        GoalSpec::Clevr(g) => {
            let prev = WorldState::read(&from[..WorldState::LEN])?.ball_xy();
            let next = WorldState::read(&to[..WorldState::LEN])?.ball_xy();
            let rest = &to[WorldState::LEN..];
            let start: [[f32; 2]; NUM_BALLS] =
                std::array::from_fn(|i| [rest[2 * i], rest[2 * i + 1]]);
            let success = g.is_success(&next, &start);
            Ok(StepOutcome {
                reward: g.reward(&prev, &next, &start),
                success,
                terminal: success,
                timeout: false,
            })
        }
        GoalSpec::MetaWorld(g) => replayer.metaworld_env(g)?.transition_outcome(from, to),
    }
}

/// Label violations of a rollout (`step` = transition index): a reward farther than
/// [`ValidatorConfig::label_reward_tolerance`] from the recomputed one, or a success or
/// terminal flag that differs (terminal as datasets store it: the environment ended the
/// episode, or the goal was reached). Nothing when `cfg.check_labels` is off or `h` is not 1 (a
/// keyframe then spans several env steps, whose labels are not stored).
pub fn check_labels(
    replayer: &mut Replayer,
    goal: &GoalSpec,
    states: &[Vec<f32>],
    labels: &Labels,
    h: usize,
    cfg: &ValidatorConfig,
) -> Result<Vec<Violation>, SimError> {
    if !cfg.check_labels || h != 1 {
        return Ok(Vec::new());
    }
    let n = states.len().saturating_sub(1);
    if labels.rewards.len() != n || labels.success.len() != n || labels.terminals.len() != n {
        return Err(SimError::InvalidState(format!(
            "a rollout with {n} transitions has {} rewards, {} success and {} terminal flags",
            labels.rewards.len(),
            labels.success.len(),
            labels.terminals.len()
        )));
    }
    let mut out = Vec::new();
    for k in 0..n {
        let want = transition_outcome(replayer, goal, &states[k], &states[k + 1])?;
        let mut wrong = Vec::new();
        let err = (labels.rewards[k] - want.reward).abs();
        // A non-finite stored reward is wrong whatever the tolerance.
        let bad_reward = err.is_nan() || err > cfg.label_reward_tolerance;
        if bad_reward {
            wrong.push(format!(
                "reward {} (the goal gives {:.4})",
                labels.rewards[k], want.reward
            ));
        }
        if labels.success[k] != want.success {
            wrong.push(format!(
                "success {} (the goal gives {})",
                labels.success[k], want.success
            ));
        }
        // Datasets mark a transition terminal when the episode ended there: the environment
        // ended it (an object off the table) or the goal was reached.
        let ended = want.terminal || want.success;
        if labels.terminals[k] != ended {
            wrong.push(format!(
                "terminal {} (the goal gives {ended})",
                labels.terminals[k]
            ));
        }
        if !wrong.is_empty() {
            let magnitude = if bad_reward && err.is_finite() {
                err
            } else {
                1.0
            };
            out.push(Violation::new(
                k,
                Reason::Label,
                magnitude,
                format!("transition {k} is labelled {}", wrong.join(", ")),
            ));
        }
    }
    Ok(out)
}
