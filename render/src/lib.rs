//! wgpu renderer for the simulators' plain scene descriptions ([`vlgor_sim::Scene`]).
//!
//! * [`Renderer`] draws scenes headless: depth-tested, lit per vertex (ambient + Lambert + soft
//!   Blinn specular, up to 4 directional lights; no shadows), anti-aliased by supersampling
//!   (`supersample` x the output size, exact integer box filter at read-back). Output is RGB8,
//!   row 0 = top of the image. [`Renderer::render_batch`] draws N scenes in one submission
//!   with one read-back into a contiguous `[N, H, W, 3]` buffer. Colours are written as given
//!   (linear values, no gamma curve), like MuJoCo's renderer.
//! * [`output`] writes PNG frames, animated GIF rollouts and "real | imagined" strips.
//! * [`viewer`] is the debugging window (winit), usable under Xvfb.
//! * [`demo_scenes`] builds CLEVR-like and Meta-World-like scenes for tests and benchmarks.
//!
//! Adapter choice: a GPU if present, else Mesa's CPU Vulkan driver (lavapipe); see
//! [`Renderer::adapter_info`]. Same scene on the same machine => identical pixels, and a
//! scene's pixels do not depend on the rest of its batch.
//!
//! Speed notes for lavapipe (measured, see `examples/throughput.rs`): shaders must not branch
//! or loop on uniform values (lavapipe then recompiles the shader at every draw: 30 ms per draw
//! without its disk cache); each scene is one indexed draw of CPU-built world-space triangles;
//! spheres and cylinders use coarser meshes when they cover few pixels; lighting is per vertex.

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
pub mod replay;
pub mod viewer;

pub use camera::project;
pub use error::RenderError;
pub use frame::{Frame, FrameBatch};
pub use gpu::AdapterSummary;
pub use renderer::{READBACK_BUDGET_BYTES, Renderer};
pub use replay::{FrameStore, ReplayError, render_states};

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

/// The CI / `doctor` check: opens the headless adapter, renders one 128x128 scene with no
/// shapes and checks that every pixel is the background colour (0.2, 0.4, 0.6) -> (51, 102,
/// 153). Returns the adapter used.
pub fn smoke_check() -> Result<AdapterSummary, RenderError> {
    let mut renderer = Renderer::new(RenderConfig::default())?;
    let scene = vlgor_sim::Scene {
        shapes: Vec::new(),
        camera: demo_scenes::clevr_camera(),
        lights: Vec::new(),
        ambient: 0.3,
        background: [0.2, 0.4, 0.6],
    };
    let frame = renderer.render(&scene)?;
    let bad = frame
        .pixels
        .chunks(3)
        .filter(|p| *p != [51, 102, 153])
        .count();
    if frame.width != 128 || frame.height != 128 || bad > 0 {
        return Err(RenderError::Gpu(format!(
            "smoke check on {}: a cleared {}x{} frame has {bad} pixels that are not the \
             background colour",
            renderer.adapter_info(),
            frame.width,
            frame.height
        )));
    }
    Ok(renderer.adapter_info().clone())
}
