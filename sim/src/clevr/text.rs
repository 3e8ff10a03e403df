//! Rendering CLEVR goals to instruction text (never parsed back), and the counterfactual
//! generators of the paper (Table 5): a counterfactual target replaces the manipulated ball and
//! keeps the behavior; a counterfactual behavior keeps the ball and changes the direction. Both
//! keep the background template `t`.

use rand::{Rng, RngCore};

use super::goal::{COLOR_NAMES, ClevrGoal, Direction, Relation};
use super::physics::NUM_BALLS;
use super::tasks::level_of;
use super::templates::{self, HARD_FRAMES, ORDER_TEXTS, SORT_TEXTS, Template};
use crate::language::CounterfactualKind;
use crate::{GoalSpec, Instruction, InstructionParts, Level, SimError};

fn fill(frame: &str, target: &str, behavior: &str) -> String {
    frame
        .replace("{target}", target)
        .replace("{behavior}", behavior)
}

fn relation_parts(t: &Template, r: &Relation) -> (String, String) {
    let target = format!("{} {}", COLOR_NAMES[r.source], t.style.noun);
    let behavior = t
        .style
        .phrase(r.direction)
        .replace("{ref}", COLOR_NAMES[r.reference]);
    (target, behavior)
}

/// Renders a single-relation or directional goal with template `t`.
/// Returns `None` for hard goals (see [`render_hard`]).
pub fn render(t: &Template, goal: &ClevrGoal) -> Option<(String, InstructionParts)> {
    let (target, behavior) = match goal {
        ClevrGoal::Relation { .. } => relation_parts(t, &goal.as_relation()?),
        ClevrGoal::Move { ball, direction } => (
            format!("{} {}", COLOR_NAMES[*ball], t.style.noun),
            t.style.phrase(*direction).to_string(),
        ),
        _ => return None,
    };
    let text = fill(t.frame, &target, &behavior);
    Some((
        text,
        InstructionParts {
            template: t.frame.to_string(),
            target,
            behavior,
        },
    ))
}

/// Renders a hard goal; `variant` picks the frame or fixed text (taken modulo their number).
pub fn render_hard(goal: &ClevrGoal, variant: usize) -> Option<(String, InstructionParts)> {
    let all = "red, blue, green, purple and cyan balls".to_string();
    match goal {
        ClevrGoal::Relations { relations } => {
            let style = templates::relation_training()[0];
            let clauses: Vec<String> = relations
                .iter()
                .map(|r| {
                    let (t, b) = relation_parts(&style, r);
                    format!("the {t} is {b}")
                })
                .collect();
            let behavior = join_and(&clauses);
            let target = join_and(
                &relations
                    .iter()
                    .map(|r| format!("{} ball", COLOR_NAMES[r.source]))
                    .collect::<Vec<_>>(),
            );
            let frame = HARD_FRAMES[variant % HARD_FRAMES.len()];
            Some((
                fill(frame, &target, &behavior),
                InstructionParts {
                    template: frame.to_string(),
                    target,
                    behavior,
                },
            ))
        }
        ClevrGoal::Order => {
            let text = ORDER_TEXTS[variant % ORDER_TEXTS.len()];
            Some((
                text.to_string(),
                fixed_parts(text, all, "in a row from left to right"),
            ))
        }
        ClevrGoal::Sort => {
            let text = SORT_TEXTS[variant % SORT_TEXTS.len()];
            Some((
                text.to_string(),
                fixed_parts(text, all, "gathered around the green ball"),
            ))
        }
        _ => None,
    }
}

fn fixed_parts(text: &str, target: String, behavior: &str) -> InstructionParts {
    InstructionParts {
        template: text.to_string(),
        target,
        behavior: behavior.to_string(),
    }
}

fn join_and(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {}", init.join(", "), last),
    }
}

/// Builds the instruction for `goal` with template `t` (single goals) at `level`.
pub fn instruction(goal: ClevrGoal, t: &Template, level: Level) -> Option<Instruction> {
    let (text, parts) = render(t, &goal)?;
    Some(Instruction {
        text,
        parts,
        goal: GoalSpec::Clevr(goal),
        level,
    })
}

/// All templates a single goal of this kind can be rendered with: (template, is_rephrase).
pub fn templates_for(goal: &ClevrGoal) -> Vec<(Template, bool)> {
    let (train, rephrase) = match goal {
        ClevrGoal::Relation { .. } => (
            templates::relation_training(),
            templates::relation_rephrase(),
        ),
        ClevrGoal::Move { .. } => (templates::move_training(), templates::move_rephrase()),
        _ => return Vec::new(),
    };
    train
        .into_iter()
        .map(|t| (t, false))
        .chain(rephrase.into_iter().map(|t| (t, true)))
        .collect()
}

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
