//! The counterfactual generators of the paper (Table 5): a counterfactual target replaces the
//! manipulated ball and keeps the behavior; a counterfactual behavior keeps the ball and changes
//! the direction. Both keep the background template `t`. Built on [`super::text`] (rendering)
//! and [`super::tasks`] (the split that decides the new goal's level).

use rand::{Rng, RngCore};

use super::goal::{ClevrGoal, Direction, Relation};
use super::physics::NUM_BALLS;
use super::tasks::level_of;
use super::templates::HARD_FRAMES;
use super::text::{instruction, render, render_hard, templates_for};
use crate::language::CounterfactualKind;
use crate::{GoalSpec, Instruction, Level, SimError};

fn other_ball(rng: &mut dyn RngCore, exclude: &[usize]) -> usize {
    let choices: Vec<usize> = (0..NUM_BALLS).filter(|b| !exclude.contains(b)).collect();
    choices[rng.random_range(0..choices.len())]
}

fn other_direction(rng: &mut dyn RngCore, d: Direction) -> Direction {
    let choices: Vec<Direction> = Direction::ALL.into_iter().filter(|x| *x != d).collect();
    choices[rng.random_range(0..choices.len())]
}

fn swap_relation(r: Relation, kind: CounterfactualKind, rng: &mut dyn RngCore) -> Relation {
    match kind {
        CounterfactualKind::Target => Relation {
            source: other_ball(rng, &[r.source, r.reference]),
            ..r
        },
        CounterfactualKind::Behavior => Relation {
            direction: other_direction(rng, r.direction),
            ..r
        },
    }
}

/// The counterfactual goal of `goal`: `Target` replaces the manipulated ball (keeping the
/// behavior: direction and reference ball), `Behavior` keeps the ball and changes the
/// direction. For several relations, one relation (chosen by `rng`) is changed. ORDER and SORT
/// have no manipulated ball or direction to swap and give an error.
pub fn counterfactual_goal(
    goal: &ClevrGoal,
    kind: CounterfactualKind,
    rng: &mut dyn RngCore,
) -> Result<ClevrGoal, SimError> {
    Ok(match goal {
        ClevrGoal::Relation { .. } => {
            let r = goal
                .as_relation()
                .ok_or_else(|| SimError::GoalMismatch("bad relation".into()))?;
            let n = swap_relation(r, kind, rng);
            ClevrGoal::relation(n.source, n.reference, n.direction)
        }
        ClevrGoal::Move { ball, direction } => match kind {
            CounterfactualKind::Target => ClevrGoal::Move {
                ball: other_ball(rng, &[*ball]),
                direction: *direction,
            },
            CounterfactualKind::Behavior => ClevrGoal::Move {
                ball: *ball,
                direction: other_direction(rng, *direction),
            },
        },
        ClevrGoal::Relations { relations } => {
            let mut relations = relations.clone();
            let i = rng.random_range(0..relations.len().max(1));
            if let Some(r) = relations.get(i).copied() {
                let involved: Vec<usize> = relations
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| *j != i)
                    .flat_map(|(_, x)| [x.source, x.reference])
                    .collect();
                let mut n = swap_relation(r, kind, rng);
                // Prefer a ball no other relation uses, so pairs are not repeated.
                let mut ex = involved;
                ex.extend([r.source, r.reference]);
                if kind == CounterfactualKind::Target && (0..NUM_BALLS).any(|b| !ex.contains(&b)) {
                    n.source = other_ball(rng, &ex);
                }
                relations[i] = n;
            }
            ClevrGoal::Relations { relations }
        }
        ClevrGoal::Order | ClevrGoal::Sort => {
            return Err(SimError::GoalMismatch(format!(
                "no counterfactual for '{}': it has no single manipulated ball or direction; \
                 counterfactuals exist for relation, move and multi-relation goals",
                goal.describe()
            )));
        }
    })
}

/// Counterfactual instruction (paper Table 5): the goal changed per `kind`, rendered with the
/// same background template as `instr`. The level is recomputed: a combination never seen in
/// training is `Counterfactual`, a training goal keeps `Seen`/`Rephrase`, compositions `Hard`.
pub fn counterfactual(
    instr: &Instruction,
    kind: CounterfactualKind,
    rng: &mut dyn RngCore,
) -> Result<Instruction, SimError> {
    let GoalSpec::Clevr(goal) = &instr.goal else {
        return Err(SimError::GoalMismatch(
            "CLEVR counterfactuals need a CLEVR goal (got a Meta-World one)".into(),
        ));
    };
    let new_goal = counterfactual_goal(goal, kind, rng)?;
    if let ClevrGoal::Relations { .. } = goal {
        let variant = HARD_FRAMES
            .iter()
            .position(|f| *f == instr.parts.template)
            .unwrap_or(0);
        let (text, parts) = render_hard(&new_goal, variant)
            .ok_or_else(|| SimError::GoalMismatch("cannot render hard goal".into()))?;
        return Ok(Instruction {
            text,
            parts,
            goal: GoalSpec::Clevr(new_goal),
            level: Level::Hard,
        });
    }
    // Find the template `instr` was rendered with (matching our own output, not parsing).
    let candidates = templates_for(goal);
    let (template, rephrase) = candidates
        .iter()
        .find(|(t, _)| render(t, goal).is_some_and(|(text, _)| text == instr.text))
        .copied()
        .or_else(|| candidates.first().copied())
        .ok_or_else(|| SimError::GoalMismatch("goal has no templates".into()))?;
    let level = level_of(&new_goal, rephrase);
    instruction(new_goal, &template, level)
        .ok_or_else(|| SimError::GoalMismatch("cannot render counterfactual goal".into()))
}
