//! `vlgor bench ...`: throughput figures recorded in BENCHMARKS.md.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::json;
use std::time::Instant;
use vlgor_sim::Level;

use crate::context::Context;
use crate::error::CliError;
use vlgor_sim::metaworld::Task;
use vlgor_sim::{EnvKind, EnvSpec, TaskChoice};

/// Random-action physics steps per second on one core, state only; resets at the horizon.
pub fn sim(ctx: &Context, env: EnvKind, task: Option<Task>, steps: usize) -> Result<(), CliError> {
    let spec = EnvSpec::select(env, task.map(TaskChoice::One))?[0];
    let mut rng = ChaCha8Rng::seed_from_u64(ctx.seed);
    let mut sim = spec.make();
    let mut episode = 0u64;
    let mut reset = |sim: &mut Box<dyn vlgor_sim::Env>, rng: &mut ChaCha8Rng| {
        let instruction = spec.sample_instruction(Level::Seen, rng);
        episode += 1;
        sim.reset(ctx.seed.wrapping_add(episode), &instruction)
    };
    reset(&mut sim, &mut rng)?;
    // Warm-up outside the timed region.
    for _ in 0..steps.min(200) {
        let a = sim.random_action(&mut rng);
        sim.step(&a)?;
    }
    reset(&mut sim, &mut rng)?;
    let bar = ctx.progress(steps as u64, &format!("bench sim {}", spec.label()));
    let start = Instant::now();
    let mut resets = 0usize;
    for i in 0..steps {
        if sim.steps() >= sim.horizon() {
            reset(&mut sim, &mut rng)?;
            resets += 1;
        }
        let a = sim.random_action(&mut rng);
        sim.step(&a)?;
        if i % 1024 == 0 {
            bar.set_position(i as u64);
        }
    }
    let secs = start.elapsed().as_secs_f64();
    bar.finish_and_clear();
    let sps = steps as f64 / secs;
    if !ctx.json {
        println!(
            "{}: {steps} random steps in {secs:.2} s = {sps:.0} steps/s on one core ({resets} resets)",
            spec.label()
        );
    }
    ctx.emit_json(
        &json!({"env": spec.kind().name(), "task": spec.label(), "steps": steps,
        "seconds": secs, "steps_per_sec": sps}),
    );
    Ok(())
}

/// Batched frames per second of random scenes at the configured resolution, readback included.
pub fn render(ctx: &Context, env: EnvKind, batch: usize, batches: usize) -> Result<(), CliError> {
    if batch == 0 || batches == 0 {
        return Err(CliError::Input(
            "--batch and --batches must be at least 1".into(),
        ));
    }
    let specs = EnvSpec::all_of(env);
    let mut rng = ChaCha8Rng::seed_from_u64(ctx.seed);
    // Random scenes: random initial states, a few random steps each.
    let mut scenes = Vec::with_capacity(batch);
    for i in 0..batch {
        let spec = specs[i % specs.len()];
        let mut sim = spec.make();
        let instruction = spec.sample_instruction(Level::Seen, &mut rng);
        sim.reset(ctx.seed.wrapping_add(i as u64), &instruction)?;
        for _ in 0..(i % 5) {
            let a = sim.random_action(&mut rng);
            sim.step(&a)?;
        }
        scenes.push(sim.scene(sim.cameras()[0])?);
    }
    let r = &ctx.config.render;
    let mut renderer =
        vlgor_render::Renderer::new(ctx.render_config()).map_err(|e| CliError::Other(e.into()))?;
    let adapter = renderer.adapter_info().to_string();
    renderer
        .render_batch(&scenes)
        .map_err(|e| CliError::Other(e.into()))?; // warm-up
    let bar = ctx.progress(batches as u64, &format!("bench render {env}"));
    let start = Instant::now();
    for _ in 0..batches {
        let frames = renderer
            .render_batch(&scenes)
            .map_err(|e| CliError::Other(e.into()))?;
        std::hint::black_box(&frames);
        bar.inc(1);
    }
    let secs = start.elapsed().as_secs_f64();
    bar.finish_and_clear();
    let fps = (batch * batches) as f64 / secs;
    if !ctx.json {
        println!(
            "{env}: {} frames of {}x{} (supersample {}) in {secs:.2} s = {fps:.0} frames/s, batch {batch}, adapter {adapter}",
            batch * batches,
            r.width,
            r.height,
            r.supersample
        );
    }
    ctx.emit_json(
        &json!({"env": env, "width": r.width, "height": r.height, "batch": batch,
        "frames": batch * batches, "seconds": secs, "frames_per_sec": fps, "adapter": adapter}),
    );
    Ok(())
}

/// Collects a dataset into a temporary directory: episodes/s (all cores), bytes per transition
/// on disk, and the time to load it back (checksums included).
pub fn collect(
    ctx: &Context,
    env: EnvKind,
    episodes: Option<usize>,
    noise: f32,
    task: Option<TaskChoice>,
) -> Result<(), CliError> {
    let is_clevr = env == EnvKind::Clevr;
    let specs = EnvSpec::select(env, task.or((!is_clevr).then_some(TaskChoice::All)))?;
    let episodes = episodes.unwrap_or(if is_clevr { 6400 } else { 200 });
    if episodes == 0 || !(0.0..=1.0).contains(&noise) {
        return Err(CliError::Input(
            "--episodes must be >= 1 and --noise in [0, 1]".into(),
        ));
    }
    let plan = crate::collect::CollectPlan {
        specs,
        task_arg: task.map(|t| t.name().to_string()),
        episodes,
        seed: ctx.seed,
        noise,
        episodes_per_shard: ctx.config.collect.episodes_per_shard,
        preset: ctx.preset.clone(),
        frames: None,
        level: vlgor_sim::Level::Seen,
        max_steps: None,
    };
    let dir = std::env::temp_dir().join(format!("vlgor-bench-collect-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let bar = ctx.progress(episodes as u64, &format!("bench collect {env}"));
    let start = Instant::now();
    let manifest = crate::collect::collect(&plan, &dir, &bar);
    let secs = start.elapsed().as_secs_f64();
    bar.finish_and_clear();
    let result = manifest.and_then(|m| {
        let load_start = Instant::now();
        let data =
            vlgor_sim::dataset::Dataset::open(&dir, None).map_err(|e| CliError::Other(e.into()))?;
        Ok((m, data.transitions(), load_start.elapsed().as_secs_f64()))
    });
    let _ = std::fs::remove_dir_all(&dir);
    let (m, transitions, load_secs) = result?;
    let bytes: u64 = m.shards.iter().map(|s| s.bytes).sum();
    let eps = episodes as f64 / secs;
    let bpt = bytes as f64 / transitions.max(1) as f64;
    if !ctx.json {
        println!(
            "{env}: {episodes} episodes ({transitions} transitions) in {secs:.2} s = {eps:.0} episodes/s; \
             {bpt:.0} bytes/transition; loaded in {load_secs:.3} s"
        );
    }
    ctx.emit_json(
        &json!({"env": env, "episodes": episodes, "transitions": transitions, "noise": noise,
        "seconds": secs, "episodes_per_sec": eps, "bytes_per_transition": bpt,
        "load_seconds": load_secs}),
    );
    Ok(())
}
