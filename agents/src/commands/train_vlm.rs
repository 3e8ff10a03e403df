//! `vlgor train-vlm`: the world model's base stage (all weights, simulator rollouts with a
//! generic instruction), its LoRA stage or full fine-tuning on a dataset, and the state readout.
//! Every stage writes `OUT/<stage>/` with a checkpoint per epoch and is resumable.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Instant;
use vlgor_sim::EnvKind;
use vlgor_sim::dataset::Dataset;
use vlgor_vlm::SentenceEncoder;
use vlgor_vlm::perception::{
    ReadoutKind, ReadoutOptions, StateReadout, render_labelled, train_readout_fresh,
};
use vlgor_vlm::world_model::{
    CachedText, DatasetSamples, RolloutPlan, SampleBatch, SampleProvider, Stage, TrainEvent,
    TrainOptions, TrainReport, WorldModel, WorldModelConfig, render_rollout_samples, train_with,
};

use crate::cli::{TrainVlmArgs, VlmStage};
use crate::context::Context;
use crate::error::CliError;
use crate::vlm_run::{
    PROGRESS_FILE, READOUT_META, READOUT_WEIGHTS, REPORT_FILE, ReadoutMeta, StageProgress, VlmRun,
    read_json, renderer, vlm_error, write_json,
};

/// The instruction every base-stage sample carries (instructions are withheld in that stage).
pub const GENERIC_INSTRUCTION: &str = "Predict what happens next.";

/// What `vlgor train-vlm` trains.
#[derive(Clone, Debug)]
pub struct TrainVlmPlan {
    pub env: EnvKind,
    pub stage: VlmStage,
    /// Rollouts to fine-tune on (lora and full stages).
    pub data: Option<PathBuf>,
    /// Fine-tuning samples drawn from `data` (`None`: the preset's `vlm.lora_samples`).
    pub samples: Option<usize>,
    /// `None`: the preset's epochs of the stage.
    pub epochs: Option<usize>,
    /// Base checkpoint directory of the lora and full stages (`None`: `out/base`).
    pub base: Option<PathBuf>,
    /// Run directory; the stage writes `out/<stage>/`.
    pub out: PathBuf,
    /// Continue an unfinished stage from its last epoch checkpoint.
    pub resume: bool,
}

/// What one `train-vlm` stage did: the stage's `train.json` (base, lora, full; the readout
/// has `readout.json`) and the pipeline's stage record. Stored as JSON with sorted keys
/// ([`TrainVlmOutcome::to_json`]), as every release wrote it.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(untagged)]
pub enum TrainVlmOutcome {
    Base(BaseOutcome),
    FineTune(FineTuneOutcome),
    Readout(ReadoutOutcome),
}

/// The base stage on rendered simulator rollouts.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BaseOutcome {
    /// Always `base`.
    pub stage: VlmStage,
    pub env: EnvKind,
    /// The stage's directory (`RUN/base`).
    pub dir: String,
    /// Rollouts rendered.
    pub episodes: usize,
    pub samples: usize,
    pub epochs: usize,
    /// Epochs an earlier invocation had finished (0: a fresh start).
    pub resumed_after_epoch: usize,
    /// Seconds spent rendering the rollouts.
    pub render_seconds: f64,
    pub train: TrainReport,
    pub parameters: i64,
    /// The model's sizes.
    pub model: WorldModelConfig,
}

/// The LoRA stage or full fine-tuning on a dataset.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FineTuneOutcome {
    /// `lora` or `full`.
    pub stage: VlmStage,
    pub env: EnvKind,
    /// The stage's directory (`RUN/lora`, `RUN/full`).
    pub dir: String,
    /// The base checkpoint fine-tuned.
    pub base: String,
    /// The dataset fine-tuned on.
    pub data: String,
    pub samples: usize,
    pub epochs: usize,
    /// Epochs an earlier invocation had finished (0: a fresh start).
    pub resumed_after_epoch: usize,
    pub train: TrainReport,
    pub parameters: i64,
    pub lora_rank: i64,
    pub lora_alpha: f64,
}

/// The state readout on freshly rendered frames.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ReadoutOutcome {
    /// Always `readout`.
    pub stage: VlmStage,
    pub env: EnvKind,
    /// The readout's directory (`RUN/readout`).
    pub dir: String,
    /// Mean position error on held-out frames (m).
    pub heldout_error_m: f64,
    /// Mean position error on the last training set (m).
    pub train_error_m: f64,
    /// Training time (s), rendering excluded.
    pub train_seconds: f64,
    /// Frames seen (with repetition).
    pub frames_seen: usize,
    pub parameters: i64,
}

impl TrainVlmOutcome {
    /// The stored form: a JSON object with sorted keys.
    pub fn to_json(&self) -> Result<serde_json::Value, CliError> {
        serde_json::to_value(self).map_err(|e| CliError::Other(e.into()))
    }
}

pub fn run(ctx: &Context, a: &TrainVlmArgs) -> Result<(), CliError> {
    let plan = TrainVlmPlan {
        env: a.env.env,
        stage: a.stage,
        data: a.data.clone(),
        samples: a.samples,
        epochs: a.epochs,
        base: a.base.clone(),
        out: a.out.clone(),
        resume: a.resume,
    };
    let outcome = train_stage(ctx, &plan)?;
    print_summary(ctx, &outcome.to_json()?);
    Ok(())
}

/// Prints a training summary as pretty JSON (or, with `--json`, as the last line).
pub fn print_summary(ctx: &Context, summary: &serde_json::Value) {
    if !ctx.json {
        println!(
            "{}",
            serde_json::to_string_pretty(summary).unwrap_or_default()
        );
    }
    ctx.emit_json(summary);
}

/// Trains one stage and returns what it did (also written to `OUT/<stage>/train.json`).
pub fn train_stage(ctx: &Context, a: &TrainVlmPlan) -> Result<TrainVlmOutcome, CliError> {
    let env = a.env;
    let run = VlmRun::new(&a.out);
    Ok(match a.stage {
        VlmStage::Readout => {
            TrainVlmOutcome::Readout(train_readout(ctx, env, &run, a.epochs, a.resume)?)
        }
        VlmStage::Base => TrainVlmOutcome::Base(train_base(ctx, env, &run, a.epochs, a.resume)?),
        VlmStage::Lora | VlmStage::Full => {
            let data = a.data.as_deref().ok_or_else(|| {
                CliError::Input(format!(
                    "--stage {} needs --data DIR (the rollouts to fine-tune on)",
                    a.stage.name()
                ))
            })?;
            let base = a.base.clone().unwrap_or_else(|| run.stage_dir("base"));
            let finetune = Finetune {
                stage: a.stage,
                data,
                samples: a.samples.unwrap_or(ctx.config.vlm.lora_samples),
                epochs: a.epochs.unwrap_or(ctx.config.vlm.lora_epochs),
                base: &base,
            };
            TrainVlmOutcome::FineTune(fine_tune(ctx, env, &run, &finetune, a.resume)?)
        }
    })
}

/// Refuses to overwrite a finished stage; returns the epochs already done when resuming.
fn start_epoch(dir: &Path, resume: bool, epochs: usize) -> Result<usize, CliError> {
    if dir.join(REPORT_FILE).is_file() {
        return Err(CliError::Input(format!(
            "{} already holds a finished stage ({REPORT_FILE}); choose another --out or delete it",
            dir.display()
        )));
    }
    let progress: Option<StageProgress> = read_json(&dir.join(PROGRESS_FILE))?;
    match (resume, progress) {
        (true, Some(p)) => Ok(p.epochs_done.min(epochs)),
        (true, None) => Ok(0),
        (false, Some(p)) => Err(CliError::Input(format!(
            "{} holds an unfinished stage ({} of {} epochs); pass --resume to continue it",
            dir.display(),
            p.epochs_done,
            p.epochs
        ))),
        (false, None) => Ok(0),
    }
}

/// Trains `model` with a progress bar, writing `progress.json` after each epoch and
/// `train.json` at the end.
fn run_training(
    ctx: &Context,
    model: &mut WorldModel,
    samples: &mut dyn SampleProvider,
    opts: &TrainOptions,
    dir: &Path,
    label: &str,
) -> Result<TrainReport, CliError> {
    let encoder =
        SentenceEncoder::from_env(ctx.device).map_err(|e| CliError::Input(e.to_string()))?;
    let mut text = CachedText::new(encoder);
    let mut reporter = crate::curves::StageReporter::new(
        ctx,
        dir,
        label,
        samples.len(),
        opts.epochs,
        opts.first_epoch,
    )?;
    let report = train_with(model, &mut text, samples, opts, &mut |e: &TrainEvent| {
        reporter.update(e)
    })
    .map_err(vlm_error)?;
    reporter.finish()?;
    Ok(report)
}

fn train_base(
    ctx: &Context,
    env: EnvKind,
    run: &VlmRun,
    epochs: Option<usize>,
    resume: bool,
) -> Result<BaseOutcome, CliError> {
    let v = &ctx.config.vlm;
    let epochs = epochs.unwrap_or(v.base_epochs);
    let dir = run.stage_dir("base");
    let first_epoch = start_epoch(&dir, resume, epochs)?;
    let mut model = if first_epoch > 0 {
        WorldModel::load(&dir, ctx.device).map_err(vlm_error)?
    } else {
        tch::manual_seed(ctx.seed as i64);
        let mut cfg = WorldModelConfig::preset(&v.model, env).map_err(vlm_error)?;
        cfg.action_loss_weight = v.action_loss_weight;
        cfg.visual_head = v.visual_head_for(env);
        cfg.motion_gate = v.motion_gate_for(cfg.visual_head);
        WorldModel::new(cfg, ctx.device).map_err(vlm_error)?
    };
    let cfg = model.config().clone();
    let h = cfg.horizon_steps;
    let t0 = Instant::now();
    let mut r = renderer(ctx, cfg.image_size)?;
    let plan = RolloutPlan {
        env,
        episodes: v.base_episodes,
        steps: v.base_keyframes * h,
        horizon_steps: h,
        noise: v.base_noise,
        seed: ctx.seed,
    };
    let bar = ctx.progress(1, "rendering base-stage rollouts");
    let mut samples: SampleBatch = render_rollout_samples(&mut r, &plan).map_err(vlm_error)?;
    bar.finish_and_clear();
    for t in &mut samples.instructions {
        *t = GENERIC_INSTRUCTION.to_string();
    }
    let render_seconds = t0.elapsed().as_secs_f64();
    let opts = TrainOptions {
        stage: Stage::Base,
        epochs,
        batch_size: v.batch_size,
        learning_rate: v.base_lr,
        seed: ctx.seed,
        checkpoint_dir: Some(dir.clone()),
        first_epoch,
        frame_change_weight: v.frame_change_weight,
    };
    let report = run_training(ctx, &mut model, &mut samples, &opts, &dir, "base stage")?;
    let outcome = BaseOutcome {
        stage: VlmStage::Base,
        env,
        dir: dir.display().to_string(),
        episodes: v.base_episodes,
        samples: samples.len(),
        epochs,
        resumed_after_epoch: first_epoch,
        render_seconds,
        train: report,
        parameters: model.parameter_count(""),
        model: cfg,
    };
    write_json(
        &dir.join(REPORT_FILE),
        &TrainVlmOutcome::Base(outcome.clone()).to_json()?,
    )?;
    Ok(outcome)
}

struct Finetune<'a> {
    stage: VlmStage,
    data: &'a Path,
    samples: usize,
    epochs: usize,
    base: &'a Path,
}

fn fine_tune(
    ctx: &Context,
    env: EnvKind,
    run: &VlmRun,
    f: &Finetune,
    resume: bool,
) -> Result<FineTuneOutcome, CliError> {
    let v = &ctx.config.vlm;
    let name = f.stage.name();
    let dir = run.stage_dir(name);
    let first_epoch = start_epoch(&dir, resume, f.epochs)?;
    if !f.base.join(REPORT_FILE).is_file() {
        return Err(CliError::Input(format!(
            "base checkpoint {} is missing or unfinished; run `vlgor train-vlm --env {env} \
             --stage base --out RUN` first (or pass --base DIR)",
            f.base.display()
        )));
    }
    let from: PathBuf = if first_epoch > 0 {
        dir.clone()
    } else {
        f.base.to_path_buf()
    };
    let mut model = WorldModel::load(&from, ctx.device).map_err(vlm_error)?;
    if model.config().env != env {
        return Err(CliError::Input(format!(
            "{} was trained on {}, not '{env}'",
            f.base.display(),
            model.config().env
        )));
    }
    let data = Dataset::open(f.data, Some(&env.to_string()))
        .map_err(|e| CliError::Input(e.to_string()))?;
    let cfg = model.config().clone();
    let mut r = renderer(ctx, cfg.image_size)?;
    let mut samples = DatasetSamples::new(
        &data,
        &mut r,
        "",
        cfg.horizon_steps,
        Some(f.samples),
        ctx.seed,
    )
    .map_err(vlm_error)?;
    let opts = TrainOptions {
        stage: if f.stage == VlmStage::Lora {
            Stage::Lora
        } else {
            Stage::Base
        },
        epochs: f.epochs,
        batch_size: v.batch_size,
        learning_rate: if f.stage == VlmStage::Lora {
            v.lora_lr
        } else {
            v.base_lr
        },
        seed: ctx.seed,
        checkpoint_dir: Some(dir.clone()),
        first_epoch,
        frame_change_weight: v.frame_change_weight,
    };
    let label = format!("{name} stage");
    let report = run_training(ctx, &mut model, &mut samples, &opts, &dir, &label)?;
    let outcome = FineTuneOutcome {
        stage: f.stage,
        env,
        dir: dir.display().to_string(),
        base: f.base.display().to_string(),
        data: f.data.display().to_string(),
        samples: samples.len(),
        epochs: f.epochs,
        resumed_after_epoch: first_epoch,
        train: report,
        parameters: model.parameter_count(""),
        lora_rank: cfg.lora_rank,
        lora_alpha: cfg.lora_alpha,
    };
    write_json(
        &dir.join(REPORT_FILE),
        &TrainVlmOutcome::FineTune(outcome.clone()).to_json()?,
    )?;
    Ok(outcome)
}

fn train_readout(
    ctx: &Context,
    env: EnvKind,
    run: &VlmRun,
    epochs: Option<usize>,
    _resume: bool,
) -> Result<ReadoutOutcome, CliError> {
    let v = &ctx.config.vlm;
    let dir = run.readout_dir();
    if dir.join(READOUT_META).is_file() {
        return Err(CliError::Input(format!(
            "{} already holds a trained readout; choose another --out or delete it",
            dir.display()
        )));
    }
    let size = WorldModelConfig::preset(&v.model, env)
        .map_err(vlm_error)?
        .image_size;
    let kind = ReadoutKind::for_env(env);
    tch::manual_seed(ctx.seed as i64);
    let mut readout = StateReadout::new(kind, size, ctx.device).map_err(vlm_error)?;
    let mut r = renderer(ctx, size)?;
    let opts = ReadoutOptions {
        epochs: epochs.unwrap_or(v.readout_epochs),
        seed: ctx.seed,
        ..ReadoutOptions::default()
    };
    let bar = ctx.progress(
        1,
        &format!(
            "readout: {} epochs of {} frames",
            opts.epochs, v.readout_frames
        ),
    );
    let report = train_readout_fresh(
        &mut readout,
        &mut r,
        v.readout_frames,
        v.readout_states(),
        &opts,
    )
    .map_err(vlm_error)?;
    bar.finish_and_clear();
    // Held-out frames: a seed range training never draws from.
    let held = render_labelled(
        kind,
        &mut r,
        1024,
        ctx.seed.wrapping_add(0xD1CE),
        v.readout_states(),
    )
    .map_err(vlm_error)?;
    let err = readout
        .position_error(&held.pixels, &held.states)
        .map_err(vlm_error)?;
    let sha = readout
        .save(&dir.join(READOUT_WEIGHTS))
        .map_err(vlm_error)?;
    let meta = ReadoutMeta {
        format_version: Some(vlgor_vlm::tensor_io::CHECKPOINT_FORMAT_VERSION),
        weights_sha256: Some(sha),
        kind,
        image_size: size,
        heldout_error_m: err,
        heldout_frames: held.len(),
        train_seconds: report.seconds,
        parameters: readout.parameter_count(),
    };
    write_json(&dir.join(READOUT_META), &meta)?;
    Ok(ReadoutOutcome {
        stage: VlmStage::Readout,
        env,
        dir: dir.display().to_string(),
        heldout_error_m: err,
        train_error_m: report.train_error_m,
        train_seconds: report.seconds,
        frames_seen: report.frames_seen,
        parameters: meta.parameters,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The stage records of the committed pipeline fixture read as outcomes of their stage and
    /// write back the same JSON (the base stage's model config gains its `env`).
    #[test]
    fn outcomes_keep_the_stored_form_of_the_stage_records() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pipeline/stages");
        for (stage, want) in [
            ("readout", VlmStage::Readout),
            ("vlm_base", VlmStage::Base),
            ("vlm_lora", VlmStage::Lora),
            ("vlm_full", VlmStage::Full),
        ] {
            let text = std::fs::read_to_string(dir.join(format!("{stage}.json"))).unwrap();
            let record: serde_json::Value = serde_json::from_str(&text).unwrap();
            let mut stored = record["summary"].clone();
            if let Some(model) = stored.get_mut("model") {
                model["env"] = "clevr".into();
                model["visual_head"] = "direct".into();
                model["objects"] = 6.into();
            }
            let outcome: TrainVlmOutcome = serde_json::from_value(stored.clone()).unwrap();
            let got = match &outcome {
                TrainVlmOutcome::Base(o) => o.stage,
                TrainVlmOutcome::FineTune(o) => o.stage,
                TrainVlmOutcome::Readout(o) => o.stage,
            };
            assert_eq!(got, want, "{stage}");
            assert_eq!(outcome.to_json().unwrap(), stored, "{stage}");
        }
    }
}
