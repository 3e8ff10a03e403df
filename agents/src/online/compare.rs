//! `vlgor varl`: VARL's claim measured — online RL advised by the world model against the same
//! learner unadvised, over seeds, on CLEVR and Meta-World tasks, sparse rewards.
//!
//! ```text
//! OUT/runs/<task>-<advisor>-s<seed>/   one `train-online` run each (resumable)
//! OUT/results.json                     steps to the success threshold and final success per
//!                                      task and advisor (mean, std, per seed), curves, shares
//! OUT/report.md, OUT/curves.png        the same as a table and success-vs-steps curves
//! ```
//!
//! A run's steps-to-threshold is the env steps of its first evaluation whose success rate is
//! at or above the threshold. A run that never reaches it is *censored*: it counts as its whole
//! length (a lower bound of the true number), and the report says how many were.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use vlgor_rl::online::OnlineAlgo;
use vlgor_sim::{EnvKind, EnvSpec, Level};

use super::state::{self, EvalRecord};
use super::{OnlinePlan, OnlineSummary, SUMMARY_FILE, train};
use crate::cli::{AdvisorArg, RewardArg};
use crate::context::Context;
use crate::error::CliError;

/// File names in the comparison directory.
pub const RESULTS_FILE: &str = "results.json";
pub const REPORT_FILE: &str = "report.md";
pub const CURVES_FILE: &str = "curves.png";

/// One (simulator/task) row of the comparison.
#[derive(Clone, Debug)]
pub struct CompareTask {
    pub spec: EnvSpec,
    /// The advising world model's run directory.
    pub vlm: PathBuf,
    pub steps: u64,
    pub threshold: f64,
    /// `none` first, then `world-model` (and `expert` where the simulator's `[varl]` asks).
    pub advisors: Vec<AdvisorArg>,
}

/// What `vlgor varl` runs.
#[derive(Clone, Debug)]
pub struct ComparePlan {
    pub out: PathBuf,
    pub tasks: Vec<CompareTask>,
    pub seeds: Vec<u64>,
}

/// Mean and (population) standard deviation over seeds, and the per-seed values.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Spread {
    pub mean: f64,
    pub std: f64,
    pub per_seed: Vec<f64>,
}

impl Spread {
    pub fn of(values: &[f64]) -> Spread {
        let n = values.len().max(1) as f64;
        let mean = values.iter().sum::<f64>() / n;
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
        Spread {
            mean,
            std: var.sqrt(),
            per_seed: values.to_vec(),
        }
    }
}

/// Steps to the threshold of one advisor's runs.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct StepsToThreshold {
    /// Censored runs count as their length.
    pub mean: f64,
    pub std: f64,
    /// Per seed: env steps of the first evaluation at or above the threshold (None = never).
    pub per_seed: Vec<Option<u64>>,
    pub censored: usize,
}

/// Success vs env steps of one advisor's runs: (env steps, mean, std) per evaluation.
pub type Curve = Vec<(u64, f64, f64)>;

/// One advisor's runs of one task.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ArmResult {
    pub advisor: AdvisorArg,
    pub steps_to_threshold: StepsToThreshold,
    /// Success of the last evaluation.
    pub final_success: Spread,
    pub curve: Curve,
    /// Wall time of each run's last invocation, and the advisor's share of it.
    pub seconds: Spread,
    pub advisor_share: Spread,
}

/// One task's comparison.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct TaskResult {
    pub env: String,
    pub task: String,
    pub algo: String,
    pub steps: u64,
    pub threshold: f64,
    /// `steps_to_threshold.{advised,unadvised}` (and `expert`), `final_success` alike.
    pub steps_to_threshold: BTreeMap<String, StepsToThreshold>,
    pub final_success: BTreeMap<String, Spread>,
    /// Mean steps-to-threshold advised / unadvised (censored runs at their length).
    pub ratio: Option<f64>,
    /// The bar: ratio ≤ 0.7 and the advised final success not below the unadvised one.
    pub meets_bar: bool,
    pub arms: Vec<ArmResult>,
}

/// `results.json`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct CompareResults {
    pub preset: String,
    pub seeds: Vec<u64>,
    pub reward: String,
    pub advice: String,
    pub online: vlgor_rl::online::OnlineConfig,
    pub tasks: Vec<TaskResult>,
    /// Mean advisor share of wall time over every advised run.
    pub advisor_share: f64,
    /// Sum of the runs' wall times (last invocations), seconds.
    pub run_seconds: f64,
}

/// The key of an advisor in `results.json`.
pub fn arm_key(a: AdvisorArg) -> &'static str {
    match a {
        AdvisorArg::None => "unadvised",
        AdvisorArg::WorldModel => "advised",
        AdvisorArg::Expert => "expert",
    }
}

fn algo_for(kind: EnvKind) -> OnlineAlgo {
    match kind {
        EnvKind::Clevr => OnlineAlgo::Dqn,
        EnvKind::MetaWorld => OnlineAlgo::Sac,
    }
}

/// The run directory of one (task, advisor, seed).
pub fn run_dir(out: &Path, spec: EnvSpec, advisor: AdvisorArg, seed: u64) -> PathBuf {
    let adv = match advisor {
        AdvisorArg::None => "none",
        AdvisorArg::WorldModel => "world-model",
        AdvisorArg::Expert => "expert",
    };
    out.join("runs")
        .join(format!("{}-{adv}-s{seed}", spec.label()))
}

/// One finished run: its evaluations and its last invocation's summary.
struct RunOutcome {
    evals: Vec<EvalRecord>,
    summary: OnlineSummary,
}

/// Runs (or resumes, or reads back) one run to its length.
fn run_one(
    ctx: &Context,
    t: &CompareTask,
    advisor: AdvisorArg,
    seed: u64,
    out: &Path,
) -> Result<RunOutcome, CliError> {
    let dir = run_dir(out, t.spec, advisor, seed);
    let latest = state::latest_state(&dir)?;
    let summary_path = dir.join(SUMMARY_FILE);
    if let Some((_, meta)) = &latest
        && meta.counters.env_steps >= t.steps
        && let Some(summary) = crate::vlm_run::read_json::<OnlineSummary>(&summary_path)?
    {
        tracing::info!(dir = %dir.display(), "finished earlier; read back");
        return Ok(RunOutcome {
            evals: meta.evals.clone(),
            summary,
        });
    }
    let run_ctx = ctx.with_settings(ctx.config.for_env(t.spec.kind())?, seed, &ctx.preset);
    let plan = OnlinePlan {
        spec: t.spec,
        level: Level::Seen,
        algo: algo_for(t.spec.kind()),
        advisor,
        reward: RewardArg::Sparse,
        steps: t.steps,
        out: dir.clone(),
        vlm: (advisor == AdvisorArg::WorldModel).then(|| t.vlm.clone()),
        resume: latest.is_some(),
    };
    let summary = train(&run_ctx, &plan)?;
    Ok(RunOutcome {
        evals: state::read_evals(&dir)?,
        summary,
    })
}

/// Steps to `threshold` of one run (None = never reached).
pub fn steps_to_threshold(evals: &[EvalRecord], threshold: f64) -> Option<u64> {
    evals
        .iter()
        .find(|e| e.success_rate >= threshold - 1e-12)
        .map(|e| e.env_steps)
}

/// The arm of one advisor from its runs (seed order).
fn arm(advisor: AdvisorArg, runs: &[RunOutcome], t: &CompareTask) -> ArmResult {
    let per_seed: Vec<Option<u64>> = runs
        .iter()
        .map(|r| steps_to_threshold(&r.evals, t.threshold))
        .collect();
    let counted: Vec<f64> = per_seed
        .iter()
        .map(|s| s.unwrap_or(t.steps) as f64)
        .collect();
    let s = Spread::of(&counted);
    let finals: Vec<f64> = runs
        .iter()
        .map(|r| r.evals.last().map_or(0.0, |e| e.success_rate))
        .collect();
    // Evaluations happen at the same env steps in every run of a task.
    let points = runs.iter().map(|r| r.evals.len()).min().unwrap_or(0);
    let curve = (0..points)
        .map(|k| {
            let v: Vec<f64> = runs.iter().map(|r| r.evals[k].success_rate).collect();
            let sp = Spread::of(&v);
            (runs[0].evals[k].env_steps, sp.mean, sp.std)
        })
        .collect();
    ArmResult {
        advisor,
        steps_to_threshold: StepsToThreshold {
            mean: s.mean,
            std: s.std,
            censored: per_seed.iter().filter(|s| s.is_none()).count(),
            per_seed,
        },
        final_success: Spread::of(&finals),
        curve,
        seconds: Spread::of(&runs.iter().map(|r| r.summary.seconds).collect::<Vec<_>>()),
        advisor_share: Spread::of(
            &runs
                .iter()
                .map(|r| r.summary.advisor_share)
                .collect::<Vec<_>>(),
        ),
    }
}

/// Runs every (task, advisor, seed) of `plan` that has not finished and gathers the results.
pub fn compare(ctx: &Context, plan: &ComparePlan) -> Result<CompareResults, CliError> {
    if plan.tasks.is_empty() {
        return Err(CliError::Input(
            "nothing to compare: give --clevr-vlm and/or --metaworld-vlm".into(),
        ));
    }
    std::fs::create_dir_all(plan.out.join("runs"))
        .map_err(|e| CliError::Input(format!("--out {}: {e}", plan.out.display())))?;
    let runs: usize = plan.tasks.iter().map(|t| t.advisors.len()).sum();
    let total = (runs * plan.seeds.len()) as u64;
    let bar = ctx.progress(total, "varl runs");
    let mut tasks = Vec::with_capacity(plan.tasks.len());
    let mut shares = Vec::new();
    let mut run_seconds = 0.0;
    for t in &plan.tasks {
        let mut arms = Vec::with_capacity(t.advisors.len());
        for &advisor in &t.advisors {
            let mut runs = Vec::with_capacity(plan.seeds.len());
            for &seed in &plan.seeds {
                let r = run_one(ctx, t, advisor, seed, &plan.out)?;
                run_seconds += r.summary.seconds;
                if advisor != AdvisorArg::None {
                    shares.push(r.summary.advisor_share);
                }
                runs.push(r);
                bar.inc(1);
            }
            arms.push(arm(advisor, &runs, t));
        }
        tasks.push(task_result(t, arms));
    }
    bar.finish_and_clear();
    let results = CompareResults {
        preset: ctx.preset.clone(),
        seeds: plan.seeds.clone(),
        reward: "sparse".into(),
        advice: ctx.config.online.advice.name().into(),
        online: ctx.config.online,
        tasks,
        advisor_share: Spread::of(&shares).mean,
        run_seconds,
    };
    crate::vlm_run::write_json(&plan.out.join(RESULTS_FILE), &results)?;
    Ok(results)
}

fn task_result(t: &CompareTask, arms: Vec<ArmResult>) -> TaskResult {
    let of = |a: AdvisorArg| arms.iter().find(|r| r.advisor == a);
    let ratio = match (of(AdvisorArg::WorldModel), of(AdvisorArg::None)) {
        (Some(adv), Some(none)) if none.steps_to_threshold.mean > 0.0 => {
            Some(adv.steps_to_threshold.mean / none.steps_to_threshold.mean)
        }
        _ => None,
    };
    let final_ok = match (of(AdvisorArg::WorldModel), of(AdvisorArg::None)) {
        (Some(adv), Some(none)) => adv.final_success.mean >= none.final_success.mean,
        _ => false,
    };
    TaskResult {
        env: t.spec.kind().name().into(),
        task: t.spec.label().into(),
        algo: algo_for(t.spec.kind()).name().into(),
        steps: t.steps,
        threshold: t.threshold,
        steps_to_threshold: arms
            .iter()
            .map(|a| (arm_key(a.advisor).to_string(), a.steps_to_threshold.clone()))
            .collect(),
        final_success: arms
            .iter()
            .map(|a| (arm_key(a.advisor).to_string(), a.final_success.clone()))
            .collect(),
        meets_bar: ratio.is_some_and(|r| r <= 0.7) && final_ok,
        ratio,
        arms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(env_steps: u64, success_rate: f64) -> EvalRecord {
        EvalRecord {
            env_steps,
            updates: 0,
            train_episodes: 0,
            train_success_rate: None,
            success_rate,
            eval_episodes: 20,
            advised_steps: 0,
            bc_weight: 0.0,
            losses: BTreeMap::new(),
            checkpoint: String::new(),
        }
    }

    #[test]
    fn steps_to_threshold_is_the_first_evaluation_at_or_above_it_and_censored_runs_count_whole() {
        let evals = [
            eval(1000, 0.1),
            eval(2000, 0.3),
            eval(3000, 0.2),
            eval(4000, 0.5),
        ];
        assert_eq!(steps_to_threshold(&evals, 0.3), Some(2000));
        assert_eq!(steps_to_threshold(&evals, 0.5), Some(4000));
        assert_eq!(steps_to_threshold(&evals, 0.6), None);
        let t = CompareTask {
            spec: EnvSpec::Clevr,
            vlm: PathBuf::new(),
            steps: 4000,
            threshold: 0.3,
            advisors: vec![AdvisorArg::None, AdvisorArg::WorldModel],
        };
        let summary = |share: f64| OnlineSummary {
            env_steps: 4000,
            updates: 0,
            train_episodes: 0,
            final_success_rate: None,
            evals: 4,
            advised_steps: 0,
            relabelled: 0,
            advisor_requests: 0,
            advisor_stage: None,
            seconds: 10.0,
            advisor_seconds: 10.0 * share,
            advisor_share: share,
            eval_seconds: 0.0,
            env_steps_per_sec: 400.0,
            resumed_from: None,
        };
        let runs = [
            RunOutcome {
                evals: evals.to_vec(),
                summary: summary(0.1),
            },
            RunOutcome {
                evals: vec![
                    eval(1000, 0.0),
                    eval(2000, 0.1),
                    eval(3000, 0.1),
                    eval(4000, 0.2),
                ],
                summary: summary(0.3),
            },
        ];
        let a = arm(AdvisorArg::WorldModel, &runs, &t);
        assert_eq!(a.steps_to_threshold.per_seed, vec![Some(2000), None]);
        assert_eq!(a.steps_to_threshold.censored, 1);
        // The censored run counts as its length: (2000 + 4000) / 2.
        assert_eq!(a.steps_to_threshold.mean, 3000.0);
        assert_eq!(a.steps_to_threshold.std, 1000.0);
        assert!((a.final_success.mean - 0.35).abs() < 1e-12);
        assert_eq!(a.curve.len(), 4);
        assert_eq!(a.curve[1].0, 2000);
        assert!((a.curve[1].1 - 0.2).abs() < 1e-12);
        assert!((a.advisor_share.mean - 0.2).abs() < 1e-12);
        let none = arm(AdvisorArg::None, &runs[1..], &t);
        let r = task_result(&t, vec![none, a]);
        assert_eq!(r.ratio, Some(0.75));
        assert!(!r.meets_bar, "0.75x misses the 0.7x bar");
        assert!(r.steps_to_threshold.contains_key("advised"));
        assert!(r.steps_to_threshold.contains_key("unadvised"));
    }
}
