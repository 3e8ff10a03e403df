//! Behaviour cloning: imitate the dataset's actions given the observation and the instruction.
//! [`BcConfig`] holds its settings; [`DiscreteBc`] and [`ContinuousBc`] its update steps.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;
use tch::nn::{self, Module, VarStore};
use tch::{Device, Kind, Tensor};

use crate::RlError;
use crate::algo::{Algorithm, Losses, scalar};
use crate::batch::Batch;
use crate::network::{EncoderConfig, GoalConditionedEncoder, LOG_STD_RANGE};
use crate::optim::Adam;

/// Loss of continuous behaviour cloning.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContinuousBcLoss {
    /// `tanh` output, mean squared error to the dataset action (d3rlpy's default).
    Deterministic,
    /// Diagonal Gaussian with `tanh` mean, negative log-likelihood of the dataset action.
    Gaussian,
}

/// Behaviour-cloning settings (the learning rate is the run's `rl.lr`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BcConfig {
    /// Continuous BC loss (preset key `rl.bc_loss`); discrete BC always uses cross-entropy.
    pub loss: ContinuousBcLoss,
}

impl Default for BcConfig {
    fn default() -> Self {
        BcConfig {
            loss: ContinuousBcLoss::Deterministic,
        }
    }
}

/// Discrete BC: logits over the actions (CLEVR: 40 pushes), cross-entropy to the dataset action.
pub struct DiscreteBc {
    vs: VarStore,
    pub encoder: GoalConditionedEncoder,
    head: nn::Linear,
    adam: Adam,
    lr: f64,
}

impl DiscreteBc {
    /// A fresh network with `actions` logits, trained by Adam at base learning rate `lr`.
    pub fn new(enc: EncoderConfig, actions: i64, lr: f64, device: Device) -> Self {
        let vs = VarStore::new(device);
        let p = vs.root();
        let encoder = GoalConditionedEncoder::new(&(&p / "encoder"), &enc);
        let head = nn::linear(&p / "head", enc.joint_dim, actions, Default::default());
        let adam = Adam::new("model", &vs, &[""]);
        DiscreteBc {
            vs,
            encoder,
            head,
            adam,
            lr,
        }
    }

    /// Action logits `[B, n]`.
    pub fn logits(&self, obs: &Tensor, goals: &Tensor) -> Tensor {
        self.head.forward(&self.encoder.forward(obs, goals))
    }
}

impl Algorithm for DiscreteBc {
    fn needs_next(&self) -> bool {
        false
    }

    fn update(&mut self, batch: &Batch, lr_factor: f64) -> Result<Losses, RlError> {
        let loss = self
            .logits(&batch.obs, &batch.goals)
            .cross_entropy_for_logits(&batch.actions);
        self.adam.backward_step(&loss, self.lr * lr_factor);
        Ok(vec![("bc_loss", scalar(&loss))])
    }

    fn act(&self, obs: &Tensor, goals: &Tensor) -> Tensor {
        tch::no_grad(|| self.logits(obs, goals).argmax(-1, false))
    }

    fn model(&self) -> &VarStore {
        &self.vs
    }

    fn model_mut(&mut self) -> &mut VarStore {
        &mut self.vs
    }

    fn extra_state(&self) -> Vec<(String, Tensor)> {
        self.adam.state_tensors()
    }

    fn load_extra_state(
        &mut self,
        tensors: &HashMap<String, Tensor>,
        step: u64,
        file: &Path,
    ) -> Result<(), RlError> {
        self.adam.load_state(tensors, step, file)
    }
}

/// Continuous BC (Meta-World, actions in [-1, 1]^dim): deterministic `tanh` output with MSE, or
/// a Gaussian with `tanh` mean and the negative log-likelihood of the dataset action.
pub struct ContinuousBc {
    vs: VarStore,
    pub encoder: GoalConditionedEncoder,
    head: nn::Linear,
    adam: Adam,
    lr: f64,
    loss: ContinuousBcLoss,
    dim: i64,
}

impl ContinuousBc {
    /// A fresh network for `dim`-d actions, trained by Adam at base learning rate `lr`.
    pub fn new(enc: EncoderConfig, dim: i64, lr: f64, config: &BcConfig, device: Device) -> Self {
        let vs = VarStore::new(device);
        let p = vs.root();
        let encoder = GoalConditionedEncoder::new(&(&p / "encoder"), &enc);
        let out = match config.loss {
            ContinuousBcLoss::Deterministic => dim,
            ContinuousBcLoss::Gaussian => 2 * dim,
        };
        let head = nn::linear(&p / "head", enc.joint_dim, out, Default::default());
        let adam = Adam::new("model", &vs, &[""]);
        ContinuousBc {
            vs,
            encoder,
            head,
            adam,
            lr,
            loss: config.loss,
            dim,
        }
    }

    /// The action mean `[B, dim]` in (-1, 1) and, for the Gaussian loss, the log std.
    pub fn mean_log_std(&self, obs: &Tensor, goals: &Tensor) -> (Tensor, Option<Tensor>) {
        let out = self.head.forward(&self.encoder.forward(obs, goals));
        match self.loss {
            ContinuousBcLoss::Deterministic => (out.tanh(), None),
            ContinuousBcLoss::Gaussian => {
                let mean = out.narrow(1, 0, self.dim).tanh();
                let log_std = out
                    .narrow(1, self.dim, self.dim)
                    .clamp(LOG_STD_RANGE.0, LOG_STD_RANGE.1);
                (mean, Some(log_std))
            }
        }
    }
}

impl Algorithm for ContinuousBc {
    fn needs_next(&self) -> bool {
        false
    }

    fn update(&mut self, batch: &Batch, lr_factor: f64) -> Result<Losses, RlError> {
        let (mean, log_std) = self.mean_log_std(&batch.obs, &batch.goals);
        let loss = match log_std {
            None => mean.mse_loss(&batch.actions, tch::Reduction::Mean),
            Some(log_std) => {
                // −log N(a; μ, σ) summed over dimensions (constant ½·log 2π dropped).
                let z = (&batch.actions - &mean) * (-&log_std).exp();
                ((&z * &z) * 0.5 + &log_std)
                    .sum_dim_intlist(1, false, Kind::Float)
                    .mean(Kind::Float)
            }
        };
        self.adam.backward_step(&loss, self.lr * lr_factor);
        Ok(vec![("bc_loss", scalar(&loss))])
    }

    fn act(&self, obs: &Tensor, goals: &Tensor) -> Tensor {
        tch::no_grad(|| self.mean_log_std(obs, goals).0)
    }

    fn model(&self) -> &VarStore {
        &self.vs
    }

    fn model_mut(&mut self) -> &mut VarStore {
        &mut self.vs
    }

    fn extra_state(&self) -> Vec<(String, Tensor)> {
        self.adam.state_tensors()
    }

    fn load_extra_state(
        &mut self,
        tensors: &HashMap<String, Tensor>,
        step: u64,
        file: &Path,
    ) -> Result<(), RlError> {
        self.adam.load_state(tensors, step, file)
    }
}
