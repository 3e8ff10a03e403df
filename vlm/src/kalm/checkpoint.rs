//! Checkpoints of the KALM generator, with the world model's conventions: `config.json` +
//! `weights.safetensors` (transformer, numeric input/output layers, observation statistics) +
//! `adapters.safetensors` (LoRA adapters and the input/output layers, what the LoRA stage
//! trains). Tensor files are written atomically first; `config.json` last, with the format
//! version and each tensor file's sha256, which [`KalmModel::load`] verifies.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

use tch::{Device, Tensor};

use super::config::KalmConfig;
use super::model::{BACKBONE, IO, KalmModel, LORA, STATS};
use crate::tensor_io::{CHECKPOINT_FORMAT_VERSION, check_format_version, verify_sha256};
use crate::world_model::WorldModelError;
use crate::world_model::checkpoint::{ADAPTER_FILE, CONFIG_FILE, WEIGHTS_FILE};

/// Prefixes of the weights file and of the adapter file.
const WEIGHTS: [&str; 3] = [BACKBONE, IO, STATS];
const ADAPTERS: [&str; 2] = [LORA, IO];

/// `config.json`: what the file holds, the sizes, and the integrity record.
#[derive(Serialize, Deserialize)]
struct KalmRecord {
    /// Always "kalm" (a world-model directory, which lacks it, fails on load).
    generator: String,
    config: KalmConfig,
    format_version: u32,
    /// Tensor file name → sha256.
    sha256: BTreeMap<String, String>,
}

const GENERATOR: &str = "kalm";

impl KalmModel {
    fn tensors(&self, prefixes: &[&str]) -> Vec<(String, Tensor)> {
        let mut v: Vec<(String, Tensor)> = self
            .vs
            .variables()
            .into_iter()
            .filter(|(k, _)| prefixes.iter().any(|p| k.starts_with(p)))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    fn read_tensors(&mut self, prefixes: &[&str], path: &Path) -> Result<(), WorldModelError> {
        let mut vars = self.vs.variables();
        vars.retain(|k, _| prefixes.iter().any(|p| k.starts_with(p)));
        crate::tensor_io::read_into(path, &vars).map_err(WorldModelError::BadInput)
    }

    /// Writes the checkpoint directory `dir` (see the module doc); the adapters must be
    /// unmerged so the base weights stay W0.
    pub fn save(&mut self, dir: &Path) -> Result<(), WorldModelError> {
        if self.is_merged() {
            return Err(WorldModelError::BadInput(
                "unmerge the LoRA adapters before saving".into(),
            ));
        }
        std::fs::create_dir_all(dir).map_err(|source| WorldModelError::Io {
            path: dir.display().to_string(),
            source,
        })?;
        let mut sha256 = BTreeMap::new();
        for (file, prefixes) in [(WEIGHTS_FILE, &WEIGHTS[..]), (ADAPTER_FILE, &ADAPTERS[..])] {
            let sha =
                crate::tensor_io::write_tensors_atomic(&dir.join(file), &self.tensors(prefixes))
                    .map_err(|e| WorldModelError::Write(e.to_string()))?;
            sha256.insert(file.to_string(), sha);
        }
        let record = KalmRecord {
            generator: GENERATOR.into(),
            config: self.config().clone(),
            format_version: CHECKPOINT_FORMAT_VERSION,
            sha256,
        };
        let path = dir.join(CONFIG_FILE);
        let json =
            serde_json::to_string_pretty(&record).map_err(|source| WorldModelError::Json {
                path: path.display().to_string(),
                source,
            })?;
        vlgor_sim::dataset::write_atomic(&path, json.as_bytes())
            .map_err(|e| WorldModelError::Write(e.to_string()))
    }

    /// Loads a directory written by [`KalmModel::save`], checking the format version, each
    /// tensor file's sha256 and every tensor's shape.
    pub fn load(dir: &Path, device: Device) -> Result<Self, WorldModelError> {
        let path = dir.join(CONFIG_FILE);
        let text = std::fs::read_to_string(&path).map_err(|source| WorldModelError::Io {
            path: path.display().to_string(),
            source,
        })?;
        let json_error = |source| WorldModelError::Json {
            path: path.display().to_string(),
            source,
        };
        let value: serde_json::Value = serde_json::from_str(&text).map_err(json_error)?;
        let generator = value.get("generator").and_then(|g| g.as_str());
        if generator != Some(GENERATOR) {
            return Err(WorldModelError::BadInput(format!(
                "{}: not a KALM checkpoint (generator {generator:?}; a world-model run has \
                 none)",
                path.display()
            )));
        }
        let record: KalmRecord = serde_json::from_value(value).map_err(json_error)?;
        check_format_version(
            &path,
            Some(record.format_version),
            CHECKPOINT_FORMAT_VERSION,
        )
        .map_err(WorldModelError::BadInput)?;
        record
            .config
            .validate()
            .map_err(|e| WorldModelError::BadInput(format!("{}: {e}", path.display())))?;
        let mut model = KalmModel::new(record.config.clone(), device)?;
        for (file, prefixes) in [(WEIGHTS_FILE, &WEIGHTS[..]), (ADAPTER_FILE, &ADAPTERS[..])] {
            let sha = record.sha256.get(file).ok_or_else(|| {
                WorldModelError::BadInput(format!("{}: no sha256 for {file}", path.display()))
            })?;
            verify_sha256(&dir.join(file), Some(sha)).map_err(WorldModelError::BadInput)?;
            model.read_tensors(prefixes, &dir.join(file))?;
        }
        Ok(model)
    }
}
