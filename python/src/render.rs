//! One renderer per process, opened on first use and shared by every environment (opening a
//! wgpu device costs far more than drawing a frame).

use std::sync::{Mutex, OnceLock};
use vlgor_render::{FrameBatch, RenderConfig, Renderer};
use vlgor_sim::{Env, Scene};

use crate::errors::{render_err, sim_err};
use pyo3::PyResult;

static RENDERER: OnceLock<Result<Mutex<Renderer>, String>> = OnceLock::new();

/// The scene of `env` from its default camera.
pub fn default_scene(env: &dyn Env) -> PyResult<Scene> {
    env.scene(env.cameras()[0]).map_err(sim_err)
}

/// Draws `scenes` at 128 x 128 (supersample 2, the presets' setting) into `[N, 128, 128, 3]`.
pub fn render_scenes(scenes: &[Scene]) -> PyResult<FrameBatch> {
    let renderer = RENDERER.get_or_init(|| {
        Renderer::new(RenderConfig::default())
            .map(Mutex::new)
            .map_err(|e| e.to_string())
    });
    let renderer = renderer
        .as_ref()
        .map_err(|e| pyo3::exceptions::PyRuntimeError::new_err(format!("no renderer: {e}")))?;
    let mut r = renderer.lock().unwrap_or_else(|p| p.into_inner());
    r.render_batch(scenes).map_err(render_err)
}
