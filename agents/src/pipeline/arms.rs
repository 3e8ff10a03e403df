//! The experiment's arms: which policy variants train on which mix, and the imagination runs
//! (and oracle counts) those mixes are built from.

use vlgor_rl::config::AlgoKind;
use vlgor_sim::language::CounterfactualKind;

use crate::config_vlm::PipelineSection;
use crate::context::Context;
use crate::imagination::{Dynamics, Generator, InstructionSet};

/// A policy variant: which imagined mix (if any) joins the real data.
#[derive(Clone, Debug)]
pub struct Variant {
    pub name: &'static str,
    pub mix: Option<&'static str>,
}

/// Baseline, the oracle (real + scripted-expert rollouts for the unseen levels' instructions,
/// the upper bound of any imagination), VLGOR, the two prompt ablations (every algorithm, when
/// `prompt_ablations`), VLGOR
/// with generate and verify (every algorithm, when `verify_candidates` > 0), the KALM
/// baseline's imagined data (every algorithm, when `kalm_arm`), and the unvalidated ablation
/// (BC).
pub fn variants(algo: AlgoKind, p: &PipelineSection) -> Vec<Variant> {
    let arm = |name, mix| Variant {
        name,
        mix: Some(mix),
    };
    let mut v = vec![
        Variant {
            name: "baseline",
            mix: None,
        },
        arm("oracle", "oracle"),
        arm("vlgor", "vlgor"),
    ];
    if p.prompt_ablations {
        v.push(arm("wo_target", "wo_target"));
        v.push(arm("wo_behavior", "wo_behavior"));
    }
    if p.verify_candidates > 0 {
        let failed_too = algo != AlgoKind::Bc && p.verify_failed_for_cql;
        v.push(arm(
            "vlgor_verified",
            if failed_too {
                "vlgor_verified_all"
            } else {
                "vlgor_verified"
            },
        ));
    }
    if p.simulated_arm {
        v.push(arm("wm_actions_in_sim", "wm_actions_in_sim"));
    }
    if p.kalm_arm {
        v.push(arm("kalm", "kalm"));
    }
    if p.unvalidated_ablation && algo == AlgoKind::Bc {
        v.push(arm("unvalidated", "unvalidated"));
    }
    v
}

/// Every variant name, in report order.
pub const VARIANT_NAMES: [&str; 9] = [
    "baseline",
    "oracle",
    "wm_actions_in_sim",
    "kalm",
    "vlgor",
    "vlgor_verified",
    "wo_target",
    "wo_behavior",
    "unvalidated",
];

/// Name suffix of KALM's re-imagining of a world-model set (`SET` → `SET-kalm`).
pub const KALM_SUFFIX: &str = "-kalm";

/// One imagination run of the pipeline.
pub struct ImaginedSet {
    /// Directory suffix under `data/imagined-`.
    pub name: String,
    pub instructions: InstructionSet,
    /// Which prompts made it (`None`: the level's own instructions, for hard compositions).
    pub kind: Option<CounterfactualKind>,
    /// Start states.
    pub count: usize,
    /// Rollouts per start state (1: the paper's greedy imagination) and their temperature.
    pub candidates: usize,
    pub temperature: f64,
    pub dynamics: Dynamics,
    pub generator: Generator,
}

impl ImaginedSet {
    /// The world model's paper-style imagination: one greedy rollout per start, imagined frames.
    pub fn greedy_world_model(&self) -> bool {
        self.generator == Generator::WorldModel
            && self.candidates == 1
            && self.dynamics == Dynamics::WorldModel
    }
}

/// The imagination runs: for rephrase, counterfactual and unseen-relation, the level's count of target-swap
/// prompts and as many behavior-swap prompts (VLGOR mixes half of each, each ablation one full
/// kind); for hard, the level's compositions (no single swap of an offline instruction is a
/// composition). With generate and verify, each of those kinds again with half the level's
/// count (hard: the whole) split into start states of `verify_candidates` sampled candidates,
/// so the arm imagines as many rollouts as VLGOR mixes. With the KALM arm, KALM imagines each
/// greedy set again (`-kalm`: same prompts, count and start states).
pub fn imagined_sets(ctx: &Context) -> Vec<ImaginedSet> {
    let p = &ctx.config.pipeline;
    let mut out = Vec::new();
    for (level, count) in oracle_counts(ctx) {
        let kinds: Vec<(Option<CounterfactualKind>, String, InstructionSet, usize)> =
            if level == vlgor_sim::Level::Hard {
                vec![(None, "hard".into(), InstructionSet::Level(level), count)]
            } else {
                [
                    (CounterfactualKind::Target, "target"),
                    (CounterfactualKind::Behavior, "behavior"),
                ]
                .into_iter()
                .map(|(kind, word)| {
                    let share = match kind {
                        CounterfactualKind::Target => count / 2,
                        CounterfactualKind::Behavior => count - count / 2,
                    };
                    (
                        Some(kind),
                        format!("{level}-{word}"),
                        InstructionSet::Aimed { level, kind },
                        share,
                    )
                })
                .collect()
            };
        for (kind, name, instructions, share) in &kinds {
            let set =
                |suffix: &str, count, candidates, temperature, dynamics, generator| ImaginedSet {
                    name: format!("{name}{suffix}"),
                    instructions: instructions.clone(),
                    kind: *kind,
                    count,
                    candidates,
                    temperature,
                    dynamics,
                    generator,
                };
            use {
                Dynamics::Simulator,
                Dynamics::WorldModel as Imagined,
                Generator::{Kalm, WorldModel},
            };
            out.push(set("", count, 1, 0.0, Imagined, WorldModel));
            // The same prompts and start states as the part VLGOR mixes (picks are drawn
            // in the same order from the same seed), played in rapier.
            if p.simulated_arm {
                out.push(set("-simulated", *share, 1, 0.0, Simulator, WorldModel));
            }
            let k = p.verify_candidates;
            if k > 0 && share / k > 0 {
                let t = p.verify_temperature;
                out.push(set("-verify", share / k, k, t, Imagined, WorldModel));
            }
            // KALM: the same prompts and start states as the world model's set, mixed alike.
            if p.kalm_arm {
                out.push(set(KALM_SUFFIX, count, 1, 0.0, Imagined, Kalm));
            }
        }
    }
    out
}

/// Oracle episodes per unseen level: the paper's imagined counts per level (5,400 rephrase /
/// 6,400 counterfactual / 1,680 hard: the preset's `pipeline.rephrase`,
/// `pipeline.counterfactual` and `pipeline.hard`) and the preset's `pipeline.unseen_relation`
/// for CLEVR's held-out relations, so the oracle arm holds as many rollouts as VLGOR's
/// imagination.
pub fn oracle_counts(ctx: &Context) -> Vec<(vlgor_sim::Level, usize)> {
    let p = &ctx.config.pipeline;
    [
        (vlgor_sim::Level::Rephrase, p.rephrase),
        (vlgor_sim::Level::Counterfactual, p.counterfactual),
        (vlgor_sim::Level::UnseenRelation, p.unseen_relation),
        (vlgor_sim::Level::Hard, p.hard),
    ]
    .into_iter()
    .filter(|(_, n)| *n > 0)
    .collect()
}
