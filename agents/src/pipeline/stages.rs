//! The pipeline's stages, in order. Each returns its typed summary (`super::records`), kept in
//! `stages/<stage>.json`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use vlgor_rl::config::AlgoKind;
use vlgor_sim::dataset::Dataset;
use vlgor_sim::validate::Filter;
use vlgor_sim::{EnvKind, EnvSpec};

use super::arms::{ImaginedSet, imagined_sets, oracle_counts};
use super::policy_runs::{policies, references};
use super::records::{
    CollectRecord, DatasetCounts, SweepRecord, SweepRow, VlmEvalRecord, to_summary,
};
use super::stage::Stage;
use super::{Layout, StageRecord, show, stage, stage_summary};
use crate::cli::VlmStage;
use crate::collect::{CollectPlan, collect};
use crate::commands::train_vlm::TrainVlmPlan;
use crate::context::Context;
use crate::error::CliError;
use crate::imagination::kalm::imagine_kalm;
use crate::imagination::mix::{MixRule, MixSummary, mix_parts};
use crate::imagination::{
    Dynamics, Generator, ImaginePlan, ImagineSummary, finished_summary, imagine_dataset,
};
use crate::vlm_eval::{VlmEvalReport, evaluate};
use crate::vlm_run::{VlmRun, load_readout, read_json, write_json};
use vlgor_sim::language::CounterfactualKind;

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
pub(super) fn specs(env: EnvKind) -> (Vec<EnvSpec>, Option<String>) {
    let specs = EnvSpec::all_of(env);
    let task = (specs.len() > 1).then(|| vlgor_sim::TaskChoice::All.name().to_string());
    (specs, task)
}

/// The plan of one expert collection of the pipeline (`episodes` at `level` with `seed`).
fn collect_plan(
    ctx: &Context,
    l: &Layout,
    episodes: usize,
    seed: u64,
    noise: f32,
    level: vlgor_sim::Level,
) -> CollectPlan {
    let (specs, task_arg) = specs(l.env);
    CollectPlan {
        specs,
        task_arg,
        episodes,
        seed,
        noise,
        episodes_per_shard: ctx.config.collect.episodes_per_shard,
        preset: ctx.preset.clone(),
        frames: None,
        level,
        max_steps: None,
    }
}

/// The datasets the collect stage writes: the real data and the held-out rollouts.
pub(super) fn collections(ctx: &Context, l: &Layout) -> [(PathBuf, CollectPlan); 2] {
    let heldout = match l.env {
        EnvKind::Clevr => 256,
        EnvKind::MetaWorld => 100,
    };
    let noise = ctx.config.collect.noise;
    let seen = vlgor_sim::Level::Seen;
    [
        (
            l.real(),
            collect_plan(ctx, l, ctx.config.collect.episodes, ctx.seed, noise, seen),
        ),
        (
            l.heldout(),
            collect_plan(ctx, l, heldout, ctx.seed.wrapping_add(7777), noise, seen),
        ),
    ]
}

/// The oracle datasets: scripted-expert rollouts for each unseen level's instructions.
pub(super) fn oracle_collections(ctx: &Context, l: &Layout) -> Vec<(PathBuf, CollectPlan)> {
    oracle_counts(ctx)
        .into_iter()
        .map(|(level, count)| {
            (
                l.oracle(level),
                collect_plan(ctx, l, count, ctx.seed, 0.0, level),
            )
        })
        .collect()
}

fn collect_into(ctx: &Context, dir: &Path, plan: &CollectPlan) -> Result<DatasetCounts, CliError> {
    let bar = ctx.progress(plan.episodes as u64, &format!("collect {}", dir.display()));
    let m = collect(plan, dir, &bar)?;
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

/// Every stage in order, resuming finished ones; returns their records by name.
pub fn run_all(ctx: &Context, l: &Layout) -> Result<BTreeMap<String, StageRecord>, CliError> {
    let mut out = BTreeMap::new();
    for s in Stage::of(ctx) {
        let r = run_stage(ctx, l, s)?;
        out.insert(r.stage.clone(), r);
    }
    Ok(out)
}

/// Runs stage `s` unless it already finished (its inputs are the earlier stages' outputs on
/// disk); returns its record either way.
pub fn run_stage(ctx: &Context, l: &Layout, s: Stage) -> Result<StageRecord, CliError> {
    let v = &ctx.config.vlm;
    let p = &ctx.config.pipeline;
    let vlm = VlmRun::new(&l.vlm());
    let filter: Filter = p.filter;
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
    match s {
        Stage::Collect => stage(l, Stage::Collect.name(), || {
            // Collection resumes shard by shard on its own (and merges its parts).
            let [(real, real_plan), (held, held_plan)] = collections(ctx, l);
            to_summary(&CollectRecord {
                real: collect_into(ctx, &real, &real_plan)?,
                heldout: collect_into(ctx, &held, &held_plan)?,
            })
        }),
        Stage::Readout => stage(l, Stage::Readout.name(), || {
            clear(&vlm.readout_dir())?;
            train(VlmStage::Readout, &l.vlm(), None, None)?.to_json()
        }),
        Stage::VlmBase => stage(l, Stage::VlmBase.name(), || {
            train(VlmStage::Base, &l.vlm(), None, None)?.to_json()
        }),
        Stage::VlmLora => stage(l, Stage::VlmLora.name(), || {
            train(VlmStage::Lora, &l.vlm(), None, Some(v.lora_samples))?.to_json()
        }),
        Stage::VlmFull => stage(l, Stage::VlmFull.name(), || {
            train(VlmStage::Full, &l.vlm(), None, Some(v.lora_samples))?.to_json()
        }),
        Stage::VlmEval => stage(l, Stage::VlmEval.name(), || {
            let lora = eval_stage(ctx, l, &l.vlm(), "lora")?;
            let base = eval_stage(ctx, l, &l.vlm(), "base")?;
            let full = eval_stage(ctx, l, &l.vlm(), "full")?;
            let (model, _) = vlm.load_for_inference(ctx)?;
            let data = Dataset::open(&l.heldout(), Some(l.env.name()))
                .map_err(|e| CliError::Input(e.to_string()))?;
            crate::vlm_eval::real_vs_imagined(ctx, &model, &data, 4, &l.out.join("plots"))?;
            to_summary(&VlmEvalRecord { lora, base, full })
        }),
        Stage::VlmSweep => stage(l, Stage::VlmSweep.name(), || {
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
        }),
        Stage::Kalm => stage(l, Stage::Kalm.name(), || {
            crate::commands::train_kalm::train_kalm_run(
                ctx,
                &crate::commands::train_kalm::TrainKalmPlan {
                    env: l.env,
                    data: l.real(),
                    out: l.kalm(),
                    samples: None,
                },
            )
        }),
        Stage::Imagine => stage(l, Stage::Imagine.name(), || {
            let mut sets = BTreeMap::new();
            for set in imagined_sets(ctx) {
                sets.insert(set.name.clone(), imagine_set(ctx, l, &set)?);
            }
            to_summary(&sets)
        }),
        Stage::Oracle => stage(l, Stage::Oracle.name(), || {
            let mut sets = BTreeMap::new();
            for ((level, _), (dir, plan)) in oracle_counts(ctx)
                .into_iter()
                .zip(oracle_collections(ctx, l))
            {
                sets.insert(level.name().to_string(), collect_into(ctx, &dir, &plan)?);
            }
            to_summary(&sets)
        }),
        Stage::Mix => stage(l, Stage::Mix.name(), || {
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
            let mut plans = vec![(
                "vlgor",
                part(&|s| half(s).filter(|_| greedy(s))),
                MixRule::Validated,
            )];
            if p.prompt_ablations {
                plans.push((
                    "wo_target",
                    part(&|s| only(CounterfactualKind::Behavior)(s).filter(|_| greedy(s))),
                    MixRule::Validated,
                ));
                plans.push((
                    "wo_behavior",
                    part(&|s| only(CounterfactualKind::Target)(s).filter(|_| greedy(s))),
                    MixRule::Validated,
                ));
            }
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
                // An arm whose sets imagined nothing (too few start states for its candidates)
                // has no mix; its policies are recorded as skipped.
                if sources.is_empty() {
                    continue;
                }
                let refs: Vec<(&Path, usize)> =
                    sources.iter().map(|(p, n)| (p.as_path(), *n)).collect();
                let s: MixSummary = mix_parts(ctx, &refs, &dir, filter, rule)?;
                mixes.insert(name.to_string(), s);
            }
            to_summary(&mixes)
        }),
        Stage::Validator => stage(l, Stage::Validator.name(), || {
            to_summary(&super::results::validator_stage(ctx, l)?)
        }),
        Stage::Policies => stage(l, s.name(), || {
            let mixes: BTreeMap<String, MixSummary> = stage_summary(l, Stage::Mix)?;
            to_summary(&policies(ctx, l, &mixes)?)
        }),
        Stage::References => stage(l, Stage::References.name(), || {
            to_summary(&references(ctx, l)?)
        }),
    }
}

/// Imagines one set into its directory, or reads back its summary where it has finished.
pub(super) fn imagine_set(
    ctx: &Context,
    l: &Layout,
    set: &ImaginedSet,
) -> Result<ImagineSummary, CliError> {
    let dir = l.imagined(&set.name);
    if let Some(s) = finished_summary(&dir)? {
        return Ok(s);
    }
    clear(&dir)?;
    let v = &ctx.config.vlm;
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
        out: dir,
        horizon: v.horizon_for(&set.instructions),
        filter: Filter::Keep,
        batch: v.imagine_batch,
        candidates: set.candidates,
        temperature: set.temperature,
        verified_only: false,
        dynamics: set.dynamics,
        actions: ctx.config.vlm.imagine_actions,
    };
    match set.generator {
        Generator::WorldModel => imagine_dataset(ctx, &plan),
        Generator::Kalm => imagine_kalm(ctx, &plan),
    }
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
