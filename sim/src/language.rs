//! Language shared by both simulators.
//!
//! Every instruction is ⟨t, m, b⟩ — a background template `t`, a manipulation target `m` and a
//! behavior pattern `b` — rendered to text, **plus** a machine-checkable [`GoalSpec`] from which
//! reward and success are computed. Text is generated from the goal spec, never parsed back, so
//! text and success cannot disagree.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

use crate::SimError;

/// Evaluation level of an instruction (the paper's generalisation levels).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// Training goals with training text.
    Seen,
    /// Training goals with paraphrase templates never used in training text.
    Rephrase,
    /// Unseen (target, behavior) combinations whose parts each appear in training. CLEVR:
    /// "move ball X toward D" goals, judged on the first push (KALM's step level).
    Counterfactual,
    /// Compositions: several relations at once, ordering and sorting, or tasks in sequence.
    Hard,
    /// CLEVR only: held-out relational goals (an unseen source ball for a seen behavior), up
    /// to 50 pushes. Meta-World has no relational goals.
    #[serde(rename = "unseen-relation")]
    UnseenRelation,
}

impl Level {
    pub const ALL: [Level; 5] = [
        Level::Seen,
        Level::Rephrase,
        Level::Counterfactual,
        Level::UnseenRelation,
        Level::Hard,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Level::Seen => "seen",
            Level::Rephrase => "rephrase",
            Level::Counterfactual => "counterfactual",
            Level::UnseenRelation => "unseen-relation",
            Level::Hard => "hard",
        }
    }

    /// The levels environment `kind` defines, in report order.
    pub fn of_env(kind: crate::EnvKind) -> &'static [Level] {
        match kind {
            crate::EnvKind::Clevr => &Level::ALL,
            crate::EnvKind::MetaWorld => &[
                Level::Seen,
                Level::Rephrase,
                Level::Counterfactual,
                Level::Hard,
            ],
        }
    }

    /// Whether the level's episodes are judged on their first step alone (KALM's step level:
    /// CLEVR's directional goals). Meta-World episodes always run to success or the horizon.
    pub fn is_step_level(self, kind: crate::EnvKind) -> bool {
        self == Level::Counterfactual && kind == crate::EnvKind::Clevr
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Level {
    type Err = SimError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Level::ALL
            .into_iter()
            .find(|l| l.name() == s)
            .ok_or_else(|| SimError::unknown("level", s, &Level::ALL.map(Level::name)))
    }
}

/// Which part of an instruction a counterfactual generator replaces.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CounterfactualKind {
    /// Replace the manipulation target `m`, keep the behavior `b`.
    Target,
    /// Keep the manipulation target `m`, change the behavior pattern `b`.
    Behavior,
}

/// The ⟨t, m, b⟩ decomposition of an instruction, as words.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct InstructionParts {
    /// Background template `t` with `{target}`/`{behavior}`-style slots, as written.
    pub template: String,
    /// Manipulation target `m` (e.g. "red ball" and its reference "blue ball").
    pub target: String,
    /// Behavior pattern `b` (e.g. "to the left of", "along a straight-line trajectory").
    pub behavior: String,
}

/// The machine-checkable goal behind an instruction; one variant per simulator.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "env", rename_all = "snake_case")]
pub enum GoalSpec {
    Clevr(crate::clevr::ClevrGoal),
    #[serde(rename = "metaworld")]
    MetaWorld(crate::metaworld::MetaWorldGoal),
}

impl GoalSpec {
    /// Whether the goal is decided by an episode's first step (CLEVR directional goals,
    /// KALM's step level).
    pub fn is_step_level(&self) -> bool {
        matches!(self, GoalSpec::Clevr(g) if g.is_step_level())
    }
}

/// A natural-language instruction with its decomposition and goal.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Instruction {
    /// The text shown to the policy and the world model.
    pub text: String,
    pub parts: InstructionParts,
    pub goal: GoalSpec,
    pub level: Level,
}

/// One row of `vlgor tasks`: a level, a goal in words, and an example instruction.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskRow {
    pub level: Level,
    /// The goal in words (e.g. "red left-of blue", "push: puck to goal").
    pub goal: String,
    /// One example instruction text for this goal at this level.
    pub example: String,
}
