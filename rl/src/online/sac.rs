//! Soft actor-critic (Haarnoja et al. 2018, with the learned temperature) for Meta-World's 4-d
//! actions, with VARL's behaviour-cloning term toward advised actions in the actor loss:
//!
//! `y = r + γ (1 − d) · (min_i Q'_i(s', a') − α log π(a'|s'))`, `a' ~ π(·|s')`,
//! `L_critic = Σ_i (Q_i(s, a) − y)²`,
//! `L_actor = α log π(ã|s) − min_i Q_i(s, ã) + w · ‖tanh(μ(s)) − a_advised‖²` (advised rows),
//! `L_α = −log α · (log π(ã|s) − dim)`,
//!
//! with `w` the guidance's BC weight. The actor and critics are continuous CQL's ([`Actor`],
//! [`Critic`]) in the same variable layout, so a greedy policy checkpoint is one `vlgor eval`
//! reads (the greedy action is `tanh(μ)`).

use std::collections::HashMap;
use std::path::Path;
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};
use vlgor_sim::Action;

use super::replay::OnlineBatch;
use super::{OnlineAgent, OnlineConfig, masked_mean};
use crate::RlError;
use crate::algo::{Losses, load_prefixed, prefixed, scalar, soft_update};
use crate::continuous_cql::{Actor, SacNetworks};
use crate::critic::Critic;
use crate::network::EncoderConfig;

/// SAC settings, from the `[online]` section.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SacConfig {
    pub lr: f64,
    pub gamma: f64,
    pub tau: f64,
    pub initial_temperature: f64,
    pub temperature_lr: f64,
}

impl SacConfig {
    pub fn from_online(c: &OnlineConfig) -> Self {
        SacConfig {
            lr: c.lr,
            gamma: c.gamma,
            tau: c.tau,
            initial_temperature: c.initial_temperature,
            temperature_lr: c.temperature_lr,
        }
    }
}

/// Tanh-Gaussian actor, twin critics, their targets and the temperature (continuous CQL's
/// [`SacNetworks`]).
pub struct Sac {
    nets: SacNetworks,
    config: SacConfig,
    dim: i64,
}

impl Sac {
    /// Fresh networks (initialised from torch's current seed) for `dim`-d actions.
    pub fn new(enc: EncoderConfig, dim: i64, config: SacConfig, device: Device) -> Self {
        Sac {
            nets: SacNetworks::new(&enc, dim, config.initial_temperature, device),
            config,
            dim,
        }
    }

    /// `min_i Q_i` of `critics` at `(obs, goals)` for actions `[B, n, dim]`: `[B, n]`.
    fn min_q(critics: &[Critic; 2], obs: &Tensor, goals: &Tensor, actions: &Tensor) -> Tensor {
        let q: Vec<Tensor> = critics
            .iter()
            .map(|c| c.values(&c.encoder.forward(obs, goals), actions))
            .collect();
        q[0].minimum(&q[1])
    }
}

impl OnlineAgent for Sac {
    fn update(&mut self, b: &OnlineBatch, bc_weight: f64) -> Result<Losses, RlError> {
        let temp = self.nets.log_temp.exp().detach();
        let y = tch::no_grad(|| {
            let (m, ls) = self.nets.actor.distribution(&b.next_obs, &b.goals);
            let (a, logp) = Actor::sample(&m, &ls, 1);
            let q = Self::min_q(&self.nets.targets, &b.next_obs, &b.goals, &a).squeeze_dim(1);
            let soft = q - &temp * logp.squeeze_dim(1);
            &b.rewards + (1.0 - &b.terminals) * soft * self.config.gamma
        });
        let taken = b.actions.unsqueeze(1);
        let critic_loss = self
            .nets
            .critics
            .iter()
            .map(|c| {
                c.values(&c.encoder.forward(&b.obs, &b.goals), &taken)
                    .squeeze_dim(1)
                    .mse_loss(&y, tch::Reduction::Mean)
            })
            .reduce(|x, z| x + z)
            .expect("two critics");
        self.nets
            .critic_adam
            .backward_step(&critic_loss, self.config.lr);

        let (m, ls) = self.nets.actor.distribution(&b.obs, &b.goals);
        let (a, logp) = Actor::sample(&m, &ls, 1);
        let q = Self::min_q(&self.nets.critics, &b.obs, &b.goals, &a);
        let bc_rows = (m.tanh() - &b.advice)
            .square()
            .sum_dim_intlist(1, false, Kind::Float);
        let bc = masked_mean(&bc_rows, &b.advised);
        let actor_loss = (&temp * &logp - q).mean(Kind::Float) + &bc * bc_weight;
        self.nets
            .actor_adam
            .backward_step(&actor_loss, self.config.lr);

        let target_entropy = -(self.dim as f64);
        let temp_loss = -(&self.nets.log_temp * (logp.detach() + target_entropy)).mean(Kind::Float);
        self.nets
            .temp_adam
            .backward_step(&temp_loss, self.config.temperature_lr);
        soft_update(&self.nets.target_vs, &self.nets.vs, self.config.tau);
        Ok(vec![
            ("critic_loss", scalar(&critic_loss)),
            ("actor_loss", scalar(&actor_loss)),
            ("bc_loss", scalar(&bc)),
            ("bc_weight", bc_weight),
            ("temperature", scalar(&temp)),
        ])
    }

    /// A sample of the policy (`epsilon` is ignored: SAC explores through its entropy).
    fn explore(
        &self,
        obs: &Tensor,
        goals: &Tensor,
        _epsilon: f64,
        _rng: &mut dyn rand::RngCore,
    ) -> Result<Vec<Action>, RlError> {
        let a = tch::no_grad(|| {
            let (m, ls) = self.nets.actor.distribution(obs, goals);
            Actor::sample(&m, &ls, 1).0.squeeze_dim(1)
        });
        continuous_actions(&a, self.dim as usize)
    }

    fn greedy(&self, obs: &Tensor, goals: &Tensor) -> Tensor {
        tch::no_grad(|| self.nets.actor.distribution(obs, goals).0.tanh())
    }

    fn updates(&self) -> u64 {
        self.nets.critic_adam.step
    }

    fn model(&self) -> &VarStore {
        &self.nets.vs
    }

    fn state_tensors(&self) -> Vec<(String, Tensor)> {
        let mut v = prefixed(&self.nets.vs, "model");
        v.extend(self.nets.extra_state());
        v
    }

    fn load_state(
        &mut self,
        tensors: &HashMap<String, Tensor>,
        updates: u64,
        file: &Path,
    ) -> Result<(), RlError> {
        load_prefixed(&self.nets.vs, "model", tensors, file)?;
        self.nets.load_extra_state(tensors, updates, file)
    }
}

/// Rows of `a: f32 [B, dim]` as Meta-World actions, clamped to [−1, 1].
pub fn continuous_actions(a: &Tensor, dim: usize) -> Result<Vec<Action>, RlError> {
    let flat = Vec::<f32>::try_from(a.to_device(Device::Cpu).contiguous().view([-1]))?;
    Ok(flat
        .chunks_exact(dim)
        .map(|row| {
            let mut v = [0f32; 4];
            for (d, x) in v.iter_mut().zip(row) {
                *d = x.clamp(-1.0, 1.0);
            }
            Action::Continuous(v)
        })
        .collect())
}
