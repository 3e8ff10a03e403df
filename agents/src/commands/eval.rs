//! `vlgor eval`: closed-loop evaluation in the bevy_ecs loop, per level and seed.

use serde_json::json;
use vlgor_sim::Level;

use crate::cli::EvalArgs;
use crate::context::Context;
use crate::ecs::{EpisodeJob, LearnedPolicy, PolicyKind, episode_jobs, run_episodes};
use crate::envs::EnvSpec;
use crate::error::CliError;
use crate::policies;
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
    let trained = args.run.clone().or_else(|| match args.policy.as_str() {
        "expert" | "random" => None,
        other => Some(std::path::PathBuf::from(other)),
    });
    let (policy, checkpoints) = match &trained {
        None if args.policy == "random" => (PolicyKind::Random, vec![]),
        None => (
            PolicyKind::Expert {
                noise: ctx.config.eval.noise,
            },
            vec![],
        ),
        Some(path) => (PolicyKind::Learned, policy_checkpoints(path)?),
    };
    let env = match (&args.env, checkpoints.first()) {
        (Some(e), _) => e.clone(),
        (None, Some(ckpt)) => policies::load(ctx, ckpt, None)?.env().to_string(),
        (None, None) => {
            return Err(CliError::Input(
                "--env is required (clevr or metaworld)".into(),
            ));
        }
    };
    let specs = EnvSpec::parse_many(&env, args.task.as_deref())?;
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
    let mut learned = Learned::new(ctx, &checkpoints, &env)?;

    let runs = checkpoints.len().max(1);
    let total = (specs.len() * levels.len() * seeds.len() * episodes * runs) as u64;
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
                let mut rate = 0.0;
                for run in 0..runs {
                    let jobs = episode_jobs(*spec, level, seed, episodes);
                    let resource = learned
                        .as_mut()
                        .map(|l| l.resource(ctx, run, &jobs))
                        .transpose()?;
                    let (outcomes, back) =
                        run_episodes(*spec, policy, resource, jobs, args.parallel, bar.clone())?;
                    if let (Some(l), Some(back)) = (learned.as_mut(), back) {
                        l.give_back(back);
                    }
                    let successes = outcomes.iter().filter(|o| o.success).count();
                    rate += successes as f64 / outcomes.len() as f64 / runs as f64;
                    cell.success_steps
                        .extend(outcomes.iter().filter(|o| o.success).map(|o| o.steps));
                }
                cell.per_seed.push(rate);
            }
            cells.push(cell);
        }
    }
    bar.finish_and_clear();
    if runs > 1 && !ctx.json {
        println!("success averaged over the last {runs} checkpoints");
    }
    let (result, gate) = report(ctx, args, &specs, &seeds, &cells)?;
    if let Some(run_dir) = trained.as_deref().filter(|p| p.is_dir()) {
        save_result(run_dir, &levels, episodes, &seeds, &result)?;
    }
    gate
}

/// Keeps evaluation results in the run directory (`eval/LEVELS-EPISODESxSEEDS.json`), so a run
/// directory holds its config, checkpoints, logs and eval results.
fn save_result(
    run_dir: &std::path::Path,
    levels: &[Level],
    episodes: usize,
    seeds: &[u64],
    result: &serde_json::Value,
) -> Result<(), CliError> {
    let names: Vec<&str> = levels.iter().map(|l| l.name()).collect();
    let seeds: Vec<String> = seeds.iter().map(u64::to_string).collect();
    let file = run_dir.join("eval").join(format!(
        "{}-{episodes}x{}.json",
        names.join("+"),
        seeds.join("+")
    ));
    let text = serde_json::to_string_pretty(result).map_err(anyhow::Error::from)?;
    vlgor_sim::dataset::write_atomic(&file, text.as_bytes())
        .map_err(|e| CliError::Other(e.into()))?;
    tracing::info!(path = %file.display(), "evaluation saved");
    Ok(())
}

/// The checkpoints to evaluate: a checkpoint file, or a run directory's last five.
fn policy_checkpoints(path: &std::path::Path) -> Result<Vec<std::path::PathBuf>, CliError> {
    if !path.exists() {
        return Err(CliError::Input(format!(
            "--policy {}: not `expert`, `random`, or an existing checkpoint or run directory",
            path.display()
        )));
    }
    if !path.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let (_, meta) = vlgor_rl::checkpoint::latest(path)
        .map_err(|e| CliError::Input(e.to_string()))?
        .ok_or_else(|| CliError::Input(format!("{}: holds no checkpoint yet", path.display())))?;
    Ok((meta.epoch.saturating_sub(4)..=meta.epoch)
        .map(|e| vlgor_rl::checkpoint::checkpoint_paths(path, e).0)
        .filter(|p| p.exists())
        .collect())
}

/// Trained policies under evaluation, with the frozen encoder that embeds their goals.
pub(crate) struct Learned {
    checkpoints: Vec<std::path::PathBuf>,
    encoder: vlgor_vlm::SentenceEncoder,
    cache: vlgor_vlm::EmbeddingCache,
    /// The resource of the previous run, reused when the checkpoint is the same.
    idle: Option<(usize, LearnedPolicy)>,
}

impl Learned {
    fn new(
        ctx: &Context,
        checkpoints: &[std::path::PathBuf],
        env: &str,
    ) -> Result<Option<Learned>, CliError> {
        if checkpoints.is_empty() {
            return Ok(None);
        }
        policies::load(ctx, &checkpoints[0], Some(env))?;
        let encoder = vlgor_vlm::SentenceEncoder::from_env(ctx.device)
            .map_err(|e| CliError::Input(e.to_string()))?;
        Ok(Some(Learned {
            checkpoints: checkpoints.to_vec(),
            encoder,
            cache: Default::default(),
            idle: None,
        }))
    }

    /// The loop resource for checkpoint `run`, with goal embeddings for `jobs`' instructions.
    fn resource(
        &mut self,
        ctx: &Context,
        run: usize,
        jobs: &[EpisodeJob],
    ) -> Result<LearnedPolicy, CliError> {
        let texts: Vec<&str> = jobs.iter().map(|j| j.instruction.text.as_str()).collect();
        let goals = vlgor_rl::GoalTable::for_texts(&self.encoder, &mut self.cache, &texts)
            .map_err(|e| CliError::Other(e.into()))?;
        if let Some((k, mut idle)) = self.idle.take()
            && k == run
        {
            idle.goals = goals;
            return Ok(idle);
        }
        let policy = policies::load(ctx, &self.checkpoints[run], None)?;
        let renderer = policies::renderer_for(ctx, &policy)?;
        Ok(LearnedPolicy {
            policy,
            goals,
            renderer,
            camera: None,
        })
    }

    /// An evaluator for checkpoints written during training (see [`Learned::success_rate`]).
    pub(crate) fn for_training(encoder: vlgor_vlm::SentenceEncoder) -> Learned {
        Learned {
            checkpoints: vec![],
            encoder,
            cache: Default::default(),
            idle: None,
        }
    }

    /// Closed-loop success rate of `checkpoint` over `episodes` episodes of `level`.
    pub(crate) fn success_rate(
        &mut self,
        ctx: &Context,
        checkpoint: &std::path::Path,
        spec: EnvSpec,
        level: Level,
        episodes: usize,
    ) -> Result<f64, CliError> {
        self.checkpoints = vec![checkpoint.to_path_buf()];
        self.idle = None;
        let jobs = episode_jobs(spec, level, ctx.seed, episodes);
        let resource = self.resource(ctx, 0, &jobs)?;
        let (outcomes, _) = run_episodes(
            spec,
            PolicyKind::Learned,
            Some(resource),
            jobs,
            16,
            indicatif::ProgressBar::hidden(),
        )?;
        Ok(outcomes.iter().filter(|o| o.success).count() as f64 / outcomes.len().max(1) as f64)
    }

    fn give_back(&mut self, resource: LearnedPolicy) {
        let run = self
            .checkpoints
            .iter()
            .position(|c| c.as_path() == resource.policy.checkpoint().0);
        self.idle = run.map(|k| (k, resource));
    }
}

/// Prints the table and the JSON; returns the JSON and the verdict of `--min-success`.
fn report(
    ctx: &Context,
    args: &EvalArgs,
    specs: &[EnvSpec],
    seeds: &[u64],
    cells: &[Cell],
) -> Result<(serde_json::Value, Result<(), CliError>), CliError> {
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
    let all_steps: Vec<usize> = cells
        .iter()
        .flat_map(|c| c.success_steps.iter().copied())
        .collect();
    if !ctx.json {
        println!(
            "{}",
            table(
                &[
                    "env/task",
                    "level",
                    "success (mean ± std over seeds)",
                    "mean steps",
                    "median steps",
                    "episodes × seeds"
                ],
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
                let steps: Vec<usize> = mine
                    .iter()
                    .flat_map(|c| c.success_steps.iter().copied())
                    .collect();
                (
                    s.label().to_string(),
                    json!({"success_rate": mean_std(&rates).0,
                    "mean_steps": mean_steps(&steps), "median_steps": median_steps(&steps)}),
                )
            })
            .collect();
        out["per_task"] = per_task.into();
    } else {
        let per_level: serde_json::Map<_, _> = cells
            .iter()
            .map(|c| (c.level.to_string(), cell_json(c)))
            .collect();
        out["per_level"] = per_level.into();
    }
    ctx.emit_json(&out);
    if let Some(min) = args.min_success
        && success_rate < min
    {
        let gate = CliError::Gate(format!(
            "success rate {:.1}% is below --min-success {:.1}%",
            100.0 * success_rate,
            100.0 * min
        ));
        return Ok((out, Err(gate)));
    }
    Ok((out, Ok(())))
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
    Some(if n % 2 == 1 {
        s[n / 2] as f64
    } else {
        (s[n / 2 - 1] + s[n / 2]) as f64 / 2.0
    })
}

fn fmt_opt(x: Option<f64>) -> String {
    x.map_or_else(|| "-".into(), |v| format!("{v:.1}"))
}
