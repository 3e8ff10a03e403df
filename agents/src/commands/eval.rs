//! `vlgor eval`: closed-loop evaluation in the bevy_ecs loop, per level and seed.

use serde_json::json;
use vlgor_sim::Level;

use crate::cli::EvalArgs;
use crate::context::Context;
use crate::ecs::{PolicyKind, episode_jobs, run_episodes};
use crate::envs::EnvSpec;
use crate::error::CliError;
use crate::report::{mean_std, table};

/// Success statistics of one (env/task, level) cell over the seeds.
struct Cell {
    label: &'static str,
    level: Level,
    per_seed: Vec<f64>,
    /// Steps to success of every successful episode, all seeds.
    success_steps: Vec<usize>,
    episodes: usize,
}

pub fn run(ctx: &Context, args: &EvalArgs) -> Result<(), CliError> {
    if args.run.is_some() {
        return Err(CliError::NotBuilt("eval RUN_DIR", "trained policies land with issue #7"));
    }
    let policy = match args.policy.as_str() {
        "expert" => PolicyKind::Expert { noise: ctx.config.eval.noise },
        "random" => PolicyKind::Random,
        other if std::path::Path::new(other).exists() => {
            return Err(CliError::NotBuilt("eval --policy CKPT", "trained policies land with issue #7"));
        }
        other => {
            return Err(CliError::Input(format!(
                "--policy {other}: not `expert`, `random`, or an existing checkpoint path"
            )));
        }
    };
    let env = args
        .env
        .as_deref()
        .ok_or_else(|| CliError::Input("--env is required (clevr or metaworld)".into()))?;
    let specs = EnvSpec::parse_many(env, args.task.as_deref())?;
    let levels: Vec<Level> = args
        .level
        .split(',')
        .map(|l| l.trim().parse())
        .collect::<Result<_, _>>()?;
    let episodes = args.episodes.unwrap_or(ctx.config.eval.episodes);
    if episodes == 0 {
        return Err(CliError::Input("--episodes must be at least 1".into()));
    }
    let seeds = args.seeds.clone().unwrap_or_else(|| vec![ctx.seed]);
    if seeds.is_empty() {
        return Err(CliError::Input("--seeds needs at least one seed".into()));
    }

    let total = (specs.len() * levels.len() * seeds.len() * episodes) as u64;
    let bar = ctx.progress(total, &format!("eval {} ({})", env, args.policy));
    let mut cells = Vec::new();
    for spec in &specs {
        for &level in &levels {
            let mut cell = Cell {
                label: spec.label(),
                level,
                per_seed: vec![],
                success_steps: vec![],
                episodes,
            };
            for &seed in &seeds {
                let jobs = episode_jobs(*spec, level, seed, episodes);
                let outcomes = run_episodes(*spec, policy, jobs, args.parallel, bar.clone())?;
                let successes = outcomes.iter().filter(|o| o.success).count();
                cell.per_seed.push(successes as f64 / outcomes.len() as f64);
                cell.success_steps
                    .extend(outcomes.iter().filter(|o| o.success).map(|o| o.steps));
            }
            cells.push(cell);
        }
    }
    bar.finish_and_clear();
    report(ctx, args, &specs, &seeds, &cells)
}

fn report(
    ctx: &Context,
    args: &EvalArgs,
    specs: &[EnvSpec],
    seeds: &[u64],
    cells: &[Cell],
) -> Result<(), CliError> {
    let rows: Vec<Vec<String>> = cells
        .iter()
        .map(|c| {
            let (m, s) = mean_std(&c.per_seed);
            vec![
                c.label.to_string(),
                c.level.to_string(),
                format!("{:.1}% ± {:.1}", 100.0 * m, 100.0 * s),
                fmt_opt(mean_steps(&c.success_steps)),
                fmt_opt(median_steps(&c.success_steps)),
                format!("{} × {}", c.episodes, c.per_seed.len()),
            ]
        })
        .collect();
    let overall: Vec<f64> = cells.iter().map(|c| mean_std(&c.per_seed).0).collect();
    let success_rate = mean_std(&overall).0;
    let all_steps: Vec<usize> = cells.iter().flat_map(|c| c.success_steps.iter().copied()).collect();
    if !ctx.json {
        println!(
            "{}",
            table(
                &["env/task", "level", "success (mean ± std over seeds)", "mean steps", "median steps", "episodes × seeds"],
                &rows
            )
        );
        println!("overall success rate: {:.1}%", 100.0 * success_rate);
    }
    let cell_json = |c: &Cell| {
        let (m, s) = mean_std(&c.per_seed);
        json!({"mean": m, "std": s, "per_seed": c.per_seed,
               "mean_steps": mean_steps(&c.success_steps), "median_steps": median_steps(&c.success_steps)})
    };
    let mut out = json!({
        "env": specs[0].kind().name(),
        "policy": args.policy,
        "seeds": seeds,
        "episodes": cells.first().map(|c| c.episodes),
        "success_rate": success_rate,
        "mean_steps": mean_steps(&all_steps),
        "median_steps": median_steps(&all_steps),
    });
    if specs.len() > 1 {
        let per_task: serde_json::Map<_, _> = specs
            .iter()
            .map(|s| {
                let mine: Vec<&Cell> = cells.iter().filter(|c| c.label == s.label()).collect();
                let rates: Vec<f64> = mine.iter().map(|c| mean_std(&c.per_seed).0).collect();
                let steps: Vec<usize> = mine.iter().flat_map(|c| c.success_steps.iter().copied()).collect();
                (s.label().to_string(), json!({"success_rate": mean_std(&rates).0,
                    "mean_steps": mean_steps(&steps), "median_steps": median_steps(&steps)}))
            })
            .collect();
        out["per_task"] = per_task.into();
    } else {
        let per_level: serde_json::Map<_, _> =
            cells.iter().map(|c| (c.level.to_string(), cell_json(c))).collect();
        out["per_level"] = per_level.into();
    }
    ctx.emit_json(&out);
    if let Some(min) = args.min_success
        && success_rate < min
    {
        return Err(CliError::Gate(format!(
            "success rate {:.1}% is below --min-success {:.1}%",
            100.0 * success_rate,
            100.0 * min
        )));
    }
    Ok(())
}

fn mean_steps(steps: &[usize]) -> Option<f64> {
    (!steps.is_empty()).then(|| steps.iter().sum::<usize>() as f64 / steps.len() as f64)
}

fn median_steps(steps: &[usize]) -> Option<f64> {
    if steps.is_empty() {
        return None;
    }
    let mut s = steps.to_vec();
    s.sort_unstable();
    let n = s.len();
    Some(if n % 2 == 1 { s[n / 2] as f64 } else { (s[n / 2 - 1] + s[n / 2]) as f64 / 2.0 })
}

fn fmt_opt(x: Option<f64>) -> String {
    x.map_or_else(|| "-".into(), |v| format!("{v:.1}"))
}
