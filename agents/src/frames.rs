//! Frames of datasets for image policies: re-rendered from states (real data) or read from the
//! dataset (imagined rollouts store frames), at the configured resolution.

use vlgor_rl::InMemoryFrames;
use vlgor_sim::dataset::{Dataset, EpisodeMeta};

use crate::context::Context;
use crate::error::CliError;
use vlgor_sim::EnvSpec;

/// The simulator an episode was recorded in (its task comes from the goal spec).
pub fn env_for(meta: &EpisodeMeta) -> Box<dyn vlgor_sim::Env> {
    EnvSpec::of_goal(&meta.instruction.goal).make()
}

/// Frames of every state row of `data`, rendered in batches with a progress bar.
pub fn dataset_frames(ctx: &Context, data: &Dataset) -> Result<Vec<u8>, CliError> {
    let rows: usize = data.episodes.iter().map(|e| e.length + 1).sum();
    let bar = ctx.progress(rows as u64, &format!("frames {}", data.dir.display()));
    let mut renderer =
        vlgor_render::Renderer::new(ctx.render_config()).map_err(|e| CliError::Other(e.into()))?;
    let store =
        vlgor_render::FrameStore::for_dataset(data, &env_for, None, &mut renderer, 256, &|n| {
            bar.set_position(n as u64)
        })
        .map_err(|e| CliError::Other(e.into()))?;
    bar.finish_and_clear();
    Ok(store.frames)
}

/// Frames for training on `real` (+ `imagined`), as the RL crate's frame source.
pub fn training_frames(
    ctx: &Context,
    real: &Dataset,
    imagined: Option<&Dataset>,
) -> Result<InMemoryFrames, CliError> {
    let r = ctx.render_config();
    Ok(InMemoryFrames {
        height: r.height as usize,
        width: r.width as usize,
        real: dataset_frames(ctx, real)?,
        imagined: imagined
            .map(|d| dataset_frames(ctx, d))
            .transpose()?
            .unwrap_or_default(),
    })
}
