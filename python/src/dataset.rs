//! `open_dataset(dir)`: a vlgor dataset as NumPy arrays, opened with the same checks as the CLI
//! (manifest format and version, every shard's size and sha256, every tensor's dtype and shape).

use numpy::IntoPyArray;
use numpy::ndarray::{Array1, Array2, Array4};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use std::path::PathBuf;
use vlgor_sim::dataset::{ActionColumn, Dataset};

use crate::errors::dataset_err;

fn json(v: &impl serde::Serialize) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

fn rows<'py, T: numpy::Element>(
    py: Python<'py>,
    values: Vec<T>,
    rows: usize,
) -> PyResult<Bound<'py, PyAny>> {
    let dim = values.len().checked_div(rows).unwrap_or(0);
    let a = Array2::from_shape_vec((rows, dim), values)
        .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))?;
    Ok(a.into_pyarray(py).into_any())
}

/// Opens the dataset at `dir` (checksums verified) and returns a dict of arrays:
/// `observations [rows, obs_dim]` f32, `states [rows, state_dim]` f32 (empty for imagined data),
/// `actions` (`[T]` int64 or `[T, 4]` f32), `rewards [T]` f32, `success`, `terminals`,
/// `timeouts [T]` bool, `frames [rows, H, W, 3]` uint8 or None, `transition_episode [T]`
/// int64, `episodes` (a list of dicts: index, seed, instruction, goal (JSON), level, length,
/// first_row, first_transition) and `manifest` (the manifest as JSON text). An episode of T
/// transitions owns T + 1 observation rows.
#[pyfunction]
pub fn open_dataset<'py>(py: Python<'py>, dir: PathBuf) -> PyResult<Bound<'py, PyDict>> {
    let data: Dataset = py
        .detach(|| Dataset::open(&dir, None))
        .map_err(dataset_err)?;
    let out = PyDict::new(py);
    let n_rows: usize = data.episodes.iter().map(|e| e.length + 1).sum();
    let t = data.transitions();
    out.set_item("observations", rows(py, data.observations, n_rows)?)?;
    let states = if data.states.is_empty() { 0 } else { n_rows };
    out.set_item("states", rows(py, data.states, states)?)?;
    match data.actions {
        ActionColumn::Discrete(v) => out.set_item("actions", Array1::from(v).into_pyarray(py))?,
        ActionColumn::Continuous { values, .. } => out.set_item("actions", rows(py, values, t)?)?,
    }
    out.set_item("rewards", Array1::from(data.rewards).into_pyarray(py))?;
    for (name, flags) in [
        ("success", data.success),
        ("terminals", data.terminals),
        ("timeouts", data.timeouts),
    ] {
        let b: Vec<bool> = flags.into_iter().map(|f| f != 0).collect();
        out.set_item(name, Array1::from(b).into_pyarray(py))?;
    }
    match (data.frames, &data.manifest.frames) {
        (Some(px), Some(spec)) => {
            let a = Array4::from_shape_vec((n_rows, spec.height, spec.width, 3), px)
                .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))?;
            out.set_item("frames", a.into_pyarray(py))?;
        }
        _ => out.set_item("frames", py.None())?,
    }
    let te: Vec<i64> = data.transition_episode.iter().map(|&e| e as i64).collect();
    out.set_item("transition_episode", Array1::from(te).into_pyarray(py))?;
    let episodes = PyList::empty(py);
    for e in &data.episodes {
        let d = PyDict::new(py);
        d.set_item("index", e.index)?;
        d.set_item("seed", e.seed)?;
        d.set_item("instruction", &e.instruction.text)?;
        d.set_item(
            "goal",
            serde_json::to_string(&e.instruction.goal).unwrap_or_default(),
        )?;
        d.set_item("level", e.instruction.level.name())?;
        d.set_item("length", e.length)?;
        d.set_item("first_row", e.first_row)?;
        d.set_item("first_transition", e.first_transition)?;
        d.set_item("instruction_json", json(&e.instruction))?;
        d.set_item("verdict", e.verdict.as_ref().map(json))?;
        episodes.append(d)?;
    }
    out.set_item("episodes", episodes)?;
    out.set_item(
        "manifest",
        serde_json::to_string(&data.manifest).unwrap_or_default(),
    )?;
    Ok(out)
}
