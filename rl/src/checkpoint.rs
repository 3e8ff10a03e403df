//! Run directories and checkpoints.
//!
//! Layout of a run directory:
//! - `config.json` — the [`RunConfig`];
//! - `checkpoints/epoch-NNNN.safetensors` — model weights (`model.*`), target networks
//!   (`target.*`) and Adam moments (`adam.*`) after epoch NNNN;
//! - `checkpoints/epoch-NNNN.json` — its [`CheckpointMeta`], written after the tensors, so a
//!   checkpoint counts only when both exist;
//! - `train_log.jsonl` — one JSON object per logged step.
//!
//! Every file is written atomically (temporary file beside it, fsync, rename).

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use tch::{Device, Tensor};

use crate::RlError;
use crate::algo::{Algorithm, prefixed};
use crate::config::RunConfig;

pub const CONFIG_FILE: &str = "config.json";
pub const CHECKPOINT_DIR: &str = "checkpoints";
pub const LOG_FILE: &str = "train_log.jsonl";

/// The JSON beside a checkpoint's tensors.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckpointMeta {
    pub run: RunConfig,
    /// Epochs completed (1-based).
    pub epoch: u64,
    /// Updates completed.
    pub step: u64,
    /// Losses of the last update.
    pub losses: HashMap<String, f64>,
}

/// Writes `bytes` to `path` atomically.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), RlError> {
    vlgor_sim::dataset::write_atomic(path, bytes)
        .map_err(|e| RlError::checkpoint(path, e.to_string()))
}

/// Writes named tensors as safetensors atomically.
pub fn write_tensors_atomic(path: &Path, tensors: &[(String, Tensor)]) -> Result<(), RlError> {
    vlgor_vlm::tensor_io::write_tensors_atomic(path, tensors)
        .map_err(|e| RlError::checkpoint(path, e.to_string()))
}

/// Reads a safetensors file into a name → tensor map on `device`.
pub fn read_tensors(path: &Path, device: Device) -> Result<HashMap<String, Tensor>, RlError> {
    let list =
        Tensor::read_safetensors(path).map_err(|e| RlError::checkpoint(path, e.to_string()))?;
    Ok(list
        .into_iter()
        .map(|(n, t)| (n, t.to_device(device)))
        .collect())
}

/// Paths of epoch `epoch`'s checkpoint: (tensors, meta).
pub fn checkpoint_paths(run_dir: &Path, epoch: u64) -> (PathBuf, PathBuf) {
    let dir = run_dir.join(CHECKPOINT_DIR);
    (
        dir.join(format!("epoch-{epoch:04}.safetensors")),
        dir.join(format!("epoch-{epoch:04}.json")),
    )
}

/// Saves `algo` after `epoch` epochs and `step` updates; returns the tensors' path.
pub fn save(
    run_dir: &Path,
    meta: &CheckpointMeta,
    algo: &dyn Algorithm,
) -> Result<PathBuf, RlError> {
    let (tensors_path, meta_path) = checkpoint_paths(run_dir, meta.epoch);
    let mut tensors = prefixed(algo.model(), "model");
    tensors.extend(algo.extra_state());
    write_tensors_atomic(&tensors_path, &tensors)?;
    let json = serde_json::to_vec_pretty(meta).expect("checkpoint meta serialises");
    write_atomic(&meta_path, &json)?;
    Ok(tensors_path)
}

fn read_meta(path: &Path) -> Result<CheckpointMeta, RlError> {
    let text = std::fs::read_to_string(path).map_err(|e| RlError::io(path, e))?;
    serde_json::from_str(&text)
        .map_err(|e| RlError::checkpoint(path, format!("invalid checkpoint JSON: {e}")))
}

/// The newest complete checkpoint of `run_dir` (both files present), if any.
pub fn latest(run_dir: &Path) -> Result<Option<(PathBuf, CheckpointMeta)>, RlError> {
    let dir = run_dir.join(CHECKPOINT_DIR);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(None);
    };
    let mut epochs: Vec<u64> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.strip_prefix("epoch-")?
                .strip_suffix(".json")?
                .parse()
                .ok()
        })
        .collect();
    epochs.sort_unstable();
    for epoch in epochs.into_iter().rev() {
        let (tensors, meta) = checkpoint_paths(run_dir, epoch);
        if tensors.is_file() {
            return Ok(Some((tensors, read_meta(&meta)?)));
        }
    }
    Ok(None)
}

/// Resolves a run directory (its newest checkpoint), a checkpoint `.safetensors` file or its
/// `.json` to (tensors path, meta).
pub fn resolve(path: &Path) -> Result<(PathBuf, CheckpointMeta), RlError> {
    if path.is_dir() {
        return latest(path)?.ok_or_else(|| {
            RlError::checkpoint(path, "no checkpoint here (expected checkpoints/epoch-NNNN.{safetensors,json}); train first")
        });
    }
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    let (tensors, meta) = match ext {
        "safetensors" => (path.to_path_buf(), path.with_extension("json")),
        "json" => (path.with_extension("safetensors"), path.to_path_buf()),
        _ => {
            return Err(RlError::checkpoint(
                path,
                "not a policy: give a run directory, a checkpoint .safetensors file or its .json",
            ));
        }
    };
    if !tensors.is_file() {
        return Err(RlError::checkpoint(&tensors, "checkpoint tensors missing"));
    }
    Ok((tensors, read_meta(&meta)?))
}

/// Loads the `model.*` weights (and, with `with_state`, targets and optimiser moments after
/// `step` updates) of the checkpoint at `tensors_path` into `algo`.
pub fn load_into(
    algo: &mut dyn Algorithm,
    tensors_path: &Path,
    step: u64,
    with_state: bool,
    device: Device,
) -> Result<(), RlError> {
    let tensors = read_tensors(tensors_path, device)?;
    crate::algo::load_prefixed(algo.model(), "model", &tensors, tensors_path)?;
    if with_state {
        algo.load_extra_state(&tensors, step, tensors_path)?;
    }
    Ok(())
}
