//! Training: the sample provider interface, batching of u8 frames, the two stages (base: all
//! weights; LoRA: adapters + heads) with Adam built from the trainable tensors only.

use std::path::{Path, PathBuf};
use std::time::Instant;

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use tch::{COptimizer, Device, Kind, Tensor};
use vlgor_sim::Action;

use super::error::WorldModelError;
use super::losses::batch_losses;
use super::model::{Stage, WorldModel};
use super::text::TextSource;

/// A batch of fine-tuning samples (s_t, G, a_t) -> (s_{t+h}, a_{t+h}). Frames are u8
/// [N, H, W, 3] (row 0 = top), H = W = the model's `image_size`.
#[derive(Clone, Debug, Default)]
pub struct SampleBatch {
    pub frames: Vec<u8>,
    pub instructions: Vec<String>,
    /// a_t; `None` for the first step (s_0, G, no action) -> a_0.
    pub actions: Vec<Option<Action>>,
    /// s_{t+h}; ignored where `has_target_frame` is false.
    pub target_frames: Vec<u8>,
    /// False for first-step samples, which supervise only the action.
    pub has_target_frame: Vec<bool>,
    /// a_{t+h} (a_0 for first-step samples); `None` for an episode's final transition, which
    /// has no next action (its action loss is masked, its frame still supervised).
    pub target_actions: Vec<Option<Action>>,
    /// Per sample, the tracked objects' positions in s_t (`objects` × 2 floats, metres, see
    /// [`super::objects`]); empty when the provider does not supply states.
    pub objects: Vec<f32>,
    /// The same in s_{t+h} (ignored where `has_target_frame` is false).
    pub target_objects: Vec<f32>,
}

impl SampleBatch {
    pub fn len(&self) -> usize {
        self.instructions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.instructions.is_empty()
    }

    /// Checks the lengths against `n` samples of `size`-px frames.
    pub fn validate(&self, size: i64) -> Result<(), WorldModelError> {
        let n = self.len();
        let fl = n * (size * size * 3) as usize;
        let ok = self.frames.len() == fl
            && self.target_frames.len() == fl
            && self.actions.len() == n
            && self.has_target_frame.len() == n
            && self.target_actions.len() == n
            && self.objects.len() == self.target_objects.len()
            && self.objects.len().is_multiple_of(n.max(1));
        if ok {
            Ok(())
        } else {
            Err(WorldModelError::BadInput(format!(
                "sample batch of {n} instructions: frames {} / targets {} bytes (expected {fl}), \
                 actions {}, has_target_frame {}, target_actions {}, objects {} / targets {}",
                self.frames.len(),
                self.target_frames.len(),
                self.actions.len(),
                self.has_target_frame.len(),
                self.target_actions.len(),
                self.objects.len(),
                self.target_objects.len()
            )))
        }
    }
}

/// Where training samples come from (the CLI renders them from dataset states).
pub trait SampleProvider {
    /// Number of samples; indices run over 0..len.
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The samples at `indices`, in that order.
    fn batch(&mut self, indices: &[usize]) -> Result<SampleBatch, WorldModelError>;
}

/// A [`SampleProvider`] over samples held in memory.
impl SampleProvider for SampleBatch {
    fn len(&self) -> usize {
        SampleBatch::len(self)
    }

    fn batch(&mut self, indices: &[usize]) -> Result<SampleBatch, WorldModelError> {
        let n = SampleBatch::len(self);
        let fl = self.frames.len().checked_div(n).unwrap_or(0);
        let ol = self.objects.len().checked_div(n).unwrap_or(0);
        let mut out = SampleBatch::default();
        for &i in indices {
            if i >= n {
                return Err(WorldModelError::BadInput(format!(
                    "sample index {i} out of 0..{n}"
                )));
            }
            out.frames
                .extend_from_slice(&self.frames[i * fl..(i + 1) * fl]);
            out.target_frames
                .extend_from_slice(&self.target_frames[i * fl..(i + 1) * fl]);
            out.instructions.push(self.instructions[i].clone());
            out.actions.push(self.actions[i]);
            out.has_target_frame.push(self.has_target_frame[i]);
            out.target_actions.push(self.target_actions[i]);
            out.objects
                .extend_from_slice(&self.objects[i * ol..(i + 1) * ol]);
            out.target_objects
                .extend_from_slice(&self.target_objects[i * ol..(i + 1) * ol]);
        }
        Ok(out)
    }
}

/// u8 [N, H, W, 3] -> f32 [N, 3, H, W] in [0, 1].
pub fn frames_to_tensor(pixels: &[u8], n: usize, size: i64, device: Device) -> Tensor {
    Tensor::from_slice(pixels)
        .to_device(device)
        .view([n as i64, size, size, 3])
        .permute([0, 3, 1, 2])
        .to_kind(Kind::Float)
        / 255.0
}

/// f32 [N, 3, H, W] in [0, 1] (clamped) -> u8 [N, H, W, 3].
pub fn tensor_to_frames(t: &Tensor) -> Vec<u8> {
    let u = (t.clamp(0.0, 1.0) * 255.0)
        .round()
        .to_kind(Kind::Uint8)
        .permute([0, 2, 3, 1])
        .contiguous();
    Vec::<u8>::try_from(u.to_device(Device::Cpu).flatten(0, -1)).expect("u8 tensor to Vec")
}

/// Training settings.
#[derive(Clone, Debug)]
pub struct TrainOptions {
    pub stage: Stage,
    pub epochs: usize,
    pub batch_size: usize,
    pub learning_rate: f64,
    /// Seeds shuffling (call `tch::manual_seed` before building the model for the weights).
    pub seed: u64,
    /// Written after every epoch (see [`WorldModel::save`]); `None` = no checkpoints.
    pub checkpoint_dir: Option<PathBuf>,
    /// Epochs already done (resume): training runs epochs `first_epoch..epochs`. Each epoch's
    /// shuffle is seeded by (seed, epoch), so a resumed run sees the same order; Adam's moments
    /// restart.
    pub first_epoch: usize,
    /// λ of the change-weighted frame loss (see [`losses`]); 0 = plain MSE.
    pub frame_change_weight: f64,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            stage: Stage::Base,
            epochs: 10,
            batch_size: 16,
            learning_rate: 3e-4,
            seed: 0,
            checkpoint_dir: None,
            first_epoch: 0,
            frame_change_weight: 0.0,
        }
    }
}

/// What a training run did.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct TrainReport {
    pub steps: usize,
    pub samples_seen: usize,
    pub seconds: f64,
    pub samples_per_second: f64,
    /// Mean (total, frame, action) loss per epoch.
    pub epoch_losses: Vec<[f64; 3]>,
    pub trainable_parameters: i64,
    pub total_parameters: i64,
}

/// Reported after every update (for progress bars and logs).
#[derive(Clone, Copy, Debug)]
pub struct TrainEvent {
    /// 0-based epoch.
    pub epoch: usize,
    /// Updates done in this call.
    pub step: usize,
    /// Samples in this update.
    pub samples: usize,
    /// (total, frame, action) loss of this update.
    pub loss: [f64; 3],
    /// True on the last update of an epoch, after its checkpoint is written.
    pub epoch_done: bool,
}

/// Trains `model` on `provider` for `opts.epochs` passes. Only the tensors of `opts.stage`
/// require gradients and only they are in the Adam optimizer.
///
/// Threads: on a busy shared CPU call `tch::set_num_threads(1)` first: measured on the 2-core
/// dev machine under load, a batch-16 step took 0.42 s with 1 thread and 3.5 s with 2.
pub fn train(
    model: &mut WorldModel,
    text: &mut dyn TextSource,
    provider: &mut dyn SampleProvider,
    opts: &TrainOptions,
) -> Result<TrainReport, WorldModelError> {
    train_with(model, text, provider, opts, &mut |_| {})
}

/// [`train`] calling `on_update` after every update. A non-finite loss stops training with
/// [`WorldModelError::BadInput`] naming the epoch (the last checkpoint stays intact).
pub fn train_with(
    model: &mut WorldModel,
    text: &mut dyn TextSource,
    provider: &mut dyn SampleProvider,
    opts: &TrainOptions,
    on_update: &mut dyn FnMut(&TrainEvent),
) -> Result<TrainReport, WorldModelError> {
    if provider.is_empty() || opts.batch_size == 0 || opts.epochs == 0 {
        return Err(WorldModelError::BadInput(format!(
            "need samples ({}), batch_size ({}) and epochs ({}) >= 1",
            provider.len(),
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
    let plan = opts.epoch_plan(provider.len());
    let mut loss =
        |m: &mut WorldModel, chunk: &[usize]| -> Result<(Tensor, [f64; 3]), WorldModelError> {
            let batch = provider.batch(chunk)?;
            let l = batch_losses(m, text, &batch, opts.frame_change_weight)?;
            let values = [
                l.total.double_value(&[]),
                l.frame.double_value(&[]),
                l.action.double_value(&[]),
            ];
            Ok((l.total, values))
        };
    let dir = opts.checkpoint_dir.as_deref();
    fit(model, &trainable, total, &plan, &mut loss, dir, on_update)
}

/// The epochs of a training run, for [`fit`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct EpochPlan {
    /// Samples; indices run over 0..len.
    pub len: usize,
    pub batch_size: usize,
    pub epochs: usize,
    /// Epochs already done: epochs `first_epoch..epochs` run.
    pub first_epoch: usize,
    pub seed: u64,
    pub learning_rate: f64,
}

/// One batch's loss to minimise and its (total, first, second) values, from the sample indices.
pub(crate) type BatchLoss<'a, M> =
    dyn FnMut(&mut M, &[usize]) -> Result<(Tensor, [f64; 3]), WorldModelError> + 'a;

/// Training options that say how [`fit`] runs its epochs.
pub(crate) trait EpochSettings {
    /// (batch size, epochs, first epoch, seed, learning rate).
    fn settings(&self) -> (usize, usize, usize, u64, f64);

    /// The epochs over `len` samples.
    fn epoch_plan(&self, len: usize) -> EpochPlan {
        let (batch_size, epochs, first_epoch, seed, learning_rate) = self.settings();
        EpochPlan {
            len,
            batch_size,
            epochs,
            first_epoch,
            seed,
            learning_rate,
        }
    }
}

/// Both generators' options carry the same five epoch settings.
macro_rules! epoch_settings {
    ($($options:ty),*) => {$(
        impl EpochSettings for $options {
            fn settings(&self) -> (usize, usize, usize, u64, f64) {
                let o = self;
                (o.batch_size, o.epochs, o.first_epoch, o.seed, o.learning_rate)
            }
        }
    )*};
}
epoch_settings!(TrainOptions, crate::kalm::KalmTrainOptions);

/// A model the training loop checkpoints into a directory after every epoch.
pub(crate) trait Checkpointed {
    fn save(&mut self, dir: &Path) -> Result<(), WorldModelError>;
}

impl Checkpointed for WorldModel {
    fn save(&mut self, dir: &Path) -> Result<(), WorldModelError> {
        WorldModel::save(self, dir)
    }
}

/// The loop both generators train with: Adam over `trainable`; each epoch's order of
/// `0..len` shuffled by (seed, epoch); per batch `compute` gives the loss to minimise and the
/// (total, first, second) values reported; a non-finite value stops with an error naming the
/// epoch and update (the last finished epoch's checkpoint is kept); the model is saved into
/// `checkpoint_dir` (if any) after each epoch's last update, before `on_update` sees it.
pub(crate) fn fit<M: Checkpointed>(
    model: &mut M,
    trainable: &[(String, Tensor)],
    total_parameters: i64,
    plan: &EpochPlan,
    compute: &mut BatchLoss<'_, M>,
    checkpoint_dir: Option<&Path>,
    on_update: &mut dyn FnMut(&TrainEvent),
) -> Result<TrainReport, WorldModelError> {
    let mut opt = COptimizer::adam(plan.learning_rate, 0.9, 0.999, 0.0, 1e-8, false)?;
    for (_, t) in trainable {
        opt.add_parameters(t, 0)?;
    }
    let start = Instant::now();
    let (mut steps, mut seen) = (0, 0);
    let mut epoch_losses = Vec::with_capacity(plan.epochs);
    for epoch in plan.first_epoch..plan.epochs {
        let mut order: Vec<usize> = (0..plan.len).collect();
        let epoch_seed = plan
            .seed
            .wrapping_mul(0x9E37_79B9)
            .wrapping_add(epoch as u64);
        order.shuffle(&mut ChaCha8Rng::seed_from_u64(epoch_seed));
        let mut sums = [0f64; 3];
        let mut count = 0usize;
        let chunks: Vec<&[usize]> = order.chunks(plan.batch_size).collect();
        for (k, chunk) in chunks.iter().enumerate() {
            let (total, loss) = compute(model, chunk)?;
            if loss.iter().any(|v| !v.is_finite()) {
                return Err(WorldModelError::BadInput(format!(
                    "non-finite loss {loss:?} in epoch {} update {}; lower the learning rate \
                     (the last finished epoch's checkpoint is kept)",
                    epoch + 1,
                    k + 1
                )));
            }
            opt.zero_grad()?;
            total.backward();
            opt.step()?;
            let n = chunk.len();
            for (s, v) in sums.iter_mut().zip(loss) {
                *s += v * n as f64;
            }
            count += n;
            steps += 1;
            let last = k + 1 == chunks.len();
            if last && let Some(dir) = checkpoint_dir {
                model.save(dir)?;
            }
            on_update(&TrainEvent {
                epoch,
                step: steps,
                samples: n,
                loss,
                epoch_done: last,
            });
        }
        seen += count;
        epoch_losses.push(sums.map(|s| s / count as f64));
    }
    for (_, t) in trainable {
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
        total_parameters,
    })
}
