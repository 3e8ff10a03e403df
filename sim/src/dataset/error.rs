//! Dataset errors: each names the file and the problem.

use std::path::{Path, PathBuf};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum DatasetError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file exists but its content is not what the format requires.
    #[error("{}: {problem}", path.display())]
    Corrupt { path: PathBuf, problem: String },
    /// The file's sha256 differs from the one the manifest records.
    #[error("{}: checksum mismatch (manifest says sha256 {expected}, file has {actual}); the file was modified or damaged", path.display())]
    Checksum {
        path: PathBuf,
        expected: String,
        actual: String,
    },
    /// The manifest was written by a newer vlgor.
    #[error("{}: format version {found} is newer than this vlgor supports ({supported}); upgrade vlgor", path.display())]
    NewerFormat {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    /// The dataset belongs to another environment.
    #[error("{}: dataset is for env '{found}', expected '{expected}'", path.display())]
    WrongEnv {
        path: PathBuf,
        found: String,
        expected: String,
    },
    /// A resumed collection was started with different arguments.
    #[error("{}: the dataset there was collected with different arguments ({difference}); use another --out or the same arguments", path.display())]
    ArgumentsDiffer { path: PathBuf, difference: String },
}

impl DatasetError {
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        DatasetError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    pub fn corrupt(path: &Path, problem: impl Into<String>) -> Self {
        DatasetError::Corrupt {
            path: path.to_path_buf(),
            problem: problem.into(),
        }
    }
}
