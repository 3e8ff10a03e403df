//! The policies stage: the grid of (algorithm, arm, seed) runs, each trained on the real data
//! and its arm's mix and evaluated closed-loop, and the random and expert reference rows on
//! the same episodes.

use std::collections::BTreeMap;
use std::path::Path;
use vlgor_rl::config::AlgoKind;

use super::Layout;
use super::arms::{Variant, variants};
use super::goals::GoalEmbeddings;
use super::records::{PolicyRecord, PolicySummary, SkippedPolicy, to_summary};
use super::stages::{eval_levels, specs};
use crate::commands::train_policy::TrainPolicyPlan;
use crate::context::Context;
use crate::error::CliError;
use crate::imagination::mix::MixSummary;
use crate::vlm_run::{read_json, write_json};
use vlgor_vlm::EmbeddingCache;

/// One cell of the policy grid: an algorithm, an arm, a training seed.
pub struct PolicyRun {
    pub algo: AlgoKind,
    pub variant: Variant,
    pub seed: u64,
}

impl PolicyRun {
    /// Its key in the `policies` record and its directory name, `{algo}-{variant}-s{seed}`.
    pub fn key(&self) -> String {
        format!("{}-{}-s{}", self.algo, self.variant.name, self.seed)
    }
}

/// Every run of the grid, in the order the in-process pipeline trains them.
pub fn policy_runs(ctx: &Context) -> Vec<PolicyRun> {
    let p = &ctx.config.pipeline;
    let mut out = Vec::new();
    for &algo in &p.algos {
        for variant in variants(algo, p) {
            for &seed in &p.seeds {
                out.push(PolicyRun {
                    algo,
                    variant: variant.clone(),
                    seed,
                });
            }
        }
    }
    out
}

/// Trains and evaluates every (algorithm, variant, seed); finished runs are skipped.
/// `mixes`: the mix stage's summary (transitions per mix).
pub fn policies(
    ctx: &Context,
    l: &Layout,
    mixes: &BTreeMap<String, MixSummary>,
) -> Result<BTreeMap<String, PolicyRecord>, CliError> {
    let mut goals = GoalEmbeddings::new(ctx, l);
    policy_runs(ctx)
        .iter()
        .map(|run| Ok((run.key(), run_policy(ctx, l, mixes, run, &mut goals)?)))
        .collect()
}

/// One run of the grid: skipped when its mix holds no imagined transitions, read back when
/// its directory holds a finished evaluation (`pipeline_eval.json`), else trained and
/// evaluated.
pub fn run_policy(
    ctx: &Context,
    l: &Layout,
    mixes: &BTreeMap<String, MixSummary>,
    run: &PolicyRun,
    goals: &mut GoalEmbeddings,
) -> Result<PolicyRecord, CliError> {
    let (algo, variant, seed) = (run.algo, &run.variant, run.seed);
    if let Some(m) = variant.mix
        && mixes.get(m).map_or(0, |s| s.transitions_out) == 0
    {
        return Ok(PolicyRecord::Skipped(SkippedPolicy {
            algo: algo.to_string(),
            variant: variant.name.to_string(),
            seed,
            skipped: format!(
                "the '{m}' mix holds no imagined transitions (none {})",
                if mixes.get(m).is_some_and(|s| s.verified) {
                    "passed validation and reached its goal"
                } else {
                    "passed validation"
                }
            ),
        }));
    }
    let dir = l.policy(&algo.to_string(), variant.name, seed);
    let marker = dir.join("pipeline_eval.json");
    let result = match read_json::<PolicySummary>(&marker)? {
        Some(r) => r,
        None => {
            let cache = goals.cache(mixes)?;
            let r = train_and_evaluate(ctx, l, algo, variant, seed, &dir, cache)?;
            write_json(&marker, &to_summary(&r)?)?;
            r
        }
    };
    Ok(PolicyRecord::Trained(result))
}

fn train_and_evaluate(
    ctx: &Context,
    l: &Layout,
    algo: AlgoKind,
    variant: &Variant,
    seed: u64,
    dir: &Path,
    goals: &mut EmbeddingCache,
) -> Result<PolicySummary, CliError> {
    eprintln!("pipeline: policy {algo} {} seed {seed}", variant.name);
    let sctx = ctx.with_seed(seed);
    crate::commands::train_policy::train_with_cache(
        &sctx,
        &TrainPolicyPlan {
            env: l.env,
            algo,
            real: l.real(),
            imagined: variant.mix.map(|m| l.mix(m)),
            ratio: None,
            obs: ctx.config.pipeline.obs,
            out: dir.to_path_buf(),
            resume: true,
        },
        goals,
    )?;
    let outcome = crate::evaluation::evaluate(
        &sctx,
        &crate::evaluation::EvalPlan {
            specs: specs(l.env).0,
            levels: eval_levels(l.env),
            episodes: ctx.config.eval.episodes,
            seeds: vec![seed],
            subject: crate::evaluation::Subject::Checkpoints(
                crate::commands::eval::policy_checkpoints(dir, ctx.config.eval.checkpoints)?,
            ),
            references: vec![],
            parallel: 64,
        },
    )?;
    Ok(policy_summary(
        &algo.to_string(),
        variant.name,
        seed,
        &outcome.subject,
    ))
}

/// A policy's pipeline record: success per level (mean over tasks) and the per-episode scores
/// that paired comparisons use.
fn policy_summary(
    algo: &str,
    variant: &str,
    seed: u64,
    p: &crate::evaluation::PolicyResult,
) -> PolicySummary {
    let mut success = BTreeMap::new();
    let mut within = BTreeMap::new();
    let mut episodes = BTreeMap::new();
    let mut per_task: BTreeMap<String, BTreeMap<String, f64>> = BTreeMap::new();
    let several_tasks = p.cells.iter().any(|c| c.task != p.cells[0].task);
    let mut levels: Vec<vlgor_sim::Level> = p.cells.iter().map(|c| c.level).collect();
    levels.dedup();
    for level in levels {
        let cells: Vec<_> = p.cells.iter().filter(|c| c.level == level).collect();
        let n = cells.len() as f64;
        success.insert(
            level.name().to_string(),
            cells.iter().map(|c| c.mean).sum::<f64>() / n,
        );
        if cells.iter().all(|c| c.within_10.is_some()) {
            within.insert(
                level.name().to_string(),
                cells.iter().filter_map(|c| c.within_10).sum::<f64>() / n,
            );
        }
        let flat: Vec<f64> = cells.iter().flat_map(|c| c.flat()).collect();
        episodes.insert(level.name().to_string(), flat);
        if several_tasks {
            per_task.insert(
                level.name().to_string(),
                cells.iter().map(|c| (c.task.clone(), c.mean)).collect(),
            );
        }
    }
    PolicySummary {
        algo: algo.to_string(),
        variant: variant.to_string(),
        seed,
        success,
        within_10: within,
        episodes,
        per_task,
    }
}

/// The cells of the reference rows, (policy seed, level), in the order they are merged.
pub fn reference_cells(ctx: &Context, l: &Layout) -> Vec<(u64, vlgor_sim::Level)> {
    let levels = eval_levels(l.env);
    ctx.config
        .pipeline
        .seeds
        .iter()
        .flat_map(|&s| levels.iter().map(move |&level| (s, level)))
        .collect()
}

/// The random and expert rows of one cell on the policies' evaluation episodes (every task
/// of the env), kept in `references/s{seed}-{level}.json`; a finished cell is read back.
/// Scripted episodes depend only on their own seeds, so a cell is the same whichever job
/// runs it.
pub fn reference_cell(
    ctx: &Context,
    l: &Layout,
    seed: u64,
    level: vlgor_sim::Level,
) -> Result<Vec<crate::evaluation::PolicyResult>, CliError> {
    let path = l.reference_cell(seed, level);
    if let Some(r) = read_json(&path)? {
        return Ok(r);
    }
    let outcome = crate::evaluation::evaluate(
        &ctx.with_seed(seed),
        &crate::evaluation::EvalPlan {
            specs: specs(l.env).0,
            levels: vec![level],
            episodes: ctx.config.eval.episodes,
            seeds: vec![seed],
            subject: crate::evaluation::Subject::Scripted(crate::ecs::Scripted::Random),
            references: vec![crate::ecs::Scripted::Expert {
                noise: ctx.config.eval.noise,
            }],
            parallel: 64,
        },
    )?;
    let rows: Vec<_> = std::iter::once(outcome.subject)
        .chain(outcome.references)
        .collect();
    write_json(&path, &rows)?;
    Ok(rows)
}

/// The reference rows (random, expert) on the policies' evaluation episodes, one record per
/// policy seed, in the same shape as a policy's: its cells merged level after level.
pub fn references(ctx: &Context, l: &Layout) -> Result<BTreeMap<String, PolicySummary>, CliError> {
    let mut rows: BTreeMap<u64, Vec<crate::evaluation::PolicyResult>> = BTreeMap::new();
    for (seed, level) in reference_cells(ctx, l) {
        let cell = reference_cell(ctx, l, seed, level)?;
        match rows.get_mut(&seed) {
            None => {
                rows.insert(seed, cell);
            }
            Some(merged) => {
                for (m, c) in merged.iter_mut().zip(cell) {
                    m.cells.extend(c.cells);
                }
            }
        }
    }
    let mut out = BTreeMap::new();
    for (seed, results) in rows {
        for r in &results {
            out.insert(
                format!("{}-s{seed}", r.policy),
                policy_summary("scripted", &r.policy, seed, r),
            );
        }
    }
    Ok(out)
}
