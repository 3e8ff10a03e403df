//! Physics validation of rollouts, real or imagined: every transition (s_k, a_k, s_{k+1}) is
//! checked against the simulators, each violation carrying a named [`Reason`] and a magnitude.
//!
//! * [`checks`] — pure checks on full simulator states: interpenetration, out of the workspace,
//!   teleport (displacement beyond the plausible speed); [`height`] — objects floating above
//!   the table with nothing holding them up.
//! * [`labels`] — reward, success and terminal labels recomputed from the goal and the states.
//! * [`replay`] — dynamics replay: [`Replayer`] sets the simulator to s_k, applies a_k `h` times
//!   and compares the objects with s_{k+1}.
//! * [`perceive`] — what a state readout sees ([`perceive`]) and full states rebuilt from it
//!   ([`perceived_to_state`]), so imagined rollouts (frames only) can be checked.
//! * [`verdict`] — valid / truncated at k / rejected under a [`Filter`].
//! * [`inject`] — the fault injector that measures the validator's recall.
//! * [`config`] — thresholds ([`ValidatorConfig`]), per environment.
//! * [`reason`] — [`Reason`] and [`Violation`]; [`objects`] — object sizes shared by the checks
//!   and the state rebuilding.
//!
//! Modules depend downward only: `reason`, `config`, `objects` ← `perceive` ← `replay` ←
//! `height` ← `checks` ← `labels` ← `inject`; `verdict` needs only `reason`.
//!
//! Frame consistency (render the state, compare with the frame) needs the renderer and lives in
//! the agents crate; its reason and threshold are defined here. Everything in this module is
//! deterministic and renders nothing. Units: metres, env steps; magnitudes are in the unit of
//! their reason (m, or dB for [`Reason::FrameConsistency`]).

pub mod checks;
pub mod config;
pub mod height;
pub mod inject;
pub mod labels;
pub mod objects;
pub mod perceive;
pub mod reason;
pub mod replay;
pub mod verdict;

pub use checks::check_states;
pub use config::ValidatorConfig;
pub use perceive::{perceive, perceived_to_state};
pub use reason::{Reason, Violation};
pub use replay::Replayer;
pub use verdict::{Filter, Verdict, VerdictKind, verdict};
