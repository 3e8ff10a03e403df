//! Checkpoints: `config.json` + `weights.safetensors` (backbone and heads), and LoRA adapter files
//! (`lora.*` and `heads.*` only). Files are written to a temporary name and renamed (atomic).
//! The tensor files are written first; `config.json` last, with the format version and the
//! sha256 of each tensor file, which [`WorldModel::load`] verifies (a `config.json` of an
//! earlier release, without them, loads unverified with a warning).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use tch::nn::VarStore;
use tch::{Device, Tensor};

use super::config::{ActionSpace, WorldModelConfig};
use super::error::WorldModelError;
use super::model::{BACKBONE, HEADS, LORA, WorldModel};
use crate::tensor_io::{CHECKPOINT_FORMAT_VERSION, check_format_version, verify_sha256};

/// `config.json`: the model's sizes plus the integrity record of the tensor files.
#[derive(Serialize, Deserialize)]
struct CheckpointJson {
    #[serde(flatten)]
    config: WorldModelConfig,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    format_version: Option<u32>,
    /// Tensor file name → sha256.
    #[serde(default)]
    sha256: BTreeMap<String, String>,
}

/// File names inside a checkpoint directory.
pub const CONFIG_FILE: &str = "config.json";
pub const WEIGHTS_FILE: &str = "weights.safetensors";
pub const ADAPTER_FILE: &str = "adapters.safetensors";

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> WorldModelError + '_ {
    move |source| WorldModelError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// The variables of `vs` under `prefixes`, sorted by name.
pub(crate) fn named_with(vs: &VarStore, prefixes: &[&str]) -> Vec<(String, Tensor)> {
    let mut v: Vec<(String, Tensor)> = vs
        .variables()
        .into_iter()
        .filter(|(k, _)| prefixes.iter().any(|p| k.starts_with(p)))
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

/// Writes the variables of `vs` under `prefixes` to `path` atomically; returns its sha256.
pub(crate) fn write_named(
    vs: &VarStore,
    prefixes: &[&str],
    path: &Path,
) -> Result<String, WorldModelError> {
    crate::tensor_io::write_tensors_atomic(path, &named_with(vs, prefixes))
        .map_err(|e| WorldModelError::Write(e.to_string()))
}

/// Copies every tensor of `path` into the variable of the same name; the file must hold
/// exactly the variables under `prefixes`, with their shapes.
pub(crate) fn read_named(
    vs: &VarStore,
    prefixes: &[&str],
    path: &Path,
) -> Result<(), WorldModelError> {
    let mut vars = vs.variables();
    vars.retain(|k, _| prefixes.iter().any(|p| k.starts_with(p)));
    crate::tensor_io::read_into(path, &vars).map_err(WorldModelError::BadInput)
}

/// Writes `record` as pretty JSON to `path` atomically (a checkpoint's `config.json`).
pub(crate) fn write_record(path: &Path, record: &impl Serialize) -> Result<(), WorldModelError> {
    let json = serde_json::to_string_pretty(record).map_err(|source| WorldModelError::Json {
        path: path.display().to_string(),
        source,
    })?;
    vlgor_sim::dataset::write_atomic(path, json.as_bytes())
        .map_err(|e| WorldModelError::Write(e.to_string()))
}

/// Fills in `config.env` of a `config.json` written before configs recorded their simulator:
/// the simulator of its action space (a record whose action space is unreadable is left as is,
/// and fails to parse with the field named).
pub(crate) fn fill_legacy_env(config: &mut serde_json::Value) {
    let Some(fields) = config.as_object_mut() else {
        return;
    };
    if fields.contains_key("env") {
        return;
    }
    let space = fields
        .get("action_space")
        .and_then(|a| serde_json::from_value::<ActionSpace>(a.clone()).ok());
    if let Some(space) = space {
        let env = serde_json::to_value(space.legacy_env()).expect("an env name serializes");
        fields.insert("env".into(), env);
    }
}

/// Reads the JSON file `path` (a checkpoint's `config.json`).
pub(crate) fn read_record<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, WorldModelError> {
    let text = fs::read_to_string(path).map_err(io(path))?;
    serde_json::from_str(&text).map_err(|source| WorldModelError::Json {
        path: path.display().to_string(),
        source,
    })
}

impl WorldModel {
    fn write_named(&self, prefixes: &[&str], path: &Path) -> Result<String, WorldModelError> {
        write_named(&self.vs, prefixes, path)
    }

    fn read_named(&mut self, prefixes: &[&str], path: &Path) -> Result<(), WorldModelError> {
        read_named(&self.vs, prefixes, path)
    }

    /// Writes `dir/weights.safetensors` (backbone + heads), `dir/adapters.safetensors`, then
    /// `dir/config.json` with their sha256. The adapters must be unmerged, so the base weights
    /// stay W0.
    pub fn save(&mut self, dir: &Path) -> Result<(), WorldModelError> {
        if self.is_merged() {
            return Err(WorldModelError::BadInput(
                "unmerge the LoRA adapters before saving".into(),
            ));
        }
        fs::create_dir_all(dir).map_err(io(dir))?;
        let weights = self.write_named(&[BACKBONE, HEADS], &dir.join(WEIGHTS_FILE))?;
        let adapters = self.write_named(&[LORA, HEADS], &dir.join(ADAPTER_FILE))?;
        let record = CheckpointJson {
            config: self.config().clone(),
            format_version: Some(CHECKPOINT_FORMAT_VERSION),
            sha256: BTreeMap::from([
                (WEIGHTS_FILE.to_string(), weights),
                (ADAPTER_FILE.to_string(), adapters),
            ]),
        };
        write_record(&dir.join(CONFIG_FILE), &record)
    }

    /// Loads a checkpoint directory written by [`WorldModel::save`] (adapters too, if present),
    /// checking the format version, each tensor file's sha256 and every tensor's shape.
    pub fn load(dir: &Path, device: Device) -> Result<Self, WorldModelError> {
        let cfg = dir.join(CONFIG_FILE);
        let mut value: serde_json::Value = read_record(&cfg)?;
        fill_legacy_env(&mut value);
        let record: CheckpointJson =
            serde_json::from_value(value).map_err(|source| WorldModelError::Json {
                path: cfg.display().to_string(),
                source,
            })?;
        check_format_version(&cfg, record.format_version, CHECKPOINT_FORMAT_VERSION)
            .map_err(WorldModelError::BadInput)?;
        record
            .config
            .validate()
            .map_err(|e| WorldModelError::BadInput(format!("{}: {e}", cfg.display())))?;
        let verify = |file: &str| {
            verify_sha256(&dir.join(file), record.sha256.get(file).map(String::as_str))
                .map_err(WorldModelError::BadInput)
        };
        let mut model = WorldModel::new(record.config.clone(), device)?;
        verify(WEIGHTS_FILE)?;
        model.read_named(&[BACKBONE, HEADS], &dir.join(WEIGHTS_FILE))?;
        let adapters = dir.join(ADAPTER_FILE);
        if adapters.exists() {
            verify(ADAPTER_FILE)?;
            model.load_adapters(&adapters)?;
        }
        Ok(model)
    }

    /// Saves the LoRA adapters and the two heads (what the LoRA stage trains) to one safetensors
    /// file.
    pub fn save_adapters(&mut self, path: &Path) -> Result<(), WorldModelError> {
        if self.is_merged() {
            return Err(WorldModelError::BadInput(
                "unmerge the LoRA adapters before saving".into(),
            ));
        }
        self.write_named(&[LORA, HEADS], path).map(|_| ())
    }

    /// Loads a file written by [`WorldModel::save_adapters`]; the adapters must be unmerged.
    pub fn load_adapters(&mut self, path: &Path) -> Result<(), WorldModelError> {
        if self.is_merged() {
            return Err(WorldModelError::BadInput(
                "unmerge the LoRA adapters before loading".into(),
            ));
        }
        self.read_named(&[LORA, HEADS], path)
    }
}
