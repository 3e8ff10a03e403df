//! Meta-World subset: the Sawyer hand (kinematic, spring-following its mocap target) with two
//! physical fingers, and the paper's ten tasks, simulated natively with rapier3d.
//!
//! * [`Task`] — the ten tasks; [`MetaWorldEnv`] — the simulator behind [`crate::Env`].
//! * [`reward`] — pure success/reward functions on a [`Perceived`] state.
//! * [`goal`] — the goal spec ([`MetaWorldGoal`]): stages and path constraints.

mod arm;
mod env;
pub mod expert;
pub mod goal;
mod language;
mod layout;
pub mod physics;
pub mod reward;
pub mod scene;
pub mod task;

pub use env::{ACTION_SCALE, HORIZON, MetaWorldEnv, STATE_LEN};
pub use goal::{MetaWorldGoal, PathConstraint, Stage};
pub use language::{counterfactual, sample_instruction, seen_surface_forms, task_table};
pub use reward::{EpisodeContext, Perceived};
pub use scene::CAMERAS;
pub use task::Task;
