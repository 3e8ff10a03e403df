//! `results.json` of a pipeline run, built from the typed stage records ([`Records`]), the
//! writing of it and `report.md` (drawn by [`super::markdown`]), and the validator statistics
//! stage.

use serde::Serialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use vlgor_sim::EnvKind;

use super::arms::{imagined_sets, variants};
use super::records::{
    DatasetCounts, FaultRecord, PolicyRecord, PolicySummary, Records, SweepRow, ValidatorRecord,
    VlmEvalRecord, to_summary,
};
use super::stages::EVAL_LEVELS;
use super::{Layout, StageRecord};
use crate::context::Context;
use crate::error::CliError;
use crate::evaluation::has_within_steps;
use crate::evaluation::stats::PairedDiff;
use crate::imagination::mix::MixSummary;
use crate::imagination::{Generator, ImagineSummary};
use crate::report::mean_std;
use crate::vlm_eval::Quality;
use crate::vlm_run::write_json;

/// Success at one level: mean ± std over the policy seeds (fractions), and each seed's.
#[derive(Clone, Debug, Serialize)]
pub struct SeedStats {
    pub mean: f64,
    pub std: f64,
    pub per_seed: Vec<f64>,
}

/// Levels by name.
pub type PerLevel<T> = BTreeMap<String, T>;

#[derive(Clone, Debug, Serialize)]
pub struct Versions {
    pub vlgor: &'static str,
    pub torch: String,
    pub rapier3d: &'static str,
    pub wgpu: &'static str,
    pub bevy_ecs: &'static str,
}

/// PSNR (dB), SSIM and MED.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct QualityRow {
    pub psnr: f64,
    pub ssim: f64,
    pub med: f64,
}

impl From<&Quality> for QualityRow {
    fn from(q: &Quality) -> Self {
        QualityRow {
            psnr: q.psnr,
            ssim: q.ssim,
            med: q.med,
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct CopyBaseline {
    pub one_step: QualityRow,
    pub rollout: QualityRow,
}

#[derive(Clone, Debug, Serialize)]
pub struct TrainCurves {
    pub base: Value,
    pub lora: Value,
    pub full: Value,
}

/// The world model's part of the results (Table 1).
#[derive(Clone, Debug, Serialize)]
pub struct VlmResults {
    pub one_step: QualityRow,
    pub rollout: QualityRow,
    pub goal_rate: f64,
    pub copy_baseline: CopyBaseline,
    pub stages: VlmEvalRecord,
    pub sweep: Vec<SweepRow>,
    pub parameters: i64,
    pub readout_error_m: f64,
    pub train: TrainCurves,
}

#[derive(Clone, Debug, Serialize)]
pub struct ValidatorResults {
    pub real_false_alarm_rate: f64,
    pub injected_recall: Option<f64>,
    pub per_fault: BTreeMap<String, FaultRecord>,
    /// Shares of the imagined rollouts (`None`: none imagined).
    pub pass_share: Option<f64>,
    pub truncated_share: Option<f64>,
    pub rejected_share: Option<f64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Timings {
    pub stages: BTreeMap<String, f64>,
    pub total: f64,
}

/// `results.json`.
#[derive(Clone, Debug, Serialize)]
pub struct Results {
    pub env: EnvKind,
    pub preset: String,
    pub seeds: Vec<u64>,
    pub seed: u64,
    pub versions: Versions,
    /// The configuration sections the run used.
    pub config: Value,
    pub vlm: VlmResults,
    /// By algorithm, variant and level.
    pub success: BTreeMap<String, BTreeMap<String, PerLevel<SeedStats>>>,
    /// By reference row (`random`, `expert`) and level.
    pub reference: BTreeMap<String, PerLevel<SeedStats>>,
    /// Success within 10 steps (CLEVR: pushes) on the levels that report it, by row
    /// (`random`, `expert`, `<algo> <variant>`) and level: mean ± std over seeds (fractions).
    pub within_10: BTreeMap<String, PerLevel<SeedStats>>,
    /// By algorithm, comparison and level.
    pub paired: BTreeMap<String, BTreeMap<String, PerLevel<PairedDiff>>>,
    pub oracle_data: BTreeMap<String, DatasetCounts>,
    pub eval_episodes: usize,
    /// Checkpoints averaged per run (the last ones).
    pub eval_checkpoints: usize,
    pub validator: ValidatorResults,
    pub imagined: BTreeMap<String, ImagineSummary>,
    pub mixes: BTreeMap<String, MixSummary>,
    pub policies: BTreeMap<String, PolicyRecord>,
    /// Success per task (simulators with several tasks; empty for CLEVR).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub per_task: super::per_task::PerTask,
    pub timings: Timings,
}

/// The record of `{key}-s{seed}` (a policy arm or a reference row) for every policy seed.
pub(super) fn per_seed<'a>(
    ctx: &Context,
    records: &'a BTreeMap<String, PolicySummary>,
    key: &str,
) -> Vec<&'a PolicySummary> {
    ctx.config
        .pipeline
        .seeds
        .iter()
        .filter_map(|s| records.get(&format!("{key}-s{s}")))
        .collect()
}

/// Which success figure of a record: closed-loop success, or success within 10 steps.
type Figure = fn(&PolicySummary) -> &BTreeMap<String, f64>;

fn overall(r: &PolicySummary) -> &BTreeMap<String, f64> {
    &r.success
}

fn within_10(r: &PolicySummary) -> &BTreeMap<String, f64> {
    &r.within_10
}

/// Figure `figure` of record `key` per level: mean ± std over the policy seeds; levels without
/// a record are left out.
fn levels_over_seeds(
    ctx: &Context,
    records: &BTreeMap<String, PolicySummary>,
    key: &str,
    figure: Figure,
) -> PerLevel<SeedStats> {
    let mut levels = BTreeMap::new();
    for level in EVAL_LEVELS {
        let xs: Vec<f64> = per_seed(ctx, records, key)
            .into_iter()
            .filter_map(|r| figure(r).get(level).copied())
            .filter(|x| x.is_finite())
            .collect();
        if !xs.is_empty() {
            let (mean, std) = mean_std(&xs);
            levels.insert(
                level.to_string(),
                SeedStats {
                    mean,
                    std,
                    per_seed: xs,
                },
            );
        }
    }
    levels
}

/// The trained arms of the `policies` stage by key.
fn trained(policies: &BTreeMap<String, PolicyRecord>) -> BTreeMap<String, PolicySummary> {
    policies
        .iter()
        .filter_map(|(k, r)| r.trained().map(|s| (k.clone(), s.clone())))
        .collect()
}

/// Success per algorithm, variant and level: mean ± std over seeds (fractions).
fn success(
    ctx: &Context,
    policies: &BTreeMap<String, PolicySummary>,
    figure: Figure,
) -> BTreeMap<String, BTreeMap<String, PerLevel<SeedStats>>> {
    let p = &ctx.config.pipeline;
    let mut out = BTreeMap::new();
    for algo in &p.algos {
        let mut per_variant = BTreeMap::new();
        for v in variants(*algo, p) {
            let levels = levels_over_seeds(ctx, policies, &format!("{algo}-{}", v.name), figure);
            if !levels.is_empty() {
                per_variant.insert(v.name.to_string(), levels);
            }
        }
        out.insert(algo.to_string(), per_variant);
    }
    out
}

/// Success within 10 steps per row (`random`, `expert`, `<algo> <variant>`) and level; rows
/// and levels without the figure are left out.
fn within_10_rows(
    ctx: &Context,
    policies: &BTreeMap<String, PolicySummary>,
    refs: &BTreeMap<String, PolicySummary>,
) -> BTreeMap<String, PerLevel<SeedStats>> {
    let references = ["random", "expert"].into_iter().map(|name| {
        (
            name.to_string(),
            levels_over_seeds(ctx, refs, name, within_10),
        )
    });
    let arms = success(ctx, policies, within_10)
        .into_iter()
        .flat_map(|(algo, per)| {
            per.into_iter()
                .map(move |(v, l)| (format!("{algo} {v}"), l))
        });
    references
        .chain(arms)
        .filter(|(_, l)| !l.is_empty())
        .collect()
}

/// Per-episode scores of record `key` at `level`, seed after seed; `None` when a seed's record
/// or its level is missing.
fn episodes_of(
    ctx: &Context,
    records: &BTreeMap<String, PolicySummary>,
    key: &str,
    level: &str,
) -> Option<Vec<f64>> {
    let mut out = Vec::new();
    for s in &ctx.config.pipeline.seeds {
        out.extend(records.get(&format!("{key}-s{s}"))?.episodes.get(level)?);
    }
    (!out.is_empty()).then_some(out)
}

/// Paired differences over identical episodes (all seeds pooled): every variant against its
/// algorithm's baseline, and each baseline against the random policy.
fn paired_rows(
    ctx: &Context,
    policies: &BTreeMap<String, PolicySummary>,
    refs: &BTreeMap<String, PolicySummary>,
) -> BTreeMap<String, BTreeMap<String, PerLevel<PairedDiff>>> {
    use crate::evaluation::stats::paired;
    let p = &ctx.config.pipeline;
    let mut out = BTreeMap::new();
    for algo in &p.algos {
        let mut per_variant = BTreeMap::new();
        let base = format!("{algo}-baseline");
        for v in variants(*algo, p) {
            let mut levels = BTreeMap::new();
            for level in EVAL_LEVELS {
                let (a, b) = if v.name == "baseline" {
                    (
                        episodes_of(ctx, policies, &base, level),
                        episodes_of(ctx, refs, "random", level),
                    )
                } else {
                    (
                        episodes_of(ctx, policies, &format!("{algo}-{}", v.name), level),
                        episodes_of(ctx, policies, &base, level),
                    )
                };
                if let Some(d) = a.zip(b).and_then(|(a, b)| paired(&a, &b)) {
                    levels.insert(level.to_string(), d);
                }
            }
            let key = if v.name == "baseline" {
                "baseline_vs_random".to_string()
            } else {
                v.name.to_string()
            };
            // An arm without trained runs (skipped, or added after the run) has no row.
            if !levels.is_empty() {
                per_variant.insert(key, levels);
            }
        }
        out.insert(algo.to_string(), per_variant);
    }
    out
}

/// Builds the results from the stage records.
pub fn build(ctx: &Context, l: &Layout, rec: &Records) -> Results {
    let lora = &rec.vlm_eval.lora;
    let (mut rollouts, mut valid, mut truncated, mut rejected) = (0.0, 0.0, 0.0, 0.0);
    // The validator's shares are the world model's; KALM's rollouts have their own table.
    let kalm: Vec<String> = imagined_sets(ctx)
        .into_iter()
        .filter(|s| s.generator == Generator::Kalm)
        .map(|s| s.name)
        .collect();
    for (_, set) in rec.imagine.iter().filter(|(name, _)| !kalm.contains(name)) {
        rollouts += set.rollouts as f64;
        valid += set.valid as f64;
        truncated += set.truncated as f64;
        rejected += set.rejected as f64;
    }
    let share = |n: f64| (rollouts > 0.0).then(|| n / rollouts);
    let policies = trained(&rec.policies);
    let v: &ValidatorRecord = &rec.validator;
    Results {
        env: l.env,
        preset: ctx.preset.clone(),
        seeds: ctx.config.pipeline.seeds.clone(),
        seed: ctx.seed,
        versions: Versions {
            vlgor: env!("CARGO_PKG_VERSION"),
            torch: vlgor_vlm::torch_version().unwrap_or_else(|| "unknown".into()),
            rapier3d: "0.36",
            wgpu: "30",
            bevy_ecs: "0.20",
        },
        config: json!({"vlm": ctx.config.vlm, "pipeline": ctx.config.pipeline, "rl": ctx.config.rl,
                       "collect": ctx.config.collect, "eval": ctx.config.eval}),
        vlm: VlmResults {
            one_step: (&lora.one_step).into(),
            rollout: (&lora.rollout).into(),
            goal_rate: lora.goal_rate,
            copy_baseline: CopyBaseline {
                one_step: (&lora.copy_one_step).into(),
                rollout: (&lora.copy_rollout).into(),
            },
            stages: rec.vlm_eval.clone(),
            sweep: rec.vlm_sweep.rows.clone(),
            parameters: rec.vlm_base.parameters,
            readout_error_m: rec.readout.heldout_error_m,
            train: TrainCurves {
                base: rec.vlm_base.train.clone(),
                lora: rec.vlm_lora.train.clone(),
                full: rec.vlm_full.train.clone(),
            },
        },
        success: success(ctx, &policies, overall),
        reference: ["random", "expert"]
            .into_iter()
            .map(|name| {
                (
                    name.to_string(),
                    levels_over_seeds(ctx, &rec.references, name, overall),
                )
            })
            .collect(),
        // Policy records of earlier releases carry the figure for every simulator.
        within_10: if has_within_steps(l.env) {
            within_10_rows(ctx, &policies, &rec.references)
        } else {
            BTreeMap::new()
        },
        paired: paired_rows(ctx, &policies, &rec.references),
        oracle_data: rec.oracle.clone(),
        eval_episodes: ctx.config.eval.episodes,
        eval_checkpoints: ctx.config.eval.checkpoints,
        validator: ValidatorResults {
            real_false_alarm_rate: v.real_false_alarm_rate,
            injected_recall: v.injected_recall,
            per_fault: v.per_fault.clone(),
            pass_share: share(valid),
            truncated_share: share(truncated),
            rejected_share: share(rejected),
        },
        imagined: rec.imagine.clone(),
        mixes: rec.mix.clone(),
        policies: rec.policies.clone(),
        per_task: super::per_task::per_task(ctx, &policies, &rec.references),
        timings: Timings {
            stages: rec.seconds.clone(),
            total: rec.seconds.values().sum(),
        },
    }
}

/// Builds `results.json` and `report.md` from the stage records.
pub fn write(
    ctx: &Context,
    l: &Layout,
    rec: &BTreeMap<String, StageRecord>,
) -> Result<Results, CliError> {
    let records = Records::load(rec)?;
    let results = build(ctx, l, &records);
    // Through a JSON value: keys sorted, as every release wrote them.
    write_json(&l.out.join("results.json"), &to_summary(&results)?)?;
    let md = super::markdown::report_md(&results);
    vlgor_sim::dataset::write_atomic(&l.out.join("report.md"), md.as_bytes())
        .map_err(|e| CliError::Other(e.into()))?;
    Ok(results)
}

/// False alarms of the physics validator on real held-out rollouts and its recall on injected
/// faults (each kind injected into every held-out rollout).
pub fn validator_stage(ctx: &Context, l: &Layout) -> Result<ValidatorRecord, CliError> {
    crate::commands::check::validator_statistics(ctx, &l.heldout())
}
