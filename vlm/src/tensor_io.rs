//! Atomic safetensors writes of named tch tensors, shared by every model checkpoint (world
//! model, readout, offline RL): tensors go to the CPU, into a temporary file beside the target
//! (`.NAME.tmp-PID`, the dataset writer's convention), which is fsynced and renamed over the
//! target; on failure the temporary is removed and the old file is untouched.

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

/// Writes `tensors` (name, tensor) to `path` as safetensors, atomically.
pub fn write_tensors_atomic(
    path: &Path,
    tensors: &[(String, Tensor)],
) -> Result<(), TensorWriteError> {
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
                .map_err(io(&tmp))
        })
        .and_then(|()| std::fs::rename(&tmp, path).map_err(io(path)));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
