//! `vlgor._vlgor`: the native half of the `vlgor` Python package, over `vlgor-sim` and
//! `vlgor-render` only (no libtorch, so it cannot clash with the user's torch).
//!
//! * [`batch::SimBatch`] — N simulators stepped, reset and rendered per call, GIL released.
//! * [`dataset::open_dataset`] — a vlgor dataset as NumPy arrays, checksums verified;
//!   [`dataset_write::write_dataset`] — one written from arrays (imports).
//! * `episode_seed(seed, level, index)` — the seed of `vlgor eval`'s episode `index`.
//!
//! The Gymnasium classes are Python (`vlgor/envs.py`) on top of these.

mod batch;
mod dataset;
mod dataset_write;
mod errors;
mod render;
mod slot;

use pyo3::prelude::*;

use errors::sim_err;

/// The seed of episode `index` of evaluation `seed` at `level`, as `vlgor eval` draws it:
/// `env.reset(seed=episode_seed(s, level, i))` meets the same episode as the evaluation.
#[pyfunction]
fn episode_seed(seed: u64, level: &str, index: usize) -> PyResult<u64> {
    let level = level.parse().map_err(sim_err)?;
    Ok(vlgor_sim::episode::episode_seed(seed, level, index))
}

/// The ten Meta-World task names, in the simulator's order.
#[pyfunction]
fn metaworld_tasks() -> Vec<&'static str> {
    batch::task_names()
}

/// The instruction levels `env` defines (`clevr`: five, `metaworld`: four).
#[pyfunction]
fn levels(env: &str) -> PyResult<Vec<&'static str>> {
    let kind: vlgor_sim::EnvKind = env.parse().map_err(sim_err)?;
    Ok(vlgor_sim::Level::of_env(kind)
        .iter()
        .map(|l| l.name())
        .collect())
}

#[pymodule]
fn _vlgor(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<batch::SimBatch>()?;
    m.add_function(wrap_pyfunction!(dataset::open_dataset, m)?)?;
    m.add_function(wrap_pyfunction!(dataset_write::write_dataset, m)?)?;
    m.add_function(wrap_pyfunction!(episode_seed, m)?)?;
    m.add_function(wrap_pyfunction!(metaworld_tasks, m)?)?;
    m.add_function(wrap_pyfunction!(levels, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
