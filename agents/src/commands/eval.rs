//! `vlgor eval`: closed-loop evaluation in the bevy_ecs loop, per level and seed, with the
//! random and expert reference rows on the same episodes and the paired differences.

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use vlgor_sim::{EnvKind, Level};

use crate::cli::{EvalArgs, PolicyArg, ReferenceArg};
use crate::context::Context;
use crate::ecs::Scripted;
use crate::error::CliError;
use crate::evaluation::{CellResult, EvalOutcome, EvalPlan, PolicyResult, Subject, evaluate};
use crate::report::table;
use vlgor_sim::EnvSpec;

pub fn run(ctx: &Context, args: &EvalArgs) -> Result<(), CliError> {
    let policy = match &args.run {
        Some(path) => PolicyArg::of_path(path.clone()),
        None => args.policy.clone(),
    };
    let expert = Scripted::Expert {
        noise: ctx.config.eval.noise,
    };
    let subject = match &policy {
        PolicyArg::Expert => Subject::Scripted(expert),
        PolicyArg::Random => Subject::Scripted(Scripted::Random),
        PolicyArg::Trained(path) => {
            Subject::Checkpoints(policy_checkpoints(path, ctx.config.eval.checkpoints)?)
        }
        PolicyArg::TorchScript(path) => Subject::TorchScript(path.clone()),
    };
    let env: EnvKind = match (args.env, &subject) {
        (Some(e), _) => e,
        (None, Subject::Checkpoints(c)) => {
            crate::policies::load(ctx, &c[0], None)?.env().parse()?
        }
        (None, Subject::TorchScript(path)) => {
            return Err(CliError::Input(format!(
                "--env is required with a TorchScript policy ({} does not name its environment)",
                path.display()
            )));
        }
        (None, Subject::Scripted(_)) => {
            return Err(CliError::Input(
                "--env is required (clevr or metaworld)".into(),
            ));
        }
    };
    let seeds = args.seeds.clone().unwrap_or_else(|| vec![ctx.seed]);
    if seeds.is_empty() {
        return Err(CliError::Input("--seeds needs at least one seed".into()));
    }
    let mut references = Vec::new();
    for r in &args.reference {
        let s = match r {
            ReferenceArg::Random => Scripted::Random,
            ReferenceArg::Expert => expert,
            ReferenceArg::None => continue,
        };
        let is_subject = matches!(subject, Subject::Scripted(x) if x == s);
        if !is_subject && !references.contains(&s) {
            references.push(s);
        }
    }
    let plan = EvalPlan {
        specs: EnvSpec::select(env, args.task)?,
        levels: args.level.clone(),
        episodes: args
            .episodes
            .map_or(ctx.config.eval.episodes, |e| e as usize),
        seeds,
        subject,
        references,
        parallel: args.parallel as usize,
    };
    let outcome = evaluate(ctx, &plan)?;
    let (printed, gate) = report(ctx, args, &outcome)?;
    if let PolicyArg::Trained(run_dir) = &policy
        && run_dir.is_dir()
    {
        save_result(run_dir, &plan, printed, &outcome)?;
    }
    gate
}

/// The file an evaluation of `plan` is kept in, inside a run directory:
/// `eval/LEVELS-EPISODESxSEEDS.json`.
pub fn result_file(run_dir: &Path, levels: &[Level], episodes: usize, seeds: &[u64]) -> PathBuf {
    let names: Vec<&str> = levels.iter().map(|l| l.name()).collect();
    let seeds: Vec<String> = seeds.iter().map(u64::to_string).collect();
    run_dir.join("eval").join(format!(
        "{}-{episodes}x{}.json",
        names.join("+"),
        seeds.join("+")
    ))
}

/// Keeps the evaluation in the run directory, so a run directory holds its config,
/// checkpoints, logs and eval results: the printed JSON plus, under `outcome`, every
/// per-episode score (for paired comparisons with other runs).
fn save_result(
    run_dir: &Path,
    plan: &EvalPlan,
    mut printed: Value,
    outcome: &EvalOutcome,
) -> Result<(), CliError> {
    let file = result_file(run_dir, &plan.levels, plan.episodes, &plan.seeds);
    printed["outcome"] = serde_json::to_value(outcome).map_err(anyhow::Error::from)?;
    let text = serde_json::to_string_pretty(&printed).map_err(anyhow::Error::from)?;
    vlgor_sim::dataset::write_atomic(&file, text.as_bytes())
        .map_err(|e| CliError::Other(e.into()))?;
    tracing::info!(path = %file.display(), "evaluation saved");
    Ok(())
}

/// The checkpoints to evaluate: a checkpoint file, or a run directory's last `last`
/// (`eval.checkpoints`).
pub fn policy_checkpoints(path: &Path, last: usize) -> Result<Vec<PathBuf>, CliError> {
    if !path.exists() {
        return Err(CliError::Input(format!(
            "--policy {}: not `expert`, `random`, or an existing checkpoint, run directory or TorchScript file",
            path.display()
        )));
    }
    if !path.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let (_, meta) = vlgor_rl::checkpoint::latest(path)
        .map_err(|e| CliError::Input(e.to_string()))?
        .ok_or_else(|| CliError::Input(format!("{}: holds no checkpoint yet", path.display())))?;
    let first = meta.epoch.saturating_sub(last.max(1) as u64 - 1);
    Ok((first..=meta.epoch)
        .map(|e| vlgor_rl::checkpoint::checkpoint_paths(path, e).0)
        .filter(|p| p.exists())
        .collect())
}

fn pct(x: f64) -> String {
    format!("{:.1}%", 100.0 * x)
}

fn fmt_opt(x: Option<f64>) -> String {
    x.map_or_else(|| "-".into(), |v| format!("{v:.1}"))
}

fn row(policy: &str, c: &CellResult) -> Vec<String> {
    vec![
        c.task.clone(),
        c.level.to_string(),
        policy.to_string(),
        format!("{} ± {:.1}", pct(c.mean), 100.0 * c.std),
        c.within_10.map_or_else(|| "-".into(), pct),
        c.judges.map_or_else(
            || "-".into(),
            |j| format!("{} / {}", pct(j.kalm_state), pct(j.kalm_action)),
        ),
        fmt_opt(c.mean_steps),
        format!(
            "{} × {}",
            c.episode_success.first().map_or(0, Vec::len),
            c.per_seed.len()
        ),
    ]
}

/// JSON of one cell without the per-episode scores.
fn cell_json(c: &CellResult) -> Value {
    json!({"mean": c.mean, "std": c.std, "per_seed": c.per_seed,
           "mean_steps": c.mean_steps, "median_steps": c.median_steps,
           "within_10": c.within_10, "judges": c.judges,
           "episode_success": c.episode_success})
}

fn policy_json(p: &PolicyResult, per_task: bool) -> Value {
    let mut out = json!({"policy": p.policy, "checkpoints": p.checkpoints,
                         "success_rate": p.success_rate()});
    if per_task {
        let mut tasks = serde_json::Map::new();
        for c in &p.cells {
            let t = tasks
                .entry(c.task.clone())
                .or_insert_with(|| json!({"per_level": {}}));
            t["per_level"][c.level.name()] = cell_json(c);
        }
        for t in tasks.values_mut() {
            let rates: Vec<f64> = t["per_level"]
                .as_object()
                .map(|m| m.values().filter_map(|v| v["mean"].as_f64()).collect())
                .unwrap_or_default();
            t["success_rate"] = json!(crate::report::mean_std(&rates).0);
        }
        out["per_task"] = Value::Object(tasks);
    } else {
        let per_level: serde_json::Map<_, _> = p
            .cells
            .iter()
            .map(|c| (c.level.to_string(), cell_json(c)))
            .collect();
        out["per_level"] = Value::Object(per_level);
    }
    out
}

/// Prints the tables and the JSON; returns the JSON and the verdict of `--min-success`.
fn report(
    ctx: &Context,
    args: &EvalArgs,
    o: &EvalOutcome,
) -> Result<(Value, Result<(), CliError>), CliError> {
    let mut rows = Vec::new();
    for c in &o.subject.cells {
        rows.push(row(&short(&o.subject.policy), c));
        for r in &o.references {
            if let Some(rc) = r.cell(&c.task, c.level) {
                rows.push(row(&r.policy, rc));
            }
        }
    }
    let success_rate = o.subject.success_rate();
    let steps: Vec<f64> = o
        .subject
        .cells
        .iter()
        .filter_map(|c| c.mean_steps)
        .collect();
    if !ctx.json {
        if o.subject.checkpoints > 1 {
            println!(
                "success averaged over the last {} checkpoints",
                o.subject.checkpoints
            );
        }
        println!(
            "{}",
            table(
                &[
                    "env/task",
                    "level",
                    "policy",
                    "success (mean ± std over seeds)",
                    "within 10",
                    "KALM judges state / action",
                    "mean steps",
                    "episodes × seeds"
                ],
                &rows
            )
        );
        let mut diffs = Vec::new();
        let mut warnings = Vec::new();
        for r in &o.references {
            for (task, level, d) in o.subject.paired_against(r) {
                diffs.push(vec![
                    task.clone(),
                    level.to_string(),
                    format!("{} − {}", short(&o.subject.policy), r.policy),
                    d.points(),
                ]);
                if r.policy == "random" && d.lo <= 0.0 {
                    warnings.push(format!(
                        "{task} {level}: the policy does not beat a random policy \
                         (paired 95% interval {} points includes or lies below 0)",
                        d.points()
                    ));
                }
            }
        }
        if !diffs.is_empty() {
            println!(
                "\n{}",
                table(
                    &[
                        "env/task",
                        "level",
                        "difference",
                        "points, paired 95% interval"
                    ],
                    &diffs
                )
            );
        }
        for w in warnings {
            println!("note: {w}");
        }
        println!("overall success rate: {}", pct(success_rate));
    }
    let per_task = o
        .subject
        .cells
        .iter()
        .any(|c| c.task != o.subject.cells[0].task);
    let mut out = policy_json(&o.subject, per_task);
    out["env"] = json!(o.env.name());
    out["seeds"] = json!(o.seeds);
    out["episodes"] = json!(o.episodes);
    out["mean_steps"] =
        json!((!steps.is_empty()).then(|| steps.iter().sum::<f64>() / steps.len() as f64));
    let mut refs = serde_json::Map::new();
    let mut paired = serde_json::Map::new();
    for r in &o.references {
        refs.insert(r.policy.clone(), policy_json(r, per_task));
        let d: Vec<Value> = o
            .subject
            .paired_against(r)
            .into_iter()
            .map(|(task, level, d)| json!({"task": task, "level": level, "diff": d}))
            .collect();
        paired.insert(r.policy.clone(), Value::Array(d));
    }
    out["references"] = Value::Object(refs);
    out["paired"] = Value::Object(paired);
    ctx.emit_json(&out);
    if let Some(min) = args.min_success
        && success_rate < min
    {
        let gate = CliError::Gate(format!(
            "success rate {} is below --min-success {}",
            pct(success_rate),
            pct(min)
        ));
        return Ok((out, Err(gate)));
    }
    Ok((out, Ok(())))
}

/// The last path component of a checkpoint or run path (tables stay narrow).
fn short(policy: &str) -> String {
    Path::new(policy)
        .file_name()
        .map_or_else(|| policy.to_string(), |n| n.to_string_lossy().into_owned())
}
