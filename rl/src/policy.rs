//! A trained policy for closed-loop evaluation: one batched forward pass under `no_grad` per
//! environment step for all running episodes.

use std::path::{Path, PathBuf};
use tch::{Device, Kind, Tensor};
use vlgor_sim::Action;
use vlgor_sim::dataset::ActionSpace;

use crate::RlError;
use crate::algo::Algorithm;
use crate::checkpoint;
use crate::config::{ObsKind, ObsSpec, RunConfig};

/// Observations of a batch of `B` episodes, row-major.
#[derive(Clone, Copy, Debug)]
pub enum PolicyObservations<'a> {
    /// `B·obs_dim` raw (unnormalised) observation values, as `Env::observation` returns them.
    States(&'a [f32]),
    /// `B·H·W·3` bytes of RGB frames.
    Frames(&'a [u8]),
}

/// A policy loaded from a checkpoint.
pub struct Policy {
    algo: Box<dyn Algorithm>,
    run: RunConfig,
    device: Device,
    checkpoint: PathBuf,
    epoch: u64,
}

impl std::fmt::Debug for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Policy")
            .field("checkpoint", &self.checkpoint)
            .field("epoch", &self.epoch)
            .field("algo", &self.run.algo)
            .field("obs", &self.run.obs)
            .finish_non_exhaustive()
    }
}

impl Policy {
    /// Loads a run directory's newest checkpoint, or a given checkpoint (`.safetensors` or its
    /// `.json`), onto `device`.
    pub fn load(path: &Path, device: Device) -> Result<Self, RlError> {
        let (tensors, meta) = checkpoint::resolve(path)?;
        let mut algo = meta.run.create_algorithm(device)?;
        checkpoint::load_into(algo.as_mut(), &tensors, &meta, false, device)?;
        Ok(Policy {
            algo,
            run: meta.run,
            device,
            checkpoint: tensors,
            epoch: meta.epoch,
        })
    }

    pub fn run_config(&self) -> &RunConfig {
        &self.run
    }

    /// `clevr` or `metaworld`.
    pub fn env(&self) -> &str {
        &self.run.env
    }

    pub fn obs_kind(&self) -> ObsKind {
        self.run.obs.kind()
    }

    /// Frame `(height, width)` for image policies.
    pub fn frame_shape(&self) -> Option<(usize, usize)> {
        match self.run.obs {
            ObsSpec::Image { height, width } => Some((height, width)),
            ObsSpec::State { .. } => None,
        }
    }

    /// Width of the goal embeddings it expects.
    pub fn goal_dim(&self) -> usize {
        self.run.goal_dim
    }

    pub fn device(&self) -> Device {
        self.device
    }

    /// The checkpoint file loaded and its epoch.
    pub fn checkpoint(&self) -> (&Path, u64) {
        (&self.checkpoint, self.epoch)
    }

    /// Greedy actions (argmax for discrete, the mean for continuous, clamped to [-1, 1]) for `B`
    /// episodes: `obs` for each, `goals: [B, goal_dim]` (any device). Errors name a size mismatch.
    pub fn act_batch(
        &self,
        obs: PolicyObservations,
        goals: &Tensor,
    ) -> Result<Vec<Action>, RlError> {
        let b = batch_rows(goals, self.run.goal_dim)?;
        let per = self.run.obs.len();
        let x = match (obs, self.run.obs) {
            (PolicyObservations::States(v), ObsSpec::State { dim }) => {
                check_len(v.len(), b, per, "state values")?;
                let normalised: Vec<f32> = v
                    .chunks_exact(dim)
                    .flat_map(|row| {
                        row.iter()
                            .zip(&self.run.obs_mean)
                            .zip(&self.run.obs_std)
                            .map(|((x, m), s)| (x - m) / s)
                    })
                    .collect();
                Tensor::from_slice(&normalised).view([b, dim as i64])
            }
            (PolicyObservations::Frames(v), ObsSpec::Image { height, width }) => {
                check_len(v.len(), b, per, "frame bytes")?;
                Tensor::from_slice(v).view([b, height as i64, width as i64, 3])
            }
            (_, spec) => return Err(wrong_form("this policy", spec)),
        };
        let goals = goals.to_device(self.device).to_kind(Kind::Float);
        let out = tch::no_grad(|| self.algo.act(&x.to_device(self.device), &goals))
            .to_device(Device::Cpu);
        decode_actions(&out, self.run.action_space)
    }
}

/// Actions from a network's greedy output on the CPU: action indices `[B]` (discrete) or values
/// `[B, dim]` (continuous, clamped to [-1, 1]).
pub(crate) fn decode_actions(out: &Tensor, space: ActionSpace) -> Result<Vec<Action>, RlError> {
    Ok(match space {
        ActionSpace::Discrete { .. } => Vec::<i64>::try_from(out)?
            .into_iter()
            .map(|a| Action::Discrete(a as u32))
            .collect(),
        ActionSpace::Continuous { dim } => {
            let flat = Vec::<f32>::try_from(&out.contiguous().view([-1]))?;
            flat.chunks_exact(dim)
                .map(|row| {
                    let mut a = [0.0f32; 4];
                    for (d, v) in a.iter_mut().zip(row) {
                        *d = v.clamp(-1.0, 1.0);
                    }
                    Action::Continuous(a)
                })
                .collect()
        }
    })
}

/// Rows `B` of goal embeddings `[B, goal_dim]`; an error names another shape.
pub(crate) fn batch_rows(goals: &Tensor, goal_dim: usize) -> Result<i64, RlError> {
    let size = goals.size();
    if size.len() != 2 || size[1] != goal_dim as i64 {
        return Err(RlError::Input(format!(
            "goal embeddings have shape {size:?}, expected [B, {goal_dim}]"
        )));
    }
    Ok(size[0])
}

/// `who` was given the other observation form than its `spec`.
pub(crate) fn wrong_form(who: &str, spec: ObsSpec) -> RlError {
    RlError::Input(format!(
        "{who} observes {spec:?}; pass the matching PolicyObservations variant"
    ))
}

pub(crate) fn check_len(len: usize, b: i64, per: usize, what: &str) -> Result<(), RlError> {
    if len != b as usize * per {
        return Err(RlError::Input(format!(
            "{len} {what} given for {b} episodes; expected {} ({per} each)",
            b as usize * per
        )));
    }
    Ok(())
}
