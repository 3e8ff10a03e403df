//! `write_dataset(dir, manifest, episodes)`: a vlgor dataset written from Python (what
//! `vlgor import` uses), through the same writer as `vlgor collect`, so `vlgor check`,
//! `train-policy` and `view` read it like any other.

use numpy::{PyReadonlyArray1, PyReadonlyArray2, PyReadonlyArrayDyn};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use std::path::PathBuf;
use vlgor_sim::dataset::{ActionSpace, DatasetHeader, DatasetWriter, EpisodeRecord, Manifest};
use vlgor_sim::{Action, Instruction};

use crate::errors::dataset_err;

fn bad(what: &str, e: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(format!("{what}: {e}"))
}

fn get<'py>(d: &Bound<'py, PyDict>, key: &str) -> PyResult<Bound<'py, PyAny>> {
    d.get_item(key)?
        .ok_or_else(|| PyValueError::new_err(format!("episode dict has no '{key}'")))
}

fn flags(d: &Bound<'_, PyDict>, key: &str) -> PyResult<Vec<bool>> {
    let a: PyReadonlyArray1<bool> = get(d, key)?.extract()?;
    Ok(a.as_array().to_vec())
}

fn floats(d: &Bound<'_, PyDict>, key: &str) -> PyResult<Vec<f32>> {
    let a: PyReadonlyArrayDyn<f32> = get(d, key)?.extract()?;
    Ok(a.as_array().iter().copied().collect())
}

fn episode(d: &Bound<'_, PyDict>, space: ActionSpace) -> PyResult<EpisodeRecord> {
    let instruction: Instruction =
        serde_json::from_str(&get(d, "instruction_json")?.extract::<String>()?)
            .map_err(|e| bad("instruction_json", e))?;
    let actions = match space {
        ActionSpace::Discrete { n } => {
            let a: PyReadonlyArray1<i64> = get(d, "actions")?.extract()?;
            a.as_array()
                .iter()
                .map(|&v| {
                    (0..n as i64)
                        .contains(&v)
                        .then_some(Action::Discrete(v as u32))
                        .ok_or_else(|| bad("actions", format!("{v} is outside 0..{n}")))
                })
                .collect::<PyResult<Vec<_>>>()?
        }
        ActionSpace::Continuous { dim } => {
            let a: PyReadonlyArray2<f32> = get(d, "actions")?.extract()?;
            let a = a.as_array();
            if a.ncols() != dim || dim > 4 {
                return Err(bad(
                    "actions",
                    format!("{} columns, expected {dim}", a.ncols()),
                ));
            }
            a.rows()
                .into_iter()
                .map(|r| {
                    let mut v = [0.0; 4];
                    v[..dim].copy_from_slice(&r.to_vec());
                    Action::Continuous(v)
                })
                .collect()
        }
    };
    let frames = match d.get_item("frames")? {
        Some(f) if !f.is_none() => {
            let a: PyReadonlyArrayDyn<u8> = f.extract()?;
            Some(a.as_array().iter().copied().collect())
        }
        _ => None,
    };
    let verdict = match d.get_item("verdict")? {
        Some(v) if !v.is_none() => {
            Some(serde_json::from_str(&v.extract::<String>()?).map_err(|e| bad("verdict", e))?)
        }
        _ => None,
    };
    Ok(EpisodeRecord {
        index: get(d, "index")?.extract()?,
        seed: get(d, "seed")?.extract()?,
        instruction,
        states: floats(d, "states")?,
        observations: floats(d, "observations")?,
        actions,
        rewards: floats(d, "rewards")?,
        success: flags(d, "success")?,
        terminals: flags(d, "terminals")?,
        timeouts: flags(d, "timeouts")?,
        frames,
        verdict,
    })
}

/// Writes a new vlgor dataset at `dir` (which must not hold one) from `manifest` (a manifest
/// as JSON text: its header fields are used; counts and shards are recomputed) and `episodes`
/// (dicts shaped like `open_dataset`'s per-episode slices: index, seed, instruction_json,
/// states, observations, actions, rewards, success, terminals, timeouts, frames, verdict).
/// Shards hold the episode counts of `manifest`'s shard list when it matches, else
/// `collection.episodes_per_shard` each, so re-importing an export rebuilds the same files.
#[pyfunction]
pub fn write_dataset(
    py: Python<'_>,
    dir: PathBuf,
    manifest: &str,
    episodes: &Bound<'_, PyList>,
) -> PyResult<()> {
    let m: Manifest = serde_json::from_str(manifest).map_err(|e| bad("manifest", e))?;
    if dir.join("manifest.json").exists() {
        return Err(PyValueError::new_err(format!(
            "{}: a dataset is already there; import into a new directory",
            dir.display()
        )));
    }
    let records: Vec<EpisodeRecord> = episodes
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let d = e.cast_into::<PyDict>().map_err(|e| bad("episode", e))?;
            episode(&d, m.action_space).map_err(|e| bad(&format!("episode {i}"), e))
        })
        .collect::<PyResult<_>>()?;
    let mut sizes: Vec<usize> = m.shards.iter().map(|s| s.episodes).collect();
    if sizes.iter().sum::<usize>() != records.len() || sizes.contains(&0) {
        let per = m.collection.episodes_per_shard.max(1);
        sizes = records.chunks(per).map(|c| c.len()).collect();
    }
    let header = DatasetHeader::of_manifest(&m);
    py.detach(move || {
        let mut w = DatasetWriter::create_or_resume(&dir, header)?;
        let mut at = 0;
        for n in sizes {
            w.append_shard(&records[at..at + n])?;
            at += n;
        }
        Ok(())
    })
    .map_err(dataset_err)
}
