//! The experiment as a plan of jobs for a cluster: every stage of the in-process run, the
//! policy grid split into one job per (algorithm, arm, seed), and the report; each job with
//! the jobs it waits for, what it reads and writes, and what it asks of a node. `vlgor
//! pipeline run-job` runs one of them; the in-process `vlgor pipeline` runs the same stages in
//! order.

use serde::{Deserialize, Serialize};
use std::path::Path;
use vlgor_rl::ObsKind;
use vlgor_sim::EnvKind;

use super::Layout;
use super::arms::{imagined_sets, oracle_counts};
use super::policy_runs::policy_runs;
use super::stage::Stage;
use super::stage_parts::splits;
use crate::config::Config;
use crate::context::Context;

/// What one job does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "work", rename_all = "snake_case")]
pub enum Work {
    /// A whole stage (for `policies`: the record of its runs, once the runs have finished).
    Stage { stage: Stage },
    /// Part `part` of `parts` of a stage that splits (see `super::stage_parts`); the stage's
    /// own job then merges the parts.
    StagePart {
        stage: Stage,
        part: usize,
        parts: usize,
    },
    /// Run `shard` of the policy grid (in the in-process order): train, then evaluate.
    PolicyRun { shard: usize },
    /// `results.json`, `report.md` and `plots/` from the stage records.
    Report,
}

/// What a job asks of the node that runs it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Resources {
    pub cpus: u32,
    /// Whether it should run on a GPU node (world-model stages, image policies); it also
    /// runs, slower, without one.
    pub gpu: bool,
    pub memory_gb: u32,
    /// Wall-time limit in minutes: the quick preset's measured time of the stage on 2 CPU
    /// cores, scaled by this preset's amount of work, doubled, plus 10.
    pub minutes: u64,
}

/// One job of the plan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// `collect`, ..., `policy-bc-baseline-s0`, ..., `report`.
    pub id: String,
    #[serde(flatten)]
    pub work: Work,
    /// Jobs that must have finished first.
    pub after: Vec<String>,
    /// Paths (under the pipeline directory) it reads.
    pub inputs: Vec<String>,
    /// Paths it writes; a job whose outputs all exist has finished.
    pub outputs: Vec<String>,
    pub resources: Resources,
}

/// The plan of one pipeline directory (`DIR/plan.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobPlan {
    pub env: EnvKind,
    pub preset: String,
    pub seed: u64,
    /// Parts each splitting stage runs as (1: every stage is one job).
    #[serde(default = "one")]
    pub shards: usize,
    pub jobs: Vec<Job>,
}

fn one() -> usize {
    1
}

impl JobPlan {
    pub fn job(&self, id: &str) -> Option<&Job> {
        self.jobs.iter().find(|j| j.id == id)
    }
}

fn stage_file(s: &str) -> String {
    format!("stages/{s}.json")
}

/// The directories and records stage `s` writes, relative to the pipeline directory.
fn stage_outputs(ctx: &Context, s: Stage) -> Vec<String> {
    let mut out = vec![stage_file(s.name())];
    out.extend(match s {
        Stage::Collect => vec!["data/real".into(), "data/heldout".into()],
        Stage::Readout => vec!["vlm/readout".into()],
        Stage::VlmBase => vec!["vlm/base".into()],
        Stage::VlmLora => vec!["vlm/lora".into()],
        Stage::VlmFull => vec!["vlm/full".into()],
        Stage::Kalm => vec!["kalm".into()],
        Stage::Imagine => imagined_sets(ctx)
            .into_iter()
            .map(|s| format!("data/imagined-{}", s.name))
            .collect(),
        Stage::Oracle => oracle_counts(ctx)
            .into_iter()
            .map(|(l, _)| format!("data/oracle-{l}"))
            .collect(),
        Stage::VlmEval | Stage::VlmSweep | Stage::Mix | Stage::Validator => vec![],
        Stage::Policies | Stage::References => vec![],
    });
    out
}

/// Measured seconds of each stage in the quick CLEVR run on 2 CPU cores (the committed
/// report's timings; one policy run: the policies stage over its 54 runs).
fn quick_seconds(s: Stage) -> f64 {
    match s {
        Stage::Collect => 417.0,
        Stage::Readout => 405.0,
        Stage::VlmBase => 553.0,
        Stage::VlmLora => 157.0,
        Stage::VlmFull => 210.0,
        Stage::VlmEval => 42.0,
        Stage::VlmSweep => 60.0,
        Stage::Kalm => 138.0,
        Stage::Imagine => 670.0,
        Stage::Oracle => 348.0,
        Stage::Mix => 11.0,
        Stage::Validator => 8.0,
        Stage::Policies => 4489.0 / 54.0,
        Stage::References => 477.0,
    }
}

/// This configuration's work in a stage relative to the quick CLEVR preset's.
fn work_ratio(c: &Config, q: &Config, s: Stage) -> f64 {
    let r = |a: f64, b: f64| if b > 0.0 { a / b } else { 1.0 };
    let imagined = |c: &Config| {
        let p = &c.pipeline;
        (p.rephrase + p.counterfactual + p.hard + p.unseen_relation) as f64
    };
    let image = |c: &Config| match c.pipeline.obs {
        ObsKind::Image => 10.0,
        ObsKind::State => 1.0,
    };
    match s {
        Stage::Collect | Stage::Validator => {
            r(c.collect.episodes as f64, q.collect.episodes as f64)
        }
        Stage::Readout => r(
            (c.vlm.readout_frames * c.vlm.readout_epochs) as f64,
            (q.vlm.readout_frames * q.vlm.readout_epochs) as f64,
        ),
        Stage::VlmBase => r(
            (c.vlm.base_episodes * c.vlm.base_keyframes * c.vlm.base_epochs) as f64,
            (q.vlm.base_episodes * q.vlm.base_keyframes * q.vlm.base_epochs) as f64,
        ),
        Stage::VlmLora | Stage::VlmFull => r(
            (c.vlm.lora_samples * c.vlm.lora_epochs) as f64,
            (q.vlm.lora_samples * q.vlm.lora_epochs) as f64,
        ),
        Stage::VlmEval => r(
            (c.vlm.eval_samples + c.vlm.eval_rollouts + c.vlm.goal_rollouts) as f64,
            (q.vlm.eval_samples + q.vlm.eval_rollouts + q.vlm.goal_rollouts) as f64,
        ),
        Stage::VlmSweep => c.pipeline.sweep.len() as f64,
        Stage::Kalm => r(
            (c.kalm.base_samples * c.kalm.base_epochs + c.kalm.lora_samples * c.kalm.lora_epochs)
                as f64,
            (q.kalm.base_samples * q.kalm.base_epochs + q.kalm.lora_samples * q.kalm.lora_epochs)
                as f64,
        ),
        Stage::Imagine | Stage::Oracle | Stage::Mix => r(imagined(c), imagined(q)),
        Stage::Policies => {
            r(
                (c.rl.training.epochs * c.collect.episodes) as f64,
                (q.rl.training.epochs * q.collect.episodes) as f64,
            ) * r(image(c), image(q))
                + r(
                    (c.eval.episodes * c.eval.checkpoints) as f64,
                    (q.eval.episodes * q.eval.checkpoints) as f64,
                )
        }
        Stage::References => r(c.eval.episodes as f64, q.eval.episodes as f64),
    }
}

/// `quick`: the quick preset, whose measured times the limits scale (`None`: unscaled).
fn resources(ctx: &Context, quick: Option<&Config>, s: Stage, gpu: bool) -> Resources {
    let ratio = quick.map_or(1.0, |q| work_ratio(&ctx.config, q, s));
    let seconds = quick_seconds(s) * ratio;
    Resources {
        cpus: 2,
        gpu,
        memory_gb: if gpu { 16 } else { 8 },
        minutes: (2.0 * seconds / 60.0).ceil() as u64 + 10,
    }
}

/// The plan of this configuration's experiment in directory `l.out`, the splitting stages in
/// `shards` parts each.
pub fn plan(ctx: &Context, l: &Layout, shards: usize) -> JobPlan {
    let stages = Stage::of(ctx);
    let quick = Config::load("quick", None).ok();
    let quick = quick.as_ref();
    let mut jobs = Vec::new();
    let outputs_of = |s: Stage| stage_outputs(ctx, s);
    let inputs_of =
        |s: Stage| -> Vec<String> { s.inputs(ctx).into_iter().flat_map(outputs_of).collect() };
    // The job of a stage whose work ran in other jobs (policy runs, parts): it merges their
    // records into the stage's outputs, in minutes.
    let merge_job = |s: Stage, after: Vec<String>, inputs: Vec<String>| Job {
        id: s.name().into(),
        work: Work::Stage { stage: s },
        after,
        inputs,
        outputs: outputs_of(s),
        resources: Resources {
            minutes: 10,
            ..resources(ctx, quick, Stage::Mix, false)
        },
    };
    let runs = policy_runs(ctx);
    let image_policies = ctx.config.pipeline.obs == ObsKind::Image;
    for &s in &stages {
        let ids = |v: Vec<Stage>| v.into_iter().map(|s| s.name().to_string()).collect();
        if s == Stage::Policies {
            for (shard, run) in runs.iter().enumerate() {
                jobs.push(Job {
                    id: format!("policy-{}", run.key()),
                    work: Work::PolicyRun { shard },
                    after: ids(s.inputs(ctx)),
                    inputs: inputs_of(s),
                    outputs: vec![format!("policies/{}/pipeline_eval.json", run.key())],
                    resources: resources(ctx, quick, s, image_policies),
                });
            }
            jobs.push(merge_job(
                s,
                runs.iter().map(|r| format!("policy-{}", r.key())).collect(),
                runs.iter()
                    .map(|r| format!("policies/{}/pipeline_eval.json", r.key()))
                    .collect(),
            ));
            continue;
        }
        if shards > 1 && splits(s) {
            let full = resources(ctx, quick, s, s.wants_gpu());
            let part_ids: Vec<String> = (0..shards).map(|k| part_id(s, k)).collect();
            for (k, id) in part_ids.iter().enumerate() {
                jobs.push(Job {
                    id: id.clone(),
                    work: Work::StagePart {
                        stage: s,
                        part: k,
                        parts: shards,
                    },
                    after: ids(s.inputs(ctx)),
                    inputs: inputs_of(s),
                    outputs: vec![part_file(s, k)],
                    resources: Resources {
                        minutes: (full.minutes - 10).div_ceil(shards as u64) + 10,
                        ..full.clone()
                    },
                });
            }
            let inputs = inputs_of(s)
                .into_iter()
                .chain((0..shards).map(|k| part_file(s, k)))
                .collect();
            jobs.push(merge_job(s, part_ids, inputs));
            continue;
        }
        jobs.push(Job {
            id: s.name().into(),
            work: Work::Stage { stage: s },
            after: ids(s.inputs(ctx)),
            inputs: inputs_of(s),
            outputs: outputs_of(s),
            resources: resources(ctx, quick, s, s.wants_gpu()),
        });
    }
    jobs.push(Job {
        id: "report".into(),
        work: Work::Report,
        after: stages.iter().map(|s| s.name().to_string()).collect(),
        inputs: stages.iter().map(|s| stage_file(s.name())).collect(),
        outputs: vec!["results.json".into(), "report.md".into()],
        resources: Resources {
            cpus: 1,
            gpu: false,
            memory_gb: 4,
            minutes: 10,
        },
    });
    JobPlan {
        env: l.env,
        preset: ctx.preset.clone(),
        seed: ctx.seed,
        shards,
        jobs,
    }
}

/// The id of part `k` of stage `s`, `{stage}-part{k}`.
fn part_id(s: Stage, k: usize) -> String {
    format!("{s}-part{k}")
}

/// The record a finished part leaves, `parts/{stage}-{k}.json`.
fn part_file(s: Stage, k: usize) -> String {
    format!("parts/{s}-{k}.json")
}

/// Whether every output of `job` exists under `dir` (a finished job is verified, not redone).
pub fn outputs_exist(dir: &Path, job: &Job) -> Result<(), String> {
    match job.outputs.iter().find(|o| !dir.join(o).exists()) {
        Some(missing) => Err(missing.clone()),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quick(env: EnvKind) -> Context {
        Context::quick_for_tests(Some(env))
    }

    #[test]
    fn quick_plan_lists_every_stage_after_its_inputs() {
        for env in EnvKind::ALL {
            let ctx = quick(env);
            let l = Layout {
                out: "/pipeline".into(),
                env,
            };
            let p = plan(&ctx, &l, 1);
            let job = |id: &str| p.job(id).unwrap_or_else(|| panic!("{env}: no job {id}"));
            let pos = |id: &str| p.jobs.iter().position(|j| j.id == id).unwrap();
            // Every stage has its job, and every job comes after the jobs it waits for.
            for s in Stage::of(&ctx) {
                assert_eq!(job(s.name()).work, Work::Stage { stage: s });
            }
            for j in &p.jobs {
                for a in &j.after {
                    assert!(pos(a) < pos(&j.id), "{env}: {} before {a}", j.id);
                }
            }
            // The data flow of the experiment.
            assert_eq!(job("readout").after, ["collect"]);
            assert_eq!(job("vlm_lora").after, ["collect", "vlm_base"]);
            assert_eq!(
                job("imagine").after,
                ["collect", "readout", "vlm_lora", "kalm"],
                "{env}: imagination needs the LoRA world model, the readout and KALM"
            );
            assert_eq!(job("mix").after, ["imagine", "oracle"]);
            assert!(job("oracle").after.is_empty() && job("references").after.is_empty());
            // The policy grid: one job per run, all after the mixes; their record after all.
            let runs: Vec<&Job> = p
                .jobs
                .iter()
                .filter(|j| matches!(j.work, Work::PolicyRun { .. }))
                .collect();
            assert_eq!(runs.len(), policy_runs(&ctx).len());
            let expected = match env {
                // BC, CQL: baseline, oracle, VLGOR, KALM; 3 seeds (every-arm.toml: 51).
                EnvKind::Clevr => 24,
                // BC, TD3+BC, CQL: baseline, oracle, VLGOR, KALM; 3 seeds.
                EnvKind::MetaWorld => 36,
            };
            assert_eq!(runs.len(), expected, "{env}");
            for r in &runs {
                assert_eq!(r.after, ["collect", "mix"]);
                assert!(!r.resources.gpu, "state policies ask for no GPU");
            }
            let ids: Vec<String> = runs.iter().map(|r| r.id.clone()).collect();
            assert_eq!(job("policies").after, ids);
            let stages: Vec<String> = Stage::of(&ctx).iter().map(|s| s.to_string()).collect();
            assert_eq!(job("report").after, stages);
            assert_eq!(p.jobs.last().unwrap().work, Work::Report);
            for s in [Stage::VlmBase, Stage::VlmLora, Stage::Imagine, Stage::Kalm] {
                assert!(job(s.name()).resources.gpu, "{env}: {s} asks for a GPU");
            }
            assert!(!job("collect").resources.gpu);
        }
    }
}

#[cfg(test)]
mod split_tests {
    use super::*;

    /// The context of a command on `env` with `assets/presets/<name>` over the quick preset.
    fn overlay(name: &str, env: EnvKind) -> Context {
        let file = format!("{}/../assets/presets/{name}", env!("CARGO_MANIFEST_DIR"));
        Context::new(
            &crate::cli::GlobalArgs {
                seed: 0,
                device: crate::cli::DeviceArg::Cpu,
                threads: Some(1),
                preset: "quick".into(),
                config: Some(file.into()),
                json: true,
                verbose: 0,
                quiet: true,
            },
            Some(env),
        )
        .unwrap()
    }

    /// `assets/presets/metaworld-lookahead.toml` changes the Meta-World experiment and leaves
    /// CLEVR's as the preset has it.
    #[test]
    fn metaworld_lookahead_toml_changes_metaworld_only() {
        let mw = overlay("metaworld-lookahead.toml", EnvKind::MetaWorld);
        let quick = Context::quick_for_tests(Some(EnvKind::MetaWorld));
        assert_eq!(mw.config.rl.training.epochs, 10);
        assert_eq!(quick.config.rl.training.epochs, 3);
        assert_eq!(mw.config.vlm.visual_head, "object_state");
        assert_eq!(
            mw.config.vlm.imagine_actions,
            crate::imagination::ImagineActions::Lookahead
        );
        assert_eq!(mw.config.pipeline.counterfactual, 600);
        assert_eq!(policy_runs(&mw).len(), policy_runs(&quick).len());
        let clevr = overlay("metaworld-lookahead.toml", EnvKind::Clevr);
        let clevr_quick = Context::quick_for_tests(Some(EnvKind::Clevr));
        let json = |c: &Context| serde_json::to_value(c.config.clone().resolved()).unwrap();
        assert_eq!(json(&clevr), json(&clevr_quick), "CLEVR runs the preset");
    }

    /// `assets/presets/every-arm.toml` over the quick preset: the four arms the quick preset
    /// leaves out come back (the committed CLEVR report's 51 runs).
    #[test]
    fn every_arm_toml_turns_the_left_out_arms_on() {
        let ctx = overlay("every-arm.toml", EnvKind::Clevr);
        let quick = Context::quick_for_tests(Some(EnvKind::Clevr));
        assert_eq!(policy_runs(&quick).len(), 24);
        assert_eq!(policy_runs(&ctx).len(), 51);
        let names = |c: &Context| -> Vec<String> {
            policy_runs(c)
                .iter()
                .map(|r| r.variant.name.to_string())
                .collect()
        };
        for arm in [
            "wo_target",
            "wo_behavior",
            "unvalidated",
            "wm_actions_in_sim",
            "vlgor_verified",
        ] {
            assert!(names(&ctx).iter().any(|n| n == arm), "{arm}");
            assert!(!names(&quick).iter().any(|n| n == arm), "{arm}");
        }
    }

    #[test]
    fn a_split_plan_runs_each_split_stage_as_parts_merged_by_the_stage_job() {
        for env in EnvKind::ALL {
            let ctx = Context::quick_for_tests(Some(env));
            let l = Layout {
                out: "/pipeline".into(),
                env,
            };
            let whole = plan(&ctx, &l, 1);
            let split = plan(&ctx, &l, 3);
            assert_eq!(split.shards, 3);
            for s in Stage::of(&ctx) {
                let stage_job = split.job(s.name()).unwrap();
                let parts: Vec<&Job> = split
                    .jobs
                    .iter()
                    .filter(|j| matches!(j.work, Work::StagePart { stage, .. } if stage == s))
                    .collect();
                if !splits(s) {
                    assert!(parts.is_empty(), "{env}: {s} does not split");
                    assert_eq!(stage_job, whole.job(s.name()).unwrap());
                    continue;
                }
                assert_eq!(parts.len(), 3, "{env}: {s}");
                for (k, p) in parts.iter().enumerate() {
                    assert_eq!(p.id, format!("{s}-part{k}"));
                    assert_eq!(
                        p.work,
                        Work::StagePart {
                            stage: s,
                            part: k,
                            parts: 3
                        }
                    );
                    // A part waits for what the whole stage waits for, and leaves a record.
                    assert_eq!(p.after, whole.job(s.name()).unwrap().after);
                    assert_eq!(p.outputs, [format!("parts/{s}-{k}.json")]);
                    assert!(p.resources.minutes <= whole.job(s.name()).unwrap().resources.minutes);
                }
                // The stage's job merges: after its parts, writing the stage's outputs.
                let ids: Vec<String> = parts.iter().map(|p| p.id.clone()).collect();
                assert_eq!(stage_job.after, ids);
                assert_eq!(stage_job.outputs, whole.job(s.name()).unwrap().outputs);
            }
            // Jobs downstream still wait for the stage, not its parts.
            assert_eq!(split.job("mix").unwrap().after, ["imagine", "oracle"]);
            assert_eq!(
                split.jobs.len(),
                whole.jobs.len() + 4 * 3,
                "{env}: collect, oracle, imagine, references in 3 parts each"
            );
        }
    }
}
