//! Configuration: the `[rl]` preset section ([`RlConfig`], one typed part per concern: the
//! training loop, the shared network widths, each algorithm's settings next to its update step,
//! and the evaluation cadence) and the per-run record written beside the checkpoints
//! ([`RunConfig`]), which also picks the run's algorithm.
//!
//! On disk (`[rl]` in presets, `"rl"` in `config.json`, checkpoints and `results.json`) the
//! section stays one flat table of the keys below, in this order.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use tch::Device;
use vlgor_sim::dataset::ActionSpace;

use crate::RlError;
use crate::algo::{Algorithm, TdConfig};
use crate::bc::{BcConfig, ContinuousBc, ContinuousBcLoss, DiscreteBc};
use crate::continuous_cql::{ContinuousCql, ContinuousCqlConfig};
use crate::discrete_cql::{DiscreteCql, DiscreteCqlConfig, TargetUpdate};
use crate::network::{EncoderConfig, NetworkConfig};
pub use crate::observation::{ObsKind, ObsSpec};
use crate::td3_plus_bc::{Td3PlusBc, Td3PlusBcConfig};

/// The offline RL algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlgoKind {
    /// Behaviour cloning (cross-entropy on discrete actions, MSE or Gaussian NLL on continuous).
    Bc,
    /// Conservative Q-learning (Double-DQN based on discrete actions, SAC based on continuous).
    Cql,
    /// TD3+BC (continuous actions only: Meta-World).
    Td3PlusBc,
}

impl AlgoKind {
    pub const ALL: [AlgoKind; 3] = [AlgoKind::Bc, AlgoKind::Cql, AlgoKind::Td3PlusBc];
    pub const NAMES: [&'static str; 3] = ["bc", "cql", "td3_plus_bc"];

    pub fn name(self) -> &'static str {
        match self {
            AlgoKind::Bc => "bc",
            AlgoKind::Cql => "cql",
            AlgoKind::Td3PlusBc => "td3_plus_bc",
        }
    }

    /// Whether the algorithm trains on `space`; the error says why not.
    pub fn check_action_space(self, space: ActionSpace) -> Result<(), RlError> {
        match (self, space) {
            (AlgoKind::Td3PlusBc, ActionSpace::Discrete { n }) => Err(td3_on_discrete(n)),
            _ => Ok(()),
        }
    }
}

impl FromStr for AlgoKind {
    type Err = RlError;
    fn from_str(s: &str) -> Result<Self, RlError> {
        AlgoKind::ALL
            .into_iter()
            .find(|a| a.name() == s)
            .ok_or_else(|| {
                RlError::Input(format!(
                    "unknown algo '{s}'; valid: {}",
                    AlgoKind::NAMES.join(", ")
                ))
            })
    }
}

impl fmt::Display for AlgoKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

fn td3_on_discrete(n: usize) -> RlError {
    RlError::Input(format!(
        "td3_plus_bc needs continuous actions (Meta-World); this data has {n} discrete actions \
         (use bc or cql)"
    ))
}

/// The training loop: optimisation schedule, batches and the real : imagined mix.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrainingConfig {
    /// Passes over the data.
    pub epochs: usize,
    /// Transitions per update.
    pub batch_size: usize,
    /// Updates per epoch; 0 means ceil(real transitions / batch_size).
    pub steps_per_epoch: usize,
    /// Initial Adam learning rate of every network (the base rate each algorithm scales).
    pub lr: f64,
    /// Learning rate reached at the last step (cosine annealing).
    pub lr_min: f64,
    /// Share of imagined transitions in each batch when an imagined dataset is given, in [0, 1].
    pub ratio: f32,
    /// Rewards are multiplied by this before the TD targets.
    pub reward_scale: f64,
    /// Steps between training-log lines (the last step of an epoch is always logged).
    pub log_every: usize,
}

impl Default for TrainingConfig {
    fn default() -> Self {
        TrainingConfig {
            epochs: 50,
            batch_size: 128,
            steps_per_epoch: 0,
            lr: 3e-4,
            lr_min: 1e-6,
            ratio: 0.5,
            reward_scale: 1.0,
            log_every: 10,
        }
    }
}

/// Closed-loop evaluation during training, run by the training command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EvaluationConfig {
    /// The latest checkpoint is evaluated every this many epochs (0 = never) and the result
    /// appended to `evals.jsonl` in the run directory (preset key `rl.eval_every`).
    pub every: usize,
    /// Episodes of that evaluation, on training-level instructions (`rl.eval_episodes`).
    pub episodes: usize,
}

impl Default for EvaluationConfig {
    fn default() -> Self {
        EvaluationConfig {
            every: 5,
            episodes: 20,
        }
    }
}

/// The `[rl]` preset section: optimisation and algorithm hyper-parameters. Defaults follow the
/// paper (Adam, lr 3e-4 cosine-annealed to 1e-6, batch 128, 50 epochs) and d3rlpy where the
/// paper is silent. Serialised as the flat `[rl]` table (see the module documentation).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "RlSection", into = "RlSection")]
pub struct RlConfig {
    pub training: TrainingConfig,
    pub network: NetworkConfig,
    /// Discount and target Polyak factor of the TD learners (both CQL variants, TD3+BC).
    pub td: TdConfig,
    pub bc: BcConfig,
    pub discrete_cql: DiscreteCqlConfig,
    pub continuous_cql: ContinuousCqlConfig,
    pub td3_plus_bc: Td3PlusBcConfig,
    pub evaluation: EvaluationConfig,
}

/// The on-disk form of [`RlConfig`]: every key of the `[rl]` table, flat, in the order written.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RlSection {
    epochs: usize,
    batch_size: usize,
    steps_per_epoch: usize,
    lr: f64,
    lr_min: f64,
    ratio: f32,
    gamma: f64,
    reward_scale: f64,
    cql_alpha: f64,
    target_update: TargetUpdate,
    target_update_interval: usize,
    tau: f64,
    conservative_weight: f64,
    n_action_samples: usize,
    initial_temperature: f64,
    temperature_lr: f64,
    td3_alpha: f64,
    target_smoothing_sigma: f64,
    target_smoothing_clip: f64,
    update_actor_interval: usize,
    bc_loss: ContinuousBcLoss,
    text_hidden: usize,
    feature_dim: usize,
    joint_dim: usize,
    log_every: usize,
    eval_every: usize,
    eval_episodes: usize,
}

impl Default for RlSection {
    fn default() -> Self {
        RlConfig::default().into()
    }
}

impl From<RlSection> for RlConfig {
    fn from(s: RlSection) -> Self {
        RlConfig {
            training: TrainingConfig {
                epochs: s.epochs,
                batch_size: s.batch_size,
                steps_per_epoch: s.steps_per_epoch,
                lr: s.lr,
                lr_min: s.lr_min,
                ratio: s.ratio,
                reward_scale: s.reward_scale,
                log_every: s.log_every,
            },
            network: NetworkConfig {
                text_hidden: s.text_hidden,
                feature_dim: s.feature_dim,
                joint_dim: s.joint_dim,
            },
            td: TdConfig {
                gamma: s.gamma,
                tau: s.tau,
            },
            bc: BcConfig { loss: s.bc_loss },
            discrete_cql: DiscreteCqlConfig {
                alpha: s.cql_alpha,
                target_update: s.target_update,
                target_update_interval: s.target_update_interval,
            },
            continuous_cql: ContinuousCqlConfig {
                conservative_weight: s.conservative_weight,
                n_action_samples: s.n_action_samples,
                initial_temperature: s.initial_temperature,
                temperature_lr: s.temperature_lr,
            },
            td3_plus_bc: Td3PlusBcConfig {
                alpha: s.td3_alpha,
                target_smoothing_sigma: s.target_smoothing_sigma,
                target_smoothing_clip: s.target_smoothing_clip,
                update_actor_interval: s.update_actor_interval,
            },
            evaluation: EvaluationConfig {
                every: s.eval_every,
                episodes: s.eval_episodes,
            },
        }
    }
}

impl From<RlConfig> for RlSection {
    fn from(c: RlConfig) -> Self {
        let (t, n, d, q, b) = (
            c.training,
            c.network,
            c.discrete_cql,
            c.continuous_cql,
            c.td3_plus_bc,
        );
        RlSection {
            epochs: t.epochs,
            batch_size: t.batch_size,
            steps_per_epoch: t.steps_per_epoch,
            lr: t.lr,
            lr_min: t.lr_min,
            ratio: t.ratio,
            gamma: c.td.gamma,
            reward_scale: t.reward_scale,
            cql_alpha: d.alpha,
            target_update: d.target_update,
            target_update_interval: d.target_update_interval,
            tau: c.td.tau,
            conservative_weight: q.conservative_weight,
            n_action_samples: q.n_action_samples,
            initial_temperature: q.initial_temperature,
            temperature_lr: q.temperature_lr,
            td3_alpha: b.alpha,
            target_smoothing_sigma: b.target_smoothing_sigma,
            target_smoothing_clip: b.target_smoothing_clip,
            update_actor_interval: b.update_actor_interval,
            bc_loss: c.bc.loss,
            text_hidden: n.text_hidden,
            feature_dim: n.feature_dim,
            joint_dim: n.joint_dim,
            log_every: t.log_every,
            eval_every: c.evaluation.every,
            eval_episodes: c.evaluation.episodes,
        }
    }
}

impl RlConfig {
    /// Checks every key's range; the error names the key and what is allowed.
    pub fn validate(&self) -> Result<(), RlError> {
        // Checked on the flat form: the errors name the keys a user writes.
        let s = RlSection::from(self.clone());
        if s.eval_every > 0 && s.eval_episodes == 0 {
            return Err(RlError::Input(
                "rl.eval_episodes must be at least 1 when rl.eval_every > 0".into(),
            ));
        }
        let bad =
            |key: &str, allowed: &str| Err(RlError::Input(format!("rl.{key} must be {allowed}")));
        if s.epochs == 0 {
            return bad("epochs", "at least 1");
        }
        if s.batch_size == 0 {
            return bad("batch_size", "at least 1");
        }
        if !(s.lr.is_finite() && s.lr > 0.0) {
            return bad("lr", "a positive number");
        }
        if !(s.lr_min.is_finite() && s.lr_min >= 0.0 && s.lr_min <= s.lr) {
            return bad("lr_min", "a number in [0, lr]");
        }
        if !(0.0..=1.0).contains(&s.ratio) {
            return bad("ratio", "a number in [0, 1]");
        }
        if !(0.0..=1.0).contains(&s.gamma) {
            return bad("gamma", "a number in [0, 1]");
        }
        if !(0.0..=1.0).contains(&s.tau) || s.tau == 0.0 {
            return bad("tau", "a number in (0, 1]");
        }
        if s.target_update_interval == 0 {
            return bad("target_update_interval", "at least 1");
        }
        if s.n_action_samples == 0 {
            return bad("n_action_samples", "at least 1");
        }
        if s.initial_temperature.is_nan() || s.initial_temperature <= 0.0 {
            return bad("initial_temperature", "a positive number");
        }
        if !(s.td3_alpha.is_finite() && s.td3_alpha >= 0.0) {
            return bad("td3_alpha", "a non-negative number");
        }
        if !(s.target_smoothing_sigma.is_finite() && s.target_smoothing_sigma >= 0.0) {
            return bad("target_smoothing_sigma", "a non-negative number");
        }
        if !(s.target_smoothing_clip.is_finite() && s.target_smoothing_clip >= 0.0) {
            return bad("target_smoothing_clip", "a non-negative number");
        }
        if s.update_actor_interval == 0 {
            return bad("update_actor_interval", "at least 1");
        }
        if s.text_hidden == 0 || s.feature_dim == 0 || s.joint_dim == 0 {
            return bad("text_hidden/feature_dim/joint_dim", "at least 1");
        }
        if s.log_every == 0 {
            return bad("log_every", "at least 1");
        }
        Ok(())
    }
}

/// Version of the run-directory layout this build writes.
pub const RUN_FORMAT_VERSION: u32 = 1;

/// Everything needed to rebuild a run's networks and continue it: written as `config.json` in
/// the run directory and inside every checkpoint's JSON.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunConfig {
    pub format_version: u32,
    /// `clevr` or `metaworld`.
    pub env: String,
    pub algo: AlgoKind,
    pub obs: ObsSpec,
    pub action_space: ActionSpace,
    /// Width of the goal (sentence) embeddings.
    pub goal_dim: usize,
    pub rl: RlConfig,
    pub seed: u64,
    pub steps_per_epoch: u64,
    pub total_steps: u64,
    /// Per-dimension mean and standard deviation of state observations in the real data
    /// (empty for images); the networks see `(x − mean) / std`.
    pub obs_mean: Vec<f32>,
    pub obs_std: Vec<f32>,
    /// Dataset directories (real, then imagined when given).
    pub data: Vec<String>,
}

impl RunConfig {
    /// The run's algorithm for its action space, on `device` (weights initialised from torch's
    /// current seed); an error when the algorithm does not train on that action space.
    pub fn create_algorithm(&self, device: Device) -> Result<Box<dyn Algorithm>, RlError> {
        let rl = &self.rl;
        let enc = EncoderConfig::new(self.obs, self.goal_dim, &rl.network);
        let lr = rl.training.lr;
        Ok(match (self.algo, self.action_space) {
            (AlgoKind::Bc, ActionSpace::Discrete { n }) => {
                Box::new(DiscreteBc::new(enc, n as i64, lr, device))
            }
            (AlgoKind::Bc, ActionSpace::Continuous { dim }) => {
                Box::new(ContinuousBc::new(enc, dim as i64, lr, &rl.bc, device))
            }
            (AlgoKind::Cql, ActionSpace::Discrete { n }) => Box::new(DiscreteCql::new(
                enc,
                n as i64,
                lr,
                &rl.td,
                &rl.discrete_cql,
                device,
            )),
            (AlgoKind::Cql, ActionSpace::Continuous { dim }) => Box::new(ContinuousCql::new(
                enc,
                dim as i64,
                lr,
                &rl.td,
                &rl.continuous_cql,
                device,
            )),
            (AlgoKind::Td3PlusBc, ActionSpace::Continuous { dim }) => Box::new(Td3PlusBc::new(
                enc,
                dim as i64,
                lr,
                &rl.td,
                &rl.td3_plus_bc,
                device,
            )),
            (AlgoKind::Td3PlusBc, ActionSpace::Discrete { n }) => {
                return Err(td3_on_discrete(n));
            }
        })
    }
}
