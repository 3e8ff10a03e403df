//! Configuration: the `[rl]` preset section ([`RlConfig`]) and the per-run record written beside
//! the checkpoints ([`RunConfig`]).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use vlgor_sim::dataset::ActionSpace;

use crate::RlError;

/// The offline RL algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlgoKind {
    /// Behaviour cloning (cross-entropy on discrete actions, MSE or Gaussian NLL on continuous).
    Bc,
    /// Conservative Q-learning (Double-DQN based on discrete actions, SAC based on continuous).
    Cql,
}

impl AlgoKind {
    pub const NAMES: [&'static str; 2] = ["bc", "cql"];
}

impl FromStr for AlgoKind {
    type Err = RlError;
    fn from_str(s: &str) -> Result<Self, RlError> {
        match s {
            "bc" => Ok(AlgoKind::Bc),
            "cql" => Ok(AlgoKind::Cql),
            _ => Err(RlError::Input(format!(
                "unknown algo '{s}'; valid: bc, cql"
            ))),
        }
    }
}

impl fmt::Display for AlgoKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AlgoKind::Bc => "bc",
            AlgoKind::Cql => "cql",
        })
    }
}

/// What the policy observes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObsKind {
    /// The low-dimensional observation vector (CLEVR: 10 ball x/y; Meta-World: 39-d).
    State,
    /// Rendered RGB frames through the paper's conv encoder.
    Image,
}

/// The observation input of a network, with its size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ObsSpec {
    /// Vectors of `dim` floats.
    State { dim: usize },
    /// `u8` RGB frames `[height, width, 3]`.
    Image { height: usize, width: usize },
}

impl ObsSpec {
    pub fn kind(&self) -> ObsKind {
        match self {
            ObsSpec::State { .. } => ObsKind::State,
            ObsSpec::Image { .. } => ObsKind::Image,
        }
    }

    /// Values per observation (`dim`, or `height·width·3` bytes).
    pub fn len(&self) -> usize {
        match *self {
            ObsSpec::State { dim } => dim,
            ObsSpec::Image { height, width } => height * width * 3,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Loss of continuous behaviour cloning.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContinuousBcLoss {
    /// `tanh` output, mean squared error to the dataset action (d3rlpy's default).
    Deterministic,
    /// Diagonal Gaussian with `tanh` mean, negative log-likelihood of the dataset action.
    Gaussian,
}

/// How the target Q-networks follow the online ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetUpdate {
    /// Copy every `target_update_interval` steps.
    Hard,
    /// Polyak averaging with `tau` every step.
    Soft,
}

/// The `[rl]` preset section: optimisation and algorithm hyper-parameters. Defaults follow the
/// paper (Adam, lr 3e-4 cosine-annealed to 1e-6, batch 128, 50 epochs) and d3rlpy where the
/// paper is silent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RlConfig {
    /// Passes over the data.
    pub epochs: usize,
    /// Transitions per update.
    pub batch_size: usize,
    /// Updates per epoch; 0 means ceil(real transitions / batch_size).
    pub steps_per_epoch: usize,
    /// Initial Adam learning rate.
    pub lr: f64,
    /// Learning rate reached at the last step (cosine annealing).
    pub lr_min: f64,
    /// Share of imagined transitions in each batch when an imagined dataset is given, in [0, 1].
    pub ratio: f32,
    /// Discount factor γ.
    pub gamma: f64,
    /// Rewards are multiplied by this before the TD targets.
    pub reward_scale: f64,
    /// Discrete CQL: weight α of `logsumexp_a Q(s, a) − Q(s, a_data)`.
    pub cql_alpha: f64,
    /// Target network update rule.
    pub target_update: TargetUpdate,
    /// Steps between hard target copies.
    pub target_update_interval: usize,
    /// Polyak factor of soft target updates.
    pub tau: f64,
    /// Continuous CQL: weight of the conservative term.
    pub conservative_weight: f64,
    /// Continuous CQL: sampled actions per state for the logsumexp.
    pub n_action_samples: usize,
    /// Continuous CQL: initial entropy temperature.
    pub initial_temperature: f64,
    /// Continuous CQL: learning rate of the temperature.
    pub temperature_lr: f64,
    /// Continuous BC loss.
    pub bc_loss: ContinuousBcLoss,
    /// Width of the text MLP's hidden layer (paper: 512).
    pub text_hidden: usize,
    /// Width of each modality feature (paper: 256).
    pub feature_dim: usize,
    /// Width of the fused joint representation (paper: 512).
    pub joint_dim: usize,
    /// Steps between training-log lines (the last step of an epoch is always logged).
    pub log_every: usize,
    /// Closed-loop evaluation of the latest checkpoint every this many epochs (0 = never),
    /// appended to `evals.jsonl` in the run directory by the training command.
    pub eval_every: usize,
    /// Episodes of that periodic evaluation (training-level instructions).
    pub eval_episodes: usize,
}

impl Default for RlConfig {
    fn default() -> Self {
        RlConfig {
            epochs: 50,
            batch_size: 128,
            steps_per_epoch: 0,
            lr: 3e-4,
            lr_min: 1e-6,
            ratio: 0.5,
            gamma: 0.99,
            reward_scale: 1.0,
            cql_alpha: 1.0,
            target_update: TargetUpdate::Soft,
            target_update_interval: 8000,
            tau: 0.005,
            conservative_weight: 5.0,
            n_action_samples: 10,
            initial_temperature: 1.0,
            temperature_lr: 1e-4,
            bc_loss: ContinuousBcLoss::Deterministic,
            text_hidden: 512,
            feature_dim: 256,
            joint_dim: 512,
            log_every: 10,
            eval_every: 5,
            eval_episodes: 20,
        }
    }
}

impl RlConfig {
    /// Checks every key's range; the error names the key and what is allowed.
    pub fn validate(&self) -> Result<(), RlError> {
        if self.eval_every > 0 && self.eval_episodes == 0 {
            return Err(RlError::Input(
                "rl.eval_episodes must be at least 1 when rl.eval_every > 0".into(),
            ));
        }
        let bad =
            |key: &str, allowed: &str| Err(RlError::Input(format!("rl.{key} must be {allowed}")));
        if self.epochs == 0 {
            return bad("epochs", "at least 1");
        }
        if self.batch_size == 0 {
            return bad("batch_size", "at least 1");
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return bad("lr", "a positive number");
        }
        if !(self.lr_min.is_finite() && self.lr_min >= 0.0 && self.lr_min <= self.lr) {
            return bad("lr_min", "a number in [0, lr]");
        }
        if !(0.0..=1.0).contains(&self.ratio) {
            return bad("ratio", "a number in [0, 1]");
        }
        if !(0.0..=1.0).contains(&self.gamma) {
            return bad("gamma", "a number in [0, 1]");
        }
        if !(0.0..=1.0).contains(&self.tau) || self.tau == 0.0 {
            return bad("tau", "a number in (0, 1]");
        }
        if self.target_update_interval == 0 {
            return bad("target_update_interval", "at least 1");
        }
        if self.n_action_samples == 0 {
            return bad("n_action_samples", "at least 1");
        }
        if self.initial_temperature.is_nan() || self.initial_temperature <= 0.0 {
            return bad("initial_temperature", "a positive number");
        }
        if self.text_hidden == 0 || self.feature_dim == 0 || self.joint_dim == 0 {
            return bad("text_hidden/feature_dim/joint_dim", "at least 1");
        }
        if self.log_every == 0 {
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
