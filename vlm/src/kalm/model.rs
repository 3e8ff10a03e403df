//! [`KalmModel`]: instruction tokens, then alternating observation and action tokens, through a
//! causal transformer; an observation head and an action head.
//!
//! Sequence per sample: `[text (T) | start | o_0 | a_0 | o_1 | a_1 | ... | o_S]`. The start
//! token and every action token predict the next observation (start → o_0, a_k → o_{k+1}); every
//! observation token predicts its action (o_k → a_k). Text padding is masked as keys; the causal
//! mask keeps each token from seeing later ones. Observations enter and leave normalised by the
//! training data's per-value mean and standard deviation (stored with the weights).

use tch::nn::{self, Init, LayerNorm, Linear, VarStore};
use tch::{Device, Kind, Tensor};

use super::config::KalmConfig;
use crate::world_model::blocks::{Block, linear};
use crate::world_model::lora::{LoraAdapters, set_trainable};
use crate::world_model::{ActionSpace, LoraLinear, Stage, WorldModelError};

/// Variable-name prefixes: the transformer (frozen in the LoRA stage), the numeric input and
/// output layers (KALM's new layers around the language model, trained in both stages), the
/// adapters, and the observation statistics (never trained).
pub const BACKBONE: &str = "backbone";
pub const IO: &str = "io";
pub const LORA: &str = "lora";
pub const STATS: &str = "stats";

/// Smallest standard deviation an observation value is divided by (constant values).
const MIN_STD: f64 = 1e-2;

/// Actions of a batch of trajectories.
#[derive(Debug)]
pub enum ActionSeq {
    /// i64 [B, S].
    Discrete(Tensor),
    /// f32 [B, S, dim].
    Continuous(Tensor),
}

impl ActionSeq {
    fn steps(&self) -> i64 {
        match self {
            ActionSeq::Discrete(t) | ActionSeq::Continuous(t) => t.size()[1],
        }
    }
}

/// One forward pass's predictions.
#[derive(Debug)]
pub struct KalmOutput {
    /// Predicted o_0..o_S in normalised units, f32 [B, S + 1, obs_dim].
    pub observations: Tensor,
    /// Predicted a_0..a_S: CLEVR logits [B, S + 1, n]; Meta-World vectors [B, S + 1, dim].
    pub actions: Tensor,
}

enum ActionEmbed {
    Discrete(Tensor),
    Continuous(Linear),
}

/// The generator. All parameters live in one [`VarStore`] under [`BACKBONE`], [`IO`], [`LORA`]
/// and [`STATS`].
pub struct KalmModel {
    pub(crate) vs: VarStore,
    config: KalmConfig,
    text_proj: Linear,
    text_pos: Tensor,
    traj_pos: Tensor,
    /// [4, d]: text, start, observation, action.
    type_embed: Tensor,
    start: Tensor,
    obs_in: Linear,
    action_embed: ActionEmbed,
    blocks: Vec<Block>,
    ln_out: LayerNorm,
    obs_head: Linear,
    action_head: Linear,
    obs_mean: Tensor,
    obs_std: Tensor,
}

impl KalmModel {
    /// A freshly initialised model on `device` (seed with `tch::manual_seed` first); the
    /// observation statistics start at mean 0, std 1 ([`KalmModel::set_observation_stats`]).
    pub fn new(config: KalmConfig, device: Device) -> Result<Self, WorldModelError> {
        config.validate()?;
        let vs = VarStore::new(device);
        let root = vs.root();
        let (bb, io, lo, st) = (&root / BACKBONE, &root / IO, &root / LORA, &root / STATS);
        let d = config.width;
        let small = Init::Randn {
            mean: 0.0,
            stdev: 0.02,
        };
        let action_embed = match config.action_space {
            ActionSpace::Discrete { n } => {
                ActionEmbed::Discrete(io.var("action_embed", &[n as i64, d], small))
            }
            ActionSpace::Continuous { dim } => {
                ActionEmbed::Continuous(linear(&io / "action_in", dim as i64, d))
            }
        };
        let sizes = config.block_sizes();
        let blocks = (0..config.layers)
            .map(|i| Block::with_sizes(&bb / "blocks" / i, &lo / "blocks" / i, &sizes))
            .collect();
        let positions = KalmConfig::trajectory_tokens(config.max_steps);
        Ok(KalmModel {
            text_proj: linear(&bb / "text_proj", config.text_dim, d),
            text_pos: bb.var("text_pos", &[1, config.max_text_tokens, d], small),
            traj_pos: bb.var("traj_pos", &[1, positions, d], small),
            type_embed: bb.var("type_embed", &[4, d], small),
            start: bb.var("start", &[1, 1, d], small),
            obs_in: linear(&io / "obs_in", config.obs_dim, d),
            action_embed,
            blocks,
            ln_out: nn::layer_norm(&bb / "ln_out", vec![d], Default::default()),
            obs_head: linear(&io / "obs_head", d, config.obs_dim),
            action_head: linear(&io / "action_head", d, config.action_space.head_dim()),
            obs_mean: st.var("obs_mean", &[config.obs_dim], Init::Const(0.0)),
            obs_std: st.var("obs_std", &[config.obs_dim], Init::Const(1.0)),
            config,
            vs,
        })
    }

    pub fn config(&self) -> &KalmConfig {
        &self.config
    }

    pub fn device(&self) -> Device {
        self.vs.device()
    }

    pub fn var_store(&self) -> &VarStore {
        &self.vs
    }

    /// Parameter count (elements) of the variables whose name starts with `prefix` ("" = all,
    /// the statistics included).
    pub fn parameter_count(&self, prefix: &str) -> i64 {
        self.vs
            .variables()
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(_, t)| t.numel() as i64)
            .sum()
    }

    /// Sets the observation normalisation: per value mean and standard deviation (floored at
    /// 0.01) of the training observations.
    pub fn set_observation_stats(
        &mut self,
        mean: &[f32],
        std: &[f32],
    ) -> Result<(), WorldModelError> {
        let n = self.config.obs_dim as usize;
        if mean.len() != n || std.len() != n {
            return Err(WorldModelError::BadInput(format!(
                "observation statistics have {} / {} values; the model's observations have {n}",
                mean.len(),
                std.len()
            )));
        }
        let dev = self.device();
        tch::no_grad(|| {
            self.obs_mean
                .copy_(&Tensor::from_slice(mean).to_device(dev));
            self.obs_std
                .copy_(&Tensor::from_slice(std).to_device(dev).clamp_min(MIN_STD));
        });
        Ok(())
    }

    /// Raw observations [.., obs_dim] → normalised.
    pub fn normalise(&self, obs: &Tensor) -> Tensor {
        (obs - &self.obs_mean) / &self.obs_std
    }

    /// Normalised observations → raw units.
    pub fn denormalise(&self, obs: &Tensor) -> Tensor {
        obs * &self.obs_std + &self.obs_mean
    }

    /// One pass over `S` transitions: `text` f32 [B, T, text_dim] with `text_mask` [B, T]
    /// (nonzero = token), raw observations `obs` f32 [B, S + 1, obs_dim], `actions` a_0..a_{S-1}.
    pub fn forward(
        &self,
        text: &Tensor,
        text_mask: &Tensor,
        obs: &Tensor,
        actions: &ActionSeq,
    ) -> Result<KalmOutput, WorldModelError> {
        let c = &self.config;
        let d = c.width;
        let (b, t) = self.check_input(text, text_mask, obs, actions)?;
        let s = actions.steps();
        let ty = |i: i64| self.type_embed.get(i).view([1, 1, d]);
        let text_tokens =
            text.narrow(1, 0, t).apply(&self.text_proj) + self.text_pos.narrow(1, 0, t) + ty(0);
        let obs_tokens = self.normalise(obs).apply(&self.obs_in) + ty(2);
        let act_tokens = match (&self.action_embed, actions) {
            (ActionEmbed::Discrete(table), ActionSeq::Discrete(ids)) => {
                table.index_select(0, &ids.flatten(0, -1)).view([b, s, d])
            }
            (ActionEmbed::Continuous(proj), ActionSeq::Continuous(v)) => v.apply(proj),
            _ => {
                return Err(WorldModelError::BadInput(format!(
                    "action input kind does not match the model's {:?}",
                    c.action_space
                )));
            }
        } + ty(3);
        // start, then (o_k, a_k) pairs with a dummy a_S dropped: start, o_0, a_0, ..., o_S.
        let pad = Tensor::zeros([b, 1, d], (Kind::Float, self.device()));
        let acts = Tensor::cat(&[act_tokens, pad], 1);
        let pairs = Tensor::stack(&[obs_tokens, acts], 2).view([b, 2 * s + 2, d]);
        let n_traj = KalmConfig::trajectory_tokens(s);
        let start = self.start.expand([b, 1, d], false) + ty(1);
        let traj = Tensor::cat(&[start, pairs.narrow(1, 0, n_traj - 1)], 1)
            + self.traj_pos.narrow(1, 0, n_traj);
        let mut x = Tensor::cat(&[text_tokens, traj], 1);
        let l = t + n_traj;
        let keys = Tensor::cat(
            &[
                text_mask.narrow(1, 0, t).ne(0),
                Tensor::ones([b, n_traj], (Kind::Bool, self.device())),
            ],
            1,
        )
        .view([b, 1, 1, l]);
        let causal = Tensor::ones([l, l], (Kind::Bool, self.device()))
            .tril(0)
            .view([1, 1, l, l]);
        let attend = keys.logical_and(&causal);
        for block in &self.blocks {
            x = block.forward(&x, &attend, 0);
        }
        // Pairs (start | a_{j-1}, o_j): the first predicts o_j, the second a_j.
        let h = x
            .narrow(1, t, n_traj)
            .apply(&self.ln_out)
            .view([b, s + 1, 2, d]);
        Ok(KalmOutput {
            observations: h.select(2, 0).apply(&self.obs_head),
            actions: h.select(2, 1).apply(&self.action_head),
        })
    }

    fn check_input(
        &self,
        text: &Tensor,
        text_mask: &Tensor,
        obs: &Tensor,
        actions: &ActionSeq,
    ) -> Result<(i64, i64), WorldModelError> {
        let c = &self.config;
        let (ts, os) = (text.size(), obs.size());
        if ts.len() != 3 || ts[2] != c.text_dim || text_mask.size() != ts[..2] {
            return Err(WorldModelError::BadInput(format!(
                "text {ts:?} / mask {:?} do not match [B, T, {}] / [B, T]",
                text_mask.size(),
                c.text_dim
            )));
        }
        let s = actions.steps();
        if os.len() != 3 || os[0] != ts[0] || os[1] != s + 1 || os[2] != c.obs_dim {
            return Err(WorldModelError::BadInput(format!(
                "observations {os:?} do not match [B={}, S + 1 = {}, {}]",
                ts[0],
                s + 1,
                c.obs_dim
            )));
        }
        if s > c.max_steps {
            return Err(WorldModelError::BadInput(format!(
                "{s} transitions exceed the model's max_steps {}",
                c.max_steps
            )));
        }
        Ok((ts[0], ts[1].min(c.max_text_tokens)))
    }

    /// Names trained in `stage`: base — everything but the adapters and statistics; LoRA —
    /// the adapters and the numeric input/output layers (the transformer frozen).
    pub fn is_trainable(stage: Stage, name: &str) -> bool {
        match stage {
            Stage::Base => !name.starts_with(LORA) && !name.starts_with(STATS),
            Stage::Lora => name.starts_with(LORA) || name.starts_with(IO),
        }
    }

    /// Sets requires_grad per `stage` and returns the trainable tensors, sorted by name.
    pub fn set_stage(&mut self, stage: Stage) -> Vec<(String, Tensor)> {
        set_trainable(&self.vs, |name| Self::is_trainable(stage, name))
    }
}

impl LoraAdapters for KalmModel {
    /// q, k, v, o of every layer.
    fn lora_layers_mut(&mut self) -> Vec<&mut LoraLinear> {
        self.blocks
            .iter_mut()
            .flat_map(|b| b.lora_layers_mut())
            .collect()
    }
}
