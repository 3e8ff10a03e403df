//! Hindsight relabelling (HER: Andrychowicz et al. 2017, the "future" strategy) of finished
//! CLEVR training episodes, for learning sparse-reward goals online.
//!
//! For every transition `(o_t, a_t, o_{t+1})` of a finished episode, `k` times: a later
//! transition `j ≥ t` is drawn uniformly and one training goal the episode *achieved* there is
//! drawn uniformly: a relation that holds at `o_{j+1}` but not at `o_t` (a goal holding at
//! `o_t` would have ended an episode pursuing it), or, when `j = t`, a directional goal the push
//! itself fulfils (judged from `o_t`, as a one-push episode starting there would be). The
//! relabelled transition carries that goal's instruction (a training template), the sparse
//! reward `1` if the goal holds at `o_{t+1}` and is terminal then. No goal is invented: every
//! one is a training-level goal, judged by the environment's own test on real states.

use rand::Rng;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use vlgor_rl::online::Transition;
use vlgor_sim::clevr::tasks::{instruction_at, split};
use vlgor_sim::clevr::{ClevrGoal, NUM_BALLS};
use vlgor_sim::{Action, EnvKind, Level};

use crate::cli::RewardArg;
use crate::error::CliError;
use crate::imagination::goals::balls;

/// One relabelled transition: the episode's transition `t` with another goal.
#[derive(Clone, Debug, PartialEq)]
pub struct Relabelled {
    /// Index of the transition in the episode.
    pub t: usize,
    pub goal: ClevrGoal,
    /// Instruction text of the goal (a training template).
    pub text: String,
    /// The goal holds at `o_{t+1}` (reward 1, terminal).
    pub success: bool,
}

/// Seed of episode `episode`'s relabelling draws (independent of the loop's per-step draws, so
/// a resumed run relabels as an uninterrupted one).
pub fn relabel_seed(run_seed: u64, episode: u64) -> u64 {
    run_seed ^ 0x4E5B_11D5_0000_0000 ^ episode.wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// `k` relabellings of every transition of the episode whose observations (ball centres,
/// CLEVR's state observation) are `observations` (`o_0 .. o_T`, one more than the actions).
/// Draws with `seed`; transitions without an achieved goal get none.
pub fn relabel(observations: &[Vec<f32>], k: usize, seed: u64) -> Vec<Relabelled> {
    let mut out = Vec::new();
    let steps = observations.len().saturating_sub(1);
    if k == 0 || steps == 0 {
        return out;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let states: Vec<[[f32; 2]; NUM_BALLS]> = observations.iter().map(|o| balls(o)).collect();
    let training = &split().training;
    for t in 0..steps {
        // Relations not yet holding before the step (one holding would have ended the episode).
        let open: Vec<&ClevrGoal> = training
            .iter()
            .filter(|g| g.is_step_level() || !g.is_success(&states[t], &states[t]))
            .collect();
        for _ in 0..k {
            let j = rng.random_range(t..steps);
            let achieved: Vec<&ClevrGoal> = open
                .iter()
                .copied()
                .filter(|g| match g {
                    ClevrGoal::Move { .. } => j == t && g.is_success(&states[t + 1], &states[t]),
                    _ => g.is_success(&states[j + 1], &states[t]),
                })
                .collect();
            if achieved.is_empty() {
                continue;
            }
            let goal = achieved[rng.random_range(0..achieved.len())];
            let pick = rng.random_range(0..usize::MAX);
            out.push(Relabelled {
                t,
                goal: goal.clone(),
                text: instruction_at(goal, Level::Seen, pick).text,
                success: goal.is_success(&states[t + 1], &states[t]),
            });
        }
    }
    out
}

impl super::Run<'_> {
    /// Adds the hindsight relabellings of a finished episode (`online.hindsight` per
    /// transition) to the replay buffer: CLEVR runs with the sparse reward only (the goals are
    /// judged on its state observation, the ball centres).
    pub(super) fn push_hindsight(
        &mut self,
        observations: &[Vec<f32>],
        actions: &[Action],
        episode: u64,
    ) -> Result<(), CliError> {
        let k = self.ctx.config.online.hindsight;
        if k == 0
            || self.plan.spec.kind() != EnvKind::Clevr
            || self.plan.reward != RewardArg::Sparse
        {
            return Ok(());
        }
        let seed = relabel_seed(self.ctx.seed, episode);
        for r in relabel(observations, k, seed) {
            let goal = self.goal_row(&r.text)?;
            self.buffer
                .push(&Transition {
                    obs: &observations[r.t],
                    next_obs: &observations[r.t + 1],
                    goal,
                    action: actions[r.t],
                    reward: r.success as u8 as f32,
                    terminal: r.success,
                    advice: None,
                })
                .map_err(super::rl_error)?;
            self.counters.relabelled += 1;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relabels_only_goals_the_episode_achieved_and_rewards_them_where_they_hold() {
        // A training relation's source walks toward its place beside the reference: too far
        // at o0 and o1 (0.8 m, 0.55 m), in place at o2 (0.28 m); the other balls in corners.
        let goal = split()
            .training
            .iter()
            .find(|g| matches!(g, ClevrGoal::Relation { .. }))
            .expect("a training relation")
            .clone();
        let rel = goal.as_relation().unwrap();
        let d = rel.direction.vector();
        let corners = [[-0.7, 0.7], [0.7, 0.7], [-0.7, -0.7], [0.7, -0.7]];
        let at = |gap: f32| {
            let mut o = vec![0f32; 2 * NUM_BALLS];
            let mut free = corners.iter().filter(|c| c[0] * d[0] + c[1] * d[1] <= 0.0);
            for b in 0..NUM_BALLS {
                let p = if b == rel.reference {
                    [0.0, 0.0]
                } else if b == rel.source {
                    [gap * d[0], gap * d[1]]
                } else {
                    *free.next().unwrap_or(&[0.7 * d[1], 0.7 * d[0]])
                };
                o[2 * b] = p[0];
                o[2 * b + 1] = p[1];
            }
            o
        };
        let obs = vec![at(0.8), at(0.55), at(0.28)];
        let states: Vec<_> = obs.iter().map(|o| balls(o)).collect();
        assert!(
            goal.is_success(&states[2], &states[0]) && !goal.is_success(&states[1], &states[0])
        );
        let r = relabel(&obs, 16, 3);
        assert_eq!(r, relabel(&obs, 16, 3), "same seed, same relabels");
        assert!(
            r.iter().any(|x| x.goal == goal && x.t == 1 && x.success),
            "{r:?}"
        );
        assert!(r.iter().any(|x| x.goal == goal && x.t == 0 && !x.success));
        for x in &r {
            assert!(x.t < 2);
            let g = &x.goal;
            assert!(split().training.contains(g), "{g:?} is a training goal");
            assert!(!x.text.is_empty());
            assert!(
                !g.is_success(&states[x.t], &states[x.t]),
                "{g:?} held before"
            );
            assert_eq!(x.success, g.is_success(&states[x.t + 1], &states[x.t]));
            if g.is_step_level() {
                assert!(x.success, "a push is relabelled only with what it did");
            }
        }
        assert!(relabel(&obs, 0, 3).is_empty());
        assert!(relabel(&obs[..1], 4, 3).is_empty());
    }
}
