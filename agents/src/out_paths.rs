//! Output paths checked before a command writes anything: an output directory must not be a
//! file nor another kind of vlgor directory, an output file must not be a directory. Every
//! refusal is bad input (exit status 2) naming the flag and the path.

use std::path::Path;

use crate::error::CliError;

/// The kinds of directory vlgor writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DirKind {
    /// `manifest.json` + `shards/` (`collect`, `imagine`).
    Dataset,
    /// `config.json` + `checkpoints/` (`train-policy`).
    PolicyRun,
    /// `base/`, `lora/`, `full/` or `readout/` stages (`train-vlm`).
    VlmRun,
    /// `stages/` (`pipeline`).
    Pipeline,
}

impl DirKind {
    fn describe(self) -> &'static str {
        match self {
            DirKind::Dataset => "a dataset (manifest.json)",
            DirKind::PolicyRun => "a policy run (config.json + checkpoints/)",
            DirKind::VlmRun => "a world-model run (base/, lora/, full/ or readout/)",
            DirKind::Pipeline => "a pipeline directory (stages/)",
        }
    }
}

/// What kind of vlgor directory `dir` is, if any.
pub fn kind_of(dir: &Path) -> Option<DirKind> {
    if dir.join("manifest.json").is_file() {
        Some(DirKind::Dataset)
    } else if dir.join("stages").is_dir() {
        Some(DirKind::Pipeline)
    } else if dir.join("checkpoints").is_dir() || dir.join("config.json").is_file() {
        Some(DirKind::PolicyRun)
    } else if ["base", "lora", "full", "readout"]
        .iter()
        .any(|s| dir.join(s).is_dir())
    {
        Some(DirKind::VlmRun)
    } else {
        None
    }
}

/// Refuses `dir` (given as `flag`) as an output directory of kind `wanted` when it is an
/// existing file or holds another kind of vlgor directory.
pub fn check_out_dir(dir: &Path, flag: &str, wanted: DirKind) -> Result<(), CliError> {
    if dir.exists() && !dir.is_dir() {
        return Err(CliError::Input(format!(
            "{flag} {}: exists and is not a directory",
            dir.display()
        )));
    }
    match kind_of(dir) {
        Some(found) if found != wanted => Err(CliError::Input(format!(
            "{flag} {}: holds {}, not {}; choose another directory",
            dir.display(),
            found.describe(),
            wanted.describe()
        ))),
        _ => Ok(()),
    }
}

/// Refuses `file` (given as `flag`) as an output file when it is an existing directory.
pub fn check_out_file(file: &Path, flag: &str) -> Result<(), CliError> {
    if file.is_dir() {
        return Err(CliError::Input(format!(
            "{flag} {}: is a directory; give a file path",
            file.display()
        )));
    }
    Ok(())
}
