//! Training the KALM generator: the base stage (every weight but the adapters, from scratch on
//! the data) and the LoRA stage (adapters and the numeric input/output layers on a frozen
//! transformer, KALM's fine-tuning of a language model), Adam over the trainable tensors only.

use std::path::PathBuf;

use tch::Tensor;

use super::data::{Trajectory, TrajectoryBatch, batch_losses};
use super::model::KalmModel;
use crate::world_model::lora::LoraAdapters;
use crate::world_model::train::{EpochSettings, fit};
use crate::world_model::{Stage, TextSource, TrainEvent, TrainReport, WorldModelError};

/// Training settings.
#[derive(Clone, Debug)]
pub struct KalmTrainOptions {
    pub stage: Stage,
    pub epochs: usize,
    /// Trajectories per update.
    pub batch_size: usize,
    pub learning_rate: f64,
    /// Seeds shuffling (call `tch::manual_seed` before building the model for the weights).
    pub seed: u64,
    /// Written after every epoch (see [`KalmModel::save`]); `None` = no checkpoints.
    pub checkpoint_dir: Option<PathBuf>,
    /// Epochs already done (resume): training runs epochs `first_epoch..epochs`, each epoch's
    /// order seeded by (seed, epoch).
    pub first_epoch: usize,
}

/// Trains `model` on `set`, calling `on_update` after every update (losses reported as
/// (total, observation, action); `TrainReport::epoch_losses` likewise). A non-finite loss stops
/// training with an error naming the epoch (the last checkpoint stays intact).
pub fn train_kalm(
    model: &mut KalmModel,
    text: &mut dyn TextSource,
    set: &[Trajectory],
    opts: &KalmTrainOptions,
    on_update: &mut dyn FnMut(&TrainEvent),
) -> Result<TrainReport, WorldModelError> {
    if set.is_empty() || opts.batch_size == 0 || opts.epochs == 0 {
        return Err(WorldModelError::BadInput(format!(
            "need trajectories ({}), batch_size ({}) and epochs ({}) >= 1",
            set.len(),
            opts.batch_size,
            opts.epochs
        )));
    }
    if model.is_merged() {
        return Err(WorldModelError::BadInput(
            "unmerge the LoRA adapters before training".into(),
        ));
    }
    let trainable = model.set_stage(opts.stage);
    let total = model.parameter_count("");
    let plan = opts.epoch_plan(set.len());
    let mut loss =
        |m: &mut KalmModel, chunk: &[usize]| -> Result<(Tensor, [f64; 3]), WorldModelError> {
            let items: Vec<&Trajectory> = chunk.iter().map(|&i| &set[i]).collect();
            let batch = TrajectoryBatch::new(&items, m.config(), m.device())?;
            let [total, obs, action] = batch_losses(m, text, &batch)?;
            let values = [&total, &obs, &action].map(|t| t.double_value(&[]));
            Ok((total, values))
        };
    let dir = opts.checkpoint_dir.as_deref();
    fit(model, &trainable, total, &plan, &mut loss, dir, on_update)
}
