//! Frames of stored rollouts, re-rendered from their states.
//!
//! Datasets keep states, not frames: a frame is a deterministic function of the state, so it is
//! re-rendered on load, in batches, and cached in memory as RGB8 at the training resolution.

use vlgor_sim::dataset::{Dataset, EpisodeMeta};
use vlgor_sim::{Env, Scene, SimError};

use crate::{RenderError, Renderer};

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("cannot restore a stored state: {0}")]
    Sim(#[from] SimError),
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error("dataset has no ground-truth states and no stored frames to show")]
    NoStates,
}

/// RGB8 frames `[rows, H, W, 3]`, one per state row of a dataset.
pub struct FrameStore {
    pub height: usize,
    pub width: usize,
    pub frames: Vec<u8>,
}

impl FrameStore {
    /// Frame of state row `row` (`H * W * 3` bytes, row 0 = top).
    pub fn frame(&self, row: usize) -> &[u8] {
        let n = self.height * self.width * 3;
        &self.frames[row * n..(row + 1) * n]
    }

    pub fn rows(&self) -> usize {
        self.frames.len() / (self.height * self.width * 3).max(1)
    }

    /// Frames for every state row of `data`: the stored frames when the dataset has them at the
    /// renderer's size, else re-rendered from the states with `camera` (the env's default
    /// camera when `None`). `make_env` builds the simulator an episode was recorded in;
    /// `on_rows` is called with the number of rows done (for a progress bar).
    pub fn for_dataset(
        data: &Dataset,
        make_env: &dyn Fn(&EpisodeMeta) -> Box<dyn Env>,
        camera: Option<&str>,
        renderer: &mut Renderer,
        batch: usize,
        on_rows: &dyn Fn(usize),
    ) -> Result<FrameStore, ReplayError> {
        let cfg = renderer.config();
        let (h, w) = (cfg.height as usize, cfg.width as usize);
        if let (Some(spec), Some(frames)) = (&data.manifest.frames, &data.frames)
            && spec.height == h
            && spec.width == w
        {
            return Ok(FrameStore {
                height: h,
                width: w,
                frames: frames.clone(),
            });
        }
        if data.manifest.state_dim == 0 {
            return Err(ReplayError::NoStates);
        }
        let rows: usize = data.episodes.iter().map(|e| e.length + 1).sum();
        let mut frames = Vec::with_capacity(rows * h * w * 3);
        let mut pending: Vec<Scene> = Vec::with_capacity(batch);
        let mut done = 0;
        for meta in &data.episodes {
            let mut env = make_env(meta);
            env.reset(meta.seed, &meta.instruction)?;
            let camera = camera.unwrap_or(env.cameras()[0]).to_string();
            for row in meta.first_row..=meta.first_row + meta.length {
                env.set_state(data.state(row))?;
                pending.push(env.scene(&camera)?);
                if pending.len() == batch.max(1) {
                    done += flush(renderer, &mut pending, &mut frames)?;
                    on_rows(done);
                }
            }
        }
        done += flush(renderer, &mut pending, &mut frames)?;
        on_rows(done);
        Ok(FrameStore {
            height: h,
            width: w,
            frames,
        })
    }
}

/// Renders the frames of one episode's state rows (`states` = (T + 1) × state_dim values) with an
/// env already reset to that episode.
pub fn render_states(
    env: &mut dyn Env,
    states: &[f32],
    state_dim: usize,
    camera: &str,
    renderer: &mut Renderer,
) -> Result<Vec<u8>, ReplayError> {
    let mut scenes = Vec::with_capacity(states.len() / state_dim.max(1));
    for row in states.chunks_exact(state_dim) {
        env.set_state(row)?;
        scenes.push(env.scene(camera)?);
    }
    Ok(renderer.render_batch(&scenes)?.pixels)
}

fn flush(
    renderer: &mut Renderer,
    pending: &mut Vec<Scene>,
    out: &mut Vec<u8>,
) -> Result<usize, ReplayError> {
    if pending.is_empty() {
        return Ok(0);
    }
    let batch = renderer.render_batch(pending)?;
    out.extend_from_slice(&batch.pixels);
    let n = pending.len();
    pending.clear();
    Ok(n)
}
