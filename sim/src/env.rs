//! The environment interface shared by both simulators, used by data collection, evaluation and
//! validation. One `step` is one environment step (CLEVR: one 0.4 s push; Meta-World: 0.0125 s).

use rand::RngCore;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

use crate::{Instruction, Scene, SimError};

/// Which simulator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EnvKind {
    Clevr,
    #[serde(rename = "metaworld")]
    MetaWorld,
}

impl EnvKind {
    pub const ALL: [EnvKind; 2] = [EnvKind::Clevr, EnvKind::MetaWorld];

    pub fn name(self) -> &'static str {
        match self {
            EnvKind::Clevr => "clevr",
            EnvKind::MetaWorld => "metaworld",
        }
    }

    /// One line for `--help`.
    pub fn describe(self) -> &'static str {
        match self {
            EnvKind::Clevr => "CLEVR-Robot: 5 balls, 40 push actions",
            EnvKind::MetaWorld => "Meta-World: Sawyer arm, 10 tasks",
        }
    }
}

impl fmt::Display for EnvKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for EnvKind {
    type Err = SimError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EnvKind::ALL
            .into_iter()
            .find(|e| e.name() == s)
            .ok_or_else(|| SimError::unknown("env", s, &EnvKind::ALL.map(EnvKind::name)))
    }
}

/// An action: CLEVR uses `Discrete(ball * 8 + direction)` in 0..40, Meta-World
/// `Continuous([dx, dy, dz, grip])` in [-1, 1]^4.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Action {
    Discrete(u32),
    Continuous([f32; 4]),
}

/// What one step produced.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StepOutcome {
    pub reward: f32,
    /// The instruction's goal holds after this step.
    pub success: bool,
    /// The episode ended because of the task (CLEVR: at success).
    pub terminal: bool,
    /// The episode ended because the horizon was reached.
    pub timeout: bool,
}

/// A simulator instance pursuing one instruction at a time.
///
/// Contract: `set_state(&s)` followed by `step(a)` gives bit-identical results to stepping the
/// instance `s` was read from; the same seed and actions give bit-identical states.
pub trait Env: Send {
    fn kind(&self) -> EnvKind;
    /// Starts an episode from the initial state drawn from `seed`, pursuing `instruction`.
    fn reset(&mut self, seed: u64, instruction: &Instruction) -> Result<(), SimError>;
    fn step(&mut self, action: &Action) -> Result<StepOutcome, SimError>;
    /// The low-dimensional observation (CLEVR: ten ball x/y values; Meta-World: the 39-d vector).
    fn observation(&self) -> Vec<f32>;
    /// The full physical and episode state, enough to re-render and re-simulate.
    fn state(&self) -> Vec<f32>;
    fn set_state(&mut self, state: &[f32]) -> Result<(), SimError>;
    /// The scene as seen from a named camera preset (see [`Env::cameras`]).
    fn scene(&self, camera: &str) -> Result<Scene, SimError>;
    /// Camera preset names; the first is the default.
    fn cameras(&self) -> &'static [&'static str];
    /// The scripted expert's action for the current state; with probability `noise` a random one.
    fn expert_action(&mut self, noise: f32, rng: &mut dyn RngCore) -> Action;
    /// A uniformly random action.
    fn random_action(&self, rng: &mut dyn RngCore) -> Action;
    fn instruction(&self) -> &Instruction;
    /// Steps taken in the current episode.
    fn steps(&self) -> usize;
    /// Steps the current episode may take (it can depend on the instruction: a CLEVR
    /// directional goal is decided by one push).
    fn horizon(&self) -> usize;
    /// The step-level judges of the episode's first step, once taken, for goals decided by it
    /// (CLEVR directional goals); `None` otherwise.
    fn step_judges(&self) -> Option<crate::clevr::StepJudges> {
        None
    }
}
