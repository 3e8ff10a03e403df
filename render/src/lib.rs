//! wgpu renderer for the simulators' plain scene descriptions ([`vlgor_sim::Scene`]).
//!
//! * [`Renderer`] draws scenes headless: depth-tested, lit (ambient + Lambert + soft Blinn
//!   specular), anti-aliased by supersampling (`supersample` x the output size, box filter on
//!   the GPU). Output is RGB8, row 0 = top of the image. [`Renderer::render_batch`] draws N
//!   scenes in one submission with one read-back into a contiguous `[N, H, W, 3]` buffer.
//!   Colours are written as given (linear values, no gamma curve), like MuJoCo's renderer.
//! * [`output`] writes PNG frames, animated GIF rollouts and "real | imagined" strips.
//! * [`viewer`] is the debugging window (winit), usable under Xvfb.
//! * [`demo_scenes`] builds CLEVR-like and Meta-World-like scenes for tests and benchmarks.
//!
//! Adapter choice: a GPU if present, else Mesa's CPU Vulkan driver (lavapipe); see
//! [`Renderer::adapter_info`]. Same scene on the same machine => identical pixels.

pub mod camera;
pub mod demo_scenes;
mod downsample;
mod error;
pub mod frame;
pub mod geometry;
pub mod gpu;
pub mod mesh;
pub mod output;
mod pipelines;
mod renderer;
pub mod viewer;

pub use camera::project;
pub use error::RenderError;
pub use frame::{Frame, FrameBatch};
pub use gpu::AdapterSummary;
pub use renderer::Renderer;

/// Output size and anti-aliasing of a [`Renderer`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RenderConfig {
    /// Output width in pixels (>= 1).
    pub width: u32,
    /// Output height in pixels (>= 1).
    pub height: u32,
    /// Supersampling factor k in 1..=4: scenes are drawn at k*width x k*height and each output
    /// pixel is the mean of a k x k block.
    pub supersample: u32,
}

impl Default for RenderConfig {
    /// 128 x 128, supersample 2.
    fn default() -> Self {
        RenderConfig {
            width: 128,
            height: 128,
            supersample: 2,
        }
    }
}
