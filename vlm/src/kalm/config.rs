//! [`KalmConfig`]: every size of the KALM-style rollout generator, with the two presets (the
//! world model's widths and depths, so the two generators have the same capacity).

use serde::{Deserialize, Serialize};
use vlgor_sim::EnvKind;

use crate::world_model::blocks::BlockSizes;
use crate::world_model::config::default_horizon;
use crate::world_model::{ActionSpace, WorldModelConfig, WorldModelError};

/// Sizes of the KALM generator. Observations are the simulator's low-dimensional observation
/// vectors (CLEVR: the five balls' (x, y), 10 values; Meta-World: the 39-d observation).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KalmConfig {
    /// The simulator whose observations and actions the generator models. Checkpoints of
    /// earlier releases lack the key; [`super::KalmModel::load`] then takes the simulator of
    /// their action space.
    pub env: EnvKind,
    /// Transformer width.
    pub width: i64,
    pub layers: i64,
    pub heads: i64,
    /// FFN hidden size = `width * mlp_ratio`.
    pub mlp_ratio: i64,
    /// Width of the frozen text encoder's token embeddings (MiniLM: 384).
    pub text_dim: i64,
    /// Longest instruction in tokens (longer ones are cut).
    pub max_text_tokens: i64,
    /// Values per observation.
    pub obs_dim: i64,
    pub action_space: ActionSpace,
    /// Longest trajectory in keyframe transitions (training windows and generation horizon).
    pub max_steps: i64,
    /// Keyframe stride h in environment steps between consecutive observations (CLEVR 1,
    /// Meta-World 10, as the world model's); an action is held for h steps.
    pub horizon_steps: usize,
    /// LoRA rank r (adapters on q, k, v, o of every self-attention layer).
    pub lora_rank: i64,
    /// LoRA alpha; the adapter output is scaled by alpha / r.
    pub lora_alpha: f64,
    /// Weight of the action loss; the observation loss gets 1 - it (KALM: 0.5).
    pub action_loss_ratio: f64,
}

impl KalmConfig {
    /// The sizes of the world model's preset `name` ("cpu_quick" or "paper") for `env`.
    pub fn preset(name: &str, env: EnvKind) -> Result<Self, WorldModelError> {
        let wm = WorldModelConfig::preset(name, env)?;
        Ok(KalmConfig {
            env,
            width: wm.width,
            layers: wm.layers,
            heads: wm.heads,
            mlp_ratio: wm.mlp_ratio,
            text_dim: wm.text_dim,
            max_text_tokens: wm.max_text_tokens,
            obs_dim: obs_dim(env),
            action_space: ActionSpace::for_env(env),
            max_steps: 16,
            horizon_steps: default_horizon(env),
            lora_rank: wm.lora_rank,
            lora_alpha: wm.lora_alpha,
            action_loss_ratio: 0.5,
        })
    }

    /// Tokens of the trajectory part for `steps` transitions: start, o_0, a_0, ..., o_steps.
    pub fn trajectory_tokens(steps: i64) -> i64 {
        2 * steps + 2
    }

    /// LoRA scale alpha / r.
    pub fn lora_scale(&self) -> f64 {
        self.lora_alpha / self.lora_rank as f64
    }

    /// The transformer layers' sizes (one expert: every token is an understanding token).
    pub fn block_sizes(&self) -> BlockSizes {
        BlockSizes {
            width: self.width,
            heads: self.heads,
            mlp_ratio: self.mlp_ratio,
            lora_rank: self.lora_rank,
            lora_scale: self.lora_scale(),
            mixture_of_transformers: false,
        }
    }

    /// Checks that the sizes fit together; errors name the field.
    pub fn validate(&self) -> Result<(), WorldModelError> {
        let bad = |m: String| Err(WorldModelError::BadInput(m));
        if self.width < 8 || self.heads < 1 || self.width % self.heads != 0 {
            return bad(format!(
                "width {} must be >= 8 and a multiple of heads {}",
                self.width, self.heads
            ));
        }
        // Sizes read from a file: anything larger is a corrupt file, not a model to allocate.
        let ranges = [
            ("width", self.width, 1 << 13),
            ("layers", self.layers, 256),
            ("mlp_ratio", self.mlp_ratio, 64),
            ("text_dim", self.text_dim, 1 << 13),
            ("max_text_tokens", self.max_text_tokens, 4096),
            ("obs_dim", self.obs_dim, 4096),
            ("max_steps", self.max_steps, 4096),
            ("lora_rank", self.lora_rank, self.width),
        ];
        if let Some((name, v, max)) = ranges
            .into_iter()
            .find(|&(_, v, max)| !(1..=max).contains(&v))
        {
            return bad(format!("{name} {v} outside 1..={max}"));
        }
        if !(1..=4096).contains(&self.horizon_steps) {
            return bad(format!(
                "horizon_steps {} outside 1..=4096",
                self.horizon_steps
            ));
        }
        if self.lora_alpha <= 0.0 || !(0.0..=1.0).contains(&self.action_loss_ratio) {
            return bad(format!(
                "lora_alpha {} must be > 0 and action_loss_ratio {} in [0, 1]",
                self.lora_alpha, self.action_loss_ratio
            ));
        }
        if self.action_space != ActionSpace::for_env(self.env) || self.obs_dim != obs_dim(self.env)
        {
            return bad(format!(
                "action space {:?} and obs_dim {} are not {}'s ({:?}, {})",
                self.action_space,
                self.obs_dim,
                self.env,
                ActionSpace::for_env(self.env),
                obs_dim(self.env)
            ));
        }
        Ok(())
    }
}

/// Values of a simulator's observation (CLEVR 10, Meta-World 39).
pub fn obs_dim(env: EnvKind) -> i64 {
    match env {
        EnvKind::Clevr => 2 * vlgor_sim::clevr::NUM_BALLS as i64,
        EnvKind::MetaWorld => 39,
    }
}
