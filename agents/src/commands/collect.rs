//! `vlgor collect`: expert datasets on one level's instructions (training level by default).

use serde_json::json;

use crate::cli::CollectArgs;
use crate::collect::{CollectPlan, collect};
use crate::context::Context;
use crate::error::CliError;
use crate::out_paths::{DirKind, check_out_dir};
use vlgor_sim::EnvSpec;

pub fn run(ctx: &Context, args: &CollectArgs) -> Result<(), CliError> {
    check_out_dir(&args.out, "--out", DirKind::Dataset)?;
    let specs = EnvSpec::select(args.env.env, args.task)?;
    let noise = args.noise.unwrap_or(ctx.config.collect.noise);
    if !(0.0..=1.0).contains(&noise) {
        return Err(CliError::Input(format!(
            "--noise {noise}: must be in [0, 1]"
        )));
    }
    let episodes = args.episodes.unwrap_or(ctx.config.collect.episodes);
    if episodes == 0 {
        return Err(CliError::Input("--episodes must be at least 1".into()));
    }
    let plan = CollectPlan {
        specs,
        task_arg: args.task.map(|t| t.name().to_string()),
        episodes,
        seed: ctx.seed,
        noise,
        episodes_per_shard: ctx.config.collect.episodes_per_shard,
        preset: ctx.preset.clone(),
        frames: args.frames.then(|| ctx.render_config()),
        level: args.level.unwrap_or(vlgor_sim::Level::Seen),
        max_steps: args.max_steps.map(|n| n as usize),
    };
    crate::evaluation::check_levels(plan.specs[0].kind(), &[plan.level])?;
    let bar = ctx.progress(episodes as u64, &format!("collect {}", args.env.env));
    let start = std::time::Instant::now();
    let manifest = collect(&plan, &args.out, &bar)?;
    bar.finish_and_clear();
    let secs = start.elapsed().as_secs_f64();
    let c = &manifest.counts;
    if !ctx.json {
        println!(
            "{}: {} episodes, {} transitions, success {:.1}% in {secs:.1} s -> {}",
            manifest.env,
            c.episodes,
            c.transitions,
            100.0 * c.successes as f64 / c.episodes.max(1) as f64,
            args.out.display()
        );
    }
    ctx.emit_json(
        &json!({"dir": args.out, "episodes": c.episodes, "transitions": c.transitions,
        "successes": c.successes, "seconds": secs}),
    );
    Ok(())
}
