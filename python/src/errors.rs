//! Rust errors as Python exceptions: bad names, actions and states are `ValueError`, dataset
//! problems `ValueError` naming the file, renderer failures `RuntimeError`.

use pyo3::PyErr;
use pyo3::exceptions::{PyRuntimeError, PyValueError};

pub fn sim_err(e: vlgor_sim::SimError) -> PyErr {
    match e {
        vlgor_sim::SimError::PhysicsDiverged(_) => PyRuntimeError::new_err(e.to_string()),
        other => PyValueError::new_err(other.to_string()),
    }
}

pub fn render_err(e: vlgor_render::RenderError) -> PyErr {
    PyRuntimeError::new_err(e.to_string())
}

pub fn dataset_err(e: vlgor_sim::dataset::DatasetError) -> PyErr {
    PyValueError::new_err(e.to_string())
}
