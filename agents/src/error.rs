//! Errors of the command line, each mapped to an exit status.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum CliError {
    /// Bad user input: flags, names, config files, data files. Exit status 2.
    #[error("{0}")]
    Input(String),
    /// A command whose capability is not built yet. Exit status 2.
    #[error("`vlgor {0}` is not built yet: {1}")]
    NotBuilt(&'static str, &'static str),
    /// A quality gate failed (e.g. `eval --min-success`). Exit status 1.
    #[error("{0}")]
    Gate(String),
    /// Anything else (I/O, rendering, physics). Exit status 1.
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl CliError {
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Input(_) | CliError::NotBuilt(..) => 2,
            CliError::Gate(_) | CliError::Other(_) => 1,
        }
    }
}

impl From<vlgor_sim::SimError> for CliError {
    fn from(e: vlgor_sim::SimError) -> Self {
        match e {
            vlgor_sim::SimError::UnknownName { .. } | vlgor_sim::SimError::InvalidChoice(_) => {
                CliError::Input(e.to_string())
            }
            other => CliError::Other(other.into()),
        }
    }
}
