//! `vlgor pipeline`: the VLGOR experiment end to end — collect real rollouts, train the state
//! readout and the world model (base, then LoRA), measure it, imagine counterfactual rollouts
//! and validate them against the physics engine, train offline RL policies (baseline, VLGOR and
//! the ablations, several seeds), evaluate them closed-loop, and write `report.md`,
//! `results.json` and plots.
//!
//! Every stage records `OUT/stages/<stage>.json` when it finishes; a rerun skips finished
//! stages (and finished policy runs), so an interrupted pipeline resumes where it stopped.

mod arms;
mod cluster;
mod goals;
mod markdown;
mod per_task;
mod plan;
pub(crate) mod plots;
mod policy_runs;
mod records;
mod results;
mod slurm;
mod stage;
mod stage_parts;
mod stages;

pub use records::{FaultRecord, ValidatorRecord};

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Instant;
use vlgor_sim::EnvKind;

use crate::cli::PipelineArgs;
use crate::context::Context;
use crate::error::CliError;
use crate::vlm_run::{read_json, write_json};

/// A finished stage's record. `summary` is the stage's typed summary (`records`) as a JSON
/// value (keys sorted); the report reads it back through [`records::Records::load`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StageRecord {
    pub stage: String,
    pub seconds: f64,
    pub summary: serde_json::Value,
}

/// The experiment's directories.
#[derive(Clone, Debug)]
pub struct Layout {
    pub out: PathBuf,
    pub env: EnvKind,
}

impl Layout {
    pub fn real(&self) -> PathBuf {
        self.out.join("data/real")
    }
    pub fn heldout(&self) -> PathBuf {
        self.out.join("data/heldout")
    }
    pub fn vlm(&self) -> PathBuf {
        self.out.join("vlm")
    }
    /// The KALM generator's run (`vlgor train-kalm`).
    pub fn kalm(&self) -> PathBuf {
        self.out.join("kalm")
    }
    pub fn imagined(&self, set: &str) -> PathBuf {
        self.out.join(format!("data/imagined-{set}"))
    }
    pub fn mix(&self, name: &str) -> PathBuf {
        self.out.join(format!("data/mix-{name}"))
    }
    /// Scripted-expert rollouts for the instructions of an unseen `level` (the oracle arm).
    pub fn oracle(&self, level: vlgor_sim::Level) -> PathBuf {
        self.out.join(format!("data/oracle-{level}"))
    }
    /// One cell (policy seed, level) of the random and expert reference rows.
    pub fn reference_cell(&self, seed: u64, level: vlgor_sim::Level) -> PathBuf {
        self.out.join(format!("references/s{seed}-{level}.json"))
    }
    pub fn policy(&self, algo: &str, variant: &str, seed: u64) -> PathBuf {
        self.out.join(format!("policies/{algo}-{variant}-s{seed}"))
    }
    pub(super) fn stage_file(&self, stage: &str) -> PathBuf {
        self.out.join("stages").join(format!("{stage}.json"))
    }
}

/// The typed summary of `stage`'s record, which must have finished (a job whose inputs are
/// missing says which job to run first).
pub fn stage_summary<T: serde::de::DeserializeOwned>(
    layout: &Layout,
    stage: stage::Stage,
) -> Result<T, CliError> {
    let path = layout.stage_file(stage.name());
    let rec = read_json::<StageRecord>(&path)?.ok_or_else(|| {
        CliError::Input(format!(
            "{}: stage {stage} has not finished; run it first (vlgor pipeline run-job {} --job {stage})",
            path.display(),
            layout.out.display()
        ))
    })?;
    let mut by_name = std::collections::BTreeMap::new();
    by_name.insert(stage.name().to_string(), rec);
    records::summary_of(&by_name, stage.name())
}

/// Runs `stage` unless it already finished; returns its record either way.
pub fn stage(
    layout: &Layout,
    name: &str,
    f: impl FnOnce() -> Result<serde_json::Value, CliError>,
) -> Result<StageRecord, CliError> {
    let path = layout.stage_file(name);
    if let Some(done) = read_json::<StageRecord>(&path)? {
        tracing::info!(stage = name, "already finished; skipped");
        eprintln!(
            "pipeline: stage {name} already finished ({:.0} s); skipped",
            done.seconds
        );
        return Ok(done);
    }
    eprintln!("pipeline: stage {name} ...");
    let t = Instant::now();
    let summary = f()?;
    let rec = StageRecord {
        stage: name.to_string(),
        seconds: t.elapsed().as_secs_f64(),
        summary,
    };
    write_json(&path, &rec)?;
    eprintln!("pipeline: stage {name} done in {:.0} s", rec.seconds);
    Ok(rec)
}

pub fn run(ctx: &Context, a: &PipelineArgs) -> Result<(), CliError> {
    let (env, out) = match (&a.cluster, a.env, &a.out) {
        (Some(c), _, _) => return cluster::run(ctx, c),
        (None, Some(env), Some(out)) => (env, out.clone()),
        _ => {
            return Err(CliError::Input(
                "vlgor pipeline needs --env and --out (or a subcommand: plan, run-job, slurm)"
                    .into(),
            ));
        }
    };
    let layout = Layout { out, env };
    std::fs::create_dir_all(&layout.out)
        .map_err(|e| CliError::Input(format!("{}: {e}", layout.out.display())))?;
    check_algorithms(ctx, env)?;
    check_same_preset(ctx, &layout)?;
    let records = stages::run_all(ctx, &layout)?;
    let typed = write_report(ctx, &layout, &records)?;
    let report = layout.out.join("report.md");
    if !ctx.json {
        println!("{}", markdown::summary_table(&typed));
        println!("report: {}", report.display());
    }
    ctx.emit_json(&serde_json::json!({
        "report": report.display().to_string(),
        "results": layout.out.join("results.json").display().to_string(),
        "success": records::to_summary(&typed.success)?,
        "vlm": records::to_summary(&typed.vlm)?,
        "validator": records::to_summary(&typed.validator)?,
    }));
    Ok(())
}

/// `results.json`, `report.md` and the plots from the stage records.
pub(super) fn write_report(
    ctx: &Context,
    layout: &Layout,
    records: &std::collections::BTreeMap<String, StageRecord>,
) -> Result<results::Results, CliError> {
    let typed = results::write(ctx, layout, records)?;
    if let Err(e) = plots::write_all(layout, &typed) {
        tracing::warn!("plots not written: {e}");
        eprintln!("pipeline: plots not written: {e}");
    }
    Ok(typed)
}

/// An algorithm the simulator's actions rule out fails here, not after an hour of stages.
pub(super) fn check_algorithms(ctx: &Context, env: EnvKind) -> Result<(), CliError> {
    let space = vlgor_sim::spec::action_space(env);
    for a in &ctx.config.pipeline.algos {
        a.check_action_space(space).map_err(|e| {
            CliError::Input(format!(
                "[pipeline] algos on {env}: {e}; the presets keep it in [metaworld.pipeline] only"
            ))
        })?;
    }
    Ok(())
}

/// A stored `pipeline.json` with its config read as today's [`crate::config::Config`]: keys
/// added since it was written take their defaults, so a directory of an earlier release
/// resumes when nothing it ran with has changed (optional keys compared by the value they
/// stand for: [`crate::config::Config::resolved`]). A config that no longer parses is left as
/// it is (and then differs).
fn with_todays_defaults(mut stored: serde_json::Value) -> serde_json::Value {
    let parsed = stored
        .get("config")
        .cloned()
        .and_then(|c| serde_json::from_value::<crate::config::Config>(c).ok())
        .and_then(|c| serde_json::to_value(c.resolved()).ok());
    if let Some(config) = parsed {
        stored["config"] = config;
    }
    stored
}

/// A pipeline directory keeps the preset and config it started with; resuming with others
/// would mix results.
pub(super) fn check_same_preset(ctx: &Context, layout: &Layout) -> Result<(), CliError> {
    let path = layout.out.join("pipeline.json");
    let mine = serde_json::json!({
        "env": layout.env.name(),
        "preset": ctx.preset,
        "seed": ctx.seed,
        "config": ctx.config.clone().resolved(),
    });
    match read_json::<serde_json::Value>(&path)?.map(with_todays_defaults) {
        Some(old) if old != mine => Err(CliError::Input(format!(
            "{} was started with another env, preset, seed or config ({}); use a new --out to \
             run with these settings",
            layout.out.display(),
            path.display()
        ))),
        Some(_) => Ok(()),
        None => write_json(&path, &mine),
    }
}

/// `Path` display helper for summaries.
pub fn show(p: &Path) -> String {
    p.display().to_string()
}
