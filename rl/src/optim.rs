//! Adam with explicit, checkpointable state, and the cosine learning-rate schedule.
//!
//! Written out (rather than tch's `nn::Optimizer`) so the first and second moments can be saved
//! with the weights: a resumed run then continues the exact trajectory of an uninterrupted one.

use std::collections::HashMap;
use tch::Tensor;
use tch::nn::VarStore;

use crate::RlError;

/// Learning rate at `step` of `total`: `min + ½(base − min)(1 + cos(π·step/total))`, from `base`
/// at step 0 to `min` at the last step.
pub fn cosine_lr(base: f64, min: f64, step: u64, total: u64) -> f64 {
    let t = (step as f64 / total.max(1) as f64).clamp(0.0, 1.0);
    min + 0.5 * (base - min) * (1.0 + (std::f64::consts::PI * t).cos())
}

/// Adam (β₁ 0.9, β₂ 0.999, ε 1e-8) over the variables of a [`VarStore`] whose names start
/// with a prefix.
#[derive(Debug)]
pub struct Adam {
    /// Checkpoint namespace of this optimiser's state.
    name: String,
    names: Vec<String>,
    params: Vec<Tensor>,
    m: Vec<Tensor>,
    v: Vec<Tensor>,
    /// Updates applied so far.
    pub step: u64,
}

const BETA1: f64 = 0.9;
const BETA2: f64 = 0.999;
const EPS: f64 = 1e-8;

impl Adam {
    /// Optimises the variables of `vs` whose names start with any of `prefixes`, in name order.
    pub fn new(name: &str, vs: &VarStore, prefixes: &[&str]) -> Self {
        let mut vars: Vec<(String, Tensor)> = vs
            .variables()
            .into_iter()
            .filter(|(n, _)| prefixes.iter().any(|p| n.starts_with(p)))
            .collect();
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        let m = vars.iter().map(|(_, t)| t.zeros_like()).collect();
        let v = vars.iter().map(|(_, t)| t.zeros_like()).collect();
        let (names, params) = vars.into_iter().unzip();
        Adam {
            name: name.to_string(),
            names,
            params,
            m,
            v,
            step: 0,
        }
    }

    /// Number of scalar parameters optimised.
    pub fn parameter_count(&self) -> i64 {
        self.params.iter().map(Tensor::numel).sum::<usize>() as i64
    }

    /// Clears the gradients of this optimiser's parameters.
    pub fn zero_grad(&mut self) {
        for p in &mut self.params {
            p.zero_grad();
        }
    }

    /// Runs `loss.backward()` after clearing this optimiser's gradients, then one update at `lr`.
    pub fn backward_step(&mut self, loss: &Tensor, lr: f64) {
        self.zero_grad();
        loss.backward();
        self.apply(lr);
    }

    /// One Adam update from the current gradients (parameters without a gradient are skipped).
    pub fn apply(&mut self, lr: f64) {
        self.step += 1;
        let c1 = 1.0 - BETA1.powi(self.step as i32);
        let c2 = 1.0 - BETA2.powi(self.step as i32);
        tch::no_grad(|| {
            for ((p, m), v) in self.params.iter_mut().zip(&mut self.m).zip(&mut self.v) {
                let g = p.grad();
                if !g.defined() {
                    continue;
                }
                m.copy_(&(&*m * BETA1 + &g * (1.0 - BETA1)));
                v.copy_(&(&*v * BETA2 + (&g * &g) * (1.0 - BETA2)));
                let update = (&*m / c1) / ((&*v / c2).sqrt() + EPS) * lr;
                let _ = p.f_sub_(&update);
            }
        });
    }

    /// The moments as named tensors for a checkpoint (`adam.NAME.m.VAR`, `adam.NAME.v.VAR`).
    pub fn state_tensors(&self) -> Vec<(String, Tensor)> {
        let mut out = Vec::with_capacity(2 * self.names.len());
        for (i, n) in self.names.iter().enumerate() {
            out.push((
                format!("adam.{}.m.{n}", self.name),
                self.m[i].shallow_clone(),
            ));
            out.push((
                format!("adam.{}.v.{n}", self.name),
                self.v[i].shallow_clone(),
            ));
        }
        out
    }

    /// Restores the moments from a checkpoint's tensors and the step count from its JSON.
    pub fn load_state(
        &mut self,
        tensors: &HashMap<String, Tensor>,
        step: u64,
        file: &std::path::Path,
    ) -> Result<(), RlError> {
        tch::no_grad(|| {
            for (i, n) in self.names.iter().enumerate() {
                for (kind, dst) in [("m", &mut self.m[i]), ("v", &mut self.v[i])] {
                    let key = format!("adam.{}.{kind}.{n}", self.name);
                    let src = tensors.get(&key).ok_or_else(|| {
                        RlError::checkpoint(file, format!("missing tensor '{key}'"))
                    })?;
                    if src.size() != dst.size() {
                        return Err(RlError::checkpoint(
                            file,
                            format!(
                                "tensor '{key}' has shape {:?}, expected {:?}",
                                src.size(),
                                dst.size()
                            ),
                        ));
                    }
                    dst.copy_(src);
                }
            }
            Ok(())
        })?;
        self.step = step;
        Ok(())
    }
}
