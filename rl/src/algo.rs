//! What the trainer and the policy need from every algorithm ([`Algorithm`]), the settings the
//! temporal-difference learners share ([`TdConfig`]), and helpers for their variable stores.
//! Every algorithm module builds on this one; it imports none of them.

use std::collections::HashMap;
use std::path::Path;
use tch::Tensor;
use tch::nn::VarStore;

use crate::RlError;
use crate::batch::Batch;

/// Temporal-difference settings shared by discrete and continuous CQL.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TdConfig {
    /// Discount factor γ (preset key `rl.gamma`).
    pub gamma: f64,
    /// Polyak factor of soft target updates (preset key `rl.tau`).
    pub tau: f64,
}

impl Default for TdConfig {
    fn default() -> Self {
        TdConfig {
            gamma: 0.99,
            tau: 0.005,
        }
    }
}

/// Named scalar losses of one update, in a fixed order.
pub type Losses = Vec<(&'static str, f64)>;

/// An offline RL algorithm: networks, optimisers and one update step.
pub trait Algorithm: Send {
    /// Whether [`Batch::next_obs`] is needed (TD learning).
    fn needs_next(&self) -> bool;
    /// One gradient update on `batch`; `lr_factor` scales every base learning rate (cosine
    /// schedule). Returns the losses, already read back as `f64`.
    fn update(&mut self, batch: &Batch, lr_factor: f64) -> Result<Losses, RlError>;
    /// Greedy actions under `no_grad`: `i64 [B]` (argmax) or `f32 [B, dim]` (mean / tanh).
    fn act(&self, obs: &Tensor, goals: &Tensor) -> Tensor;
    /// The trainable networks (prefix `model.` in checkpoints).
    fn model(&self) -> &VarStore;
    /// The model store, for loading weights.
    fn model_mut(&mut self) -> &mut VarStore;
    /// Target networks and optimiser moments (saved beside the model; empty for none).
    fn extra_state(&self) -> Vec<(String, Tensor)>;
    /// Restores [`Algorithm::extra_state`] after `step` updates.
    fn load_extra_state(
        &mut self,
        tensors: &HashMap<String, Tensor>,
        step: u64,
        file: &Path,
    ) -> Result<(), RlError>;
}

/// `vs`'s variables as `PREFIX.NAME` tensors.
pub fn prefixed(vs: &VarStore, prefix: &str) -> Vec<(String, Tensor)> {
    let mut v: Vec<(String, Tensor)> = vs
        .variables()
        .into_iter()
        .map(|(n, t)| (format!("{prefix}.{n}"), t))
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

/// Copies `PREFIX.NAME` tensors of `tensors` into `vs`; errors name a missing or mis-shaped one.
pub fn load_prefixed(
    vs: &VarStore,
    prefix: &str,
    tensors: &HashMap<String, Tensor>,
    file: &Path,
) -> Result<(), RlError> {
    tch::no_grad(|| {
        for (name, mut var) in vs.variables() {
            let key = format!("{prefix}.{name}");
            let src = tensors
                .get(&key)
                .ok_or_else(|| RlError::checkpoint(file, format!("missing tensor '{key}'")))?;
            if src.size() != var.size() {
                return Err(RlError::checkpoint(
                    file,
                    format!(
                        "tensor '{key}' has shape {:?}, the network expects {:?}",
                        src.size(),
                        var.size()
                    ),
                ));
            }
            var.copy_(src);
        }
        Ok(())
    })
}

/// Polyak update `target ← (1 − tau)·target + tau·online` over same-named variables.
pub fn soft_update(target: &VarStore, online: &VarStore, tau: f64) {
    let src = online.variables();
    tch::no_grad(|| {
        for (name, mut t) in target.variables() {
            if let Some(s) = src.get(&name) {
                t.copy_(&(&t * (1.0 - tau) + s * tau));
            }
        }
    });
}

/// Reads a scalar loss back, as `f64`.
pub fn scalar(t: &Tensor) -> f64 {
    t.double_value(&[])
}
