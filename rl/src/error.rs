//! Errors of offline RL; each names what went wrong and, where it applies, the valid values.

use std::path::{Path, PathBuf};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum RlError {
    /// A loss or value became NaN or infinite: training stops at that step.
    #[error(
        "{what} became {value} at step {step} (epoch {epoch}); lower the learning rate or check the data for NaN/inf values"
    )]
    NonFinite {
        what: String,
        value: f64,
        step: u64,
        epoch: u64,
    },
    /// Bad configuration or input (names the key and what is allowed).
    #[error("{0}")]
    Input(String),
    /// A run directory or checkpoint is missing, incomplete or inconsistent.
    #[error("{}: {problem}", path.display())]
    Checkpoint { path: PathBuf, problem: String },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Dataset(#[from] vlgor_sim::dataset::DatasetError),
    #[error(transparent)]
    Encoder(#[from] vlgor_vlm::EncoderError),
    #[error(transparent)]
    Torch(#[from] tch::TchError),
}

impl RlError {
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        RlError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    pub fn checkpoint(path: &Path, problem: impl Into<String>) -> Self {
        RlError::Checkpoint {
            path: path.to_path_buf(),
            problem: problem.into(),
        }
    }
}
