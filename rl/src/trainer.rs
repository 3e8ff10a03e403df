//! The offline training loop: seeded batches from the real (+ imagined) data, one update per
//! step, cosine learning rate, a checkpoint after every epoch, a JSON-lines log, NaN/inf
//! detection, and resumption that reproduces the uninterrupted run.
//!
//! Determinism: network initialisation uses `tch::manual_seed(seed)`; epoch `e` re-seeds torch
//! with a value derived from `(seed, e)` and samples batches from `ChaCha8Rng(seed)` on stream
//! `e`. Checkpoints fall on epoch boundaries, so a resumed run replays exactly the same batches
//! and noise as an uninterrupted one (bit-identical on the CPU).

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::json;
use std::io::Write;
use std::path::{Path, PathBuf};
use tch::Device;
use vlgor_sim::dataset::Dataset;

use crate::algo::Losses;
use crate::batch::{BatchBuilder, ObservationSource, observation_stats};
use crate::checkpoint::{self, CONFIG_FILE, CheckpointMeta, LOG_FILE};
use crate::config::{AlgoKind, ObsSpec, RUN_FORMAT_VERSION, RlConfig, RunConfig};
use crate::optim::cosine_lr;
use crate::{GoalTable, RlError};
use vlgor_vlm::tensorboard;

/// The data a run trains on.
#[derive(Clone, Copy)]
pub struct TrainingData<'a> {
    pub real: &'a Dataset,
    /// Imagined rollouts mixed in at `rl.ratio` per batch.
    pub imagined: Option<&'a Dataset>,
    pub observations: ObservationSource<'a>,
    /// Embeddings of every instruction of both datasets.
    pub goals: &'a GoalTable,
}

/// Reported after every update.
#[derive(Clone, Debug)]
pub struct Progress<'a> {
    /// Updates completed.
    pub step: u64,
    pub total_steps: u64,
    /// Current epoch (1-based).
    pub epoch: u64,
    pub epochs: u64,
    pub lr: f64,
    pub losses: &'a Losses,
}

/// What a finished (or stopped) training produced.
#[derive(Clone, Debug)]
pub struct TrainOutcome {
    pub run_dir: PathBuf,
    pub epochs_done: u64,
    pub steps_done: u64,
    /// The newest checkpoint's tensors.
    pub checkpoint: PathBuf,
    /// Epoch the run resumed after, if it resumed.
    pub resumed_after: Option<u64>,
    /// Losses of the last update (of the resumed checkpoint when no update ran).
    pub last_losses: Vec<(String, f64)>,
    pub seconds: f64,
}

/// One training run in a run directory.
pub struct Trainer<'a> {
    data: TrainingData<'a>,
    run: RunConfig,
    run_dir: PathBuf,
    device: Device,
    resume: bool,
    stop_after: Option<u64>,
}

impl<'a> Trainer<'a> {
    /// Prepares a run in `run_dir`. A fresh run refuses a directory that already holds
    /// checkpoints; with `resume` the stored `config.json` is used (the given `rl` must match it).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        run_dir: &Path,
        env: &str,
        algo: AlgoKind,
        rl: RlConfig,
        data: TrainingData<'a>,
        seed: u64,
        device: Device,
        resume: bool,
    ) -> Result<Self, RlError> {
        rl.validate()?;
        let real = data.real;
        if real.transitions() == 0 {
            return Err(RlError::Input(format!(
                "{}: the dataset holds no transitions",
                real.dir.display()
            )));
        }
        if real.manifest.env != env {
            return Err(RlError::Input(format!(
                "{}: dataset is for env '{}', not '{env}'",
                real.dir.display(),
                real.manifest.env
            )));
        }
        algo.check_action_space(real.manifest.action_space)?;
        if let Some(im) = data.imagined {
            let m = &im.manifest;
            if m.env != env
                || m.action_space != real.manifest.action_space
                || m.obs_dim != real.manifest.obs_dim
            {
                return Err(RlError::Input(format!(
                    "{}: imagined data (env {}, {:?}, obs_dim {}) does not match the real data (env {}, {:?}, obs_dim {})",
                    im.dir.display(),
                    m.env,
                    m.action_space,
                    m.obs_dim,
                    real.manifest.env,
                    real.manifest.action_space,
                    real.manifest.obs_dim
                )));
            }
            if im.transitions() == 0 && rl.training.ratio > 0.0 {
                return Err(RlError::Input(format!(
                    "{}: the imagined dataset holds no transitions",
                    im.dir.display()
                )));
            }
        }
        let obs = match data.observations {
            ObservationSource::State => ObsSpec::State {
                dim: real.manifest.obs_dim,
            },
            ObservationSource::Frames(f) => {
                let (height, width) = f.frame_shape();
                if crate::network::conv_output_side(height as i64) < 1
                    || crate::network::conv_output_side(width as i64) < 1
                {
                    return Err(RlError::Input(format!(
                        "frames of {width}x{height} are too small for the conv encoder (at least 36x36)"
                    )));
                }
                ObsSpec::Image { height, width }
            }
        };
        let (obs_mean, obs_std) = match obs {
            ObsSpec::State { .. } => observation_stats(real),
            ObsSpec::Image { .. } => (vec![], vec![]),
        };
        let steps_per_epoch = if rl.training.steps_per_epoch > 0 {
            rl.training.steps_per_epoch as u64
        } else {
            real.transitions().div_ceil(rl.training.batch_size) as u64
        };
        let mut data_dirs = vec![real.dir.display().to_string()];
        data_dirs.extend(data.imagined.map(|d| d.dir.display().to_string()));
        let fresh = RunConfig {
            format_version: RUN_FORMAT_VERSION,
            env: env.to_string(),
            algo,
            obs,
            action_space: real.manifest.action_space,
            goal_dim: data.goals.dim(),
            total_steps: steps_per_epoch * rl.training.epochs as u64,
            steps_per_epoch,
            rl,
            seed,
            obs_mean,
            obs_std,
            data: data_dirs,
        };
        let config_path = run_dir.join(CONFIG_FILE);
        let run = if resume && config_path.is_file() {
            let text =
                std::fs::read_to_string(&config_path).map_err(|e| RlError::io(&config_path, e))?;
            let stored: RunConfig = serde_json::from_str(&text).map_err(|e| {
                RlError::checkpoint(&config_path, format!("invalid run config: {e}"))
            })?;
            check_same(&config_path, &stored, &fresh)?;
            stored
        } else {
            if !resume && checkpoint::latest(run_dir)?.is_some() {
                return Err(RlError::Input(format!(
                    "{}: holds checkpoints of an earlier run; pass --resume to continue it or choose another --out",
                    run_dir.display()
                )));
            }
            fresh
        };
        Ok(Trainer {
            data,
            run,
            run_dir: run_dir.to_path_buf(),
            device,
            resume,
            stop_after: None,
        })
    }

    /// Stops after `epochs` epochs in total (as if interrupted; for tests and staged runs).
    pub fn stop_after(&mut self, epochs: u64) {
        self.stop_after = Some(epochs);
    }

    pub fn run_config(&self) -> &RunConfig {
        &self.run
    }

    /// Trains to the configured epochs (or [`Trainer::stop_after`]), calling `progress` after
    /// every update. Fails with [`RlError::NonFinite`] naming the step when a loss is NaN/inf.
    pub fn train(&mut self, progress: &mut dyn FnMut(&Progress)) -> Result<TrainOutcome, RlError> {
        let start = std::time::Instant::now();
        let run = &self.run;
        std::fs::create_dir_all(&self.run_dir).map_err(|e| RlError::io(&self.run_dir, e))?;
        checkpoint::write_atomic(
            &self.run_dir.join(CONFIG_FILE),
            &serde_json::to_vec_pretty(run).expect("run config serialises"),
        )?;
        tch::manual_seed(run.seed as i64);
        let mut algo = run.create_algorithm(self.device)?;
        let mut resumed_after = None;
        let mut resumed_losses: Vec<(String, f64)> = vec![];
        let mut checkpoint_path = PathBuf::new();
        if self.resume {
            checkpoint::remove_stale_temporaries(&self.run_dir);
        }
        if self.resume
            && let Some((path, meta)) = checkpoint::latest(&self.run_dir)?
        {
            checkpoint::load_into(algo.as_mut(), &path, &meta, true, self.device)?;
            resumed_after = Some(meta.epoch);
            resumed_losses = meta.losses.into_iter().collect();
            checkpoint_path = path;
            truncate_log(&self.run_dir.join(LOG_FILE), meta.step)?;
        } else {
            let log = self.run_dir.join(LOG_FILE);
            std::fs::write(&log, b"").map_err(|e| RlError::io(&log, e))?;
        }
        let builder = BatchBuilder::new(
            self.data.real,
            self.data.imagined,
            run.rl.training.ratio,
            self.data.observations,
            run.obs,
            self.data.goals,
            &run.obs_mean,
            &run.obs_std,
            run.rl.training.reward_scale as f32,
            self.device,
        )?;
        let log_path = self.run_dir.join(LOG_FILE);
        let mut log = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(&log_path)
            .map_err(|e| RlError::io(&log_path, e))?;
        let epochs = run.rl.training.epochs as u64;
        let last_epoch = self.stop_after.map_or(epochs, |s| s.min(epochs));
        let first_epoch = resumed_after.unwrap_or(0) + 1;
        let mut step = resumed_after.unwrap_or(0) * run.steps_per_epoch;
        let mut losses: Losses = vec![];
        for epoch in first_epoch..=last_epoch {
            tch::manual_seed(epoch_seed(run.seed, epoch));
            let mut rng = ChaCha8Rng::seed_from_u64(run.seed);
            rng.set_stream(epoch);
            for k in 0..run.steps_per_epoch {
                let lr = cosine_lr(
                    run.rl.training.lr,
                    run.rl.training.lr_min,
                    step,
                    run.total_steps,
                );
                let items = builder.sample(run.rl.training.batch_size, &mut rng);
                let batch = builder.build(&items, algo.needs_next());
                losses = algo.update(&batch, lr / run.rl.training.lr)?;
                step += 1;
                if let Some((name, value)) = losses.iter().find(|(_, v)| !v.is_finite()) {
                    return Err(RlError::NonFinite {
                        what: (*name).to_string(),
                        value: *value,
                        step,
                        epoch,
                    });
                }
                if step.is_multiple_of(run.rl.training.log_every as u64)
                    || k + 1 == run.steps_per_epoch
                {
                    let mut line = json!({"step": step, "epoch": epoch, "lr": lr});
                    for (name, v) in &losses {
                        line[*name] = json!(v);
                    }
                    writeln!(log, "{line}").map_err(|e| RlError::io(&log_path, e))?;
                }
                progress(&Progress {
                    step,
                    total_steps: run.total_steps,
                    epoch,
                    epochs,
                    lr,
                    losses: &losses,
                });
            }
            log.flush().map_err(|e| RlError::io(&log_path, e))?;
            // The TensorBoard curves beside the log, rewritten from it.
            tensorboard::write_run_events(&self.run_dir)
                .map_err(|e| RlError::checkpoint(&self.run_dir.join(tensorboard::EVENT_FILE), e))?;
            let meta = CheckpointMeta::new(
                run.clone(),
                epoch,
                step,
                losses.iter().map(|(n, v)| ((*n).to_string(), *v)).collect(),
            );
            checkpoint_path = checkpoint::save(&self.run_dir, &meta, algo.as_ref())?;
            tracing::info!(
                epoch,
                step,
                ?losses,
                "checkpoint {}",
                checkpoint_path.display()
            );
        }
        Ok(TrainOutcome {
            run_dir: self.run_dir.clone(),
            epochs_done: last_epoch.max(resumed_after.unwrap_or(0)),
            steps_done: step,
            checkpoint: checkpoint_path,
            resumed_after,
            last_losses: if losses.is_empty() {
                resumed_losses
            } else {
                losses.iter().map(|(n, v)| ((*n).to_string(), *v)).collect()
            },
            seconds: start.elapsed().as_secs_f64(),
        })
    }
}

/// The torch seed of epoch `epoch` (SplitMix64 of the run seed and the epoch).
fn epoch_seed(seed: u64, epoch: u64) -> i64 {
    let mut z = seed ^ epoch.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    ((z ^ (z >> 31)) >> 1) as i64
}

/// A resumed run must train the same thing as the stored one.
fn check_same(path: &Path, stored: &RunConfig, now: &RunConfig) -> Result<(), RlError> {
    let differ = |what: &str, a: String, b: String| {
        Err(RlError::checkpoint(
            path,
            format!(
                "--resume: the stored run has {what} {a}, this invocation {b}; use the same arguments or another --out"
            ),
        ))
    };
    if stored.env != now.env {
        return differ("env", stored.env.clone(), now.env.clone());
    }
    if stored.algo != now.algo {
        return differ("algo", stored.algo.to_string(), now.algo.to_string());
    }
    if stored.obs != now.obs {
        return differ(
            "observations",
            format!("{:?}", stored.obs),
            format!("{:?}", now.obs),
        );
    }
    if stored.seed != now.seed {
        return differ("seed", stored.seed.to_string(), now.seed.to_string());
    }
    if stored.rl != now.rl {
        return differ(
            "[rl] settings",
            format!("{:?}", stored.rl),
            format!("{:?}", now.rl),
        );
    }
    if stored.data != now.data {
        return differ("data", stored.data.join(","), now.data.join(","));
    }
    Ok(())
}

/// Keeps only the log lines of steps up to `step` (those the resumed checkpoint covers).
fn truncate_log(path: &Path, step: u64) -> Result<(), RlError> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(());
    };
    let kept: String = text
        .lines()
        .filter(|l| {
            serde_json::from_str::<serde_json::Value>(l)
                .ok()
                .and_then(|v| v["step"].as_u64())
                .is_some_and(|s| s <= step)
        })
        .map(|l| format!("{l}\n"))
        .collect();
    checkpoint::write_atomic(path, kept.as_bytes())
}
