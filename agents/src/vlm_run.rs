//! A world-model run directory and what commands load from it.
//!
//! ```text
//! RUN/base/      base stage: config.json, weights.safetensors, adapters.safetensors,
//!                progress.json (epochs done), train.json (finished: report)
//! RUN/lora/      LoRA stage, same files (weights = the frozen base; adapters + heads trained)
//! RUN/full/      full fine-tuning (the comparison to LoRA), same files
//! RUN/readout/   readout.safetensors + readout.json (kind, frame size, held-out error)
//! ```

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use vlgor_sim::EnvKind;
use vlgor_vlm::perception::{ReadoutKind, StateReadout};
use vlgor_vlm::world_model::{WorldModel, WorldModelError};

use crate::context::Context;
use crate::error::CliError;

pub const READOUT_WEIGHTS: &str = "readout.safetensors";
pub const READOUT_META: &str = "readout.json";
pub const PROGRESS_FILE: &str = "progress.json";
pub const REPORT_FILE: &str = "train.json";

/// Maps world-model errors: bad input is exit status 2, the rest 1.
pub fn vlm_error(e: WorldModelError) -> CliError {
    match e {
        WorldModelError::BadInput(m) => CliError::Input(m),
        e @ (WorldModelError::Json { .. } | WorldModelError::Io { .. }) => {
            CliError::Input(e.to_string())
        }
        other => CliError::Other(anyhow::anyhow!("{other}")),
    }
}

/// What `readout.json` records.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ReadoutMeta {
    /// Absent in readouts of earlier releases.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format_version: Option<u32>,
    /// sha256 of `readout.safetensors`; absent (unverified) in readouts of earlier releases.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights_sha256: Option<String>,
    pub kind: ReadoutKind,
    pub image_size: i64,
    /// Mean position error (m) on freshly rendered held-out frames.
    pub heldout_error_m: f64,
    pub heldout_frames: usize,
    pub train_seconds: f64,
    pub parameters: i64,
}

/// Epochs finished so far (`progress.json`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StageProgress {
    pub epochs_done: usize,
    pub epochs: usize,
}

/// Paths of a run directory.
#[derive(Clone, Debug)]
pub struct VlmRun {
    pub dir: PathBuf,
}

impl VlmRun {
    pub fn new(dir: &Path) -> Self {
        VlmRun {
            dir: dir.to_path_buf(),
        }
    }

    pub fn stage_dir(&self, stage: &str) -> PathBuf {
        self.dir.join(stage)
    }

    pub fn readout_dir(&self) -> PathBuf {
        self.dir.join("readout")
    }

    /// Whether `stage` finished (its report exists).
    pub fn finished(&self, stage: &str) -> bool {
        self.stage_dir(stage).join(REPORT_FILE).is_file()
    }

    /// Stage `stage` (base, lora or full) loaded for inference, LoRA merged; the stage must have
    /// finished.
    pub fn load_stage(&self, ctx: &Context, stage: &str) -> Result<WorldModel, CliError> {
        let dir = self.stage_dir(stage);
        if !self.finished(stage) {
            return Err(CliError::Input(format!(
                "{} holds no finished '{stage}' stage",
                self.dir.display()
            )));
        }
        let mut m = WorldModel::load(&dir, ctx.device)
            .map_err(|e| CliError::Input(format!("{}: {e}", dir.display())))?;
        m.merge_lora();
        Ok(m)
    }

    /// The model to imagine with: the LoRA stage merged if it finished, else full fine-tuning,
    /// else the base model; returns it with the stage name.
    pub fn load_for_inference(
        &self,
        ctx: &Context,
    ) -> Result<(WorldModel, &'static str), CliError> {
        for stage in ["lora", "full", "base"] {
            if self.finished(stage) {
                return Ok((self.load_stage(ctx, stage)?, stage));
            }
        }
        Err(CliError::Input(format!(
            "{} holds no finished world-model stage (base/, lora/ or full/ with {REPORT_FILE}); \
             train one with `vlgor train-vlm --stage base --out {}`",
            self.dir.display(),
            self.dir.display()
        )))
    }
}

/// Loads a readout from `dir` (`readout.safetensors` + `readout.json`) for `env`.
pub fn load_readout(ctx: &Context, dir: &Path, env: EnvKind) -> Result<StateReadout, CliError> {
    let meta_path = dir.join(READOUT_META);
    let text = std::fs::read_to_string(&meta_path).map_err(|e| {
        CliError::Input(format!(
            "{}: {e}; train a readout with `vlgor train-vlm --stage readout --out RUN`",
            meta_path.display()
        ))
    })?;
    let meta: ReadoutMeta = serde_json::from_str(&text)
        .map_err(|e| CliError::Input(format!("{}: {e}", meta_path.display())))?;
    vlgor_vlm::tensor_io::check_format_version(
        &meta_path,
        meta.format_version,
        vlgor_vlm::tensor_io::CHECKPOINT_FORMAT_VERSION,
    )
    .map_err(CliError::Input)?;
    if meta.kind != ReadoutKind::for_env(env) {
        return Err(CliError::Input(format!(
            "{} reads {:?} states, not {env:?} ones",
            dir.display(),
            meta.kind
        )));
    }
    let mut r = StateReadout::new(meta.kind, meta.image_size, ctx.device).map_err(vlm_error)?;
    r.load_verified(&dir.join(READOUT_WEIGHTS), meta.weights_sha256.as_deref())
        .map_err(|e| CliError::Input(e.to_string()))?;
    Ok(r)
}

/// A renderer producing square `size`-px frames (the world model's and readout's input).
pub fn renderer(ctx: &Context, size: i64) -> Result<vlgor_render::Renderer, CliError> {
    vlgor_render::Renderer::new(vlgor_render::RenderConfig {
        width: size as u32,
        height: size as u32,
        supersample: ctx.config.render.supersample,
    })
    .map_err(|e| CliError::Other(e.into()))
}

/// Writes `value` as pretty JSON atomically.
pub fn write_json(path: &Path, value: &impl Serialize) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(value).map_err(|e| CliError::Other(e.into()))?;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| CliError::Other(e.into()))?;
    }
    vlgor_sim::dataset::write_atomic(path, text.as_bytes()).map_err(|e| CliError::Other(e.into()))
}

/// Reads JSON written by [`write_json`]; `None` when the file is absent.
pub fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Option<T>, CliError> {
    match std::fs::read_to_string(path) {
        Ok(t) => serde_json::from_str(&t)
            .map(Some)
            .map_err(|e| CliError::Input(format!("{}: corrupt JSON: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(CliError::Input(format!("{}: {e}", path.display()))),
    }
}
