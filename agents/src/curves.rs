//! Training curves of every run as TensorBoard event files beside the JSON-lines logs
//! ([`vlgor_vlm::tensorboard`]): policy runs log through the RL trainer and `evals.jsonl`;
//! world-model stages write `train_log.jsonl` here, one line per update.

use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use vlgor_sim::Level;
use vlgor_vlm::tensorboard::{EVENT_FILE, write_run_events};
use vlgor_vlm::world_model::TrainEvent;

use crate::error::CliError;

/// A policy run's evaluations during training: `RUN/evals.jsonl`.
pub const POLICY_EVALS_FILE: &str = "evals.jsonl";

/// One periodic closed-loop evaluation of a policy run (a line of [`POLICY_EVALS_FILE`]):
/// the epoch's checkpoint on training-level instructions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PolicyEval {
    pub epoch: u64,
    /// The instructions' level (training: `seen`).
    pub level: Level,
    /// Episodes run, over every simulator.
    pub episodes: usize,
    /// Mean success over the simulators (fraction).
    pub success_rate: f64,
    /// By simulator label (`clevr` or the Meta-World task).
    pub per_task: BTreeMap<String, f64>,
}

impl PolicyEval {
    /// The line as written: one JSON object, keys sorted.
    pub fn to_line(&self) -> Result<String, CliError> {
        serde_json::to_value(self)
            .map(|v| v.to_string())
            .map_err(|e| CliError::Other(e.into()))
    }

    /// A line of the file; `None` for a line that does not read as one (a torn last line).
    pub fn parse(line: &str) -> Option<PolicyEval> {
        serde_json::from_str(line).ok()
    }

    /// Every evaluation `run_dir`'s file holds, in file order (none when it is absent).
    pub fn read_all(run_dir: &Path) -> Vec<PolicyEval> {
        std::fs::read_to_string(run_dir.join(POLICY_EVALS_FILE))
            .map(|text| text.lines().filter_map(PolicyEval::parse).collect())
            .unwrap_or_default()
    }
}

/// Rewrites `run_dir`'s event file from its logs.
pub fn write_events(run_dir: &Path) -> Result<(), CliError> {
    write_run_events(run_dir).map_err(|e| {
        CliError::Other(anyhow::anyhow!(
            "{}: {e}",
            run_dir.join(EVENT_FILE).display()
        ))
    })
}

/// `train_log.jsonl` of a world-model stage: `{"step", "epoch", "loss", "frame_loss",
/// "action_loss"}` per update (epoch 1-based, step counted over the whole stage), and its event
/// file rewritten at every epoch's end.
pub struct StageLog {
    dir: PathBuf,
    path: PathBuf,
    file: std::io::BufWriter<std::fs::File>,
    /// Updates logged by earlier (resumed-from) invocations.
    offset: u64,
}

impl StageLog {
    /// Opens `dir/train_log.jsonl`, keeping only the lines of the first `epochs_done` epochs
    /// (those a resumed stage keeps).
    pub fn open(dir: &Path, epochs_done: usize) -> Result<StageLog, CliError> {
        let path = dir.join("train_log.jsonl");
        let io = |e: std::io::Error| CliError::Other(anyhow::anyhow!("{}: {e}", path.display()));
        let old = std::fs::read_to_string(&path).unwrap_or_default();
        let mut kept = String::new();
        let mut offset = 0;
        for line in old.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap_or_default();
            if let (Some(epoch), Some(step)) = (v["epoch"].as_u64(), v["step"].as_u64())
                && epoch <= epochs_done as u64
            {
                kept.push_str(line);
                kept.push('\n');
                offset = step;
            }
        }
        std::fs::create_dir_all(dir).map_err(io)?;
        vlgor_sim::dataset::write_atomic(&path, kept.as_bytes())
            .map_err(|e| CliError::Other(e.into()))?;
        let file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(io)?;
        Ok(StageLog {
            dir: dir.to_path_buf(),
            file: std::io::BufWriter::new(file),
            path,
            offset,
        })
    }

    /// Logs one update; at an epoch's end flushes the log and rewrites the event file.
    pub fn update(&mut self, e: &TrainEvent) -> Result<(), CliError> {
        let line = json!({"step": self.offset + e.step as u64, "epoch": e.epoch + 1,
            "loss": e.loss[0], "frame_loss": e.loss[1], "action_loss": e.loss[2]});
        let path = &self.path;
        let io = |e: std::io::Error| CliError::Other(anyhow::anyhow!("{}: {e}", path.display()));
        writeln!(self.file, "{line}").map_err(io)?;
        if e.epoch_done {
            self.file.flush().map_err(io)?;
            write_events(&self.dir)?;
        }
        Ok(())
    }
}

/// What a generator's training stage reports per update: a progress bar, the training curve
/// ([`StageLog`]), a log line and `progress.json` (epochs done) at every epoch's end. Errors
/// of these writes are kept and returned by [`StageReporter::finish`].
pub struct StageReporter {
    bar: indicatif::ProgressBar,
    curves: StageLog,
    dir: PathBuf,
    label: String,
    epochs: usize,
    failed: Option<CliError>,
}

impl StageReporter {
    /// For a stage of `epochs` epochs resumed after `first_epoch`, `samples` per epoch.
    pub fn new(
        ctx: &crate::context::Context,
        dir: &Path,
        label: &str,
        samples: usize,
        epochs: usize,
        first_epoch: usize,
    ) -> Result<StageReporter, CliError> {
        Ok(StageReporter {
            bar: ctx.progress(((epochs - first_epoch) * samples) as u64, label),
            curves: StageLog::open(dir, first_epoch)?,
            dir: dir.to_path_buf(),
            label: label.to_string(),
            epochs,
            failed: None,
        })
    }

    /// Reports one update.
    pub fn update(&mut self, e: &TrainEvent) {
        let label = &self.label;
        self.bar.inc(e.samples as u64);
        if let Err(err) = self.curves.update(e) {
            self.failed.get_or_insert(err);
        }
        let epochs = self.epochs;
        self.bar.set_message(format!(
            "{label} epoch {}/{epochs} loss {:.4}",
            e.epoch + 1,
            e.loss[0]
        ));
        if e.epoch_done {
            tracing::info!(
                epoch = e.epoch + 1,
                loss = e.loss[0],
                frame = e.loss[1],
                action = e.loss[2],
                "{label}"
            );
            let p = crate::vlm_run::StageProgress {
                epochs_done: e.epoch + 1,
                epochs,
            };
            let path = self.dir.join(crate::vlm_run::PROGRESS_FILE);
            if let Err(err) = crate::vlm_run::write_json(&path, &p) {
                self.failed.get_or_insert(err);
            }
        }
    }

    /// Clears the bar; the first error of a write, if any.
    pub fn finish(self) -> Result<(), CliError> {
        self.bar.finish_and_clear();
        self.failed.map_or(Ok(()), Err)
    }
}
