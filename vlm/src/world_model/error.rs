//! Errors of the world model, its training and imagination.

use thiserror::Error;

/// What went wrong; messages name the bad value and, where it helps, the valid ones.
#[derive(Debug, Error)]
pub enum WorldModelError {
    #[error("invalid input: {0}")]
    BadInput(String),
    #[error("torch: {0}")]
    Torch(#[from] tch::TchError),
    #[error("text encoder: {0}")]
    Encoder(#[from] crate::encoder::EncoderError),
    #[error("renderer: {0}")]
    Render(#[from] vlgor_render::RenderError),
    #[error("simulator: {0}")]
    Sim(#[from] vlgor_sim::SimError),
    #[error("io on {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    /// A checkpoint file could not be written (the previous file, if any, is intact).
    #[error("cannot write the checkpoint: {0}")]
    Write(String),
    #[error("config json {path}: {source}")]
    Json {
        path: String,
        source: serde_json::Error,
    },
}
