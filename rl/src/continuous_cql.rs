//! Continuous conservative Q-learning (d3rlpy's CQL): SAC with twin critics, a tanh-Gaussian
//! actor and an entropy temperature, plus the conservative term
//! `w·(logsumexp over sampled actions of Q(s, a) − Q(s, a_data))` on each critic. The sampled
//! actions are uniform ones and the policy's at s and s', each corrected by its log density.
//! The conservative weight is fixed (d3rlpy's Lagrangian variant is not used).
//! [`ContinuousCqlConfig`] holds its settings, [`ContinuousCql`] its update step.

use std::collections::HashMap;
use std::path::Path;
use tch::nn::{self, Module, VarStore};
use tch::{Device, Kind, Tensor};

use crate::RlError;
use crate::algo::{Algorithm, Losses, TdConfig, load_prefixed, prefixed, scalar, soft_update};
use crate::batch::Batch;
use crate::critic::Critic;
use crate::network::{EncoderConfig, GoalConditionedEncoder, LOG_STD_RANGE};
use crate::optim::Adam;

/// Continuous-CQL settings (besides the shared [`TdConfig`] and the run's `rl.lr`, which the
/// actor and the critics use).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ContinuousCqlConfig {
    /// Weight of the conservative term (preset key `rl.conservative_weight`).
    pub conservative_weight: f64,
    /// Sampled actions per state for the logsumexp (preset key `rl.n_action_samples`).
    pub n_action_samples: usize,
    /// Initial entropy temperature (preset key `rl.initial_temperature`).
    pub initial_temperature: f64,
    /// Learning rate of the temperature (preset key `rl.temperature_lr`).
    pub temperature_lr: f64,
}

impl Default for ContinuousCqlConfig {
    fn default() -> Self {
        ContinuousCqlConfig {
            conservative_weight: 5.0,
            n_action_samples: 10,
            initial_temperature: 1.0,
            temperature_lr: 1e-4,
        }
    }
}

/// The tanh-Gaussian actor.
pub struct Actor {
    pub encoder: GoalConditionedEncoder,
    head: nn::Linear,
    dim: i64,
}

impl Actor {
    pub fn new(p: &nn::Path, enc: &EncoderConfig, dim: i64) -> Self {
        Actor {
            encoder: GoalConditionedEncoder::new(&(p / "encoder"), enc),
            head: nn::linear(p / "head", enc.joint_dim, 2 * dim, Default::default()),
            dim,
        }
    }

    /// Pre-tanh mean and log std `[B, dim]` each.
    pub fn distribution(&self, obs: &Tensor, goals: &Tensor) -> (Tensor, Tensor) {
        let out = self.head.forward(&self.encoder.forward(obs, goals));
        let mean = out.narrow(1, 0, self.dim);
        let log_std = out
            .narrow(1, self.dim, self.dim)
            .clamp(LOG_STD_RANGE.0, LOG_STD_RANGE.1);
        (mean, log_std)
    }

    /// `n` reparameterised samples per state: actions `[B, n, dim]` in (-1, 1) and their log
    /// densities `[B, n]` (with the tanh correction).
    pub fn sample(mean: &Tensor, log_std: &Tensor, n: i64) -> (Tensor, Tensor) {
        let (mean, log_std) = (mean.unsqueeze(1), log_std.unsqueeze(1));
        let shape = [mean.size()[0], n, mean.size()[2]];
        let eps = Tensor::randn(shape, (Kind::Float, mean.device()));
        let u = &mean + log_std.exp() * &eps;
        let a = u.tanh();
        let gauss = (&eps * &eps) * -0.5 - &log_std - 0.5 * (2.0 * std::f64::consts::PI).ln();
        let correction = ((&a * &a).neg() + (1.0 + 1e-6)).log();
        let log_prob = (gauss - correction).sum_dim_intlist(2, false, Kind::Float);
        (a, log_prob)
    }
}

/// SAC's networks: the tanh-Gaussian actor, twin critics and the entropy temperature (the model
/// store), the critics' targets, and one Adam per part. Continuous CQL and online SAC share it.
pub struct SacNetworks {
    pub vs: VarStore,
    pub target_vs: VarStore,
    pub actor: Actor,
    pub critics: [Critic; 2],
    pub targets: [Critic; 2],
    pub log_temp: Tensor,
    pub actor_adam: Adam,
    pub critic_adam: Adam,
    pub temp_adam: Adam,
}

impl SacNetworks {
    /// Fresh networks for `dim`-d actions (weights from torch's current seed).
    pub fn new(enc: &EncoderConfig, dim: i64, initial_temperature: f64, device: Device) -> Self {
        let vs = VarStore::new(device);
        let root = vs.root();
        let actor = Actor::new(&(&root / "actor"), enc, dim);
        let critics = [
            Critic::new(&(&root / "critic1"), enc, dim),
            Critic::new(&(&root / "critic2"), enc, dim),
        ];
        let log_temp = root.var("log_temp", &[1], nn::Init::Const(initial_temperature.ln()));
        let mut target_vs = VarStore::new(device);
        let t = target_vs.root();
        let targets = [
            Critic::new(&(&t / "critic1"), enc, dim),
            Critic::new(&(&t / "critic2"), enc, dim),
        ];
        soft_update(&target_vs, &vs, 1.0);
        target_vs.freeze();
        SacNetworks {
            actor_adam: Adam::new("actor", &vs, &["actor."]),
            critic_adam: Adam::new("critic", &vs, &["critic1.", "critic2."]),
            temp_adam: Adam::new("temperature", &vs, &["log_temp"]),
            vs,
            target_vs,
            actor,
            critics,
            targets,
            log_temp,
        }
    }

    /// The targets and the optimisers' moments (a checkpoint's state beside `model.*`).
    pub fn extra_state(&self) -> Vec<(String, Tensor)> {
        let mut v = prefixed(&self.target_vs, "target");
        for adam in [&self.actor_adam, &self.critic_adam, &self.temp_adam] {
            v.extend(adam.state_tensors());
        }
        v
    }

    /// Restores [`SacNetworks::extra_state`] after `step` updates.
    pub fn load_extra_state(
        &mut self,
        tensors: &HashMap<String, Tensor>,
        step: u64,
        file: &Path,
    ) -> Result<(), RlError> {
        load_prefixed(&self.target_vs, "target", tensors, file)?;
        for adam in [
            &mut self.actor_adam,
            &mut self.critic_adam,
            &mut self.temp_adam,
        ] {
            adam.load_state(tensors, step, file)?;
        }
        Ok(())
    }
}

/// SAC-based CQL with twin critics and their targets.
pub struct ContinuousCql {
    nets: SacNetworks,
    lr: f64,
    td: TdConfig,
    config: ContinuousCqlConfig,
    dim: i64,
}

impl ContinuousCql {
    /// Fresh actor, twin critics and their targets for `dim`-d actions; the actor and the
    /// critics are trained by Adam at base learning rate `lr`.
    pub fn new(
        enc: EncoderConfig,
        dim: i64,
        lr: f64,
        td: &TdConfig,
        config: &ContinuousCqlConfig,
        device: Device,
    ) -> Self {
        ContinuousCql {
            nets: SacNetworks::new(&enc, dim, config.initial_temperature, device),
            lr,
            td: *td,
            config: *config,
            dim,
        }
    }

    /// Minimum of the twin critics at `(obs, goals, actions [B, dim])`, `[B]`.
    pub fn q_value(&self, obs: &Tensor, goals: &Tensor, actions: &Tensor) -> Tensor {
        let a = actions.unsqueeze(1);
        let q: Vec<Tensor> = self
            .nets
            .critics
            .iter()
            .map(|c| c.values(&c.encoder.forward(obs, goals), &a))
            .collect();
        q[0].minimum(&q[1]).squeeze_dim(1)
    }

    fn critic_loss(&self, batch: &Batch) -> (Tensor, Tensor, Tensor) {
        let next = batch.next_obs.as_ref().expect("CQL batches carry s'");
        let n = self.config.n_action_samples as i64;
        let temp = self.nets.log_temp.exp().detach();
        // Everything sampled from the policy is a constant for the critics.
        let (y, pi_s, logp_s, pi_next, logp_next) = tch::no_grad(|| {
            let (m_next, ls_next) = self.nets.actor.distribution(next, &batch.goals);
            let (a_next, logp_next) = Actor::sample(&m_next, &ls_next, n + 1);
            let q_next = self.nets.targets.iter().map(|c| {
                c.values(
                    &c.encoder.forward(next, &batch.goals),
                    &a_next.narrow(1, 0, 1),
                )
            });
            let q_next = q_next
                .reduce(|a, b| a.minimum(&b))
                .expect("two critics")
                .squeeze_dim(1);
            let soft = q_next - &temp * logp_next.narrow(1, 0, 1).squeeze_dim(1);
            let y = &batch.rewards + (1.0 - &batch.terminals) * soft * self.td.gamma;
            let (m, ls) = self.nets.actor.distribution(&batch.obs, &batch.goals);
            let (pi_s, logp_s) = Actor::sample(&m, &ls, n);
            (
                y,
                pi_s,
                logp_s,
                a_next.narrow(1, 1, n),
                logp_next.narrow(1, 1, n),
            )
        });
        let b = batch.rewards.size()[0];
        let uniform =
            Tensor::rand([b, n, self.dim], (Kind::Float, batch.rewards.device())) * 2.0 - 1.0;
        let log_uniform = -(self.dim as f64) * 2f64.ln();
        let data = batch.actions.unsqueeze(1);
        let (mut td, mut conservative) = (
            Tensor::zeros([], (Kind::Float, batch.rewards.device())),
            None::<Tensor>,
        );
        let mut q_mean = None;
        for critic in &self.nets.critics {
            let joint = critic.encoder.forward(&batch.obs, &batch.goals);
            let q_data = critic.values(&joint, &data).squeeze_dim(1);
            td += q_data.mse_loss(&y, tch::Reduction::Mean);
            let sampled = Tensor::cat(
                &[
                    critic.values(&joint, &uniform) - log_uniform,
                    critic.values(&joint, &pi_s) - &logp_s,
                    critic.values(&joint, &pi_next) - &logp_next,
                ],
                1,
            );
            let gap = (sampled.logsumexp([1], false) - &q_data).mean(Kind::Float);
            conservative = Some(match conservative {
                Some(c) => c + gap,
                None => gap,
            });
            q_mean.get_or_insert_with(|| q_data.mean(Kind::Float).detach());
        }
        let conservative = conservative.expect("two critics");
        (td, conservative, q_mean.expect("two critics"))
    }
}

impl Algorithm for ContinuousCql {
    fn needs_next(&self) -> bool {
        true
    }

    fn update(&mut self, batch: &Batch, lr_factor: f64) -> Result<Losses, RlError> {
        let (td, conservative, q_data) = self.critic_loss(batch);
        let critic_loss = &td + &conservative * self.config.conservative_weight;
        self.nets
            .critic_adam
            .backward_step(&critic_loss, self.lr * lr_factor);

        let (m, ls) = self.nets.actor.distribution(&batch.obs, &batch.goals);
        let (a, logp) = Actor::sample(&m, &ls, 1);
        let q = self
            .nets
            .critics
            .iter()
            .map(|c| c.values(&c.encoder.forward(&batch.obs, &batch.goals), &a))
            .reduce(|x, y| x.minimum(&y))
            .expect("two critics");
        let temp = self.nets.log_temp.exp();
        let actor_loss = (&temp.detach() * &logp - q).mean(Kind::Float);
        self.nets
            .actor_adam
            .backward_step(&actor_loss, self.lr * lr_factor);

        let target_entropy = -(self.dim as f64);
        let temp_loss = -(&self.nets.log_temp * (logp.detach() + target_entropy)).mean(Kind::Float);
        self.nets
            .temp_adam
            .backward_step(&temp_loss, self.config.temperature_lr * lr_factor);
        soft_update(&self.nets.target_vs, &self.nets.vs, self.td.tau);
        Ok(vec![
            ("critic_loss", scalar(&critic_loss)),
            ("td_loss", scalar(&td)),
            ("conservative_loss", scalar(&conservative)),
            ("actor_loss", scalar(&actor_loss)),
            ("temperature", scalar(&temp.detach())),
            ("q_data", scalar(&q_data)),
        ])
    }

    fn act(&self, obs: &Tensor, goals: &Tensor) -> Tensor {
        tch::no_grad(|| self.nets.actor.distribution(obs, goals).0.tanh())
    }

    fn model(&self) -> &VarStore {
        &self.nets.vs
    }

    fn model_mut(&mut self) -> &mut VarStore {
        &mut self.nets.vs
    }

    fn extra_state(&self) -> Vec<(String, Tensor)> {
        self.nets.extra_state()
    }

    fn load_extra_state(
        &mut self,
        tensors: &HashMap<String, Tensor>,
        step: u64,
        file: &Path,
    ) -> Result<(), RlError> {
        self.nets.load_extra_state(tensors, step, file)
    }
}
