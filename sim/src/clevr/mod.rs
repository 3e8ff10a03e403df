//! CLEVR-Robot, native: five rubber balls on a table pushed by a "silver point", 40 discrete
//! push actions, relational and directional language goals (KALM's setup, used by VLGOR).
//!
//! * [`physics`] — the rapier3d scene and one push (0.4 s); canonical, bit-exact stepping.
//! * [`goal`] — goals and their pure success / reward tests on ball positions.
//! * [`judge`] — KALM's step-level judges of one push for directional goals.
//! * [`templates`], [`text`] — instruction text from goals.
//! * [`counterfactual`] — the counterfactual generators (goal swaps, re-rendered and re-levelled).
//! * [`tasks`] — the seeded split and instruction sampling per level, the task table.
//! * [`prompts`] — counterfactual prompts aimed at an unseen level.
//! * [`expert`] — the scripted lookahead expert.
//! * [`env`] — [`ClevrEnv`], the [`crate::Env`] implementation; [`view`] — its scene.
//!
//! Convention: left = -x, right = +x, front = -y (closer to the default camera), behind = +y.

pub mod counterfactual;
pub mod env;
pub mod expert;
pub mod goal;
pub mod judge;
pub mod layout;
pub mod physics;
pub mod prompts;
pub mod tasks;
pub mod templates;
pub mod text;
pub mod view;

pub use crate::language::CounterfactualKind;
pub use counterfactual::counterfactual;
pub use env::{ClevrEnv, HORIZON};
pub use goal::{COLOR_NAMES, ClevrGoal, Direction, Relation};
pub use judge::StepJudges;
pub use physics::{DIRECTIONS, NUM_ACTIONS, NUM_BALLS};
pub use tasks::{Split, sample_instruction, split, task_table};
