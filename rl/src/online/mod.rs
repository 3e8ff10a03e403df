//! Online reinforcement learning with an action advisor (VARL, arXiv 2509.21126): the agent
//! learns from its own interaction with the simulators; an advisor (the world model) suggests
//! actions on selected steps, which are executed as exploratory actions and pulled toward by a
//! behaviour-cloning term whose weight decays to zero after a cutoff step ([`Guidance`]), so the
//! optimal policy and the final agent are the RL agent's own.
//!
//! * [`dqn`] — double DQN for CLEVR's 40 discrete pushes; [`sac`] — SAC for Meta-World's 4-d
//!   actions. Each is a config and an update step on the paper's goal-conditioned network.
//! * [`replay`] — the replay buffer; [`guidance`] — the advisor's schedule and BC weight;
//!   [`config`] — the `[online]` preset section.
//!
//! Randomness is drawn per vector step from the run seed (see the loop in `vlgor
//! train-online`), so a resumed run repeats an uninterrupted one bit for bit.

pub mod config;
pub mod dqn;
pub mod guidance;
pub mod replay;
pub mod sac;

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};
use vlgor_sim::Action;
use vlgor_sim::dataset::ActionSpace;

use crate::algo::{Losses, prefixed};
use crate::checkpoint::{CheckpointMeta, save_tensors};
use crate::config::{AlgoKind, RUN_FORMAT_VERSION, RunConfig};
use crate::network::{EncoderConfig, NetworkConfig};
use crate::{ObsSpec, RlConfig, RlError};
pub use config::{AdviceSource, OnlineConfig};
pub use dqn::{Dqn, DqnConfig};
pub use guidance::Guidance;
pub use replay::{OnlineBatch, ReplayBuffer, Transition};
pub use sac::{Sac, SacConfig};

/// The online learner.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnlineAlgo {
    /// Double DQN (discrete actions: CLEVR).
    Dqn,
    /// Soft actor-critic (continuous actions: Meta-World).
    Sac,
}

impl OnlineAlgo {
    pub const NAMES: [&'static str; 2] = ["dqn", "sac"];

    pub fn name(self) -> &'static str {
        match self {
            OnlineAlgo::Dqn => "dqn",
            OnlineAlgo::Sac => "sac",
        }
    }

    /// Whether the learner acts in `space`; the error says which one does.
    pub fn check_action_space(self, space: ActionSpace) -> Result<(), RlError> {
        match (self, space) {
            (OnlineAlgo::Dqn, ActionSpace::Continuous { dim }) => Err(RlError::Input(format!(
                "dqn needs discrete actions (CLEVR); this environment has {dim}-d continuous \
                 actions (use sac)"
            ))),
            (OnlineAlgo::Sac, ActionSpace::Discrete { n }) => Err(RlError::Input(format!(
                "sac needs continuous actions (Meta-World); this environment has {n} discrete \
                 actions (use dqn)"
            ))),
            _ => Ok(()),
        }
    }
}

impl std::str::FromStr for OnlineAlgo {
    type Err = RlError;
    fn from_str(s: &str) -> Result<Self, RlError> {
        match s {
            "dqn" => Ok(OnlineAlgo::Dqn),
            "sac" => Ok(OnlineAlgo::Sac),
            _ => Err(RlError::Input(format!(
                "unknown online algo '{s}'; valid: {}",
                OnlineAlgo::NAMES.join(", ")
            ))),
        }
    }
}

impl std::fmt::Display for OnlineAlgo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What the online loop needs from a learner.
pub trait OnlineAgent {
    /// One gradient update on `batch` with BC weight `bc_weight` toward the advised actions.
    fn update(&mut self, batch: &OnlineBatch, bc_weight: f64) -> Result<Losses, RlError>;
    /// Exploratory actions for states `[B, D]` and goals `[B, G]`; `epsilon` is DQN's ε.
    fn explore(
        &self,
        obs: &Tensor,
        goals: &Tensor,
        epsilon: f64,
        rng: &mut dyn rand::RngCore,
    ) -> Result<Vec<Action>, RlError>;
    /// Greedy actions under `no_grad`: `i64 [B]` or `f32 [B, dim]`.
    fn greedy(&self, obs: &Tensor, goals: &Tensor) -> Tensor;
    /// Updates done so far.
    fn updates(&self) -> u64;
    /// The networks a policy checkpoint holds (prefix `model.`).
    fn model(&self) -> &VarStore;
    /// Everything a resume needs: weights, targets and optimiser moments.
    fn state_tensors(&self) -> Vec<(String, Tensor)>;
    /// Restores [`OnlineAgent::state_tensors`] after `updates` updates.
    fn load_state(
        &mut self,
        tensors: &HashMap<String, Tensor>,
        updates: u64,
        file: &Path,
    ) -> Result<(), RlError>;
}

/// A fresh learner for `space` (weights from torch's current seed).
pub fn create_agent(
    algo: OnlineAlgo,
    space: ActionSpace,
    enc: EncoderConfig,
    config: &OnlineConfig,
    device: Device,
) -> Result<Box<dyn OnlineAgent>, RlError> {
    algo.check_action_space(space)?;
    Ok(match space {
        ActionSpace::Discrete { n } => Box::new(Dqn::new(
            enc,
            n as i64,
            DqnConfig::from_online(config),
            device,
        )),
        ActionSpace::Continuous { dim } => Box::new(Sac::new(
            enc,
            dim as i64,
            SacConfig::from_online(config),
            device,
        )),
    })
}

/// Mean of `values [B]` over the rows where `mask [B]` is 1 (zero when none is).
pub fn masked_mean(values: &Tensor, mask: &Tensor) -> Tensor {
    (values * mask).sum(Kind::Float) / mask.sum(Kind::Float).clamp_min(1.0)
}

/// The offline run record under which a greedy online policy is saved: DQN's Q-network and
/// SAC's actor and critics have discrete and continuous CQL's layout and greedy action, so the
/// record names `cql` and `vlgor eval` (and [`crate::Policy`]) read the checkpoint as one.
/// States are fed unnormalised (mean 0, std 1).
pub fn policy_run_config(
    env: &str,
    space: ActionSpace,
    obs_dim: usize,
    goal_dim: usize,
    network: NetworkConfig,
    seed: u64,
    updates: u64,
) -> RunConfig {
    let mut rl = RlConfig {
        network,
        ..RlConfig::default()
    };
    rl.training.epochs = 1;
    RunConfig {
        format_version: RUN_FORMAT_VERSION,
        env: env.to_string(),
        algo: AlgoKind::Cql,
        obs: ObsSpec::State { dim: obs_dim },
        action_space: space,
        goal_dim,
        rl,
        seed,
        steps_per_epoch: updates.max(1),
        total_steps: updates.max(1),
        obs_mean: vec![0.0; obs_dim],
        obs_std: vec![1.0; obs_dim],
        data: vec![],
    }
}

/// Saves `agent`'s greedy policy as checkpoint `index` of `dir` (offline layout:
/// `checkpoints/epoch-NNNN.{safetensors,json}`); returns the tensors' path.
pub fn save_policy(
    dir: &Path,
    index: u64,
    run: RunConfig,
    agent: &dyn OnlineAgent,
    losses: BTreeMap<String, f64>,
) -> Result<PathBuf, RlError> {
    let meta = CheckpointMeta::new(run, index, agent.updates(), losses);
    save_tensors(dir, &meta, &prefixed(agent.model(), "model"))
}
