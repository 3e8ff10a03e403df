//! The experiment's stages: one type from the in-process run to the job plan and
//! `stages/<stage>.json`.

use serde::{Deserialize, Serialize};

use crate::context::Context;

/// A stage of `vlgor pipeline`, in the order the in-process run takes them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Real rollouts (the offline data) and held-out rollouts.
    Collect,
    /// The state readout (perceived states from frames).
    Readout,
    /// World model, base stage.
    VlmBase,
    /// World model, LoRA stage (the one that imagines).
    VlmLora,
    /// World model fine-tuned in full (the Table-1 comparison).
    VlmFull,
    /// Table 1: the three world-model stages on held-out rollouts.
    VlmEval,
    /// Table 1's LoRA sample-count sweep.
    VlmSweep,
    /// The KALM baseline's generator (with `[pipeline] kalm_arm`).
    Kalm,
    /// Imagined rollouts, validated against the physics.
    Imagine,
    /// Scripted-expert rollouts for the unseen levels' instructions.
    Oracle,
    /// Each arm's imagined data.
    Mix,
    /// The validator's false alarms and recall on real held-out rollouts.
    Validator,
    /// Every (algorithm, arm, seed) policy: trained and evaluated closed-loop.
    Policies,
    /// The random and expert rows on the policies' evaluation episodes.
    References,
}

impl Stage {
    pub const ALL: [Stage; 14] = [
        Stage::Collect,
        Stage::Readout,
        Stage::VlmBase,
        Stage::VlmLora,
        Stage::VlmFull,
        Stage::VlmEval,
        Stage::VlmSweep,
        Stage::Kalm,
        Stage::Imagine,
        Stage::Oracle,
        Stage::Mix,
        Stage::Validator,
        Stage::Policies,
        Stage::References,
    ];

    /// The name of its record, `stages/<name>.json`.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Collect => "collect",
            Stage::Readout => "readout",
            Stage::VlmBase => "vlm_base",
            Stage::VlmLora => "vlm_lora",
            Stage::VlmFull => "vlm_full",
            Stage::VlmEval => "vlm_eval",
            Stage::VlmSweep => "vlm_sweep",
            Stage::Kalm => "kalm",
            Stage::Imagine => "imagine",
            Stage::Oracle => "oracle",
            Stage::Mix => "mix",
            Stage::Validator => "validator",
            Stage::Policies => "policies",
            Stage::References => "references",
        }
    }

    /// The stages this configuration runs, in order.
    pub fn of(ctx: &Context) -> Vec<Stage> {
        Stage::ALL
            .into_iter()
            .filter(|s| *s != Stage::Kalm || ctx.config.pipeline.kalm_arm)
            .collect()
    }

    /// The stages whose outputs this one reads (every one of them runs before it in `ALL`
    /// order). `kalm` is an input of `imagine` only where the configuration runs it.
    pub fn inputs(self, ctx: &Context) -> Vec<Stage> {
        use Stage::*;
        let mut v = match self {
            Collect | Oracle | References => vec![],
            Readout | VlmBase | Kalm | Validator => vec![Collect],
            VlmLora | VlmFull => vec![Collect, VlmBase],
            VlmEval => vec![Collect, Readout, VlmLora, VlmFull],
            VlmSweep => vec![Collect, Readout, VlmBase, VlmLora],
            Imagine => vec![Collect, Readout, VlmLora],
            Mix => vec![Imagine, Oracle],
            Policies => vec![Collect, Mix],
        };
        if self == Imagine && ctx.config.pipeline.kalm_arm {
            v.push(Kalm);
        }
        v
    }

    /// Whether the stage trains or runs the world model (or KALM's generator), where a GPU
    /// pays; policy runs ask for one with image observations.
    pub fn wants_gpu(self) -> bool {
        matches!(
            self,
            Stage::VlmBase
                | Stage::VlmLora
                | Stage::VlmFull
                | Stage::VlmEval
                | Stage::VlmSweep
                | Stage::Kalm
                | Stage::Imagine
        )
    }
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
