//! Stages that split into parts for a cluster (`vlgor pipeline plan --shards N`): each part
//! is a job of its own, and the stage's job merges them into exactly what the stage writes in
//! one go. Work is dealt to parts round-robin ([`Part::owns`]) in units whose results depend
//! only on their own seeds:
//! - collect and oracle: the datasets' shard files (episodes `f·S .. (f+1)·S`, each seeded by
//!   its index), merged by `vlgor_sim::dataset::parts`;
//! - imagine: whole imagined sets (each set's rollouts, validation and summary are a function
//!   of the set, the world model and the seed);
//! - references: (policy seed, level) cells of the random and expert rows.

use vlgor_sim::dataset::parts::Part;

use super::Layout;
use super::arms::imagined_sets;
use super::policy_runs::{reference_cell, reference_cells};
use super::stage::Stage;
use super::stages::{collections, imagine_set, oracle_collections};
use crate::collect::collect_part;
use crate::context::Context;
use crate::error::CliError;

/// Whether stage `s` splits into parts.
pub fn splits(s: Stage) -> bool {
    matches!(
        s,
        Stage::Collect | Stage::Oracle | Stage::Imagine | Stage::References
    )
}

/// Runs `part` of stage `s`; the stage's own run (`super::stages::run_stage`) then completes
/// whatever no part did and merges.
pub fn run_stage_part(ctx: &Context, l: &Layout, s: Stage, part: Part) -> Result<(), CliError> {
    match s {
        Stage::Collect | Stage::Oracle => {
            let datasets = if s == Stage::Collect {
                collections(ctx, l).to_vec()
            } else {
                oracle_collections(ctx, l)
            };
            for (dir, plan) in datasets {
                let bar = ctx.progress(
                    plan.episodes.div_ceil(part.count) as u64,
                    &format!("{s} part {part} {}", dir.display()),
                );
                collect_part(&plan, &dir, part, &bar)?;
                bar.finish_and_clear();
            }
        }
        Stage::Imagine => {
            for (i, set) in imagined_sets(ctx).iter().enumerate() {
                if part.owns(i) {
                    imagine_set(ctx, l, set)?;
                }
            }
        }
        Stage::References => {
            for (i, (seed, level)) in reference_cells(ctx, l).into_iter().enumerate() {
                if part.owns(i) {
                    reference_cell(ctx, l, seed, level)?;
                }
            }
        }
        _ => {
            return Err(CliError::Input(format!(
                "stage {s} does not split into parts; run its job whole"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evaluation::{EvalPlan, Subject, evaluate};
    use vlgor_sim::EnvKind;

    #[test]
    fn reference_rows_in_parts_equal_the_rows_of_one_evaluation() {
        let tmp = tempfile::tempdir().unwrap();
        for env in EnvKind::ALL {
            let mut ctx = Context::quick_for_tests(Some(env));
            ctx.config.eval.episodes = match env {
                EnvKind::Clevr => 6,
                EnvKind::MetaWorld => 1,
            };
            ctx.config.pipeline.seeds = vec![0, 1];
            let layout = |name: &str| Layout {
                out: tmp.path().join(format!("{env}-{name}")),
                env,
            };
            let (whole, split) = (layout("whole"), layout("split"));
            let one_go = super::super::policy_runs::references(&ctx, &whole).unwrap();
            for part in Part::all(4) {
                run_stage_part(&ctx, &split, Stage::References, part).unwrap();
            }
            let merged = super::super::policy_runs::references(&ctx, &split).unwrap();
            assert_eq!(
                serde_json::to_string(&one_go).unwrap(),
                serde_json::to_string(&merged).unwrap(),
                "{env}"
            );
            // And the cells equal those of a single evaluation over every level at once.
            for seed in [0, 1] {
                let all = evaluate(
                    &ctx.with_seed(seed),
                    &EvalPlan {
                        specs: super::super::stages::specs(env).0,
                        levels: super::super::stages::eval_levels(env),
                        episodes: ctx.config.eval.episodes,
                        seeds: vec![seed],
                        subject: Subject::Scripted(crate::ecs::Scripted::Random),
                        references: vec![],
                        parallel: 64,
                    },
                )
                .unwrap();
                let rows = &merged[&format!("random-s{seed}")];
                let mut by_level: std::collections::BTreeMap<String, Vec<f64>> = Default::default();
                for c in &all.subject.cells {
                    by_level
                        .entry(c.level.name().to_string())
                        .or_default()
                        .extend(c.flat());
                }
                assert_eq!(rows.episodes, by_level, "{env} seed {seed}");
            }
        }
    }
}
