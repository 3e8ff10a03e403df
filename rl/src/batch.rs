//! Batches of transitions (s, G, a, r, s', terminal) assembled from the real and imagined
//! datasets, with observations as state vectors or frames.

use rand::Rng;
use tch::{Device, Tensor};
use vlgor_sim::dataset::{ActionColumn, Dataset, MixedSampler, Source, sample_transitions};

use crate::observation::ObsSpec;
use crate::{GoalTable, RlError};

/// Frames of dataset rows, one `u8` RGB image `[height, width, 3]` per state row. The lead's
/// frame store (re-rendered real frames, stored imagined frames) implements it.
pub trait FrameSource {
    /// The frame of state row `row` of the `source` dataset: `height·width·3` bytes, row-major.
    fn frame(&self, source: Source, row: usize) -> &[u8];
    /// `(height, width)` of every frame.
    fn frame_shape(&self) -> (usize, usize);
}

/// Frames held in memory, `[rows, H, W, 3]` per dataset (tests, and datasets stored with frames).
#[derive(Clone, Debug)]
pub struct InMemoryFrames {
    pub height: usize,
    pub width: usize,
    pub real: Vec<u8>,
    pub imagined: Vec<u8>,
}

impl InMemoryFrames {
    /// The frames stored inside the datasets (`Dataset::frames`); an error names a dataset
    /// without frames or with another frame size.
    pub fn from_stored(real: &Dataset, imagined: Option<&Dataset>) -> Result<Self, RlError> {
        fn spec(d: &Dataset) -> Result<(vlgor_sim::dataset::FrameSpec, &Vec<u8>), RlError> {
            d.manifest
                .frames
                .clone()
                .zip(d.frames.as_ref())
                .ok_or_else(|| {
                    RlError::Input(format!("{}: the dataset stores no frames", d.dir.display()))
                })
        }
        let (fs, frames) = spec(real)?;
        let mut out = InMemoryFrames {
            height: fs.height,
            width: fs.width,
            real: frames.clone(),
            imagined: vec![],
        };
        if let Some(im) = imagined {
            let (is, frames) = spec(im)?;
            if (is.height, is.width) != (fs.height, fs.width) {
                return Err(RlError::Input(format!(
                    "{}: frames are {}x{}, the real data's are {}x{}",
                    im.dir.display(),
                    is.width,
                    is.height,
                    fs.width,
                    fs.height
                )));
            }
            out.imagined = frames.clone();
        }
        Ok(out)
    }
}

impl FrameSource for InMemoryFrames {
    fn frame(&self, source: Source, row: usize) -> &[u8] {
        let n = self.height * self.width * 3;
        let all = match source {
            Source::Real => &self.real,
            Source::Imagined => &self.imagined,
        };
        &all[row * n..(row + 1) * n]
    }

    fn frame_shape(&self) -> (usize, usize) {
        (self.height, self.width)
    }
}

/// Where observations come from.
#[derive(Clone, Copy)]
pub enum ObservationSource<'a> {
    /// The datasets' `observations` column.
    State,
    /// Frames of the dataset rows.
    Frames(&'a dyn FrameSource),
}

/// One batch on the training device. Observations are normalised states `[B, D]` (float) or
/// frames `[B, H, W, 3]` (`u8`).
#[derive(Debug)]
pub struct Batch {
    pub obs: Tensor,
    /// `None` when the algorithm does not need s' (behaviour cloning).
    pub next_obs: Option<Tensor>,
    /// `[B, goal_dim]`.
    pub goals: Tensor,
    /// Discrete: `i64 [B]`; continuous: `f32 [B, dim]`.
    pub actions: Tensor,
    /// `[B]`, already multiplied by the reward scale.
    pub rewards: Tensor,
    /// `[B]`, 1.0 where the episode ended by the task (no bootstrap), else 0.0.
    pub terminals: Tensor,
}

/// One dataset with its per-episode goal rows.
struct View<'a> {
    data: &'a Dataset,
    goal_rows: Vec<usize>,
}

/// Samples transition indices and assembles [`Batch`]es.
pub struct BatchBuilder<'a> {
    real: View<'a>,
    imagined: Option<View<'a>>,
    ratio: f32,
    obs: ObservationSource<'a>,
    spec: ObsSpec,
    goals: &'a GoalTable,
    mean: Vec<f32>,
    inv_std: Vec<f32>,
    reward_scale: f32,
    device: Device,
}

impl<'a> BatchBuilder<'a> {
    /// `mean`/`std` normalise state observations (ignored for frames).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        real: &'a Dataset,
        imagined: Option<&'a Dataset>,
        ratio: f32,
        obs: ObservationSource<'a>,
        spec: ObsSpec,
        goals: &'a GoalTable,
        mean: &[f32],
        std: &[f32],
        reward_scale: f32,
        device: Device,
    ) -> Result<Self, RlError> {
        let real = View {
            data: real,
            goal_rows: goals.episode_rows(real)?,
        };
        let imagined = match imagined {
            Some(d) => Some(View {
                data: d,
                goal_rows: goals.episode_rows(d)?,
            }),
            None => None,
        };
        Ok(BatchBuilder {
            real,
            imagined,
            ratio,
            obs,
            spec,
            goals,
            mean: mean.to_vec(),
            inv_std: std.iter().map(|s| 1.0 / s).collect(),
            reward_scale,
            device,
        })
    }

    /// `batch` (source, transition) pairs: a real : imagined mix when imagined data is present.
    pub fn sample(&self, batch: usize, rng: &mut impl Rng) -> Vec<(Source, usize)> {
        match &self.imagined {
            Some(im) => MixedSampler {
                real: self.real.data,
                imagined: im.data,
                ratio: self.ratio,
            }
            .sample(batch, rng),
            None => sample_transitions(self.real.data, batch, rng)
                .into_iter()
                .map(|i| (Source::Real, i))
                .collect(),
        }
    }

    fn view(&self, source: Source) -> &View<'a> {
        match source {
            Source::Imagined => self.imagined.as_ref().unwrap_or(&self.real),
            Source::Real => &self.real,
        }
    }

    /// Assembles the batch of `items`; s' only when `with_next`.
    pub fn build(&self, items: &[(Source, usize)], with_next: bool) -> Batch {
        let b = items.len() as i64;
        let mut rows = Vec::with_capacity(items.len());
        let mut next_rows = Vec::with_capacity(items.len());
        let mut goals = Vec::with_capacity(items.len() * self.goals.dim());
        let mut rewards = Vec::with_capacity(items.len());
        let mut terminals = Vec::with_capacity(items.len());
        let mut act_i = Vec::new();
        let mut act_f = Vec::new();
        for &(src, i) in items {
            let v = self.view(src);
            let (r0, r1) = v.data.transition_rows(i);
            rows.push((src, r0));
            next_rows.push((src, r1));
            goals.extend_from_slice(
                self.goals
                    .row(v.goal_rows[v.data.transition_episode[i] as usize]),
            );
            rewards.push(v.data.rewards[i] * self.reward_scale);
            terminals.push(f32::from(v.data.terminals[i]));
            match &v.data.actions {
                ActionColumn::Discrete(a) => act_i.push(a[i]),
                ActionColumn::Continuous { values, dim } => {
                    act_f.extend_from_slice(&values[i * dim..(i + 1) * dim])
                }
            }
        }
        let actions = if act_f.is_empty() {
            Tensor::from_slice(&act_i)
        } else {
            Tensor::from_slice(&act_f).view([b, -1])
        };
        Batch {
            obs: self.observations(&rows),
            next_obs: with_next.then(|| self.observations(&next_rows)),
            goals: Tensor::from_slice(&goals)
                .view([b, self.goals.dim() as i64])
                .to_device(self.device),
            actions: actions.to_device(self.device),
            rewards: Tensor::from_slice(&rewards).to_device(self.device),
            terminals: Tensor::from_slice(&terminals).to_device(self.device),
        }
    }

    /// Observations of `(source, row)` pairs on the device.
    fn observations(&self, rows: &[(Source, usize)]) -> Tensor {
        let b = rows.len() as i64;
        match (self.obs, self.spec) {
            (ObservationSource::Frames(frames), ObsSpec::Image { height, width }) => {
                let mut bytes = Vec::with_capacity(rows.len() * height * width * 3);
                for &(src, row) in rows {
                    bytes.extend_from_slice(frames.frame(src, row));
                }
                Tensor::from_slice(&bytes)
                    .view([b, height as i64, width as i64, 3])
                    .to_device(self.device)
            }
            _ => {
                let mut values = Vec::with_capacity(rows.len() * self.mean.len());
                for &(src, row) in rows {
                    let o = self.view(src).data.observation(row);
                    values.extend(
                        o.iter()
                            .zip(&self.mean)
                            .zip(&self.inv_std)
                            .map(|((x, m), s)| (x - m) * s),
                    );
                }
                Tensor::from_slice(&values)
                    .view([b, self.mean.len() as i64])
                    .to_device(self.device)
            }
        }
    }
}

/// Per-dimension mean and standard deviation (floored at 1e-3) of the observation rows.
pub fn observation_stats(data: &Dataset) -> (Vec<f32>, Vec<f32>) {
    let d = data.manifest.obs_dim;
    let rows = data.observations.len() / d.max(1);
    let mut mean = vec![0f64; d];
    let mut sq = vec![0f64; d];
    for r in 0..rows {
        for (k, &x) in data.observation(r).iter().enumerate() {
            mean[k] += x as f64;
            sq[k] += (x as f64) * (x as f64);
        }
    }
    let n = rows.max(1) as f64;
    let mean: Vec<f32> = mean.iter().map(|m| (m / n) as f32).collect();
    let std = sq
        .iter()
        .zip(&mean)
        .map(|(s, &m)| ((s / n - (m as f64) * (m as f64)).max(0.0).sqrt() as f32).max(1e-3))
        .collect();
    (mean, std)
}
