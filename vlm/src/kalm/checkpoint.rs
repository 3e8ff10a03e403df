//! Checkpoints of the KALM generator, with the world model's conventions: `config.json` +
//! `weights.safetensors` (transformer, numeric input/output layers, observation statistics) +
//! `adapters.safetensors` (LoRA adapters and the input/output layers, what the LoRA stage
//! trains). Tensor files are written atomically first; `config.json` last, with the format
//! version and each tensor file's sha256, which [`KalmModel::load`] verifies.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

use tch::Device;

use super::config::KalmConfig;
use super::model::{BACKBONE, IO, KalmModel, LORA, STATS};
use crate::tensor_io::{CHECKPOINT_FORMAT_VERSION, check_format_version, verify_sha256};
use crate::world_model::WorldModelError;
use crate::world_model::checkpoint::{
    ADAPTER_FILE, CONFIG_FILE, WEIGHTS_FILE, fill_legacy_env, read_named, read_record, write_named,
    write_record,
};
use crate::world_model::lora::LoraAdapters;

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
            sha256.insert(
                file.to_string(),
                write_named(&self.vs, prefixes, &dir.join(file))?,
            );
        }
        let record = KalmRecord {
            generator: GENERATOR.into(),
            config: self.config().clone(),
            format_version: CHECKPOINT_FORMAT_VERSION,
            sha256,
        };
        write_record(&dir.join(CONFIG_FILE), &record)
    }

    /// Loads a directory written by [`KalmModel::save`], checking the format version, each
    /// tensor file's sha256 and every tensor's shape.
    pub fn load(dir: &Path, device: Device) -> Result<Self, WorldModelError> {
        let path = dir.join(CONFIG_FILE);
        let mut value: serde_json::Value = read_record(&path)?;
        let generator = value.get("generator").and_then(|g| g.as_str());
        if generator != Some(GENERATOR) {
            return Err(WorldModelError::BadInput(format!(
                "{}: not a KALM checkpoint (generator {generator:?}; a world-model run has \
                 none)",
                path.display()
            )));
        }
        if let Some(config) = value.get_mut("config") {
            fill_legacy_env(config);
        }
        let record: KalmRecord =
            serde_json::from_value(value).map_err(|source| WorldModelError::Json {
                path: path.display().to_string(),
                source,
            })?;
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
        let model = KalmModel::new(record.config.clone(), device)?;
        for (file, prefixes) in [(WEIGHTS_FILE, &WEIGHTS[..]), (ADAPTER_FILE, &ADAPTERS[..])] {
            let sha = record.sha256.get(file).ok_or_else(|| {
                WorldModelError::BadInput(format!("{}: no sha256 for {file}", path.display()))
            })?;
            verify_sha256(&dir.join(file), Some(sha)).map_err(WorldModelError::BadInput)?;
            read_named(&model.vs, prefixes, &dir.join(file))?;
        }
        Ok(model)
    }
}

impl crate::world_model::train::Checkpointed for KalmModel {
    fn save(&mut self, dir: &Path) -> Result<(), WorldModelError> {
        KalmModel::save(self, dir)
    }
}
