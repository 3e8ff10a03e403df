//! Double DQN (van Hasselt et al. 2016) for CLEVR's 40 pushes, with VARL's behaviour-cloning
//! term toward advised actions:
//!
//! `y = r + γ (1 − d) · Q'(s', argmax_a Q(s', a))`,
//! `L = huber(Q(s, a) − y) + w · (max_a [Q(s, a) + m·(a ≠ a_adv)] − Q(s, a_adv))` over the
//! advised rows (DQfD's large-margin loss, margin `m` = [`BC_MARGIN`]),
//!
//! where `w` is the guidance's BC weight at the update ([`super::Guidance::bc_weight`]). The
//! Q-network is discrete CQL's ([`QNetwork`]: the paper's goal-conditioned encoder and one value
//! per action), so a greedy policy checkpoint is one `vlgor eval` reads. The target network is a
//! hard copy every `online.target_update_interval` updates.

use rand::Rng;
use std::collections::HashMap;
use std::path::Path;
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};
use vlgor_sim::Action;

use super::replay::OnlineBatch;
use super::{OnlineAgent, OnlineConfig, masked_mean};
use crate::RlError;
use crate::algo::{Losses, load_prefixed, prefixed, scalar, soft_update};
use crate::discrete_cql::QNetwork;
use crate::network::EncoderConfig;
use crate::optim::Adam;

/// Margin of the large-margin BC loss (DQfD, Hester et al. 2018: 0.8).
pub const BC_MARGIN: f64 = 0.8;

/// DQN settings, from the `[online]` section.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DqnConfig {
    pub lr: f64,
    pub gamma: f64,
    /// Updates between hard target copies.
    pub target_update_interval: u64,
}

impl DqnConfig {
    pub fn from_online(c: &OnlineConfig) -> Self {
        DqnConfig {
            lr: c.lr,
            gamma: c.gamma,
            target_update_interval: c.target_update_interval.max(1) as u64,
        }
    }
}

/// Online and target Q-networks with their optimiser.
pub struct Dqn {
    vs: VarStore,
    target_vs: VarStore,
    q: QNetwork,
    target: QNetwork,
    adam: Adam,
    config: DqnConfig,
    actions: i64,
}

impl Dqn {
    /// Fresh networks (initialised from torch's current seed) with `actions` values.
    pub fn new(enc: EncoderConfig, actions: i64, config: DqnConfig, device: Device) -> Self {
        let vs = VarStore::new(device);
        let q = QNetwork::new(&(vs.root() / "q"), &enc, actions);
        let mut target_vs = VarStore::new(device);
        let target = QNetwork::new(&(target_vs.root() / "q"), &enc, actions);
        soft_update(&target_vs, &vs, 1.0);
        target_vs.freeze();
        Dqn {
            adam: Adam::new("model", &vs, &[""]),
            vs,
            target_vs,
            q,
            target,
            config,
            actions,
        }
    }

    /// Online Q-values `[B, n]` under `no_grad`.
    pub fn q_values(&self, obs: &Tensor, goals: &Tensor) -> Tensor {
        tch::no_grad(|| self.q.forward(obs, goals))
    }
}

impl OnlineAgent for Dqn {
    fn update(&mut self, b: &OnlineBatch, bc_weight: f64) -> Result<Losses, RlError> {
        let y = tch::no_grad(|| {
            // Double DQN: the online network picks a', the target network evaluates it.
            let a_next = self.q.forward(&b.next_obs, &b.goals).argmax(-1, true);
            let q_next = self
                .target
                .forward(&b.next_obs, &b.goals)
                .gather(1, &a_next, false)
                .squeeze_dim(1);
            &b.rewards + (1.0 - &b.terminals) * q_next * self.config.gamma
        });
        let q = self.q.forward(&b.obs, &b.goals);
        let q_taken = q.gather(1, &b.actions.unsqueeze(1), false).squeeze_dim(1);
        let td = q_taken.huber_loss(&y, tch::Reduction::Mean, 1.0);
        // DQfD's large-margin loss: max_a [Q(s, a) + m·(a ≠ a_adv)] − Q(s, a_adv), zero once the
        // advised action leads every other by the margin (keeps the Q scale, unlike a softmax).
        let adv = b.advice.unsqueeze(1);
        let margins = q.ones_like().scatter_value(1, &adv, 0.0) * BC_MARGIN;
        let q_adv = q.gather(1, &adv, false).squeeze_dim(1);
        let gap = (&q + margins).amax([1], false) - q_adv;
        let bc = masked_mean(&gap, &b.advised);
        let loss = &td + &bc * bc_weight;
        self.adam.backward_step(&loss, self.config.lr);
        if self
            .adam
            .step
            .is_multiple_of(self.config.target_update_interval)
        {
            soft_update(&self.target_vs, &self.vs, 1.0);
        }
        Ok(vec![
            ("loss", scalar(&loss)),
            ("td_loss", scalar(&td)),
            ("bc_loss", scalar(&bc)),
            ("bc_weight", bc_weight),
            ("q_taken", scalar(&q_taken.mean(Kind::Float).detach())),
        ])
    }

    /// ε-greedy: with probability `epsilon` a uniform push, else the greedy one.
    fn explore(
        &self,
        obs: &Tensor,
        goals: &Tensor,
        epsilon: f64,
        rng: &mut dyn rand::RngCore,
    ) -> Result<Vec<Action>, RlError> {
        let greedy = Vec::<i64>::try_from(self.greedy(obs, goals).to_device(Device::Cpu))?;
        Ok(greedy
            .into_iter()
            .map(|a| {
                let a = if rng.random_bool(epsilon.clamp(0.0, 1.0)) {
                    rng.random_range(0..self.actions)
                } else {
                    a
                };
                Action::Discrete(a as u32)
            })
            .collect())
    }

    fn greedy(&self, obs: &Tensor, goals: &Tensor) -> Tensor {
        self.q_values(obs, goals).argmax(-1, false)
    }

    fn updates(&self) -> u64 {
        self.adam.step
    }

    fn model(&self) -> &VarStore {
        &self.vs
    }

    fn state_tensors(&self) -> Vec<(String, Tensor)> {
        let mut v = prefixed(&self.vs, "model");
        v.extend(prefixed(&self.target_vs, "target"));
        v.extend(self.adam.state_tensors());
        v
    }

    fn load_state(
        &mut self,
        tensors: &HashMap<String, Tensor>,
        updates: u64,
        file: &Path,
    ) -> Result<(), RlError> {
        load_prefixed(&self.vs, "model", tensors, file)?;
        load_prefixed(&self.target_vs, "target", tensors, file)?;
        self.adam.load_state(tensors, updates, file)
    }
}
