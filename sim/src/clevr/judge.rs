//! KALM's step-level judges for directional goals ("move ball X toward D"), which decide an
//! episode on its first push (CharlieBrown-v1/KALM, `step_level_a_judge` / `step_level_s_judge`).
//!
//! * [`StepJudges::state`] — **ours, the success test of record**: the named ball moved at
//!   least [`STEP_MOVE_DISTANCE`] along D during the push. It reads states only, so imagined
//!   rollouts can be judged by it too.
//! * [`StepJudges::kalm_state`] — KALM's `step_level_s`: *some* ball moved at least 0.15 m
//!   along D's axis (looser: a knocked-on neighbour counts).
//! * [`StepJudges::kalm_action`] — KALM's `step_level_a`: the push names ball X and one of D's
//!   three action directions (the cardinal and its two diagonals). A uniformly random push
//!   passes it with probability 1/5 × 3/8 = 7.5 %. It reads the action, so it can only judge a
//!   policy, never an imagined rollout's states.

use serde::{Deserialize, Serialize};

use super::goal::Direction;
use super::physics::{DIRECTIONS, NUM_BALLS};

/// Distance (m) the named ball must travel along the asked direction in one push
/// (KALM's `SINGLE_STEP_MOVE_DIST`).
pub const STEP_MOVE_DISTANCE: f32 = 0.15;

/// The three judges' verdicts on one push.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepJudges {
    pub state: bool,
    pub kalm_state: bool,
    pub kalm_action: bool,
}

/// Displacement of `ball` between `prev` and `next` projected on `direction` (m).
pub fn moved_along(
    ball: usize,
    direction: Direction,
    prev: &[[f32; 2]; NUM_BALLS],
    next: &[[f32; 2]; NUM_BALLS],
) -> f32 {
    let d = direction.vector();
    (next[ball][0] - prev[ball][0]) * d[0] + (next[ball][1] - prev[ball][1]) * d[1]
}

/// Our state judge: `ball` moved at least [`STEP_MOVE_DISTANCE`] along `direction`.
pub fn state_judge(
    ball: usize,
    direction: Direction,
    prev: &[[f32; 2]; NUM_BALLS],
    next: &[[f32; 2]; NUM_BALLS],
) -> bool {
    moved_along(ball, direction, prev, next) >= STEP_MOVE_DISTANCE
}

/// KALM's `step_level_s`: any ball moved at least [`STEP_MOVE_DISTANCE`] along `direction`.
pub fn kalm_state_judge(
    direction: Direction,
    prev: &[[f32; 2]; NUM_BALLS],
    next: &[[f32; 2]; NUM_BALLS],
) -> bool {
    (0..NUM_BALLS).any(|b| moved_along(b, direction, prev, next) >= STEP_MOVE_DISTANCE)
}

/// KALM's `step_level_a`: push `action` (ball·8 + direction index) names `ball` and a
/// direction whose vector has a positive component along `direction` (D's cardinal and its two
/// diagonals).
pub fn kalm_action_judge(ball: usize, direction: Direction, action: u32) -> bool {
    let (b, k) = (
        action as usize / DIRECTIONS.len(),
        action as usize % DIRECTIONS.len(),
    );
    let (v, d) = (DIRECTIONS[k.min(DIRECTIONS.len() - 1)], direction.vector());
    b == ball && v[0] * d[0] + v[1] * d[1] > 0.5
}

/// All three judges of one push of `action` from `prev` to `next`.
pub fn judge_push(
    ball: usize,
    direction: Direction,
    action: u32,
    prev: &[[f32; 2]; NUM_BALLS],
    next: &[[f32; 2]; NUM_BALLS],
) -> StepJudges {
    StepJudges {
        state: state_judge(ball, direction, prev, next),
        kalm_state: kalm_state_judge(direction, prev, next),
        kalm_action: kalm_action_judge(ball, direction, action),
    }
}
