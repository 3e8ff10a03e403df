//! `vlgor pipeline plan | run-job | slurm`: the experiment on a cluster, as the same stages
//! the in-process run takes, one job at a time.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

use super::goals::GoalEmbeddings;
use super::plan::{Job, JobPlan, Work, outputs_exist, plan};
use super::policy_runs::{policy_runs, run_policy};
use super::stage::Stage;
use super::{Layout, StageRecord, check_algorithms, check_same_preset, stage_summary};
use crate::cli::PipelineCommand;
use crate::config::Config;
use crate::context::Context;
use crate::error::CliError;
use crate::imagination::mix::MixSummary;
use crate::vlm_run::{read_json, write_json};
use vlgor_sim::EnvKind;

pub fn run(ctx: &Context, c: &PipelineCommand) -> Result<(), CliError> {
    match c {
        PipelineCommand::Plan { env, out, shards } => {
            plan_command(ctx, *env, out, *shards as usize)
        }
        PipelineCommand::RunJob { dir, job } => run_job(ctx, dir, job),
        PipelineCommand::Slurm {
            dir,
            partition,
            gpu_partition,
            account,
            time_scale,
            submit,
        } => super::slurm::write(
            ctx,
            dir,
            &super::slurm::SlurmOptions {
                partition: partition.clone(),
                gpu_partition: gpu_partition.clone(),
                account: account.clone(),
                time_scale: *time_scale,
                submit: *submit,
            },
        ),
    }
}

fn plan_command(ctx: &Context, env: EnvKind, out: &Path, shards: usize) -> Result<(), CliError> {
    let layout = Layout {
        out: out.to_path_buf(),
        env,
    };
    std::fs::create_dir_all(out).map_err(|e| CliError::Input(format!("{}: {e}", out.display())))?;
    check_algorithms(ctx, env)?;
    check_same_preset(ctx, &layout)?;
    let p = plan(ctx, &layout, shards);
    write_json(&out.join("plan.json"), &p)?;
    if ctx.json {
        ctx.emit_json(&serde_json::to_value(&p).map_err(|e| CliError::Other(e.into()))?);
    } else {
        let rows: Vec<Vec<String>> = p
            .jobs
            .iter()
            .map(|j| {
                vec![
                    j.id.clone(),
                    if j.after.len() > 3 {
                        format!("{} jobs", j.after.len())
                    } else {
                        j.after.join(", ")
                    },
                    if j.resources.gpu { "gpu" } else { "cpu" }.into(),
                    j.resources.minutes.to_string(),
                ]
            })
            .collect();
        println!(
            "{}",
            crate::report::table(&["job", "after", "node", "minutes"], &rows)
        );
        println!(
            "plan: {} ({} jobs)",
            out.join("plan.json").display(),
            p.jobs.len()
        );
    }
    Ok(())
}

/// What `pipeline.json` keeps: the settings every job of the directory runs with.
#[derive(Deserialize)]
struct Stored {
    env: EnvKind,
    preset: String,
    seed: u64,
    config: Config,
}

/// The directory's plan and a context with its stored settings (device, threads and output
/// flags from this command line).
pub fn open_planned(ctx: &Context, dir: &Path) -> Result<(Layout, JobPlan, Context), CliError> {
    let read = |name: &str| -> Result<serde_json::Value, CliError> {
        read_json(&dir.join(name))?.ok_or_else(|| {
            CliError::Input(format!(
                "{}: no {name}; write the plan first (vlgor pipeline plan --env ENV --out {})",
                dir.display(),
                dir.display()
            ))
        })
    };
    let stored: Stored = serde_json::from_value(read("pipeline.json")?)
        .map_err(|e| CliError::Input(format!("{}: {e}", dir.join("pipeline.json").display())))?;
    let p: JobPlan = serde_json::from_value(read("plan.json")?)
        .map_err(|e| CliError::Input(format!("{}: {e}", dir.join("plan.json").display())))?;
    let jctx = ctx.with_settings(stored.config, stored.seed, &stored.preset);
    let layout = Layout {
        out: dir.to_path_buf(),
        env: stored.env,
    };
    // The plan must be this configuration's (a hand-edited or stale plan is refused).
    if plan(&jctx, &layout, p.shards) != p {
        return Err(CliError::Input(format!(
            "{}: the plan does not match the directory's pipeline.json (written by another \
             release or edited); run vlgor pipeline plan again",
            dir.join("plan.json").display()
        )));
    }
    Ok((layout, p, jctx))
}

fn run_job(ctx: &Context, dir: &Path, id: &str) -> Result<(), CliError> {
    let (layout, p, ctx) = open_planned(ctx, dir)?;
    let job = p.job(id).ok_or_else(|| {
        CliError::Input(format!(
            "{}: no job '{id}'; jobs: {}",
            dir.join("plan.json").display(),
            p.jobs
                .iter()
                .map(|j| j.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })?;
    if outputs_exist(dir, job).is_ok() {
        eprintln!("pipeline: job {id} already finished (its outputs are there); skipped");
        return emit(&ctx, job, false);
    }
    for before in &job.after {
        let finished = p.job(before).map(|b| outputs_exist(dir, b));
        if let Some(Err(missing)) = finished {
            return Err(CliError::Input(format!(
                "job {id} waits for job {before}, which has not finished ({missing} is \
                 missing); run it first (vlgor pipeline run-job {} --job {before})",
                dir.display()
            )));
        }
    }
    match job.work {
        Work::Stage { stage } => {
            super::stages::run_stage(&ctx, &layout, stage)?;
        }
        Work::StagePart { stage, part, parts } => {
            let part = vlgor_sim::dataset::parts::Part::new(part, parts).ok_or_else(|| {
                CliError::Input(format!("job {id}: part {part} of {parts} does not exist"))
            })?;
            let start = std::time::Instant::now();
            super::stage_parts::run_stage_part(&ctx, &layout, stage, part)?;
            write_json(
                &dir.join(&job.outputs[0]),
                &serde_json::json!({"stage": stage, "part": part.index, "parts": part.count,
                    "seconds": start.elapsed().as_secs_f64()}),
            )?;
        }
        Work::PolicyRun { shard } => {
            let runs = policy_runs(&ctx);
            let run = &runs[shard];
            let mixes: BTreeMap<String, MixSummary> = stage_summary(&layout, Stage::Mix)?;
            let mut goals = GoalEmbeddings::new(&ctx, &layout);
            let record = run_policy(&ctx, &layout, &mixes, run, &mut goals)?;
            // A skipped run (its mix holds nothing) leaves its reason where a trained one
            // leaves its evaluation, so the job counts as finished.
            if let super::records::PolicyRecord::Skipped(_) = record {
                write_json(&dir.join(&job.outputs[0]), &record)?;
            }
        }
        Work::Report => {
            let mut records = BTreeMap::new();
            for s in Stage::of(&ctx) {
                let path = layout.stage_file(s.name());
                let r: StageRecord = read_json(&path)?.ok_or_else(|| {
                    CliError::Input(format!("{}: stage {s} has not finished", path.display()))
                })?;
                records.insert(s.name().to_string(), r);
            }
            super::write_report(&ctx, &layout, &records)?;
        }
    }
    if let Err(missing) = outputs_exist(dir, job) {
        return Err(CliError::Other(anyhow::anyhow!(
            "job {id} ran but {missing} is missing"
        )));
    }
    emit(&ctx, job, true)
}

fn emit(ctx: &Context, job: &Job, ran: bool) -> Result<(), CliError> {
    ctx.emit_json(&serde_json::json!({"job": job.id, "ran": ran, "outputs": job.outputs}));
    if !ctx.json {
        println!(
            "job {}: {}",
            job.id,
            if ran { "done" } else { "already done" }
        );
    }
    Ok(())
}
