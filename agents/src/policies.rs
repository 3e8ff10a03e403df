//! Trained policies as the evaluation loop and the viewer use them: a vlgor checkpoint or a
//! TorchScript module trained in PyTorch, loaded onto the context's device, checked against the
//! environment, with a renderer sized to their frames.

use std::path::Path;
use tch::{Device, Tensor};
use vlgor_rl::{ObsKind, Policy, PolicyObservations, ScriptContract, ScriptPolicy};
use vlgor_sim::{Action, EnvSpec};

use crate::context::Context;
use crate::error::CliError;

/// A policy the loop runs: one batched forward per step for all live episodes.
pub enum LoadedPolicy {
    /// A vlgor checkpoint (`train-policy`, `train-online`).
    Checkpoint(Box<Policy>),
    /// A TorchScript module (`--policy model.pt`).
    TorchScript(ScriptPolicy),
}

impl LoadedPolicy {
    pub fn obs_kind(&self) -> ObsKind {
        match self {
            LoadedPolicy::Checkpoint(p) => p.obs_kind(),
            LoadedPolicy::TorchScript(p) => p.obs_kind(),
        }
    }

    /// Frame `(height, width)` for image policies.
    pub fn frame_shape(&self) -> Option<(usize, usize)> {
        match self {
            LoadedPolicy::Checkpoint(p) => p.frame_shape(),
            LoadedPolicy::TorchScript(p) => p.frame_shape(),
        }
    }

    pub fn device(&self) -> Device {
        match self {
            LoadedPolicy::Checkpoint(p) => p.device(),
            LoadedPolicy::TorchScript(p) => p.device(),
        }
    }

    /// Greedy actions for a batch (see [`Policy::act_batch`]).
    pub fn act_batch(
        &self,
        obs: PolicyObservations,
        goals: &Tensor,
    ) -> Result<Vec<Action>, vlgor_rl::RlError> {
        match self {
            LoadedPolicy::Checkpoint(p) => p.act_batch(obs, goals),
            LoadedPolicy::TorchScript(p) => p.act_batch(obs, goals),
        }
    }
}

/// Loads a checkpoint or a run directory's newest checkpoint; when `env` is given, refuses a
/// policy trained on another environment.
pub fn load(ctx: &Context, path: &Path, env: Option<&str>) -> Result<Policy, CliError> {
    let policy = Policy::load(path, ctx.device)
        .map_err(|e| CliError::Input(format!("{}: {e}", path.display())))?;
    if let Some(env) = env
        && policy.env() != env
    {
        return Err(CliError::Input(format!(
            "{} was trained on '{}', not '{env}'",
            path.display(),
            policy.env()
        )));
    }
    Ok(policy)
}

/// What a TorchScript policy for `spec` is fed: the simulator's state width, frames at the
/// configured render size, the sentence encoder's width.
pub fn script_contract(ctx: &Context, spec: EnvSpec, goal_dim: usize) -> ScriptContract {
    ScriptContract {
        state_dim: spec.make().observation().len(),
        frame: (
            ctx.config.render.height as usize,
            ctx.config.render.width as usize,
        ),
        goal_dim,
        action_space: vlgor_sim::spec::action_space(spec.kind()),
    }
}

/// Loads a TorchScript policy for `spec` (exit status 2 when it breaks the contract).
pub fn load_torchscript(
    ctx: &Context,
    path: &Path,
    spec: EnvSpec,
    goal_dim: usize,
) -> Result<ScriptPolicy, CliError> {
    tracing::debug!(module = %path.display(), "loading TorchScript policy");
    let contract = script_contract(ctx, spec, goal_dim);
    let policy = ScriptPolicy::load(path, ctx.device, contract)
        .map_err(|e| CliError::Input(e.to_string()))?;
    tracing::info!(module = %path.display(), obs = %policy.obs_kind(), "TorchScript policy loaded");
    Ok(policy)
}

/// A renderer for frames of `shape` `(height, width)`; `None` for state policies.
pub fn renderer_for(
    ctx: &Context,
    shape: Option<(usize, usize)>,
) -> Result<Option<vlgor_render::Renderer>, CliError> {
    shape
        .map(|(h, w)| {
            vlgor_render::Renderer::new(vlgor_render::RenderConfig {
                width: w as u32,
                height: h as u32,
                supersample: ctx.config.render.supersample,
            })
        })
        .transpose()
        .map_err(|e| CliError::Other(e.into()))
}
