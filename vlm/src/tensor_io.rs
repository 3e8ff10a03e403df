//! Atomic safetensors writes of named tch tensors, shared by every model checkpoint (world
//! model, readout, offline RL): tensors go to the CPU, into a temporary file beside the target
//! (`.NAME.tmp-PID`, the dataset writer's convention), which is fsynced and renamed over the
//! target; on failure the temporary is removed and the old file is untouched. Every write
//! returns the file's sha256, which the checkpoint's JSON records; [`verify_sha256`] checks it
//! at load.

use std::path::{Path, PathBuf};
use tch::{Device, Tensor};

/// What went wrong, naming the file.
#[derive(Debug, thiserror::Error)]
pub enum TensorWriteError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {source}", path.display())]
    Torch {
        path: PathBuf,
        #[source]
        source: tch::TchError,
    },
}

/// Format version of the checkpoint JSON files this build writes and the newest it reads
/// (world model, readout; the policy checkpoint keeps its own constant in `vlgor-rl`).
pub const CHECKPOINT_FORMAT_VERSION: u32 = 1;

/// Writes `tensors` (name, tensor) to `path` as safetensors, atomically; returns the sha256
/// (lower-case hex) of the bytes written.
pub fn write_tensors_atomic(
    path: &Path,
    tensors: &[(String, Tensor)],
) -> Result<String, TensorWriteError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| TensorWriteError::Io { path, source }
    };
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let cpu: Vec<(String, Tensor)> = tensors
        .iter()
        .map(|(n, t)| (n.clone(), t.to_device(Device::Cpu).contiguous()))
        .collect();
    let result = Tensor::write_safetensors(&cpu, &tmp)
        .map_err(|source| TensorWriteError::Torch {
            path: tmp.clone(),
            source,
        })
        .and_then(|()| {
            std::fs::File::open(&tmp)
                .and_then(|f| f.sync_all())
                .and_then(|()| std::fs::read(&tmp))
                .map_err(io(&tmp))
        })
        .and_then(|bytes| {
            std::fs::rename(&tmp, path).map_err(io(path))?;
            Ok(vlgor_sim::dataset::sha256_hex(&bytes))
        });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Checks that `path` hashes to `expected` (a sha256 recorded in the checkpoint's JSON). A
/// missing `expected` is a checkpoint of an earlier release: loaded unverified, with a warning.
/// The error names the file and says what differs.
pub fn verify_sha256(path: &Path, expected: Option<&str>) -> Result<(), String> {
    let Some(expected) = expected else {
        tracing::warn!(
            "{}: no sha256 recorded (a checkpoint of an earlier release); loading it unverified",
            path.display()
        );
        return Ok(());
    };
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let actual = vlgor_sim::dataset::sha256_hex(&bytes);
    if actual == expected {
        Ok(())
    } else {
        Err(format!(
            "{}: checksum mismatch (the checkpoint's JSON says sha256 {expected}, the file has \
             {actual}); the file was modified or damaged",
            path.display()
        ))
    }
}

/// Refuses a checkpoint JSON `path` whose `format_version` is newer than `supported` or 0;
/// `None` (absent) is an earlier release's file and passes.
pub fn check_format_version(path: &Path, found: Option<u32>, supported: u32) -> Result<(), String> {
    match found {
        Some(v) if v > supported => Err(format!(
            "{}: format version {v} is newer than this vlgor supports ({supported}); upgrade vlgor",
            path.display()
        )),
        Some(0) => Err(format!("{}: invalid \"format_version\" 0", path.display())),
        _ => Ok(()),
    }
}

/// Reads the safetensors file `path` into `vars` (name → variable): the file must hold exactly
/// these names, each with the variable's shape. Errors name the file and the tensor.
pub fn read_into(
    path: &Path,
    vars: &std::collections::HashMap<String, Tensor>,
) -> Result<(), String> {
    let loaded = Tensor::read_safetensors(path).map_err(|e| {
        format!(
            "{}: not a readable safetensors file (truncated or corrupt): {e}",
            path.display()
        )
    })?;
    if loaded.len() != vars.len() {
        return Err(format!(
            "{} holds {} tensors, the model expects {}",
            path.display(),
            loaded.len(),
            vars.len()
        ));
    }
    for (name, t) in &loaded {
        let dst = vars
            .get(name)
            .ok_or_else(|| format!("{} holds unexpected tensor '{name}'", path.display()))?;
        if dst.size() != t.size() {
            return Err(format!(
                "{}: '{name}' has shape {:?}, the model expects {:?}",
                path.display(),
                t.size(),
                dst.size()
            ));
        }
        tch::no_grad(|| dst.shallow_clone().f_copy_(t))
            .map_err(|e| format!("{}: '{name}': {e}", path.display()))?;
    }
    Ok(())
}
