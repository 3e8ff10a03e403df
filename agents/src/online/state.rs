//! What an online run directory holds and how a run is resumed.
//!
//! ```text
//! RUN/online.json                 the run record (settings; a resume must match it)
//! RUN/state/step-NNNNNNNNNN.{safetensors,json}
//!                                 the newest resume checkpoint: networks, targets, Adam
//!                                 moments, replay buffer, goal embeddings (tensors) and the
//!                                 loop's counters, running episodes and evaluations (JSON)
//! RUN/policy/checkpoints/epoch-NNNN.{safetensors,json}
//!                                 the greedy policy at evaluation N (offline layout: `vlgor
//!                                 eval RUN/policy` reads it)
//! RUN/evals.jsonl                 one line per evaluation (no timings: same seed, same bytes)
//! RUN/summary.json                the last invocation's totals and timings
//! ```

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::slots::SlotRecord;
use crate::cli::{AdvisorArg, RewardArg};
use crate::error::CliError;

pub const RECORD_FILE: &str = "online.json";
pub const STATE_DIR: &str = "state";
pub const POLICY_DIR: &str = "policy";
pub const EVALS_FILE: &str = "evals.jsonl";
pub const SUMMARY_FILE: &str = "summary.json";
/// Format version of `online.json` and the state JSON this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// The settings of a run; `--resume` refuses other ones (only `--steps` may change).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub format_version: u32,
    pub env: String,
    /// `clevr` or the Meta-World task.
    pub task: String,
    pub level: String,
    pub algo: String,
    pub advisor: AdvisorArg,
    pub reward: RewardArg,
    pub seed: u64,
    pub online: vlgor_rl::online::OnlineConfig,
    /// The paper's network widths (`rl.text_hidden`, `rl.feature_dim`, `rl.joint_dim`).
    pub widths: [usize; 3],
    /// The advising world model's run directory.
    pub vlm: Option<String>,
}

/// One closed-loop evaluation (a line of `evals.jsonl`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvalRecord {
    pub env_steps: u64,
    pub updates: u64,
    /// Training episodes finished so far, and the success rate of those finished since the
    /// previous evaluation.
    pub train_episodes: u64,
    pub train_success_rate: Option<f64>,
    /// Closed-loop success of the greedy policy on the evaluation episodes.
    pub success_rate: f64,
    pub eval_episodes: usize,
    /// Advised vector steps so far, and the BC weight at this step.
    pub advised_steps: u64,
    pub bc_weight: f64,
    /// Losses of the last update.
    pub losses: BTreeMap<String, f64>,
    /// The policy checkpoint evaluated, relative to the run directory.
    pub checkpoint: String,
}

/// Counters of the loop, saved in every resume checkpoint.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Counters {
    pub vector_steps: u64,
    pub env_steps: u64,
    pub updates: u64,
    /// Training episodes started (the next one's index).
    pub episodes_started: u64,
    pub episodes_finished: u64,
    /// Finished episodes and successes since the last evaluation.
    pub window_episodes: u64,
    pub window_successes: u64,
    pub advised_steps: u64,
    /// Hindsight-relabelled transitions added to the replay buffer (`online.hindsight`).
    #[serde(default)]
    pub relabelled: u64,
    pub last_losses: BTreeMap<String, f64>,
}

/// The JSON of a resume checkpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StateMeta {
    pub format_version: u32,
    pub counters: Counters,
    pub slots: Vec<SlotRecord>,
    /// Instructions of the goal table's rows, in row order.
    pub goal_texts: Vec<String>,
    pub replay_len: usize,
    pub replay_head: usize,
    pub evals: Vec<EvalRecord>,
    pub tensors_sha256: String,
}

/// Paths of the resume checkpoint after `env_steps` steps: (tensors, meta).
pub fn state_paths(out: &Path, env_steps: u64) -> (PathBuf, PathBuf) {
    let dir = out.join(STATE_DIR);
    (
        dir.join(format!("step-{env_steps:010}.safetensors")),
        dir.join(format!("step-{env_steps:010}.json")),
    )
}

/// The newest resume checkpoint (JSON present), if any.
pub fn latest_state(out: &Path) -> Result<Option<(PathBuf, StateMeta)>, CliError> {
    let Ok(entries) = std::fs::read_dir(out.join(STATE_DIR)) else {
        return Ok(None);
    };
    let mut steps: Vec<u64> = entries
        .flatten()
        .filter_map(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            n.strip_prefix("step-")?.strip_suffix(".json")?.parse().ok()
        })
        .collect();
    steps.sort_unstable();
    let Some(&last) = steps.last() else {
        return Ok(None);
    };
    let (tensors, json) = state_paths(out, last);
    let text = std::fs::read_to_string(&json)
        .map_err(|e| CliError::Input(format!("{}: {e}", json.display())))?;
    let meta: StateMeta = serde_json::from_str(&text).map_err(|e| {
        CliError::Input(format!("{}: not a resume checkpoint: {e}", json.display()))
    })?;
    if meta.format_version != FORMAT_VERSION {
        return Err(CliError::Input(format!(
            "{}: format version {} (this build reads {FORMAT_VERSION})",
            json.display(),
            meta.format_version
        )));
    }
    vlgor_vlm::tensor_io::verify_sha256(&tensors, Some(&meta.tensors_sha256))
        .map_err(CliError::Input)?;
    Ok(Some((tensors, meta)))
}

/// Writes a resume checkpoint (tensors, then the JSON naming their sha256) and removes the
/// older ones.
pub fn save_state(
    out: &Path,
    tensors: &[(String, tch::Tensor)],
    meta: StateMeta,
) -> Result<(), CliError> {
    let (tpath, jpath) = state_paths(out, meta.counters.env_steps);
    let sha = vlgor_vlm::tensor_io::write_tensors_atomic(&tpath, tensors)
        .map_err(|e| CliError::Other(anyhow::anyhow!("{}: {e}", tpath.display())))?;
    let meta = StateMeta {
        tensors_sha256: sha,
        ..meta
    };
    crate::vlm_run::write_json(&jpath, &meta)?;
    if let Ok(entries) = std::fs::read_dir(out.join(STATE_DIR)) {
        for e in entries.flatten() {
            let p = e.path();
            if p != tpath && p != jpath {
                let _ = std::fs::remove_file(p);
            }
        }
    }
    Ok(())
}

/// Writes `evals` as `evals.jsonl` (one JSON object a line) atomically.
pub fn write_evals(out: &Path, evals: &[EvalRecord]) -> Result<(), CliError> {
    let mut text = String::new();
    for e in evals {
        text.push_str(&serde_json::to_string(e).map_err(|e| CliError::Other(e.into()))?);
        text.push('\n');
    }
    vlgor_sim::dataset::write_atomic(&out.join(EVALS_FILE), text.as_bytes())
        .map_err(|e| CliError::Other(e.into()))
}

/// The evaluations of `out/evals.jsonl`, in order.
pub fn read_evals(out: &Path) -> Result<Vec<EvalRecord>, CliError> {
    let path = out.join(EVALS_FILE);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| CliError::Input(format!("{}: {e}", path.display())))?;
    text.lines()
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_str(l)
                .map_err(|e| CliError::Input(format!("{}: line {}: {e}", path.display(), i + 1)))
        })
        .collect()
}
