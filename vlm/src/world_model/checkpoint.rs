//! Checkpoints: `config.json` + `weights.safetensors` (backbone and heads), and LoRA adapter files
//! (`lora.*` and `heads.*` only). Files are written to a temporary name and renamed (atomic).

use std::fs;
use std::path::Path;

use tch::{Device, Tensor};

use super::config::WorldModelConfig;
use super::error::WorldModelError;
use super::model::{BACKBONE, HEADS, LORA, WorldModel};

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

impl WorldModel {
    fn named_with(&self, prefixes: &[&str]) -> Vec<(String, Tensor)> {
        let mut v: Vec<(String, Tensor)> = self
            .vs
            .variables()
            .into_iter()
            .filter(|(k, _)| prefixes.iter().any(|p| k.starts_with(p)))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    fn write_named(&self, prefixes: &[&str], path: &Path) -> Result<(), WorldModelError> {
        crate::tensor_io::write_tensors_atomic(path, &self.named_with(prefixes))
            .map_err(|e| WorldModelError::Write(e.to_string()))
    }

    /// Copies every tensor of `path` into the variable of the same name; names outside `prefixes`
    /// or unknown names are errors.
    fn read_named(&mut self, prefixes: &[&str], path: &Path) -> Result<usize, WorldModelError> {
        let vars = self.vs.variables();
        let loaded = Tensor::read_safetensors(path)?;
        for (name, t) in &loaded {
            let dst = vars
                .get(name)
                .filter(|_| prefixes.iter().any(|p| name.starts_with(p)))
                .ok_or_else(|| {
                    WorldModelError::BadInput(format!(
                        "{} holds unexpected tensor '{name}'",
                        path.display()
                    ))
                })?;
            if dst.size() != t.size() {
                return Err(WorldModelError::BadInput(format!(
                    "{}: '{name}' has shape {:?}, the model expects {:?}",
                    path.display(),
                    t.size(),
                    dst.size()
                )));
            }
            tch::no_grad(|| dst.shallow_clone().copy_(t));
        }
        Ok(loaded.len())
    }

    /// Writes `dir/config.json`, `dir/weights.safetensors` (backbone + heads) and
    /// `dir/adapters.safetensors`. The adapters must be unmerged, so the base weights stay W0.
    pub fn save(&mut self, dir: &Path) -> Result<(), WorldModelError> {
        if self.is_merged() {
            return Err(WorldModelError::BadInput(
                "unmerge the LoRA adapters before saving".into(),
            ));
        }
        fs::create_dir_all(dir).map_err(io(dir))?;
        let cfg = dir.join(CONFIG_FILE);
        let json = serde_json::to_string_pretty(self.config()).map_err(|source| {
            WorldModelError::Json {
                path: cfg.display().to_string(),
                source,
            }
        })?;
        vlgor_sim::dataset::write_atomic(&cfg, json.as_bytes())
            .map_err(|e| WorldModelError::Write(e.to_string()))?;
        self.write_named(&[BACKBONE, HEADS], &dir.join(WEIGHTS_FILE))?;
        self.save_adapters(&dir.join(ADAPTER_FILE))
    }

    /// Loads a checkpoint directory written by [`WorldModel::save`] (adapters too, if present).
    pub fn load(dir: &Path, device: Device) -> Result<Self, WorldModelError> {
        let cfg = dir.join(CONFIG_FILE);
        let text = fs::read_to_string(&cfg).map_err(io(&cfg))?;
        let config: WorldModelConfig =
            serde_json::from_str(&text).map_err(|source| WorldModelError::Json {
                path: cfg.display().to_string(),
                source,
            })?;
        let mut model = WorldModel::new(config, device)?;
        model.read_named(&[BACKBONE, HEADS], &dir.join(WEIGHTS_FILE))?;
        let adapters = dir.join(ADAPTER_FILE);
        if adapters.exists() {
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
        self.write_named(&[LORA, HEADS], path)
    }

    /// Loads a file written by [`WorldModel::save_adapters`]; the adapters must be unmerged.
    pub fn load_adapters(&mut self, path: &Path) -> Result<(), WorldModelError> {
        if self.is_merged() {
            return Err(WorldModelError::BadInput(
                "unmerge the LoRA adapters before loading".into(),
            ));
        }
        self.read_named(&[LORA, HEADS], path).map(|_| ())
    }
}
