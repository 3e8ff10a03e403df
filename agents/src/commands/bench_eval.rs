//! `vlgor bench eval`: closed-loop throughput of the evaluation loop with an image policy —
//! 64 parallel envs, each tick = batched render + one batched policy forward + physics + scoring.

use serde_json::json;
use std::time::Instant;
use vlgor_rl::config::AlgoKind;
use vlgor_rl::{GoalTable, ObservationSource, Trainer, TrainingData};
use vlgor_sim::Level;
use vlgor_sim::dataset::Dataset;
use vlgor_vlm::{EmbeddingCache, SentenceEncoder};

use crate::context::Context;
use crate::ecs::{Driver, LearnedPolicy, episode_jobs, run_episodes};
use crate::error::CliError;
use vlgor_sim::{EnvKind, EnvSpec};

/// Parallel environment instances, as the figure specifies.
const PARALLEL: usize = 64;

pub fn run(ctx: &Context, env: EnvKind, episodes: usize) -> Result<(), CliError> {
    let spec = EnvSpec::first_of(env);
    let temp = std::env::temp_dir().join(format!("vlgor-bench-eval-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&temp);
    let result = measure(ctx, spec, episodes, &temp);
    let _ = std::fs::remove_dir_all(&temp);
    let (steps, secs, adapter) = result?;
    let sps = steps as f64 / secs;
    if !ctx.json {
        println!(
            "{env}: {episodes} episodes, {steps} env-steps in {secs:.2} s = {sps:.0} env-steps/s \
             ({PARALLEL} parallel envs, image policy at {}x{}, adapter {adapter})",
            ctx.config.render.width, ctx.config.render.height
        );
    }
    ctx.emit_json(
        &json!({"env": env, "parallel": PARALLEL, "episodes": episodes, "env_steps": steps,
        "seconds": secs, "env_steps_per_sec": sps, "adapter": adapter}),
    );
    Ok(())
}

/// Trains a small image BC policy (one short epoch: the figure is throughput, not success), then
/// times the closed loop. Returns (env-steps, seconds, adapter).
fn measure(
    ctx: &Context,
    spec: EnvSpec,
    episodes: usize,
    temp: &std::path::Path,
) -> Result<(usize, f64, String), CliError> {
    let data_dir = temp.join("data");
    let plan = crate::collect::CollectPlan {
        specs: vec![spec],
        task_arg: None,
        episodes: 64,
        seed: ctx.seed,
        noise: 0.5,
        episodes_per_shard: 64,
        preset: ctx.preset.clone(),
        frames: None,
        level: vlgor_sim::Level::Seen,
        max_steps: None,
    };
    crate::collect::collect(&plan, &data_dir, &indicatif::ProgressBar::hidden())?;
    let data = Dataset::open(&data_dir, None).map_err(|e| CliError::Other(e.into()))?;
    let frames = crate::frames::training_frames(ctx, &data, None)?;
    let encoder =
        SentenceEncoder::from_env(ctx.device).map_err(|e| CliError::Input(e.to_string()))?;
    let mut cache = EmbeddingCache::new();
    let goals = GoalTable::for_datasets(&encoder, &mut cache, &[&data])
        .map_err(|e| CliError::Other(e.into()))?;
    let mut rl = ctx.config.rl.clone();
    rl.training.epochs = 1;
    rl.training.steps_per_epoch = 2;
    let run_dir = temp.join("run");
    let training = TrainingData {
        real: &data,
        imagined: None,
        observations: ObservationSource::Frames(&frames),
        goals: &goals,
    };
    Trainer::new(
        &run_dir,
        spec.kind().name(),
        AlgoKind::Bc,
        rl,
        training,
        ctx.seed,
        ctx.device,
        false,
    )
    .and_then(|mut t| t.train(&mut |_| {}))
    .map_err(|e| CliError::Other(e.into()))?;

    let policy = crate::policies::load(ctx, &run_dir, Some(spec.kind().name()))?;
    let jobs = episode_jobs(spec, Level::Seen, ctx.seed, episodes);
    let texts: Vec<&str> = jobs.iter().map(|j| j.instruction.text.as_str()).collect();
    let goals = GoalTable::for_texts(&encoder, &mut cache, &texts)
        .map_err(|e| CliError::Other(e.into()))?;
    let renderer = crate::policies::renderer_for(ctx, policy.frame_shape())?;
    let adapter = renderer
        .as_ref()
        .map_or_else(String::new, |r| r.adapter_info().to_string());
    let learned = LearnedPolicy {
        policy: crate::policies::LoadedPolicy::Checkpoint(Box::new(policy)),
        goals,
        renderer,
        camera: None,
    };
    let bar = ctx.progress(episodes as u64, "bench eval");
    let start = Instant::now();
    let (outcomes, _) = run_episodes(
        spec,
        Driver::Learned(Box::new(learned)),
        jobs,
        PARALLEL,
        bar.clone(),
    )?;
    let secs = start.elapsed().as_secs_f64();
    bar.finish_and_clear();
    Ok((outcomes.iter().map(|o| o.steps).sum(), secs, adapter))
}
