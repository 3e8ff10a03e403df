//! The pipeline's stages, in order. Each returns its typed summary (`super::records`), kept in
//! `stages/<stage>.json`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use vlgor_rl::config::AlgoKind;
use vlgor_sim::dataset::Dataset;
use vlgor_sim::validate::Filter;
use vlgor_sim::{EnvKind, EnvSpec};

use super::arms::{ImaginedSet, Variant, imagined_sets, oracle_counts, variants};
use super::goals::GoalEmbeddings;
use super::records::{
    CollectRecord, DatasetCounts, PolicyRecord, PolicySummary, SkippedPolicy, SweepRecord,
    SweepRow, VlmEvalRecord, summary_of, to_summary,
};
use super::{Layout, StageRecord, show, stage};
use crate::cli::VlmStage;
use crate::collect::{CollectPlan, collect};
use crate::commands::train_policy::TrainPolicyPlan;
use crate::commands::train_vlm::TrainVlmPlan;
use crate::context::Context;
use crate::error::CliError;
use crate::imagination::kalm::imagine_kalm;
use crate::imagination::mix::{MixRule, MixSummary, mix_parts};
use crate::imagination::{Dynamics, Generator, ImaginePlan, finished_summary, imagine_dataset};
use crate::vlm_eval::{VlmEvalReport, evaluate};
use crate::vlm_run::{VlmRun, load_readout, read_json, write_json};
use vlgor_sim::language::CounterfactualKind;
use vlgor_vlm::EmbeddingCache;

/// Levels every policy is evaluated on (the unseen tasks; Meta-World has no unseen-relation).
pub const EVAL_LEVELS: [&str; 4] = ["rephrase", "counterfactual", "unseen-relation", "hard"];

/// The evaluation levels of `env`, in report order.
pub fn eval_levels(env: EnvKind) -> Vec<vlgor_sim::Level> {
    vlgor_sim::Level::of_env(env)
        .iter()
        .copied()
        .filter(|l| *l != vlgor_sim::Level::Seen)
        .collect()
}

/// Removes an unfinished output so its stage can start over.
fn clear(path: &Path) -> Result<(), CliError> {
    if path.exists() {
        std::fs::remove_dir_all(path)
            .map_err(|e| CliError::Other(anyhow::anyhow!("{}: {e}", path.display())))?;
    }
    Ok(())
}

/// Every simulator of `env`, and the `--task` that names them in a manifest (`all` where
/// there are several).
fn specs(env: EnvKind) -> (Vec<EnvSpec>, Option<String>) {
    let specs = EnvSpec::all_of(env);
    let task = (specs.len() > 1).then(|| vlgor_sim::TaskChoice::All.name().to_string());
    (specs, task)
}

fn collect_into(
    ctx: &Context,
    l: &Layout,
    dir: &Path,
    episodes: usize,
    seed: u64,
) -> Result<DatasetCounts, CliError> {
    let (specs, task_arg) = specs(l.env);
    let plan = CollectPlan {
        specs,
        task_arg,
        episodes,
        seed,
        noise: ctx.config.collect.noise,
        episodes_per_shard: ctx.config.collect.episodes_per_shard,
        preset: ctx.preset.clone(),
        frames: None,
        level: vlgor_sim::Level::Seen,
        max_steps: None,
    };
    let bar = ctx.progress(episodes as u64, &format!("collect {}", dir.display()));
    let m = collect(&plan, dir, &bar)?;
    bar.finish_and_clear();
    Ok(counts(dir, &m))
}

fn counts(dir: &Path, m: &vlgor_sim::dataset::Manifest) -> DatasetCounts {
    DatasetCounts {
        dir: show(dir),
        episodes: m.counts.episodes,
        transitions: m.counts.transitions,
        successes: m.counts.successes,
    }
}

/// Every stage, resuming finished ones; returns their records by name.
pub fn run_all(ctx: &Context, l: &Layout) -> Result<BTreeMap<String, StageRecord>, CliError> {
    let mut out = BTreeMap::new();
    let v = &ctx.config.vlm;
    let p = &ctx.config.pipeline;
    let vlm = VlmRun::new(&l.vlm());
    let real_episodes = match l.env {
        EnvKind::Clevr => ctx.config.collect.episodes,
        EnvKind::MetaWorld => ctx.config.collect.episodes.min(1000),
    };
    let heldout_episodes = match l.env {
        EnvKind::Clevr => 256,
        EnvKind::MetaWorld => 100,
    };
    let r = stage(l, "collect", || {
        // Collection resumes shard by shard on its own.
        let real = collect_into(ctx, l, &l.real(), real_episodes, ctx.seed)?;
        let held = collect_into(
            ctx,
            l,
            &l.heldout(),
            heldout_episodes,
            ctx.seed.wrapping_add(7777),
        )?;
        to_summary(&CollectRecord {
            real,
            heldout: held,
        })
    })?;
    out.insert(r.stage.clone(), r);
    let train = |stage: VlmStage, out_dir: &Path, base: Option<PathBuf>, samples: Option<usize>| {
        crate::commands::train_vlm::train_stage(
            ctx,
            &TrainVlmPlan {
                env: l.env,
                stage,
                data: Some(l.real()),
                samples,
                epochs: None,
                base,
                out: out_dir.to_path_buf(),
                resume: true,
            },
        )
    };
    let r = stage(l, "readout", || {
        clear(&vlm.readout_dir())?;
        train(VlmStage::Readout, &l.vlm(), None, None)?.to_json()
    })?;
    out.insert(r.stage.clone(), r);
    let r = stage(l, "vlm_base", || {
        train(VlmStage::Base, &l.vlm(), None, None)?.to_json()
    })?;
    out.insert(r.stage.clone(), r);
    let r = stage(l, "vlm_lora", || {
        train(VlmStage::Lora, &l.vlm(), None, Some(v.lora_samples))?.to_json()
    })?;
    out.insert(r.stage.clone(), r);
    let r = stage(l, "vlm_full", || {
        train(VlmStage::Full, &l.vlm(), None, Some(v.lora_samples))?.to_json()
    })?;
    out.insert(r.stage.clone(), r);
    let r = stage(l, "vlm_eval", || {
        let lora = eval_stage(ctx, l, &l.vlm(), "lora")?;
        let base = eval_stage(ctx, l, &l.vlm(), "base")?;
        let full = eval_stage(ctx, l, &l.vlm(), "full")?;
        let (model, _) = vlm.load_for_inference(ctx)?;
        let data = Dataset::open(&l.heldout(), Some(l.env.name()))
            .map_err(|e| CliError::Input(e.to_string()))?;
        crate::vlm_eval::real_vs_imagined(ctx, &model, &data, 4, &l.out.join("plots"))?;
        to_summary(&VlmEvalRecord { lora, base, full })
    })?;
    out.insert(r.stage.clone(), r);
    let r = stage(l, "vlm_sweep", || {
        let mut rows = Vec::new();
        for &n in &p.sweep {
            let dir = if n == v.lora_samples {
                l.vlm()
            } else {
                let d = l.vlm().join(format!("sweep-{n}"));
                if !VlmRun::new(&d).finished("lora") {
                    train(VlmStage::Lora, &d, Some(vlm.stage_dir("base")), Some(n))?;
                }
                d
            };
            let eval = eval_stage(ctx, l, &dir, "lora")?;
            rows.push(SweepRow { samples: n, eval });
        }
        to_summary(&SweepRecord { rows })
    })?;
    out.insert(r.stage.clone(), r);
    if p.kalm_arm {
        let r = stage(l, "kalm", || {
            crate::commands::train_kalm::train_kalm_run(
                ctx,
                &crate::commands::train_kalm::TrainKalmPlan {
                    env: l.env,
                    data: l.real(),
                    out: l.kalm(),
                    samples: None,
                },
            )
        })?;
        out.insert(r.stage.clone(), r);
    }
    let r = stage(l, "imagine", || {
        let mut sets = BTreeMap::new();
        for set in imagined_sets(ctx) {
            let dir = l.imagined(&set.name);
            let summary = match finished_summary(&dir)? {
                Some(s) => s,
                None => {
                    clear(&dir)?;
                    let plan = ImaginePlan {
                        env: l.env,
                        vlm: match set.generator {
                            Generator::WorldModel => l.vlm(),
                            Generator::Kalm => l.kalm(),
                        },
                        readout: None,
                        from: l.real(),
                        set: set.instructions.clone(),
                        count: set.count,
                        out: dir.clone(),
                        horizon: v.imagine_horizon,
                        filter: Filter::Keep,
                        batch: v.imagine_batch,
                        candidates: set.candidates,
                        temperature: set.temperature,
                        verified_only: false,
                        dynamics: set.dynamics,
                    };
                    match set.generator {
                        Generator::WorldModel => imagine_dataset(ctx, &plan)?,
                        Generator::Kalm => imagine_kalm(ctx, &plan)?,
                    }
                }
            };
            sets.insert(set.name.clone(), summary);
        }
        to_summary(&sets)
    })?;
    out.insert(r.stage.clone(), r);
    let r = stage(l, "oracle", || {
        let mut sets = BTreeMap::new();
        for (level, count) in oracle_counts(ctx) {
            let dir = l.oracle(level);
            let (specs, task_arg) = specs(l.env);
            let plan = CollectPlan {
                specs,
                task_arg,
                episodes: count,
                seed: ctx.seed,
                noise: 0.0,
                episodes_per_shard: ctx.config.collect.episodes_per_shard,
                preset: ctx.preset.clone(),
                frames: None,
                level,
                max_steps: None,
            };
            let bar = ctx.progress(count as u64, &format!("oracle {level}"));
            let m = collect(&plan, &dir, &bar)?;
            bar.finish_and_clear();
            sets.insert(level.name().to_string(), counts(&dir, &m));
        }
        to_summary(&sets)
    })?;
    out.insert(r.stage.clone(), r);
    let filter: Filter = p.filter;
    let r = stage(l, "mix", || {
        // VLGOR: half of each level's target-swap and behavior-swap rollouts; each ablation
        // keeps one kind's full set, so every arm holds the same number of imagined rollouts.
        let sets = imagined_sets(ctx);
        let part = |keep: &dyn Fn(&ImaginedSet) -> Option<usize>| -> Vec<(PathBuf, usize)> {
            sets.iter()
                .filter_map(|s| keep(s).map(|n| (l.imagined(&s.name), n)))
                .collect()
        };
        let half = |s: &ImaginedSet| match s.kind {
            None => Some(s.count),
            Some(CounterfactualKind::Target) => Some(s.count / 2),
            Some(CounterfactualKind::Behavior) => Some(s.count - s.count / 2),
        };
        let only = |k: CounterfactualKind| {
            move |s: &ImaginedSet| match s.kind {
                None => Some(s.count),
                Some(x) if x == k => Some(s.count),
                Some(_) => None,
            }
        };
        let mut mixes = BTreeMap::new();
        let greedy = |s: &ImaginedSet| s.greedy_world_model();
        let mut plans = vec![
            (
                "vlgor",
                part(&|s| half(s).filter(|_| greedy(s))),
                MixRule::Validated,
            ),
            (
                "wo_target",
                part(&|s| only(CounterfactualKind::Behavior)(s).filter(|_| greedy(s))),
                MixRule::Validated,
            ),
            (
                "wo_behavior",
                part(&|s| only(CounterfactualKind::Target)(s).filter(|_| greedy(s))),
                MixRule::Validated,
            ),
        ];
        if p.unvalidated_ablation {
            plans.push((
                "unvalidated",
                part(&|s| half(s).filter(|_| greedy(s))),
                MixRule::Unvalidated,
            ));
        }
        if p.simulated_arm {
            let simulated =
                |s: &ImaginedSet| (s.dynamics == Dynamics::Simulator).then_some(usize::MAX);
            plans.push(("wm_actions_in_sim", part(&simulated), MixRule::Validated));
        }
        if p.kalm_arm {
            let kalm = |s: &ImaginedSet| half(s).filter(|_| s.generator == Generator::Kalm);
            plans.push(("kalm", part(&kalm), MixRule::Validated));
        }
        if p.verify_candidates > 0 {
            let sampled = |s: &ImaginedSet| (s.candidates > 1).then_some(usize::MAX);
            plans.push(("vlgor_verified", part(&sampled), MixRule::Verified));
            if p.verify_failed_for_cql && p.algos.iter().any(|a| *a != AlgoKind::Bc) {
                plans.push(("vlgor_verified_all", part(&sampled), MixRule::Validated));
            }
        }
        let oracle: Vec<(PathBuf, usize)> = oracle_counts(ctx)
            .into_iter()
            .map(|(level, n)| (l.oracle(level), n))
            .collect();
        plans.push(("oracle", oracle, MixRule::Unvalidated));
        for (name, sources, rule) in plans {
            let dir = l.mix(name);
            clear(&dir)?;
            let refs: Vec<(&Path, usize)> =
                sources.iter().map(|(p, n)| (p.as_path(), *n)).collect();
            let s: MixSummary = mix_parts(ctx, &refs, &dir, filter, rule)?;
            mixes.insert(name.to_string(), s);
        }
        to_summary(&mixes)
    })?;
    out.insert(r.stage.clone(), r);
    let r = stage(l, "validator", || {
        to_summary(&super::results::validator_stage(ctx, l)?)
    })?;
    out.insert(r.stage.clone(), r);
    let mixes: BTreeMap<String, MixSummary> = summary_of(&out, "mix")?;
    let r = stage(l, "policies", || to_summary(&policies(ctx, l, &mixes)?))?;
    out.insert(r.stage.clone(), r);
    let r = stage(l, "references", || to_summary(&references(ctx, l)?))?;
    out.insert(r.stage.clone(), r);
    Ok(out)
}

/// Evaluates stage `s` of the run at `dir` on the held-out data (cached in `dir/eval-<s>.json`).
fn eval_stage(ctx: &Context, l: &Layout, dir: &Path, s: &str) -> Result<VlmEvalReport, CliError> {
    let cache = dir.join(format!("eval-{s}.json"));
    if let Some(r) = read_json::<VlmEvalReport>(&cache)? {
        return Ok(r);
    }
    let model = VlmRun::new(dir).load_stage(ctx, s)?;
    let readout = load_readout(ctx, &VlmRun::new(&l.vlm()).readout_dir(), l.env)?;
    let data = Dataset::open(&l.heldout(), Some(l.env.name()))
        .map_err(|e| CliError::Input(e.to_string()))?;
    let r = evaluate(ctx, &model, s, &readout, &data, &ctx.config.vlm)?;
    write_json(&cache, &r)?;
    Ok(r)
}

/// Trains and evaluates every (algorithm, variant, seed); finished runs are skipped.
/// `mixes`: the mix stage's summary (transitions per mix).
fn policies(
    ctx: &Context,
    l: &Layout,
    mixes: &BTreeMap<String, MixSummary>,
) -> Result<BTreeMap<String, PolicyRecord>, CliError> {
    let p = &ctx.config.pipeline;
    let mut all = BTreeMap::new();
    let mut goals = GoalEmbeddings::new(ctx, l);
    for &algo in &p.algos {
        for variant in variants(algo, p) {
            if let Some(m) = variant.mix {
                let transitions = mixes.get(m).map_or(0, |s| s.transitions_out);
                if transitions == 0 {
                    for &seed in &p.seeds {
                        all.insert(
                            format!("{algo}-{}-s{seed}", variant.name),
                            PolicyRecord::Skipped(SkippedPolicy {
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
                            }),
                        );
                    }
                    continue;
                }
            }
            for &seed in &p.seeds {
                let dir = l.policy(&algo.to_string(), variant.name, seed);
                let marker = dir.join("pipeline_eval.json");
                let result = match read_json::<PolicySummary>(&marker)? {
                    Some(r) => r,
                    None => {
                        let cache = goals.cache(mixes)?;
                        let r = train_and_evaluate(ctx, l, algo, &variant, seed, &dir, cache)?;
                        write_json(&marker, &to_summary(&r)?)?;
                        r
                    }
                };
                all.insert(
                    format!("{algo}-{}-s{seed}", variant.name),
                    PolicyRecord::Trained(result),
                );
            }
        }
    }
    Ok(all)
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
    }
    PolicySummary {
        algo: algo.to_string(),
        variant: variant.to_string(),
        seed,
        success,
        within_10: within,
        episodes,
    }
}

/// The reference rows (random, expert) on the policies' evaluation episodes, one record per
/// policy seed, in the same shape as a policy's.
pub fn references(ctx: &Context, l: &Layout) -> Result<BTreeMap<String, PolicySummary>, CliError> {
    let p = &ctx.config.pipeline;
    let mut out = BTreeMap::new();
    for &seed in &p.seeds {
        let outcome = crate::evaluation::evaluate(
            &ctx.with_seed(seed),
            &crate::evaluation::EvalPlan {
                specs: specs(l.env).0,
                levels: eval_levels(l.env),
                episodes: ctx.config.eval.episodes,
                seeds: vec![seed],
                subject: crate::evaluation::Subject::Scripted(crate::ecs::Scripted::Random),
                references: vec![crate::ecs::Scripted::Expert {
                    noise: ctx.config.eval.noise,
                }],
                parallel: 64,
            },
        )?;
        for r in std::iter::once(&outcome.subject).chain(&outcome.references) {
            out.insert(
                format!("{}-s{seed}", r.policy),
                policy_summary("scripted", &r.policy, seed, r),
            );
        }
    }
    Ok(out)
}
