//! TD3+BC (Fujimoto & Gu 2021, "A Minimalist Approach to Offline Reinforcement Learning"; d3rlpy's
//! `TD3PlusBC`): TD3 with twin critics, target policy smoothing and delayed actor updates, whose
//! actor loss adds behaviour cloning toward the dataset's actions:
//!
//! `L_actor = −λ · Q1(s, π(s)) + (π(s) − a)²`, with `λ = α / mean |Q1(s, π(s))|` (held constant),
//!
//! `y = r + γ (1 − d) · min_i Q'_i(s', clip(π'(s') + clip(ε, −c, c), −1, 1))`, `ε ~ N(0, σ²)`.
//!
//! Continuous actions only (Meta-World's 4-d Sawyer action). [`Td3PlusBcConfig`] holds its
//! settings, [`Td3PlusBc`] its update step.

use std::collections::HashMap;
use std::path::Path;
use tch::nn::{self, Module, VarStore};
use tch::{Device, Kind, Tensor};

use crate::RlError;
use crate::algo::{Algorithm, Losses, TdConfig, load_prefixed, prefixed, scalar, soft_update};
use crate::batch::Batch;
use crate::critic::Critic;
use crate::network::{EncoderConfig, GoalConditionedEncoder};
use crate::optim::Adam;

/// TD3+BC settings (besides the shared [`TdConfig`] and the run's `rl.lr`, which the actor and
/// the critics use). Defaults are the paper's and d3rlpy's.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Td3PlusBcConfig {
    /// α, the weight of the Q term against behaviour cloning (preset key `rl.td3_alpha`).
    pub alpha: f64,
    /// Standard deviation σ of the target policy's smoothing noise (`rl.target_smoothing_sigma`).
    pub target_smoothing_sigma: f64,
    /// Clip c of that noise (`rl.target_smoothing_clip`).
    pub target_smoothing_clip: f64,
    /// Critic updates per actor (and target) update (`rl.update_actor_interval`).
    pub update_actor_interval: usize,
}

impl Default for Td3PlusBcConfig {
    fn default() -> Self {
        Td3PlusBcConfig {
            alpha: 2.5,
            target_smoothing_sigma: 0.2,
            target_smoothing_clip: 0.5,
            update_actor_interval: 2,
        }
    }
}

/// The deterministic tanh actor π(s, G) in (−1, 1)^dim.
pub struct DeterministicActor {
    pub encoder: GoalConditionedEncoder,
    head: nn::Linear,
}

impl DeterministicActor {
    pub fn new(p: &nn::Path, enc: &EncoderConfig, dim: i64) -> Self {
        DeterministicActor {
            encoder: GoalConditionedEncoder::new(&(p / "encoder"), enc),
            head: nn::linear(p / "head", enc.joint_dim, dim, Default::default()),
        }
    }

    /// Actions `[B, dim]`.
    pub fn forward(&self, obs: &Tensor, goals: &Tensor) -> Tensor {
        self.head.forward(&self.encoder.forward(obs, goals)).tanh()
    }
}

/// TD3+BC: actor, twin critics and the targets of both.
pub struct Td3PlusBc {
    vs: VarStore,
    target_vs: VarStore,
    actor: DeterministicActor,
    critics: [Critic; 2],
    target_actor: DeterministicActor,
    targets: [Critic; 2],
    actor_adam: Adam,
    critic_adam: Adam,
    lr: f64,
    td: TdConfig,
    config: Td3PlusBcConfig,
    /// Updates done so far (decides which ones update the actor).
    step: u64,
}

impl Td3PlusBc {
    /// Fresh networks for `dim`-d actions, trained by Adam at base learning rate `lr`.
    pub fn new(
        enc: EncoderConfig,
        dim: i64,
        lr: f64,
        td: &TdConfig,
        config: &Td3PlusBcConfig,
        device: Device,
    ) -> Self {
        let vs = VarStore::new(device);
        let root = vs.root();
        let actor = DeterministicActor::new(&(&root / "actor"), &enc, dim);
        let critics = [
            Critic::new(&(&root / "critic1"), &enc, dim),
            Critic::new(&(&root / "critic2"), &enc, dim),
        ];
        let mut target_vs = VarStore::new(device);
        let t = target_vs.root();
        let target_actor = DeterministicActor::new(&(&t / "actor"), &enc, dim);
        let targets = [
            Critic::new(&(&t / "critic1"), &enc, dim),
            Critic::new(&(&t / "critic2"), &enc, dim),
        ];
        soft_update(&target_vs, &vs, 1.0);
        target_vs.freeze();
        Td3PlusBc {
            actor_adam: Adam::new("actor", &vs, &["actor."]),
            critic_adam: Adam::new("critic", &vs, &["critic1.", "critic2."]),
            vs,
            target_vs,
            actor,
            critics,
            target_actor,
            targets,
            lr,
            td: *td,
            config: *config,
            step: 0,
        }
    }

    /// Q-values `[B]` of `critic` at `(obs, goals, actions [B, dim])`.
    fn q(critic: &Critic, obs: &Tensor, goals: &Tensor, actions: &Tensor) -> Tensor {
        critic
            .values(&critic.encoder.forward(obs, goals), &actions.unsqueeze(1))
            .squeeze_dim(1)
    }

    /// The TD target y `[B]`, a constant for the critics.
    fn target(&self, batch: &Batch) -> Tensor {
        let next = batch.next_obs.as_ref().expect("TD3+BC batches carry s'");
        let c = self.config.target_smoothing_clip;
        tch::no_grad(|| {
            let a = self.target_actor.forward(next, &batch.goals);
            let noise = (a.randn_like() * self.config.target_smoothing_sigma).clamp(-c, c);
            let a = (a + noise).clamp(-1.0, 1.0);
            let q = Self::q(&self.targets[0], next, &batch.goals, &a).minimum(&Self::q(
                &self.targets[1],
                next,
                &batch.goals,
                &a,
            ));
            &batch.rewards + (1.0 - &batch.terminals) * q * self.td.gamma
        })
    }
}

impl Algorithm for Td3PlusBc {
    fn needs_next(&self) -> bool {
        true
    }

    fn update(&mut self, batch: &Batch, lr_factor: f64) -> Result<Losses, RlError> {
        let y = self.target(batch);
        let q_data: Vec<Tensor> = self
            .critics
            .iter()
            .map(|c| Self::q(c, &batch.obs, &batch.goals, &batch.actions))
            .collect();
        let critic_loss = q_data
            .iter()
            .map(|q| q.mse_loss(&y, tch::Reduction::Mean))
            .reduce(|a, b| a + b)
            .expect("two critics");
        self.critic_adam
            .backward_step(&critic_loss, self.lr * lr_factor);
        self.step += 1;

        let interval = self.config.update_actor_interval.max(1) as u64;
        let mut losses = vec![
            ("critic_loss", scalar(&critic_loss)),
            ("q_data", scalar(&q_data[0].mean(Kind::Float))),
        ];
        if self.step.is_multiple_of(interval) {
            let pi = self.actor.forward(&batch.obs, &batch.goals);
            let q = Self::q(&self.critics[0], &batch.obs, &batch.goals, &pi);
            let lambda = self.config.alpha / (q.abs().mean(Kind::Float).detach() + 1e-6);
            let bc = (&pi - &batch.actions).square().mean(Kind::Float);
            let actor_loss = -(&lambda * q.mean(Kind::Float)) + &bc;
            self.actor_adam
                .backward_step(&actor_loss, self.lr * lr_factor);
            soft_update(&self.target_vs, &self.vs, self.td.tau);
            losses.extend([
                ("actor_loss", scalar(&actor_loss)),
                ("bc_loss", scalar(&bc)),
                ("lambda", scalar(&lambda)),
            ]);
        }
        Ok(losses)
    }

    fn act(&self, obs: &Tensor, goals: &Tensor) -> Tensor {
        tch::no_grad(|| self.actor.forward(obs, goals))
    }

    fn model(&self) -> &VarStore {
        &self.vs
    }

    fn model_mut(&mut self) -> &mut VarStore {
        &mut self.vs
    }

    fn extra_state(&self) -> Vec<(String, Tensor)> {
        let mut v = prefixed(&self.target_vs, "target");
        for adam in [&self.actor_adam, &self.critic_adam] {
            v.extend(adam.state_tensors());
        }
        v
    }

    fn load_extra_state(
        &mut self,
        tensors: &HashMap<String, Tensor>,
        step: u64,
        file: &Path,
    ) -> Result<(), RlError> {
        load_prefixed(&self.target_vs, "target", tensors, file)?;
        // The actor's optimiser has stepped once per `interval` updates.
        let interval = self.config.update_actor_interval.max(1) as u64;
        self.critic_adam.load_state(tensors, step, file)?;
        self.actor_adam.load_state(tensors, step / interval, file)?;
        self.step = step;
        Ok(())
    }
}
