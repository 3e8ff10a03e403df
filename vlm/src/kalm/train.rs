//! Training the KALM generator: the base stage (every weight but the adapters, from scratch on
//! the data) and the LoRA stage (adapters and the numeric input/output layers on a frozen
//! transformer, KALM's fine-tuning of a language model), Adam over the trainable tensors only.

use std::path::PathBuf;
use std::time::Instant;

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use tch::COptimizer;

use super::data::{Trajectory, TrajectoryBatch, batch_losses};
use super::model::KalmModel;
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
    let mut opt = COptimizer::adam(opts.learning_rate, 0.9, 0.999, 0.0, 1e-8, false)?;
    for (_, t) in &trainable {
        opt.add_parameters(t, 0)?;
    }
    let start = Instant::now();
    let (mut steps, mut seen) = (0, 0);
    let mut epoch_losses = Vec::new();
    for epoch in opts.first_epoch..opts.epochs {
        let mut order: Vec<usize> = (0..set.len()).collect();
        let seed = opts
            .seed
            .wrapping_mul(0x2545_F491)
            .wrapping_add(epoch as u64);
        order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
        let (mut sums, mut count) = ([0f64; 3], 0usize);
        let chunks: Vec<&[usize]> = order.chunks(opts.batch_size).collect();
        for (k, chunk) in chunks.iter().enumerate() {
            let items: Vec<&Trajectory> = chunk.iter().map(|&i| &set[i]).collect();
            let batch = TrajectoryBatch::new(&items, model.config(), model.device())?;
            let l = batch_losses(model, text, &batch)?;
            let loss = [0, 1, 2].map(|i| l[i].double_value(&[]));
            if loss.iter().any(|v| !v.is_finite()) {
                return Err(WorldModelError::BadInput(format!(
                    "non-finite loss {loss:?} in epoch {} update {}; lower the learning rate",
                    epoch + 1,
                    k + 1
                )));
            }
            opt.zero_grad()?;
            l[0].backward();
            opt.step()?;
            sums.iter_mut()
                .zip(loss)
                .for_each(|(s, v)| *s += v * chunk.len() as f64);
            count += chunk.len();
            steps += 1;
            let last = k + 1 == chunks.len();
            if last && let Some(dir) = &opts.checkpoint_dir {
                model.save(dir)?;
            }
            on_update(&TrainEvent {
                epoch,
                step: steps,
                samples: chunk.len(),
                loss,
                epoch_done: last,
            });
        }
        seen += count;
        epoch_losses.push(sums.map(|s| s / count as f64));
    }
    for (_, t) in &trainable {
        let _ = t.set_requires_grad(false);
    }
    let seconds = start.elapsed().as_secs_f64();
    Ok(TrainReport {
        steps,
        samples_seen: seen,
        seconds,
        samples_per_second: seen as f64 / seconds.max(1e-9),
        epoch_losses,
        trainable_parameters: trainable.iter().map(|(_, t)| t.numel() as i64).sum(),
        total_parameters: model.parameter_count(""),
    })
}
