//! Rendering CLEVR goals to instruction text (never parsed back). The counterfactual generators
//! built on it live in [`super::counterfactual`].

use super::goal::{COLOR_NAMES, ClevrGoal, Relation};
use super::templates::{self, HARD_FRAMES, ORDER_TEXTS, SORT_TEXTS, Template};
use crate::{GoalSpec, Instruction, InstructionParts, Level};

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
