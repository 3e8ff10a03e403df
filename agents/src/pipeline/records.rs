//! What each stage of the pipeline records in `stages/<stage>.json` (its summary), typed. The
//! stages write these (through a JSON value, so keys are sorted and files are byte-identical
//! to earlier releases'), and the report reads them by field: [`Records::load`] fails with the
//! stage file and the missing field when an old or damaged record lacks one. Parts the report
//! only copies into `results.json` (training curves, the validator's thresholds) stay JSON.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

use super::StageRecord;
use crate::error::CliError;
use crate::imagination::ImagineSummary;
use crate::imagination::mix::MixSummary;
use crate::vlm_eval::VlmEvalReport;

/// A dataset a stage collected.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DatasetCounts {
    pub dir: String,
    pub episodes: usize,
    pub transitions: usize,
    pub successes: usize,
}

/// `collect`: the training data and the world model's held-out data.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CollectRecord {
    pub real: DatasetCounts,
    pub heldout: DatasetCounts,
}

/// `readout`: the fields of the state readout's training summary the report uses.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ReadoutRecord {
    /// Mean position error on held-out frames (m).
    pub heldout_error_m: f64,
}

/// `vlm_base`, `vlm_lora`, `vlm_full`: the fields of a world-model stage's training summary
/// the report uses.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct VlmTrainRecord {
    /// Parameters of the model.
    pub parameters: i64,
    /// The training report (steps, samples/s, losses per epoch), copied into `results.json`.
    pub train: Value,
}

/// `vlm_eval`: each stage's quality on the held-out data.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct VlmEvalRecord {
    pub lora: VlmEvalReport,
    pub base: VlmEvalReport,
    pub full: VlmEvalReport,
}

/// One row of the Table-1 LoRA sample sweep.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SweepRow {
    pub samples: usize,
    pub eval: VlmEvalReport,
}

/// `vlm_sweep`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SweepRecord {
    pub rows: Vec<SweepRow>,
}

/// One injected fault kind of the validator statistics.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FaultRecord {
    /// Rollouts that took the fault.
    pub injected: usize,
    /// Share of those flagged with the fault's reason (`None`: none took it).
    pub recall: Option<f64>,
    /// Per reason in words, rollouts that could not take the fault.
    pub not_injected: BTreeMap<String, usize>,
}

/// `validator`: false alarms on real held-out rollouts and recall on injected faults.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ValidatorRecord {
    pub rollouts: usize,
    pub real_flagged: usize,
    pub real_false_alarm_rate: f64,
    pub injected: usize,
    pub injected_recall: Option<f64>,
    /// By fault name.
    pub per_fault: BTreeMap<String, FaultRecord>,
    /// The thresholds used (`ValidatorConfig`), as written.
    pub config: Value,
}

/// A policy's (or a scripted reference's) evaluation: success per level (mean over tasks) and
/// the per-episode scores paired comparisons use. Levels by name.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PolicySummary {
    /// `bc`, `cql`, or `scripted` for the reference rows.
    pub algo: String,
    pub variant: String,
    pub seed: u64,
    pub success: BTreeMap<String, f64>,
    /// Success within 10 steps, on the levels that report it.
    pub within_10: BTreeMap<String, f64>,
    /// Every episode's score, seed by seed.
    pub episodes: BTreeMap<String, Vec<f64>>,
    /// Success per level and task, where the simulator has several tasks (Meta-World).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub per_task: BTreeMap<String, BTreeMap<String, f64>>,
}

/// A policy arm that was not trained.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SkippedPolicy {
    pub algo: String,
    pub variant: String,
    pub seed: u64,
    /// Why, in words.
    pub skipped: String,
}

/// One entry of the `policies` stage.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PolicyRecord {
    Skipped(SkippedPolicy),
    Trained(PolicySummary),
}

impl PolicyRecord {
    pub fn trained(&self) -> Option<&PolicySummary> {
        match self {
            PolicyRecord::Trained(s) => Some(s),
            PolicyRecord::Skipped(_) => None,
        }
    }
}

/// Every stage's summary the report is built from, typed (`collect` is not in the report).
#[derive(Clone, Debug)]
pub struct Records {
    pub readout: ReadoutRecord,
    pub vlm_base: VlmTrainRecord,
    pub vlm_lora: VlmTrainRecord,
    pub vlm_full: VlmTrainRecord,
    pub vlm_eval: VlmEvalRecord,
    pub vlm_sweep: SweepRecord,
    /// By imagination set name.
    pub imagine: BTreeMap<String, ImagineSummary>,
    /// By level name.
    pub oracle: BTreeMap<String, DatasetCounts>,
    /// By mix name.
    pub mix: BTreeMap<String, MixSummary>,
    pub validator: ValidatorRecord,
    /// By `{algo}-{variant}-s{seed}`.
    pub policies: BTreeMap<String, PolicyRecord>,
    /// By `{random|expert}-s{seed}`.
    pub references: BTreeMap<String, PolicySummary>,
    /// Seconds per stage.
    pub seconds: BTreeMap<String, f64>,
}

/// A stage's summary as `T`, or an error naming the stage file and what is wrong.
pub fn summary_of<T: DeserializeOwned>(
    rec: &BTreeMap<String, StageRecord>,
    stage: &str,
) -> Result<T, CliError> {
    let r = rec
        .get(stage)
        .ok_or_else(|| CliError::Input(format!("stages/{stage}.json: the stage has no record")))?;
    T::deserialize(&r.summary).map_err(|e| {
        CliError::Input(format!(
            "stages/{stage}.json: the summary does not read as this release's record ({e}); \
             delete the file to redo the stage"
        ))
    })
}

/// A typed summary as the JSON value a stage record keeps (keys sorted).
pub fn to_summary<T: Serialize>(x: &T) -> Result<Value, CliError> {
    serde_json::to_value(x).map_err(|e| CliError::Other(e.into()))
}

impl Records {
    /// Reads every stage's record.
    pub fn load(rec: &BTreeMap<String, StageRecord>) -> Result<Records, CliError> {
        Ok(Records {
            readout: summary_of(rec, "readout")?,
            vlm_base: summary_of(rec, "vlm_base")?,
            vlm_lora: summary_of(rec, "vlm_lora")?,
            vlm_full: summary_of(rec, "vlm_full")?,
            vlm_eval: summary_of(rec, "vlm_eval")?,
            vlm_sweep: summary_of(rec, "vlm_sweep")?,
            imagine: summary_of(rec, "imagine")?,
            oracle: summary_of(rec, "oracle")?,
            mix: summary_of(rec, "mix")?,
            validator: summary_of(rec, "validator")?,
            policies: summary_of(rec, "policies")?,
            references: summary_of(rec, "references")?,
            seconds: rec.iter().map(|(k, r)| (k.clone(), r.seconds)).collect(),
        })
    }
}
