//! Errors returned to users of the simulators (bad task names, bad states, unstable physics).

use thiserror::Error;

#[derive(Debug, Error)]
pub enum SimError {
    /// An environment, task, level or camera name that does not exist; lists the valid ones.
    #[error("unknown {what} '{name}'; valid {what}s: {valid}")]
    UnknownName {
        what: &'static str,
        name: String,
        valid: String,
    },
    /// A combination of choices that does not exist (e.g. a task for an env without tasks).
    #[error("{0}")]
    InvalidChoice(String),
    /// A state vector of the wrong length or with non-finite values.
    #[error("invalid state: {0}")]
    InvalidState(String),
    /// An action outside the action space.
    #[error("invalid action: {0}")]
    InvalidAction(String),
    /// The physics produced non-finite or exploding values.
    #[error("physics diverged: {0}")]
    PhysicsDiverged(String),
    /// A goal spec that does not belong to this environment.
    #[error("goal spec mismatch: {0}")]
    GoalMismatch(String),
}

impl SimError {
    /// Builds an [`SimError::UnknownName`] listing `valid`.
    pub fn unknown(what: &'static str, name: &str, valid: &[&str]) -> Self {
        SimError::UnknownName {
            what,
            name: name.to_string(),
            valid: valid.join(", "),
        }
    }
}
