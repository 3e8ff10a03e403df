//! `results.json` and `report.md` of a pipeline run, built from the typed stage records
//! ([`Records`]), and the validator statistics stage.

use serde::Serialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use vlgor_sim::EnvKind;

use super::records::{
    DatasetCounts, FaultRecord, PolicyRecord, PolicySummary, Records, SweepRow, ValidatorRecord,
    VlmEvalRecord, to_summary,
};
use super::stages::{EVAL_LEVELS, variants};
use super::{Layout, StageRecord};
use crate::context::Context;
use crate::error::CliError;
use crate::evaluation::stats::PairedDiff;
use crate::imagination::ImagineSummary;
use crate::imagination::mix::MixSummary;
use crate::report::{mean_std, table};
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
    /// By algorithm, comparison and level.
    pub paired: BTreeMap<String, BTreeMap<String, PerLevel<PairedDiff>>>,
    pub oracle_data: BTreeMap<String, DatasetCounts>,
    pub eval_episodes: usize,
    pub validator: ValidatorResults,
    pub imagined: BTreeMap<String, ImagineSummary>,
    pub mixes: BTreeMap<String, MixSummary>,
    pub policies: BTreeMap<String, PolicyRecord>,
    pub timings: Timings,
}

/// The record of `{key}-s{seed}` (a policy arm or a reference row) for every policy seed.
fn per_seed<'a>(
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

/// Success of record `key` per level: mean ± std over the policy seeds; levels without a
/// record are left out.
fn levels_over_seeds(
    ctx: &Context,
    records: &BTreeMap<String, PolicySummary>,
    key: &str,
) -> PerLevel<SeedStats> {
    let mut levels = BTreeMap::new();
    for level in EVAL_LEVELS {
        let xs: Vec<f64> = per_seed(ctx, records, key)
            .into_iter()
            .filter_map(|r| r.success.get(level).copied())
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
) -> BTreeMap<String, BTreeMap<String, PerLevel<SeedStats>>> {
    let p = &ctx.config.pipeline;
    let mut out = BTreeMap::new();
    for algo in &p.algos {
        let mut per_variant = BTreeMap::new();
        for v in variants(*algo, p.unvalidated_ablation) {
            let levels = levels_over_seeds(ctx, policies, &format!("{algo}-{}", v.name));
            if !levels.is_empty() {
                per_variant.insert(v.name.to_string(), levels);
            }
        }
        out.insert(algo.to_string(), per_variant);
    }
    out
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
        for v in variants(*algo, p.unvalidated_ablation) {
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
            per_variant.insert(key, levels);
        }
        out.insert(algo.to_string(), per_variant);
    }
    out
}

/// Builds the results from the stage records.
pub fn build(ctx: &Context, l: &Layout, rec: &Records) -> Results {
    let lora = &rec.vlm_eval.lora;
    let (mut rollouts, mut valid, mut truncated, mut rejected) = (0.0, 0.0, 0.0, 0.0);
    for set in rec.imagine.values() {
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
        success: success(ctx, &policies),
        reference: ["random", "expert"]
            .into_iter()
            .map(|name| {
                (
                    name.to_string(),
                    levels_over_seeds(ctx, &rec.references, name),
                )
            })
            .collect(),
        paired: paired_rows(ctx, &policies, &rec.references),
        oracle_data: rec.oracle.clone(),
        eval_episodes: ctx.config.eval.episodes,
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
    let md = report_md(&results);
    vlgor_sim::dataset::write_atomic(&l.out.join("report.md"), md.as_bytes())
        .map_err(|e| CliError::Other(e.into()))?;
    Ok(results)
}

/// A value as compact JSON (how the report has always printed numbers: `0.0`, `null`).
fn js<T: Serialize>(x: &T) -> String {
    serde_json::to_string(x).unwrap_or_default()
}

fn pct(v: Option<&SeedStats>) -> String {
    match v {
        Some(v) if v.mean.is_finite() => {
            format!("{:.1} ± {:.1}", 100.0 * v.mean, 100.0 * v.std)
        }
        _ => "—".into(),
    }
}

/// The Table-2-shaped success table (percent, mean ± std over seeds), with the random and
/// expert reference rows.
pub fn summary_table(r: &Results) -> String {
    let mut rows = Vec::new();
    for name in ["random", "expert"] {
        if let Some(levels) = r.reference.get(name).filter(|m| !m.is_empty()) {
            let mut row = vec!["—".to_string(), name.to_string()];
            row.extend(EVAL_LEVELS.iter().map(|l| pct(levels.get(*l))));
            rows.push(row);
        }
    }
    for (algo, per) in &r.success {
        let Ok(kind) = algo.parse() else { continue };
        for v in variants(kind, true) {
            let Some(levels) = per.get(v.name) else {
                continue;
            };
            let mut row = vec![algo.to_uppercase(), v.name.to_string()];
            row.extend(EVAL_LEVELS.iter().map(|l| pct(levels.get(*l))));
            rows.push(row);
        }
    }
    let mut header = vec!["algo".to_string(), "data".to_string()];
    header.extend(EVAL_LEVELS.iter().map(|l| format!("{l} %")));
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    table(&header, &rows)
}

/// `+12.3 [+8.1, +16.5]` from a paired difference.
fn points(d: Option<&PairedDiff>) -> String {
    match d {
        Some(d) => format!(
            "{:+.1} [{:+.1}, {:+.1}]",
            100.0 * d.mean,
            100.0 * d.lo,
            100.0 * d.hi
        ),
        None => "—".into(),
    }
}

/// The paired-difference table and the levels on which a baseline does not beat random.
fn paired_md(r: &Results) -> String {
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    for (algo, per) in &r.paired {
        for (variant, levels) in per {
            let label = if variant == "baseline_vs_random" {
                "baseline − random".to_string()
            } else {
                format!("{variant} − baseline")
            };
            let mut row = vec![algo.to_uppercase(), label];
            row.extend(EVAL_LEVELS.iter().map(|l| points(levels.get(*l))));
            rows.push(row);
            if variant == "baseline_vs_random" {
                for l in EVAL_LEVELS {
                    if let Some(d) = levels.get(l).filter(|d| d.lo <= 0.0) {
                        notes.push(format!(
                            "- **{} baseline does not beat a random policy on {l}** (paired 95% interval {} points): this level cannot show a gain over the baseline that random data would not also give.",
                            algo.to_uppercase(),
                            points(Some(d))
                        ));
                    }
                }
            }
        }
    }
    let mut header = vec!["algo".to_string(), "difference".to_string()];
    header.extend(EVAL_LEVELS.iter().map(|l| format!("{l} (points)")));
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    let mut md = format!("```\n{}\n```\n", table(&header, &rows));
    if !notes.is_empty() {
        md.push('\n');
        md.push_str(&notes.join("\n"));
        md.push('\n');
    }
    md
}

fn q(v: &QualityRow) -> String {
    format!("{:.2} dB / {:.4} / {:.4}", v.psnr, v.ssim, v.med)
}

fn report_md(r: &Results) -> String {
    let mut md = String::new();
    let _ = writeln!(
        md,
        "# VLGOR pipeline report — {} ({} preset)\n",
        r.env.name(),
        r.preset
    );
    let _ = writeln!(
        md,
        "Policy seeds {}; every success figure is the closed-loop success rate averaged over (up to) the last 5 checkpoints, mean ± std over seeds, {} episodes per level and seed. Levels follow KALM's protocol: rephrase, unseen-relation and hard run up to 50 pushes and stop at success; counterfactual (\"move ball X toward D\", held-out combinations) is judged on the first push. The oracle arm trains on real data plus scripted-expert rollouts for the unseen levels' instructions (other start states than the evaluation's): the upper bound of any imagination.\n",
        js(&r.seeds),
        r.eval_episodes
    );
    let _ = writeln!(
        md,
        "## Policy success (Table 2)\n\n```\n{}\n```\n",
        summary_table(r)
    );
    let _ = writeln!(
        md,
        "## Paired differences\n\nPercentage points with 95% intervals from paired comparisons over identical episodes ({} per level and seed; same start state and instruction per episode index): every arm against its algorithm's baseline, each baseline against the random policy.\n\n{}",
        r.eval_episodes,
        paired_md(r)
    );
    for (algo, per) in &r.success {
        if let Some(unvalidated) = per.get("unvalidated") {
            for level in EVAL_LEVELS {
                if let Some(vlgor) = per.get("vlgor").and_then(|m| m.get(level)) {
                    let _ = writeln!(
                        md,
                        "- {} {level}: validated {} vs unvalidated {}",
                        algo.to_uppercase(),
                        pct(Some(vlgor)),
                        pct(unvalidated.get(level))
                    );
                }
            }
        }
    }
    let v = &r.vlm;
    let _ = writeln!(
        md,
        "\n## World model (Table 1)\n\nPSNR / SSIM / MED on held-out real rollouts; MED compares the read-out main object with its true position, normalised by the workspace. {} parameters; readout error {:.4} m.\n",
        v.parameters, v.readout_error_m
    );
    let mut rows = vec![
        vec![
            "LoRA (main)".into(),
            q(&v.one_step),
            q(&v.rollout),
            format!("{:.1}%", 100.0 * v.goal_rate),
        ],
        vec![
            "copy input frame".into(),
            q(&v.copy_baseline.one_step),
            q(&v.copy_baseline.rollout),
            "—".into(),
        ],
    ];
    for (s, e) in [("base", &v.stages.base), ("full", &v.stages.full)] {
        rows.push(vec![
            format!("{s} only"),
            q(&(&e.one_step).into()),
            q(&(&e.rollout).into()),
            format!("{:.1}%", 100.0 * e.goal_rate),
        ]);
    }
    for row in &v.sweep {
        let e = &row.eval;
        rows.push(vec![
            format!("LoRA, {} samples", row.samples),
            q(&(&e.one_step).into()),
            q(&(&e.rollout).into()),
            format!("{:.1}%", 100.0 * e.goal_rate),
        ]);
    }
    let _ = writeln!(
        md,
        "```\n{}\n```\n",
        table(
            &[
                "model",
                "one step (PSNR/SSIM/MED)",
                "whole rollout (PSNR/SSIM/MED)",
                "goal rate"
            ],
            &rows
        )
    );
    let val = &r.validator;
    let _ = writeln!(
        md,
        "## Physics validation\n\n- false alarms on real held-out rollouts: {}\n- injected-fault recall (right reason): {}\n- imagined rollouts passing whole: {}; truncated: {}; rejected: {}\n",
        js(&val.real_false_alarm_rate),
        js(&val.injected_recall),
        js(&val.pass_share),
        js(&val.truncated_share),
        js(&val.rejected_share)
    );
    let rows: Vec<Vec<String>> = val
        .per_fault
        .iter()
        .map(|(fault, x)| {
            vec![
                fault.clone(),
                x.injected.to_string(),
                format!("{:.3}", x.recall.unwrap_or(f64::NAN)),
            ]
        })
        .collect();
    let _ = writeln!(
        md,
        "```\n{}\n```\n",
        table(
            &["injected fault", "rollouts", "recall (right reason)"],
            &rows
        )
    );
    let rows: Vec<Vec<String>> = r
        .imagined
        .iter()
        .map(|(set, x)| {
            let reasons: Vec<String> = x
                .by_reason
                .iter()
                .map(|(k, n)| format!("{k} {n}"))
                .collect();
            vec![
                set.clone(),
                x.rollouts.to_string(),
                x.goal_reached.to_string(),
                x.valid.to_string(),
                x.truncated.to_string(),
                x.rejected.to_string(),
                reasons.join(", "),
            ]
        })
        .collect();
    let _ = writeln!(
        md,
        "Imagined rollouts (goal reached: the read-out states satisfy the instruction):\n\n```\n{}\n```\n",
        table(
            &[
                "set",
                "rollouts",
                "goal reached",
                "valid",
                "truncated",
                "rejected",
                "rollouts flagged per reason"
            ],
            &rows
        )
    );
    let rows: Vec<Vec<String>> = r
        .mixes
        .iter()
        .map(|(mix, x)| {
            vec![
                mix.clone(),
                if x.validated { "yes" } else { "no" }.into(),
                x.episodes_in.to_string(),
                x.episodes_out.to_string(),
                x.transitions_out.to_string(),
            ]
        })
        .collect();
    let _ = writeln!(
        md,
        "Training mixes:\n\n```\n{}\n```\n",
        table(
            &[
                "mix",
                "validated",
                "rollouts in",
                "rollouts kept",
                "transitions"
            ],
            &rows
        )
    );
    for (run, res) in &r.policies {
        if let PolicyRecord::Skipped(s) = res {
            let _ = writeln!(md, "- skipped {run}: {}", s.skipped);
        }
    }
    let rows: Vec<Vec<String>> = r
        .timings
        .stages
        .iter()
        .map(|(k, v)| vec![k.clone(), format!("{v:.0}")])
        .collect();
    let _ = writeln!(
        md,
        "\n## Timings\n\n```\n{}\n```\n\nTotal: {:.1} min.\n",
        table(&["stage", "seconds"], &rows),
        r.timings.total / 60.0
    );
    let _ = writeln!(
        md,
        "## Plots\n\n![success per level](plots/success_per_level.png)\n\n![success vs epoch](plots/success_vs_epoch.png)\n\n![real vs imagined](plots/real_vs_imagined.png)\n"
    );
    let _ = writeln!(
        md,
        "The paper preset (`--preset paper`: 128×128 world model, 15,000 LoRA samples, 5,400 / 6,400 / 1,680 imagined rollouts, image policies) needs a GPU for the world-model and policy stages."
    );
    md
}

/// False alarms of the physics validator on real held-out rollouts and its recall on injected
/// faults (each kind injected into every held-out rollout).
pub fn validator_stage(ctx: &Context, l: &Layout) -> Result<ValidatorRecord, CliError> {
    crate::commands::check::validator_statistics(ctx, &l.heldout())
}
