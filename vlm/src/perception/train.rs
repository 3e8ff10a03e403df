//! Training the readout on labelled rendered frames (MSE in normalised units, Adam with a cosine
//! learning rate from `learning_rate` to 1e-6): on a fixed set ([`train_readout`]) or on a fresh
//! rendered set every epoch ([`train_readout_fresh`], no overfitting since rendering is cheap).

use std::time::Instant;

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use tch::Tensor;
use tch::nn::{self, Optimizer, OptimizerConfig};
use vlgor_render::Renderer;

use super::data::{LabelledFrames, LabelledStates, render_labelled};
use super::readout::StateReadout;
use crate::world_model::WorldModelError;
use crate::world_model::train::frames_to_tensor;

/// Readout training settings.
#[derive(Clone, Debug)]
pub struct ReadoutOptions {
    /// Passes over the fixed set, or fresh sets rendered ([`train_readout_fresh`]).
    pub epochs: usize,
    pub batch_size: usize,
    pub learning_rate: f64,
    pub seed: u64,
}

impl Default for ReadoutOptions {
    fn default() -> Self {
        ReadoutOptions {
            epochs: 30,
            batch_size: 32,
            learning_rate: 1e-3,
            seed: 0,
        }
    }
}

/// What readout training did.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ReadoutReport {
    /// Training time (s), rendering excluded.
    pub seconds: f64,
    /// Frames seen (with repetition).
    pub frames_seen: usize,
    /// Mean normalised MSE per epoch.
    pub epoch_losses: Vec<f64>,
    /// Mean position error (m) on the last training set after training.
    pub train_error_m: f64,
}

struct Schedule {
    opt: Optimizer,
    step: usize,
    total: usize,
    lr: f64,
}

fn check(
    readout: &StateReadout,
    data: &LabelledFrames,
    opts: &ReadoutOptions,
) -> Result<(), WorldModelError> {
    let dim = readout.kind().dim();
    if data.is_empty() || data.size != readout.image_size() || opts.batch_size == 0 {
        return Err(WorldModelError::BadInput(format!(
            "readout training needs frames of {} px (got {} frames of {} px) and batch_size >= 1",
            readout.image_size(),
            data.len(),
            data.size
        )));
    }
    if data.states.iter().any(|s| s.len() != dim) {
        return Err(WorldModelError::BadInput(format!(
            "every state needs {dim} values"
        )));
    }
    Ok(())
}

/// One pass over `data`; returns the mean loss.
fn epoch(
    readout: &StateReadout,
    sched: &mut Schedule,
    data: &LabelledFrames,
    batch_size: usize,
    rng: &mut ChaCha8Rng,
) -> f64 {
    let dev = readout.device();
    let n = data.len();
    let dim = readout.kind().dim() as i64;
    let frames = frames_to_tensor(&data.pixels, n, data.size, dev);
    let flat: Vec<f32> = data.states.iter().flatten().copied().collect();
    let targets = readout.normalise(
        &Tensor::from_slice(&flat)
            .to_device(dev)
            .view([n as i64, dim]),
    );
    let mut order: Vec<i64> = (0..n as i64).collect();
    order.shuffle(rng);
    let (mut sum, mut count) = (0f64, 0usize);
    for chunk in order.chunks(batch_size) {
        let progress = sched.step as f64 / sched.total.max(1) as f64;
        let lr = 1e-6 + 0.5 * (sched.lr - 1e-6) * (1.0 + (std::f64::consts::PI * progress).cos());
        sched.opt.set_lr(lr);
        let idx = Tensor::from_slice(chunk).to_device(dev);
        let pred = readout.forward_normalised(&frames.index_select(0, &idx));
        let loss = pred.mse_loss(&targets.index_select(0, &idx), tch::Reduction::Mean);
        sched.opt.backward_step(&loss);
        sum += loss.double_value(&[]) * chunk.len() as f64;
        count += chunk.len();
        sched.step += 1;
    }
    sum / count.max(1) as f64
}

/// Trains `readout` for `opts.epochs` passes over the fixed set `data`.
pub fn train_readout(
    readout: &mut StateReadout,
    data: &LabelledFrames,
    opts: &ReadoutOptions,
) -> Result<ReadoutReport, WorldModelError> {
    check(readout, data, opts)?;
    let opt = nn::Adam::default().build(&readout.vs, opts.learning_rate)?;
    let total = opts.epochs * data.len().div_ceil(opts.batch_size);
    let mut sched = Schedule {
        opt,
        step: 0,
        total,
        lr: opts.learning_rate,
    };
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    let start = Instant::now();
    let epoch_losses: Vec<f64> = (0..opts.epochs)
        .map(|_| epoch(readout, &mut sched, data, opts.batch_size, &mut rng))
        .collect();
    let seconds = start.elapsed().as_secs_f64();
    let train_error_m = readout.position_error(&data.pixels, &data.states)?;
    Ok(ReadoutReport {
        seconds,
        frames_seen: opts.epochs * data.len(),
        epoch_losses,
        train_error_m,
    })
}

/// Trains `readout` for `opts.epochs` passes, each over `frames_per_epoch` freshly rendered
/// frames (seeds `opts.seed * 1000 + epoch`, in the states `states` describes).
/// The renderer's frame size must equal the readout's.
pub fn train_readout_fresh(
    readout: &mut StateReadout,
    renderer: &mut Renderer,
    frames_per_epoch: usize,
    states: LabelledStates,
    opts: &ReadoutOptions,
) -> Result<ReadoutReport, WorldModelError> {
    let opt = nn::Adam::default().build(&readout.vs, opts.learning_rate)?;
    let total = opts.epochs * frames_per_epoch.div_ceil(opts.batch_size.max(1));
    let mut sched = Schedule {
        opt,
        step: 0,
        total,
        lr: opts.learning_rate,
    };
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    let mut seconds = 0.0;
    let mut epoch_losses = Vec::with_capacity(opts.epochs);
    let mut last = LabelledFrames::default();
    for e in 0..opts.epochs {
        let seed = opts.seed.wrapping_mul(1000).wrapping_add(e as u64);
        last = render_labelled(readout.kind(), renderer, frames_per_epoch, seed, states)?;
        check(readout, &last, opts)?;
        let start = Instant::now();
        epoch_losses.push(epoch(readout, &mut sched, &last, opts.batch_size, &mut rng));
        seconds += start.elapsed().as_secs_f64();
    }
    if last.is_empty() {
        return Err(WorldModelError::BadInput(
            "readout training needs epochs >= 1".into(),
        ));
    }
    let train_error_m = readout.position_error(&last.pixels, &last.states)?;
    Ok(ReadoutReport {
        seconds,
        frames_seen: opts.epochs * frames_per_epoch,
        epoch_losses,
        train_error_m,
    })
}
