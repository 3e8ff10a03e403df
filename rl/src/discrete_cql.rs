//! Discrete conservative Q-learning (Kumar et al. 2020; d3rlpy's DiscreteCQL): Double-DQN TD
//! learning plus the conservative term `α·(logsumexp_a Q(s, a) − Q(s, a_data))`, which pushes
//! down the Q-values of actions the dataset does not take. [`DiscreteCqlConfig`] holds its
//! settings, [`DiscreteCql`] its update step.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;
use tch::nn::{self, Module, VarStore};
use tch::{Device, Kind, Tensor};

use crate::RlError;
use crate::algo::{Algorithm, Losses, TdConfig, load_prefixed, prefixed, scalar, soft_update};
use crate::batch::Batch;
use crate::network::{EncoderConfig, GoalConditionedEncoder};
use crate::optim::Adam;

/// How the target Q-networks follow the online ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetUpdate {
    /// Copy every `target_update_interval` steps.
    Hard,
    /// Polyak averaging with `tau` every step.
    Soft,
}

/// Discrete-CQL settings (besides the shared [`TdConfig`] and the run's `rl.lr`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DiscreteCqlConfig {
    /// Weight α of `logsumexp_a Q(s, a) − Q(s, a_data)` (preset key `rl.cql_alpha`).
    pub alpha: f64,
    /// Target network update rule (preset key `rl.target_update`).
    pub target_update: TargetUpdate,
    /// Steps between hard target copies (preset key `rl.target_update_interval`).
    pub target_update_interval: usize,
}

impl Default for DiscreteCqlConfig {
    fn default() -> Self {
        DiscreteCqlConfig {
            alpha: 1.0,
            target_update: TargetUpdate::Soft,
            target_update_interval: 8000,
        }
    }
}

/// A Q-network: the goal-conditioned encoder and a linear head with one value per action.
pub struct QNetwork {
    pub encoder: GoalConditionedEncoder,
    head: nn::Linear,
}

impl QNetwork {
    pub fn new(p: &nn::Path, enc: &EncoderConfig, actions: i64) -> Self {
        QNetwork {
            encoder: GoalConditionedEncoder::new(&(p / "encoder"), enc),
            head: nn::linear(p / "head", enc.joint_dim, actions, Default::default()),
        }
    }

    /// `[B, n]` Q-values.
    pub fn forward(&self, obs: &Tensor, goals: &Tensor) -> Tensor {
        self.head.forward(&self.encoder.forward(obs, goals))
    }
}

/// Discrete CQL with a target Q-network.
pub struct DiscreteCql {
    vs: VarStore,
    target_vs: VarStore,
    q: QNetwork,
    target: QNetwork,
    adam: Adam,
    lr: f64,
    gamma: f64,
    alpha: f64,
    update: TargetUpdate,
    interval: u64,
    tau: f64,
}

impl DiscreteCql {
    /// Fresh online and target networks with `actions` values, trained by Adam at base learning
    /// rate `lr`.
    pub fn new(
        enc: EncoderConfig,
        actions: i64,
        lr: f64,
        td: &TdConfig,
        config: &DiscreteCqlConfig,
        device: Device,
    ) -> Self {
        let vs = VarStore::new(device);
        let q = QNetwork::new(&(vs.root() / "q"), &enc, actions);
        let mut target_vs = VarStore::new(device);
        let target = QNetwork::new(&(target_vs.root() / "q"), &enc, actions);
        target_vs
            .copy(&vs)
            .expect("target has the online network's variables");
        target_vs.freeze();
        let adam = Adam::new("model", &vs, &[""]);
        DiscreteCql {
            vs,
            target_vs,
            q,
            target,
            adam,
            lr,
            gamma: td.gamma,
            alpha: config.alpha,
            update: config.target_update,
            interval: config.target_update_interval as u64,
            tau: td.tau,
        }
    }

    /// Online Q-values `[B, n]`.
    pub fn q_values(&self, obs: &Tensor, goals: &Tensor) -> Tensor {
        self.q.forward(obs, goals)
    }
}

impl Algorithm for DiscreteCql {
    fn needs_next(&self) -> bool {
        true
    }

    fn update(&mut self, batch: &Batch, lr_factor: f64) -> Result<Losses, RlError> {
        let next = batch.next_obs.as_ref().expect("CQL batches carry s'");
        let y = tch::no_grad(|| {
            // Double DQN: the online network picks a', the target network evaluates it.
            let a_next = self.q.forward(next, &batch.goals).argmax(-1, true);
            let q_next = self
                .target
                .forward(next, &batch.goals)
                .gather(1, &a_next, false)
                .squeeze_dim(1);
            &batch.rewards + (1.0 - &batch.terminals) * q_next * self.gamma
        });
        let q = self.q.forward(&batch.obs, &batch.goals);
        let q_data = q
            .gather(1, &batch.actions.unsqueeze(1), false)
            .squeeze_dim(1);
        let td = q_data.huber_loss(&y, tch::Reduction::Mean, 1.0);
        let conservative = (q.logsumexp([1], false) - &q_data).mean(Kind::Float);
        let loss = &td + &conservative * self.alpha;
        self.adam.backward_step(&loss, self.lr * lr_factor);
        match self.update {
            TargetUpdate::Soft => soft_update(&self.target_vs, &self.vs, self.tau),
            TargetUpdate::Hard if self.adam.step.is_multiple_of(self.interval) => {
                soft_update(&self.target_vs, &self.vs, 1.0)
            }
            TargetUpdate::Hard => {}
        }
        Ok(vec![
            ("loss", scalar(&loss)),
            ("td_loss", scalar(&td)),
            ("conservative_loss", scalar(&conservative)),
            ("q_data", scalar(&q_data.mean(Kind::Float).detach())),
        ])
    }

    fn act(&self, obs: &Tensor, goals: &Tensor) -> Tensor {
        tch::no_grad(|| self.q.forward(obs, goals).argmax(-1, false))
    }

    fn model(&self) -> &VarStore {
        &self.vs
    }

    fn model_mut(&mut self) -> &mut VarStore {
        &mut self.vs
    }

    fn extra_state(&self) -> Vec<(String, Tensor)> {
        let mut v = prefixed(&self.target_vs, "target");
        v.extend(self.adam.state_tensors());
        v
    }

    fn load_extra_state(
        &mut self,
        tensors: &HashMap<String, Tensor>,
        step: u64,
        file: &Path,
    ) -> Result<(), RlError> {
        load_prefixed(&self.target_vs, "target", tensors, file)?;
        self.adam.load_state(tensors, step, file)
    }
}
