//! `vlgor train-kalm`: the KALM baseline's generator on real rollouts, in two stages.
//!
//! KALM fine-tunes a pretrained LLM with LoRA. No pretrained language model of this scale
//! exists here, so the transformer is first trained from scratch on the same real data with
//! the instruction withheld (the base stage: dynamics and action statistics, the generic
//! instruction the world model's base stage also uses), then LoRA-tuned with the instructions
//! (the adapters and KALM's numeric input/output layers train, the transformer is frozen).
//! Each stage writes `OUT/<stage>/` (checkpoint per epoch, `progress.json`, `train.json`,
//! `train_log.jsonl`); a finished stage is kept, an unfinished one resumes at its last epoch.

use serde_json::json;
use std::path::{Path, PathBuf};
use vlgor_sim::EnvKind;
use vlgor_sim::dataset::Dataset;
use vlgor_vlm::SentenceEncoder;
use vlgor_vlm::kalm::{
    KalmConfig, KalmModel, KalmTrainOptions, Trajectory, observation_stats, train_kalm,
    trajectories,
};
use vlgor_vlm::world_model::{CachedText, Stage, TrainEvent};

use crate::cli::TrainKalmArgs;
use crate::commands::train_vlm::GENERIC_INSTRUCTION;
use crate::context::Context;
use crate::error::CliError;
use crate::imagination::kalm::KALM_FINAL_STAGE;
use crate::vlm_run::{PROGRESS_FILE, REPORT_FILE, StageProgress, read_json, vlm_error, write_json};

/// What `vlgor train-kalm` trains.
#[derive(Clone, Debug)]
pub struct TrainKalmPlan {
    pub env: EnvKind,
    pub data: PathBuf,
    pub out: PathBuf,
    /// LoRA-stage transitions (`None`: the preset's `kalm.lora_samples`).
    pub samples: Option<usize>,
}

pub fn run(ctx: &Context, a: &TrainKalmArgs) -> Result<(), CliError> {
    let plan = TrainKalmPlan {
        env: a.env.env,
        data: a.data.clone(),
        out: a.out.clone(),
        samples: a.samples,
    };
    let summary = train_kalm_run(ctx, &plan)?;
    crate::commands::train_vlm::print_summary(ctx, &summary);
    Ok(())
}

/// Runs both stages (skipping finished ones) and returns their summaries.
pub fn train_kalm_run(ctx: &Context, plan: &TrainKalmPlan) -> Result<serde_json::Value, CliError> {
    let data = Dataset::open(&plan.data, Some(&plan.env.to_string()))
        .map_err(|e| CliError::Input(e.to_string()))?;
    let k = &ctx.config.kalm;
    let mut config = KalmConfig::preset(&k.model, plan.env).map_err(vlm_error)?;
    config.max_steps = k.max_steps as i64;
    let encoder =
        SentenceEncoder::from_env(ctx.device).map_err(|e| CliError::Input(e.to_string()))?;
    let mut text = CachedText::new(encoder);
    let base = StageSpec {
        name: "base",
        stage: Stage::Base,
        samples: k.base_samples,
        epochs: k.base_epochs,
        lr: k.base_lr,
    };
    let lora = StageSpec {
        name: KALM_FINAL_STAGE,
        stage: Stage::Lora,
        samples: plan.samples.unwrap_or(k.lora_samples),
        epochs: k.lora_epochs,
        lr: k.lora_lr,
    };
    let mut out = serde_json::Map::new();
    for s in [base, lora] {
        let summary = train_stage(ctx, plan, &data, &config, &s, &mut text)?;
        out.insert(s.name.to_string(), summary);
    }
    Ok(serde_json::Value::Object(out))
}

/// One stage's settings.
struct StageSpec {
    name: &'static str,
    stage: Stage,
    samples: usize,
    epochs: usize,
    lr: f64,
}

fn train_stage(
    ctx: &Context,
    plan: &TrainKalmPlan,
    data: &Dataset,
    config: &KalmConfig,
    s: &StageSpec,
    text: &mut CachedText<SentenceEncoder>,
) -> Result<serde_json::Value, CliError> {
    let dir = plan.out.join(s.name);
    if let Some(done) = read_json::<serde_json::Value>(&dir.join(REPORT_FILE))? {
        tracing::info!(dir = %dir.display(), "KALM {} stage already finished", s.name);
        return Ok(done);
    }
    let progress: Option<StageProgress> = read_json(&dir.join(PROGRESS_FILE))?;
    let first_epoch = progress.map_or(0, |p| p.epochs_done.min(s.epochs));
    let seed = ctx
        .seed
        .wrapping_add(if s.stage == Stage::Base { 0 } else { 1 });
    let mut set: Vec<Trajectory> =
        trajectories(data, config, Some(s.samples), seed).map_err(vlm_error)?;
    let mut model = if first_epoch > 0 {
        KalmModel::load(&dir, ctx.device).map_err(vlm_error)?
    } else if s.stage == Stage::Base {
        tch::manual_seed(ctx.seed as i64);
        let mut m = KalmModel::new(config.clone(), ctx.device).map_err(vlm_error)?;
        let (mean, std) = observation_stats(&set);
        m.set_observation_stats(&mean, &std).map_err(vlm_error)?;
        m
    } else {
        let base = plan.out.join("base");
        if !base.join(REPORT_FILE).is_file() {
            return Err(CliError::Input(format!(
                "{}: the base stage is missing or unfinished",
                base.display()
            )));
        }
        KalmModel::load(&base, ctx.device).map_err(vlm_error)?
    };
    if model.config().env != config.env {
        return Err(CliError::Input(format!(
            "{} was trained on {}, not '{}'",
            dir.display(),
            model.config().env,
            plan.env
        )));
    }
    if s.stage == Stage::Base {
        for t in &mut set {
            t.instruction = GENERIC_INSTRUCTION.to_string();
        }
    }
    let opts = KalmTrainOptions {
        stage: s.stage,
        epochs: s.epochs,
        batch_size: ctx.config.kalm.batch_size,
        learning_rate: s.lr,
        seed: ctx.seed,
        checkpoint_dir: Some(dir.clone()),
        first_epoch,
    };
    let transitions: usize = set.iter().map(Trajectory::steps).sum();
    let report = fit(ctx, &mut model, text, &set, &opts, &dir, s)?;
    let summary = json!({
        "stage": s.name,
        "env": plan.env.to_string(),
        "dir": dir.display().to_string(),
        "data": plan.data.display().to_string(),
        "trajectories": set.len(),
        "transitions": transitions,
        "epochs": s.epochs,
        "resumed_after_epoch": first_epoch,
        "train": report,
        "parameters": model.parameter_count(""),
        "model": model.config(),
    });
    write_json(&dir.join(REPORT_FILE), &summary)?;
    Ok(summary)
}

/// Trains with a progress bar, `progress.json` after every epoch and the training curve.
fn fit(
    ctx: &Context,
    model: &mut KalmModel,
    text: &mut CachedText<SentenceEncoder>,
    set: &[Trajectory],
    opts: &KalmTrainOptions,
    dir: &Path,
    s: &StageSpec,
) -> Result<vlgor_vlm::world_model::TrainReport, CliError> {
    let label = format!("KALM {} stage", s.name);
    let mut reporter = crate::curves::StageReporter::new(
        ctx,
        dir,
        &label,
        set.len(),
        opts.epochs,
        opts.first_epoch,
    )?;
    let report = train_kalm(model, text, set, opts, &mut |e: &TrainEvent| {
        reporter.update(e)
    })
    .map_err(vlm_error)?;
    reporter.finish()?;
    Ok(report)
}
