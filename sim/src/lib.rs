//! Native simulators for vlgor.
//!
//! * [`clevr`] — CLEVR-Robot: five balls on a table, 40 discrete push actions, relational goals.
//! * [`metaworld`] — a Meta-World subset: Sawyer hand and arm, 10 manipulation tasks.
//!
//! Both share the language types of [`language`] (instructions ⟨t, m, b⟩ with a machine-checkable
//! goal spec), the [`env::Env`] trait used by data collection and evaluation, and the plain scene
//! description of [`scene`] that the renderer draws. This crate knows nothing about rendering or
//! learning. Units: metres, radians, seconds; one `step` is one environment step.

pub mod clevr;
pub mod dataset;
pub mod env;
pub mod episode;
pub mod error;
pub mod language;
pub mod metaworld;
pub mod scene;
pub mod spec;
pub mod validate;

pub use env::{Action, Env, EnvKind, StepOutcome};
pub use error::SimError;
pub use language::{GoalSpec, Instruction, InstructionParts, Level, TaskRow};
pub use scene::{Camera, Light, Scene, Shape, ShapeKind};
pub use spec::{EnvSpec, TaskChoice};
