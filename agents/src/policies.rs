//! Trained policies as the evaluation loop and the viewer use them: loaded onto the context's
//! device, checked against the environment, with a renderer sized to their frames.

use std::path::Path;
use vlgor_rl::Policy;

use crate::context::Context;
use crate::error::CliError;

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

/// A renderer at the policy's frame size for image policies; `None` for state policies.
pub fn renderer_for(
    ctx: &Context,
    policy: &Policy,
) -> Result<Option<vlgor_render::Renderer>, CliError> {
    policy
        .frame_shape()
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
