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
//! Every file is written atomically (temporary file beside it, fsync, rename). A checkpoint's
//! JSON records its format version and the sha256 of its tensors; loading checks both, and the
//! run's sizes (observation statistics, widths, action space) before building networks from
//! them. A JSON of an earlier release (no sha256) loads unverified, with a warning.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use tch::{Device, Tensor};

use crate::RlError;
use crate::algo::{Algorithm, prefixed};
use crate::config::{RUN_FORMAT_VERSION, RunConfig};

pub const CONFIG_FILE: &str = "config.json";
pub const CHECKPOINT_DIR: &str = "checkpoints";
pub const LOG_FILE: &str = "train_log.jsonl";
/// Format version of checkpoint JSON this build writes and the newest it reads.
pub const CHECKPOINT_FORMAT_VERSION: u32 = 1;

/// The JSON beside a checkpoint's tensors. Keys serialise in a fixed order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckpointMeta {
    /// Absent in checkpoints of earlier releases.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format_version: Option<u32>,
    pub run: RunConfig,
    /// Epochs completed (1-based).
    pub epoch: u64,
    /// Updates completed.
    pub step: u64,
    /// Losses of the last update, by name.
    pub losses: BTreeMap<String, f64>,
    /// sha256 of the tensors file, filled in by [`save`]; absent in earlier releases.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tensors_sha256: Option<String>,
}

impl CheckpointMeta {
    /// The record of a checkpoint about to be saved (the sha256 is filled in by [`save`]).
    pub fn new(run: RunConfig, epoch: u64, step: u64, losses: BTreeMap<String, f64>) -> Self {
        CheckpointMeta {
            format_version: Some(CHECKPOINT_FORMAT_VERSION),
            run,
            epoch,
            step,
            losses,
            tensors_sha256: None,
        }
    }
}

/// Writes `bytes` to `path` atomically.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), RlError> {
    vlgor_sim::dataset::write_atomic(path, bytes)
        .map_err(|e| RlError::checkpoint(path, e.to_string()))
}

/// Writes named tensors as safetensors atomically; returns the file's sha256.
pub fn write_tensors_atomic(path: &Path, tensors: &[(String, Tensor)]) -> Result<String, RlError> {
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
    let mut tensors = prefixed(algo.model(), "model");
    tensors.extend(algo.extra_state());
    save_tensors(run_dir, meta, &tensors)
}

/// Saves named `tensors` (`model.*` and any state) as checkpoint `meta.epoch` of `run_dir`
/// (tensors first, then the JSON with their sha256); returns the tensors' path.
pub fn save_tensors(
    run_dir: &Path,
    meta: &CheckpointMeta,
    tensors: &[(String, Tensor)],
) -> Result<PathBuf, RlError> {
    let (tensors_path, meta_path) = checkpoint_paths(run_dir, meta.epoch);
    let sha = write_tensors_atomic(&tensors_path, tensors)?;
    let meta = CheckpointMeta {
        tensors_sha256: Some(sha),
        ..meta.clone()
    };
    let json = serde_json::to_vec_pretty(&meta).expect("checkpoint meta serialises");
    write_atomic(&meta_path, &json)?;
    Ok(tensors_path)
}

/// Reads and checks a checkpoint JSON: format version first (so a newer layout gets that
/// message), then the fields, then the run's sizes.
fn read_meta(path: &Path) -> Result<CheckpointMeta, RlError> {
    let text = std::fs::read_to_string(path).map_err(|e| RlError::io(path, e))?;
    let probe: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| RlError::checkpoint(path, format!("invalid checkpoint JSON: {e}")))?;
    let version = |v: Option<&serde_json::Value>| v.map(|v| v.as_u64().unwrap_or(0) as u32);
    vlgor_vlm::tensor_io::check_format_version(
        path,
        version(probe.get("format_version")),
        CHECKPOINT_FORMAT_VERSION,
    )
    .map_err(|p| RlError::checkpoint(path, strip_path(path, p)))?;
    vlgor_vlm::tensor_io::check_format_version(
        path,
        version(probe.get("run").and_then(|r| r.get("format_version"))),
        RUN_FORMAT_VERSION,
    )
    .map_err(|p| RlError::checkpoint(path, format!("run: {}", strip_path(path, p))))?;
    let meta: CheckpointMeta = serde_json::from_value(probe)
        .map_err(|e| RlError::checkpoint(path, format!("invalid checkpoint JSON: {e}")))?;
    crate::validate::check_run(&meta.run).map_err(|p| RlError::checkpoint(path, p))?;
    Ok(meta)
}

/// `check_format_version` names the file; [`RlError::Checkpoint`] does too.
fn strip_path(path: &Path, message: String) -> String {
    let prefix = format!("{}: ", path.display());
    message
        .strip_prefix(&prefix)
        .map(str::to_string)
        .unwrap_or(message)
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
/// `meta.step` updates) of the checkpoint at `tensors_path` into `algo`, after checking the
/// file's sha256 against `meta`'s.
pub fn load_into(
    algo: &mut dyn Algorithm,
    tensors_path: &Path,
    meta: &CheckpointMeta,
    with_state: bool,
    device: Device,
) -> Result<(), RlError> {
    vlgor_vlm::tensor_io::verify_sha256(tensors_path, meta.tensors_sha256.as_deref())
        .map_err(|p| RlError::checkpoint(tensors_path, strip_path(tensors_path, p)))?;
    let tensors = read_tensors(tensors_path, device)?;
    crate::algo::load_prefixed(algo.model(), "model", &tensors, tensors_path)?;
    if with_state {
        algo.load_extra_state(&tensors, meta.step, tensors_path)?;
    }
    Ok(())
}

/// Removes temporaries (`.NAME.tmp-PID`) a killed run left in the run directory and its
/// `checkpoints/`, so a resumed run ends with the same files as an uninterrupted one.
pub fn remove_stale_temporaries(run_dir: &Path) {
    for dir in [run_dir.to_path_buf(), run_dir.join(CHECKPOINT_DIR)] {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') && name.contains(".tmp-") {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}
