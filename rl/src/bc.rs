//! Behaviour cloning: imitate the dataset's actions given the observation and the instruction.

use std::collections::HashMap;
use std::path::Path;
use tch::nn::{self, Module, VarStore};
use tch::{Device, Kind, Tensor};

use crate::RlError;
use crate::algo::{Algorithm, Losses, scalar};
use crate::batch::Batch;
use crate::config::{ContinuousBcLoss, RlConfig};
use crate::network::{EncoderConfig, GoalConditionedEncoder};
use crate::optim::Adam;

/// Discrete BC: logits over the actions (CLEVR: 40 pushes), cross-entropy to the dataset action.
pub struct DiscreteBc {
    vs: VarStore,
    pub encoder: GoalConditionedEncoder,
    head: nn::Linear,
    adam: Adam,
    lr: f64,
}

impl DiscreteBc {
    pub fn new(enc: EncoderConfig, actions: i64, rl: &RlConfig, device: Device) -> Self {
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
            lr: rl.lr,
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

/// Bounds of the Gaussian policy's log standard deviation.
pub const LOG_STD_RANGE: (f64, f64) = (-5.0, 2.0);

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
    pub fn new(enc: EncoderConfig, dim: i64, rl: &RlConfig, device: Device) -> Self {
        let vs = VarStore::new(device);
        let p = vs.root();
        let encoder = GoalConditionedEncoder::new(&(&p / "encoder"), &enc);
        let out = match rl.bc_loss {
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
            lr: rl.lr,
            loss: rl.bc_loss,
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
