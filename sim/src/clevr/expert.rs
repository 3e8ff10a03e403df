//! Scripted expert: a lookahead planner that simulates candidate pushes on copies of the world
//! state (exact: every push starts from the canonical state) and keeps the one that brings the
//! balls closest to the goal. Greedy one-step lookahead over the 40 actions; when no push
//! improves, a two-step lookahead over the best first pushes.

use super::goal::{ClevrGoal, Relation, SORT_CENTRE};
use super::physics::{NUM_ACTIONS, NUM_BALLS, REACH_X, WorldState, push};

/// Desired centre offset of a relation's source from its reference (m): inside the sector and
/// well within the 0.39 m limit.
const RELATION_OFFSET: f32 = 0.28;
/// Directional goals aim this far past the 0.2 m threshold (m).
const MOVE_TARGET: f32 = 0.26;
/// First pushes explored by the two-step lookahead.
const BEAM: usize = 8;

fn norm(x: f32, y: f32) -> f32 {
    (x * x + y * y).sqrt()
}

fn relation_cost(r: &Relation, b: &[[f32; 2]; NUM_BALLS]) -> f32 {
    if r.holds(b) {
        return 0.0;
    }
    let d = r.direction.vector();
    let (s, q) = (b[r.source], b[r.reference]);
    norm(
        s[0] - q[0] - RELATION_OFFSET * d[0],
        s[1] - q[1] - RELATION_OFFSET * d[1],
    ) + 0.05
}

/// A non-negative distance-to-goal used by the planner; 0 when the goal holds.
pub fn goal_cost(
    goal: &ClevrGoal,
    b: &[[f32; 2]; NUM_BALLS],
    start: &[[f32; 2]; NUM_BALLS],
) -> f32 {
    if goal.is_success(b, start) {
        return 0.0;
    }
    match goal {
        ClevrGoal::Relation { .. } => goal.as_relation().map_or(0.0, |r| relation_cost(&r, b)),
        ClevrGoal::Move { ball, direction } => {
            let d = direction.vector();
            let (dx, dy) = (b[*ball][0] - start[*ball][0], b[*ball][1] - start[*ball][1]);
            let along = dx * d[0] + dy * d[1];
            let across = (dx * d[1] - dy * d[0]).abs();
            (MOVE_TARGET - along).max(0.0) + 0.5 * across + 0.05
        }
        ClevrGoal::Relations { relations } => {
            relations.iter().map(|r| relation_cost(r, b)).sum::<f32>() + 0.05
        }
        ClevrGoal::Order => {
            // Evenly spaced along x, alternating in y so consecutive balls do not touch.
            let step = (REACH_X[1] - REACH_X[0]) / (NUM_BALLS - 1) as f32;
            let mid_y = (b.iter().map(|p| p[1]).sum::<f32>()) / NUM_BALLS as f32;
            (0..NUM_BALLS)
                .map(|i| {
                    let tx = REACH_X[0] + step * i as f32;
                    let ty = mid_y + if i % 2 == 0 { -0.06 } else { 0.06 };
                    norm(b[i][0] - tx, b[i][1] - ty)
                })
                .sum::<f32>()
                + 0.05
        }
        ClevrGoal::Sort => {
            let c = b[SORT_CENTRE];
            (0..NUM_BALLS)
                .filter(|i| *i != SORT_CENTRE)
                .map(|i| (norm(b[i][0] - c[0], b[i][1] - c[1]) - 0.29).max(0.0))
                .sum::<f32>()
                + 0.05
        }
    }
}

/// Actions worth trying: pushes of the balls the goal names (others only move as obstacles,
/// so all 40 actions are tried when the named-ball pushes do not help).
fn named_actions(goal: &ClevrGoal) -> Vec<usize> {
    let balls = goal.balls();
    (0..NUM_ACTIONS)
        .filter(|a| balls.contains(&(a / 8)))
        .collect()
}

fn simulate(state: &WorldState, a: usize) -> Option<WorldState> {
    let mut s = *state;
    push(&mut s, a / 8, a % 8).ok()?;
    Some(s)
}

/// The expert's push for `state` pursuing `goal` (with start positions `start`).
pub fn plan(goal: &ClevrGoal, state: &WorldState, start: &[[f32; 2]; NUM_BALLS]) -> usize {
    let now = goal_cost(goal, &state.ball_xy(), start);
    let mut scored: Vec<(f32, usize, WorldState)> = Vec::with_capacity(NUM_ACTIONS);
    for a in named_actions(goal) {
        if let Some(s) = simulate(state, a) {
            scored.push((goal_cost(goal, &s.ball_xy(), start), a, s));
        }
    }
    scored.sort_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)));
    if let Some(best) = scored.first()
        && (best.0 == 0.0 || best.0 < now - 0.01)
    {
        return best.1;
    }
    // Stuck: two-step lookahead from the best first pushes, over all 40 second pushes.
    let mut best = (f32::INFINITY, scored.first().map_or(0, |s| s.1));
    for (_, a, s1) in scored.iter().take(BEAM) {
        for a2 in 0..NUM_ACTIONS {
            if let Some(s2) = simulate(s1, a2) {
                let c = goal_cost(goal, &s2.ball_xy(), start);
                if c < best.0 {
                    best = (c, *a);
                }
            }
        }
    }
    // Still no progress: try the other balls' pushes too (clear an obstacle).
    if best.0 >= now - 0.01 {
        let named = named_actions(goal);
        for a in (0..NUM_ACTIONS).filter(|a| !named.contains(a)) {
            if let Some(s1) = simulate(state, a) {
                for a2 in named.iter().copied() {
                    if let Some(s2) = simulate(&s1, a2) {
                        let c = goal_cost(goal, &s2.ball_xy(), start);
                        if c < best.0 {
                            best = (c, a);
                        }
                    }
                }
            }
        }
    }
    best.1
}
