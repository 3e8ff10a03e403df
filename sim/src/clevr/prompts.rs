//! Counterfactual prompts aimed at an unseen level (the paper's §4.1: imagined rollouts are
//! generated *for* the levels' tasks). From an offline instruction, the target (`Target`) or
//! the behavior (`Behavior`) is swapped, and the swap is redrawn until the new goal belongs to
//! the level asked: a training goal re-rendered with a paraphrase template (rephrase), a
//! held-out directional goal (counterfactual) or a held-out relation (unseen-relation).

use rand::{Rng, RngCore};

use super::counterfactual;
use super::tasks::{instruction_at, split};
use crate::language::CounterfactualKind;
use crate::{GoalSpec, Instruction, Level};

/// Swaps drawn before a source instruction is declared unable to reach the level.
pub const PROMPT_TRIES: usize = 32;

/// The prompt of `kind` from `source` aimed at `level`; `None` when no swap of this kind from
/// this source lands on the level's goals (a relation cannot become a directional goal; hard
/// compositions have no single-swap source in the offline data).
pub fn aimed_prompt(
    source: &Instruction,
    level: Level,
    kind: CounterfactualKind,
    rng: &mut dyn RngCore,
) -> Option<Instruction> {
    let s = split();
    for _ in 0..PROMPT_TRIES {
        let swapped = counterfactual(source, kind, rng).ok()?;
        let GoalSpec::Clevr(goal) = &swapped.goal else {
            return None;
        };
        let hit = match level {
            Level::Seen | Level::Rephrase => s.training.contains(goal),
            Level::Counterfactual => s.counterfactual.contains(goal),
            Level::UnseenRelation => s.unseen_relation.contains(goal),
            Level::Hard => return None,
        };
        if !hit {
            continue;
        }
        return Some(if level == Level::Rephrase {
            instruction_at(goal, level, rng.random_range(0..usize::MAX))
        } else {
            swapped
        });
    }
    None
}
