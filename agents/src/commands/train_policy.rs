//! `vlgor train-policy`: offline RL (BC or CQL) on a real dataset, optionally mixed with
//! imagined rollouts, into a run directory with a checkpoint per epoch; and the training
//! throughput figures of `vlgor bench train`.

use serde::Serialize;
use serde_json::json;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use vlgor_rl::config::{AlgoKind, ObsKind, RlConfig};
use vlgor_rl::{FrameSource, GoalTable, ObservationSource, RlError, Trainer, TrainingData};
use vlgor_sim::dataset::Dataset;
use vlgor_sim::{EnvKind, Level};
use vlgor_vlm::{EmbeddingCache, SentenceEncoder};

use std::collections::BTreeSet;

use crate::cli::TrainPolicyArgs;
use crate::context::Context;
use crate::curves::{POLICY_EVALS_FILE, PolicyEval};
use crate::error::CliError;
use crate::evaluation::Learned;
use crate::out_paths::{DirKind, check_out_dir};
use vlgor_sim::EnvSpec;

/// Maps offline-RL errors to exit statuses: bad input and data are status 2, the rest 1.
pub fn rl_error(e: RlError) -> CliError {
    match e {
        RlError::Input(m) => CliError::Input(m),
        e @ (RlError::Dataset(_) | RlError::Checkpoint { .. }) => CliError::Input(e.to_string()),
        other => CliError::Other(other.into()),
    }
}

fn open(dir: &Path, env: &str) -> Result<Dataset, CliError> {
    Dataset::open(dir, Some(env)).map_err(|e| CliError::Input(e.to_string()))
}

/// The imagined share of each batch when `--ratio` is not given: proportional to the
/// transitions each dataset holds, capped at the preset's `rl.ratio`, so a small imagined set
/// is not replayed many times as often as the real data (the number of updates and the batch
/// size stay the baseline's).
pub fn imagined_share(cap: f32, real: usize, imagined: usize) -> f32 {
    let total = real + imagined;
    if total == 0 {
        return 0.0;
    }
    cap.min(imagined as f32 / total as f32)
}

/// The `[rl]` settings with `--ratio` applied.
fn rl_config(ctx: &Context, ratio: Option<f32>) -> Result<RlConfig, CliError> {
    let mut rl = ctx.config.rl.clone();
    if let Some(r) = ratio {
        if !(0.0..=1.0).contains(&r) {
            return Err(CliError::Input(format!("--ratio {r}: must be in [0, 1]")));
        }
        rl.training.ratio = r;
    }
    rl.validate().map_err(rl_error)?;
    Ok(rl)
}

/// The simulators (one per Meta-World task) that `data`'s episodes were recorded in.
fn dataset_specs(data: &Dataset) -> Vec<EnvSpec> {
    let mut specs: Vec<EnvSpec> = data
        .episodes
        .iter()
        .map(|e| EnvSpec::of_goal(&e.instruction.goal))
        .collect();
    specs.sort_by_key(|s| s.label());
    specs.dedup();
    specs
}

/// Keeps the lines of `RUN/evals.jsonl` of epochs up to `epoch` (those of checkpoints a resumed
/// run keeps; none for a fresh run), rewritten atomically; returns the epochs kept.
fn keep_evals_up_to(run_dir: &Path, epoch: u64) -> Result<BTreeSet<u64>, CliError> {
    let path = run_dir.join(POLICY_EVALS_FILE);
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(BTreeSet::new());
    };
    let mut kept = String::new();
    let mut epochs = BTreeSet::new();
    for line in text.lines() {
        let e = PolicyEval::parse(line).map(|e| e.epoch);
        if let Some(e) = e.filter(|&e| e <= epoch && !epochs.contains(&e)) {
            epochs.insert(e);
            kept.push_str(line);
            kept.push('\n');
        }
    }
    vlgor_sim::dataset::write_atomic(&path, kept.as_bytes())
        .map_err(|e| CliError::Other(e.into()))?;
    crate::curves::write_events(run_dir)?;
    Ok(epochs)
}

/// Evaluates epoch `epoch`'s checkpoint on training-level instructions and appends
/// `{"epoch", "success_rate", "per_task"}` to `RUN/evals.jsonl`.
fn evaluate_epoch(
    ctx: &Context,
    evaluator: &mut Learned,
    run_dir: &Path,
    epoch: u64,
    specs: &[EnvSpec],
    episodes: usize,
) -> Result<(), CliError> {
    let checkpoint = vlgor_rl::checkpoint::checkpoint_paths(run_dir, epoch).0;
    let per_spec = (episodes / specs.len().max(1)).max(1);
    let mut per_task = BTreeMap::new();
    let mut total = 0.0;
    for spec in specs {
        let rate = evaluator.success_rate(ctx, &checkpoint, *spec, Level::Seen, per_spec)?;
        per_task.insert(spec.label().to_string(), rate);
        total += rate / specs.len() as f64;
    }
    let line = PolicyEval {
        epoch,
        level: Level::Seen,
        episodes: per_spec * specs.len(),
        success_rate: total,
        per_task,
    }
    .to_line()?;
    tracing::info!(epoch, success_rate = total, "periodic evaluation");
    use std::io::Write;
    let path = run_dir.join(POLICY_EVALS_FILE);
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| writeln!(f, "{line}"))
        .map_err(|e| CliError::Other(anyhow::anyhow!("{}: {e}", path.display())))?;
    crate::curves::write_events(run_dir)
}

/// What `vlgor train-policy` trains.
#[derive(Clone, Debug)]
pub struct TrainPolicyPlan {
    pub env: EnvKind,
    pub algo: AlgoKind,
    /// Real dataset directory.
    pub real: PathBuf,
    /// Imagined dataset mixed into every batch.
    pub imagined: Option<PathBuf>,
    /// Share of imagined samples per batch (`None`: proportional, capped at `rl.ratio`).
    pub ratio: Option<f32>,
    pub obs: ObsKind,
    /// Run directory (config, checkpoints, logs, eval results).
    pub out: PathBuf,
    /// Continue from the last checkpoint in `out`.
    pub resume: bool,
}

/// What a training run did.
#[derive(Clone, Debug, Serialize)]
pub struct TrainPolicyOutcome {
    pub run_dir: PathBuf,
    /// The last checkpoint written.
    pub checkpoint: PathBuf,
    pub algo: AlgoKind,
    pub obs: ObsKind,
    pub epochs: u64,
    pub steps: u64,
    /// The epoch a resumed run continued after.
    pub resumed_after: Option<u64>,
    /// The last logged value of each loss.
    pub losses: BTreeMap<String, f64>,
    pub seconds: f64,
    /// Real plus imagined transitions trained on.
    #[serde(skip)]
    pub transitions: usize,
    /// Distinct instructions (goal embeddings).
    #[serde(skip)]
    pub instructions: usize,
}

/// `vlgor train-policy`: the flags as a plan, the outcome printed.
pub fn run(ctx: &Context, args: &TrainPolicyArgs) -> Result<(), CliError> {
    let plan = TrainPolicyPlan {
        env: args.env.env,
        algo: args.algo,
        real: args.data.clone(),
        imagined: args.imagined.clone(),
        ratio: args.ratio,
        obs: args.obs,
        out: args.out.clone(),
        resume: args.resume,
    };
    let o = train(ctx, &plan)?;
    if !ctx.json {
        println!(
            "{} {} on {} transitions ({} instructions): {} epochs, {} steps in {:.1} s; last {:?} -> {}",
            plan.env,
            o.algo,
            o.transitions,
            o.instructions,
            o.epochs,
            o.steps,
            o.seconds,
            o.losses,
            o.checkpoint.display()
        );
    }
    ctx.emit_json(&serde_json::to_value(&o).map_err(anyhow::Error::from)?);
    Ok(())
}

/// Trains the plan's policy. With [`ObsKind::Image`] the datasets' frames are rendered first
/// (real data from its states, imagined data from its stored frames); each dataset is opened
/// once.
pub fn train(ctx: &Context, plan: &TrainPolicyPlan) -> Result<TrainPolicyOutcome, CliError> {
    train_with_cache(ctx, plan, &mut EmbeddingCache::new())
}

/// [`train`] taking the instructions' goal embeddings from `cache` (texts missing there are
/// embedded and added): the pipeline embeds every instruction of its datasets once for all
/// its policy runs.
pub fn train_with_cache(
    ctx: &Context,
    plan: &TrainPolicyPlan,
    cache: &mut EmbeddingCache,
) -> Result<TrainPolicyOutcome, CliError> {
    check_out_dir(&plan.out, "--out", DirKind::PolicyRun)?;
    let env = plan.env;
    let mut rl = rl_config(ctx, plan.ratio)?;
    let real = open(&plan.real, env.name())?;
    let imagined = plan
        .imagined
        .as_deref()
        .map(|d| open(d, env.name()))
        .transpose()?;
    let frames = match plan.obs {
        ObsKind::State => None,
        ObsKind::Image => Some(crate::frames::training_frames(
            ctx,
            &real,
            imagined.as_ref(),
        )?),
    };
    let observations = match &frames {
        None => ObservationSource::State,
        Some(f) => ObservationSource::Frames(f as &dyn FrameSource),
    };
    if imagined.is_none() && plan.ratio.is_some() {
        tracing::warn!("--ratio is ignored without an imagined dataset (--imagined)");
    }
    if let (Some(im), None) = (&imagined, plan.ratio) {
        rl.training.ratio = imagined_share(
            rl.training.ratio,
            real.manifest.counts.transitions,
            im.manifest.counts.transitions,
        );
        tracing::info!(
            share = rl.training.ratio,
            "imagined share of each batch (proportional to the transitions, capped at rl.ratio)"
        );
    }

    let encoder = SentenceEncoder::from_env(ctx.device).map_err(|e| CliError::Other(e.into()))?;
    let mut sets = vec![&real];
    sets.extend(imagined.as_ref());
    let goals = GoalTable::for_datasets(&encoder, cache, &sets).map_err(rl_error)?;
    let eval_every = rl.evaluation.every as u64;
    let eval_episodes = rl.evaluation.episodes;
    let mut evaluator = (eval_every > 0).then(|| Learned::with_encoder(encoder));
    let eval_specs = dataset_specs(&real);

    let data = TrainingData {
        real: &real,
        imagined: imagined.as_ref(),
        observations,
        goals: &goals,
    };
    let mut trainer = Trainer::new(
        &plan.out,
        env.name(),
        plan.algo,
        rl,
        data,
        ctx.seed,
        ctx.device,
        plan.resume,
    )
    .map_err(rl_error)?;
    let run = trainer.run_config().clone();
    let bar = ctx.progress(
        run.total_steps,
        &format!("train-policy {} {}", env, run.algo),
    );
    // Periodic closed-loop evaluation: when epoch e + 1 starts, epoch e's checkpoint exists.
    // An epoch already in evals.jsonl is not evaluated again, so a resumed run writes the same
    // lines as an uninterrupted one.
    let resumed = if plan.resume {
        vlgor_rl::checkpoint::latest(&plan.out)
            .map_err(rl_error)?
            .map(|(_, m)| m.epoch)
    } else {
        None
    };
    let mut done = keep_evals_up_to(&plan.out, resumed.unwrap_or(0))?;
    let mut last_epoch = 0;
    let mut eval_error = None;
    let mut periodic = |epoch: u64| -> Result<(), CliError> {
        if let Some(ev) = evaluator.as_mut()
            && done.insert(epoch)
        {
            evaluate_epoch(ctx, ev, &plan.out, epoch, &eval_specs, eval_episodes)?;
        }
        Ok(())
    };
    // A run killed between a checkpoint and its evaluation evaluates it now.
    if let Some(k) = resumed
        && eval_every > 0
        && k.is_multiple_of(eval_every)
        && k < run.rl.training.epochs as u64
    {
        periodic(k)?;
    }
    let outcome = trainer
        .train(&mut |p| {
            bar.set_position(p.step);
            if let Some((name, v)) = p.losses.first() {
                bar.set_message(format!("epoch {}/{} {name} {v:.4}", p.epoch, p.epochs));
            }
            if p.epoch > last_epoch {
                if last_epoch > 0
                    && eval_every > 0
                    && last_epoch % eval_every == 0
                    && eval_error.is_none()
                {
                    eval_error = periodic(last_epoch).err();
                }
                last_epoch = p.epoch;
            }
        })
        .map_err(rl_error)?;
    if let Some(e) = eval_error {
        return Err(e);
    }
    if eval_every > 0 && outcome.epochs_done > 0 {
        periodic(outcome.epochs_done)?;
    }
    bar.finish_and_clear();
    Ok(TrainPolicyOutcome {
        run_dir: plan.out.clone(),
        checkpoint: outcome.checkpoint.clone(),
        algo: run.algo,
        obs: run.obs.kind(),
        epochs: outcome.epochs_done,
        steps: outcome.steps_done,
        resumed_after: outcome.resumed_after,
        losses: outcome
            .last_losses
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect(),
        seconds: outcome.seconds,
        transitions: real.transitions() + imagined.as_ref().map_or(0, |d| d.transitions()),
        instructions: goals.len(),
    })
}

/// `vlgor bench train --algo A --obs O`: full-loop and bare-network samples/s at the preset's
/// batch size, both in the same run. `data` is the dataset to sample (`None`: 500 expert CLEVR
/// episodes are collected into a temporary directory first); `frames` the frame store for
/// `--obs image` (`None`: synthetic frames at the `[render]` size, reported as such — the
/// network figure is unaffected, the full loop then excludes frame-store cost).
pub fn bench(
    ctx: &Context,
    algo: AlgoKind,
    obs: ObsKind,
    data: Option<&Dataset>,
    frames: Option<&dyn FrameSource>,
    steps: usize,
) -> Result<(), CliError> {
    let temp = std::env::temp_dir().join(format!("vlgor-bench-train-{}", std::process::id()));
    let collected;
    let real = match data {
        Some(d) => d,
        None => {
            let plan = crate::collect::CollectPlan {
                specs: vec![EnvSpec::Clevr],
                task_arg: None,
                episodes: 500,
                seed: ctx.seed,
                noise: ctx.config.collect.noise,
                episodes_per_shard: 500,
                preset: ctx.preset.clone(),
                frames: None,
                level: vlgor_sim::Level::Seen,
                max_steps: None,
            };
            let bar = ctx.progress(500, "bench train: collecting CLEVR data");
            crate::collect::collect(&plan, &temp, &bar)?;
            bar.finish_and_clear();
            collected = open(&temp, "clevr");
            let _ = std::fs::remove_dir_all(&temp);
            collected
                .as_ref()
                .map_err(|e| CliError::Input(e.to_string()))?
        }
    };
    let synthetic;
    let (observations, frame_kind) = match (obs, frames) {
        (ObsKind::State, _) => (ObservationSource::State, "none"),
        (ObsKind::Image, Some(f)) => (ObservationSource::Frames(f), "frame store"),
        (ObsKind::Image, None) => {
            let (h, w) = (
                ctx.config.render.height as usize,
                ctx.config.render.width as usize,
            );
            let rows = real.observations.len() / real.manifest.obs_dim.max(1);
            synthetic = vlgor_rl::InMemoryFrames {
                height: h,
                width: w,
                real: (0..rows * h * w * 3)
                    .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
                    .collect(),
                imagined: vec![],
            };
            (
                ObservationSource::Frames(&synthetic as &dyn FrameSource),
                "synthetic",
            )
        }
    };
    let encoder = SentenceEncoder::from_env(ctx.device).map_err(|e| CliError::Other(e.into()))?;
    let goals =
        GoalTable::for_datasets(&encoder, &mut EmbeddingCache::new(), &[real]).map_err(rl_error)?;
    drop(encoder);
    let rl = rl_config(ctx, None)?;
    let data = TrainingData {
        real,
        imagined: None,
        observations,
        goals: &goals,
    };
    let r = vlgor_rl::bench::bench_train(data, algo, &rl, steps, ctx.device).map_err(rl_error)?;
    if !ctx.json {
        println!(
            "bench train {} {:?} batch {} (frames: {frame_kind}): full loop {:.0} samples/s, network only {:.0} samples/s ({}, {} torch threads)",
            r.algo,
            r.obs,
            r.batch_size,
            r.full_samples_per_sec.unwrap_or(f64::NAN),
            r.network_samples_per_sec,
            r.device,
            tch::get_num_threads()
        );
    }
    let mut value = serde_json::to_value(&r).expect("bench result serialises");
    value["frames"] = json!(frame_kind);
    value["torch_threads"] = json!(tch::get_num_threads());
    ctx.emit_json(&value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::imagined_share;

    #[test]
    fn imagined_share_is_proportional_and_capped() {
        // 907 imagined transitions beside 28,000 real ones: 3.1%, not the cap.
        let s = imagined_share(0.5, 28_000, 907);
        assert!((s - 907.0 / 28_907.0).abs() < 1e-6, "{s}");
        // A large imagined set is capped at the preset's ratio.
        assert_eq!(imagined_share(0.5, 10_000, 30_000), 0.5);
        assert_eq!(imagined_share(0.5, 0, 0), 0.0);
    }
}
