//! Configuration sections of the world model (`[vlm]`) and of the end-to-end experiment
//! (`[pipeline]`): sizes, sample counts, epochs, imagination counts.

use serde::{Deserialize, Serialize};
use vlgor_rl::config::{AlgoKind, ObsKind};
use vlgor_sim::EnvKind;
use vlgor_sim::validate::Filter;
use vlgor_vlm::perception::LabelledStates;
use vlgor_vlm::world_model::VisualHead;

use crate::imagination::{ImagineActions, InstructionSet};

/// `[vlm]`: world model, state readout, their training and evaluation.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VlmSection {
    /// Model size preset: `cpu_quick` (64×64 frames) or `paper` (128×128).
    pub model: String,
    /// Base stage: rollouts rendered from the simulators (instructions replaced by a generic one).
    pub base_episodes: usize,
    /// Keyframes (model steps) per base rollout; env steps = keyframes × h.
    pub base_keyframes: usize,
    /// Share of random actions in base rollouts (the rest are expert actions).
    pub base_noise: f32,
    pub base_epochs: usize,
    pub base_lr: f64,
    /// LoRA stage: fine-tuning samples drawn from `--data` (the CLI's `--samples` default).
    pub lora_samples: usize,
    pub lora_epochs: usize,
    pub lora_lr: f64,
    /// Samples per update in both stages.
    pub batch_size: usize,
    /// λ of the change-weighted frame loss: pixels that change between input and target count
    /// 1 + λ times (0 = plain MSE).
    #[serde(default)]
    pub frame_change_weight: f64,
    /// Weight of the action loss against the frame MSE (stored in the model's config by the base
    /// stage; the later stages keep it).
    pub action_loss_weight: f64,
    /// How the world model produces the next frame: "direct", "object_state", "transform", or
    /// "auto" (absent too) for the simulator's default ([`VisualHead::default_for`]). Stored in
    /// the model's config by the base stage.
    #[serde(default = "auto")]
    pub visual_head: String,
    /// The object-state head's motion gate (`WorldModelConfig::motion_gate`): per tracked value,
    /// whether it moves at all, so untouched objects stay still over a rollout. Absent (configs
    /// of earlier releases): off. Stored in the model's config by the base stage; ignored for
    /// the other heads.
    #[serde(default)]
    pub motion_gate: bool,
    /// State readout: freshly rendered frames per epoch, epochs, random steps before a frame.
    pub readout_frames: usize,
    pub readout_epochs: usize,
    pub readout_random_steps: usize,
    /// When nonzero, half of the readout's frames are taken instead partway (0..=this many env
    /// steps) through a scripted-expert run with 20% random actions, so the readout also sees
    /// the mid-episode states real and imagined rollouts show (Meta-World: the arm far from its
    /// start, the object moved or held). Absent (configs of earlier releases): 0.
    #[serde(default)]
    pub readout_expert_steps: usize,
    /// `vlm eval`: one-step samples, whole held-out rollouts, and counterfactual rollouts imagined
    /// freely for the goal-reaching rate.
    pub eval_samples: usize,
    pub eval_rollouts: usize,
    pub goal_rollouts: usize,
    /// Model steps per imagined rollout (each h env steps).
    pub imagine_horizon: usize,
    /// Model steps per imagined rollout of a hard composition (2–3 relations, ORDER, SORT:
    /// the scripted expert needs ~11 pushes for one). Absent: `imagine_horizon`.
    #[serde(default)]
    pub imagine_horizon_hard: Option<usize>,
    /// Rollouts imagined per forward batch.
    pub imagine_batch: usize,
    /// How greedy imagination picks each action: "action-head" (the paper's: the action head's
    /// argmax) or "lookahead" (every candidate imagined one step ahead, the one the
    /// instruction's test scores highest on the imagined state taken). Absent in configs of
    /// earlier releases: "action-head".
    #[serde(default)]
    pub imagine_actions: ImagineActions,
}

fn auto() -> String {
    "auto".into()
}

/// `[pipeline]`: what `vlgor pipeline` trains and evaluates.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineSection {
    /// Policy training seeds (each variant is trained and evaluated once per seed).
    pub seeds: Vec<u64>,
    /// Algorithms: "bc", "cql".
    pub algos: Vec<AlgoKind>,
    /// Policy observation: "state" (imagined rows carry their read-out states) or "image".
    pub obs: ObsKind,
    /// Imagined rollouts (and oracle rollouts) per unseen level, the paper's 5,400 rephrase /
    /// 6,400 counterfactual / 1,680 hard. Rephrase and counterfactual are imagined once per
    /// prompt kind (target swaps, behavior swaps); VLGOR mixes half of each. The older key
    /// names `counterfactual_target` / `counterfactual_behavior` are read (`config::load`).
    pub rephrase: usize,
    pub counterfactual: usize,
    pub hard: usize,
    /// Imagined (and oracle) rollouts for the held-out relational goals (`unseen-relation`,
    /// CLEVR only; the paper has no such level), once per prompt kind like rephrase: a
    /// training relation with its source ball (target) or its direction and reference
    /// (behavior) swapped until the goal is a held-out one. 0 in runs of earlier releases;
    /// read as 0 for an env without the level (Meta-World).
    #[serde(default)]
    pub unseen_relation: usize,
    /// "truncate" (keep the valid prefix), "drop" (discard flagged rollouts) or "keep" (no
    /// filtering: every rollout whole).
    pub filter: Filter,
    /// LoRA sample counts of the Table-1 sweep (empty: skip the sweep).
    pub sweep: Vec<usize>,
    /// Also train BC on unvalidated imagined rollouts (validation ablation).
    pub unvalidated_ablation: bool,
    /// The prompt ablations w/o target and w/o behavior (every algorithm; each arm mixes one
    /// counterfactual kind's full set). On in runs of earlier releases.
    #[serde(default = "yes")]
    pub prompt_ablations: bool,
    /// Generate and verify: candidates imagined per start state, with the actions drawn at
    /// `verify_temperature`; the arm keeps the validated rollouts that reach their goal. The
    /// arm imagines as many rollouts as VLGOR (count / candidates starts per set). 0 = no arm.
    #[serde(default = "verify_candidates")]
    pub verify_candidates: usize,
    /// Softmax temperature of those draws.
    #[serde(default = "verify_temperature")]
    pub verify_temperature: f64,
    /// CQL's generate-and-verify data also holds the validated rollouts that missed their goal
    /// (with their environment rewards); BC's holds only the goal-reaching ones.
    #[serde(default = "yes")]
    pub verify_failed_for_cql: bool,
    /// The decomposition arm `wm_actions_in_sim`: VLGOR's prompts and start states, the world
    /// model choosing every action, rapier and the renderer producing what follows.
    #[serde(default = "yes")]
    pub simulated_arm: bool,
    /// The KALM arms (BC+KALM, CQL+KALM): the KALM generator (`[kalm]`) trained on the real
    /// data imagines the same prompts from the same start states as VLGOR, mixed alike. Off
    /// in runs of earlier releases.
    #[serde(default)]
    pub kalm_arm: bool,
}

fn verify_candidates() -> usize {
    4
}

fn verify_temperature() -> f64 {
    1.0
}

fn yes() -> bool {
    true
}

impl VlmSection {
    /// Model steps per rollout imagined for `set`: [`Self::imagine_horizon_hard`] for the hard
    /// level's compositions, [`Self::imagine_horizon`] otherwise.
    pub fn horizon_for(&self, set: &InstructionSet) -> usize {
        match set {
            InstructionSet::Level(vlgor_sim::Level::Hard) => self.hard_horizon(),
            _ => self.imagine_horizon,
        }
    }

    /// [`Self::imagine_horizon_hard`], or [`Self::imagine_horizon`] where it is absent.
    pub fn hard_horizon(&self) -> usize {
        self.imagine_horizon_hard.unwrap_or(self.imagine_horizon)
    }

    /// The visual head the base stage builds for `env`.
    pub fn visual_head_for(&self, env: EnvKind) -> VisualHead {
        self.visual_head
            .parse()
            .unwrap_or_else(|_| VisualHead::default_for(env))
    }

    /// The states the readout is trained and held-out tested on.
    pub fn readout_states(&self) -> LabelledStates {
        LabelledStates {
            random_steps: self.readout_random_steps,
            expert_steps: self.readout_expert_steps,
        }
    }

    /// Whether the base stage builds `head` with the motion gate: the configured value for the
    /// object-state head, else off.
    pub fn motion_gate_for(&self, head: VisualHead) -> bool {
        head == VisualHead::ObjectState && self.motion_gate
    }

    pub fn validate(&self) -> Result<(), (String, &'static str)> {
        let bad = |k: &str, allowed: &'static str| Err((format!("vlm.{k}"), allowed));
        if !["cpu_quick", "paper"].contains(&self.model.as_str()) {
            return bad("model", "\"cpu_quick\" or \"paper\"");
        }
        if !(0.0..=1.0).contains(&self.base_noise) {
            return bad("base_noise", "a number in [0, 1]");
        }
        for (k, v) in [
            ("base_episodes", self.base_episodes),
            ("base_keyframes", self.base_keyframes),
            ("base_epochs", self.base_epochs),
            ("lora_samples", self.lora_samples),
            ("lora_epochs", self.lora_epochs),
            ("batch_size", self.batch_size),
            ("readout_frames", self.readout_frames),
            ("readout_epochs", self.readout_epochs),
            ("eval_samples", self.eval_samples),
            ("eval_rollouts", self.eval_rollouts),
            ("goal_rollouts", self.goal_rollouts),
            ("imagine_horizon", self.imagine_horizon),
            ("imagine_horizon_hard", self.hard_horizon()),
            ("imagine_batch", self.imagine_batch),
        ] {
            if v == 0 {
                return bad(k, "at least 1");
            }
        }
        if self.base_keyframes < 2 {
            return bad("base_keyframes", "at least 2");
        }
        if self.visual_head != "auto" && self.visual_head.parse::<VisualHead>().is_err() {
            return bad(
                "visual_head",
                "\"auto\", \"direct\", \"object_state\" or \"transform\"",
            );
        }
        if !(0.0..=100.0).contains(&self.action_loss_weight) {
            return bad("action_loss_weight", "a number in [0, 100]");
        }
        if !(0.0..=1000.0).contains(&self.frame_change_weight) {
            return bad("frame_change_weight", "a number in [0, 1000]");
        }
        for (k, v) in [("base_lr", self.base_lr), ("lora_lr", self.lora_lr)] {
            if !(v > 0.0 && v < 1.0) {
                return bad(k, "a number in (0, 1)");
            }
        }
        Ok(())
    }
}

impl PipelineSection {
    pub fn validate(&self) -> Result<(), (String, &'static str)> {
        let bad = |k: &str, allowed: &'static str| Err((format!("pipeline.{k}"), allowed));
        if self.seeds.is_empty() {
            return bad("seeds", "a non-empty list of integers");
        }
        // Unknown algorithm, observation and filter names fail when the file is read.
        if self.algos.is_empty() {
            return bad(
                "algos",
                "a non-empty list of \"bc\", \"cql\" and \"td3_plus_bc\"",
            );
        }
        if self.rephrase + self.counterfactual + self.hard + self.unseen_relation == 0 {
            return bad("rephrase", "at least 1 imagined rollout in all");
        }
        if self.sweep.contains(&0) {
            return bad("sweep", "positive sample counts");
        }
        if !(self.verify_temperature.is_finite() && self.verify_temperature > 0.0) {
            return bad("verify_temperature", "a number > 0");
        }
        Ok(())
    }
}
