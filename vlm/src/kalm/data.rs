//! Training trajectories for the KALM generator: windows of real rollouts (instruction,
//! observations o_0..o_S at the keyframe stride h, keyframe actions a_0..a_{S-1}), and their
//! padded batches.
//!
//! An episode of T environment steps has K = ⌊T / h⌋ keyframe transitions (CLEVR h = 1: one
//! push each; Meta-World h = 10, the action the mean of the h steps', as the world model's
//! samples). It is cut into consecutive windows of at most `max_steps` transitions, each
//! starting at its own first observation.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use tch::{Device, Kind, Tensor};
use vlgor_sim::Action;
use vlgor_sim::dataset::Dataset;

use super::config::KalmConfig;
use super::model::ActionSeq;
use crate::world_model::WorldModelError;
use crate::world_model::samples::keyframe_action;

/// One training trajectory.
#[derive(Clone, Debug, PartialEq)]
pub struct Trajectory {
    pub instruction: String,
    /// o_0..o_S, `S + 1` rows of `obs_dim` values (raw units).
    pub observations: Vec<Vec<f32>>,
    /// a_0..a_{S-1}.
    pub actions: Vec<Action>,
}

impl Trajectory {
    /// Transitions S.
    pub fn steps(&self) -> usize {
        self.actions.len()
    }
}

/// The windows of `data`'s episodes (see the module doc). `samples` keeps a seeded random
/// subset of windows whose transitions add up to that many (the last window cut to fit): the
/// same unit as the world model's `--samples`, one transition each.
pub fn trajectories(
    data: &Dataset,
    config: &KalmConfig,
    samples: Option<usize>,
    seed: u64,
) -> Result<Vec<Trajectory>, WorldModelError> {
    let (h, max) = (config.horizon_steps, config.max_steps as usize);
    let d = data.manifest.obs_dim;
    if d != config.obs_dim as usize {
        return Err(WorldModelError::BadInput(format!(
            "dataset {} has {d}-value observations; the generator expects {}",
            data.dir.display(),
            config.obs_dim
        )));
    }
    let mut out = Vec::new();
    for ep in &data.episodes {
        let keyframes = ep.length / h;
        let obs = |k: usize| data.observation(ep.first_row + k * h).to_vec();
        let action = |k: usize| {
            let window: Vec<Action> = (k * h..(k + 1) * h)
                .map(|i| data.actions.get(ep.first_transition + i))
                .collect();
            keyframe_action(&window)
        };
        let mut from = 0;
        while from < keyframes {
            let to = (from + max).min(keyframes);
            out.push(Trajectory {
                instruction: ep.instruction.text.clone(),
                observations: (from..=to).map(obs).collect(),
                actions: (from..to).map(action).collect(),
            });
            from = to;
        }
    }
    if out.is_empty() {
        return Err(WorldModelError::BadInput(format!(
            "dataset {} has no episode of at least h = {h} steps",
            data.dir.display()
        )));
    }
    if let Some(n) = samples {
        out.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
        let mut total = 0;
        let mut kept = Vec::new();
        for mut t in out {
            if total >= n {
                break;
            }
            let take = t.steps().min(n - total);
            t.actions.truncate(take);
            t.observations.truncate(take + 1);
            total += take;
            kept.push(t);
        }
        out = kept;
    }
    Ok(out)
}

/// Per value mean and standard deviation of every observation in `set`.
pub fn observation_stats(set: &[Trajectory]) -> (Vec<f32>, Vec<f32>) {
    let dim = set
        .first()
        .and_then(|t| t.observations.first())
        .map_or(0, Vec::len);
    let (mut sum, mut sq, mut n) = (vec![0f64; dim], vec![0f64; dim], 0f64);
    for o in set.iter().flat_map(|t| &t.observations) {
        for (i, &v) in o.iter().enumerate().take(dim) {
            sum[i] += v as f64;
            sq[i] += (v as f64) * (v as f64);
        }
        n += 1.0;
    }
    let n = n.max(1.0);
    let mean: Vec<f32> = sum.iter().map(|s| (s / n) as f32).collect();
    let std = sq
        .iter()
        .zip(&sum)
        .map(|(q, s)| ((q / n - (s / n).powi(2)).max(0.0).sqrt()) as f32)
        .collect();
    (mean, std)
}

/// A padded batch: raw observations f32 [B, S + 1, obs_dim], actions [B, S], and the masks of
/// the real entries (f32 [B, S + 1] and [B, S]); S is the batch's longest trajectory.
pub struct TrajectoryBatch {
    pub instructions: Vec<String>,
    pub observations: Tensor,
    pub obs_mask: Tensor,
    pub actions: ActionSeq,
    pub action_mask: Tensor,
}

impl TrajectoryBatch {
    /// Packs `items` for a model of `config` on `device`; actions must match its action space.
    pub fn new(
        items: &[&Trajectory],
        config: &KalmConfig,
        device: Device,
    ) -> Result<Self, WorldModelError> {
        let b = items.len();
        let s = items.iter().map(|t| t.steps()).max().unwrap_or(0);
        let d = config.obs_dim as usize;
        let mut obs = vec![0f32; b * (s + 1) * d];
        let mut obs_mask = vec![0f32; b * (s + 1)];
        let mut action_mask = vec![0f32; b * s];
        let mut ids = vec![0i64; b * s];
        let mut vals = vec![0f32; b * s * action_dim(config)];
        for (i, t) in items.iter().enumerate() {
            if t.observations.len() != t.steps() + 1 || t.observations.iter().any(|o| o.len() != d)
            {
                return Err(WorldModelError::BadInput(format!(
                    "trajectory '{}': {} actions need {} observations of {d} values",
                    t.instruction,
                    t.steps(),
                    t.steps() + 1
                )));
            }
            for (k, o) in t.observations.iter().enumerate() {
                let row = i * (s + 1) + k;
                obs[row * d..(row + 1) * d].copy_from_slice(o);
                obs_mask[row] = 1.0;
            }
            for (k, a) in t.actions.iter().enumerate() {
                let row = i * s + k;
                action_mask[row] = 1.0;
                write_action(config, a, row, &mut ids, &mut vals)?;
            }
        }
        let f = |v: &[f32], shape: &[i64]| Tensor::from_slice(v).view(shape).to_device(device);
        let (b, s, d) = (b as i64, s as i64, d as i64);
        let actions = match config.action_space {
            crate::world_model::ActionSpace::Discrete { .. } => {
                ActionSeq::Discrete(Tensor::from_slice(&ids).view([b, s]).to_device(device))
            }
            crate::world_model::ActionSpace::Continuous { dim } => {
                ActionSeq::Continuous(f(&vals, &[b, s, dim as i64]))
            }
        };
        Ok(TrajectoryBatch {
            instructions: items.iter().map(|t| t.instruction.clone()).collect(),
            observations: f(&obs, &[b, s + 1, d]),
            obs_mask: f(&obs_mask, &[b, s + 1]),
            actions,
            action_mask: f(&action_mask, &[b, s]),
        })
    }
}

/// Continuous actions' width in a batch (1 for discrete spaces, unused).
fn action_dim(config: &KalmConfig) -> usize {
    match config.action_space {
        crate::world_model::ActionSpace::Discrete { .. } => 1,
        crate::world_model::ActionSpace::Continuous { dim } => dim,
    }
}

/// Writes action `a` at `row` of the id or value column; errors name the mismatch.
fn write_action(
    config: &KalmConfig,
    a: &Action,
    row: usize,
    ids: &mut [i64],
    vals: &mut [f32],
) -> Result<(), WorldModelError> {
    match (config.action_space, a) {
        (crate::world_model::ActionSpace::Discrete { n }, Action::Discrete(k))
            if (*k as usize) < n =>
        {
            ids[row] = *k as i64;
        }
        (crate::world_model::ActionSpace::Continuous { dim }, Action::Continuous(v)) => {
            vals[row * dim..(row + 1) * dim].copy_from_slice(&v[..dim]);
        }
        (space, a) => {
            return Err(WorldModelError::BadInput(format!(
                "action {a:?} does not fit the generator's action space {space:?}"
            )));
        }
    }
    Ok(())
}

/// Masked losses of a batch: (total, observation MSE, action CE or MSE). The observation MSE is
/// in normalised units over every real o_0..o_S; the total is (1 - r) obs + r action.
pub fn batch_losses(
    model: &super::KalmModel,
    text: &mut dyn crate::world_model::TextSource,
    batch: &TrajectoryBatch,
) -> Result<[Tensor; 3], WorldModelError> {
    let c = model.config();
    let texts: Vec<&str> = batch.instructions.iter().map(String::as_str).collect();
    let (tokens, mask) = text.tokens(&texts)?;
    let dev = model.device();
    let out = model.forward(
        &tokens.to_device(dev),
        &mask.to_device(dev),
        &batch.observations,
        &batch.actions,
    )?;
    let target = model.normalise(&batch.observations);
    let per_obs = (&out.observations - target)
        .square()
        .mean_dim(-1, false, Kind::Float);
    let obs_loss = (per_obs * &batch.obs_mask).sum(Kind::Float)
        / batch.obs_mask.sum(Kind::Float).clamp_min(1.0);
    let s = batch.action_mask.size()[1];
    let pred = out.actions.narrow(1, 0, s);
    let per_action = match &batch.actions {
        ActionSeq::Discrete(ids) => {
            let logp = pred.log_softmax(-1, Kind::Float);
            -logp.gather(-1, &ids.unsqueeze(-1), false).squeeze_dim(-1)
        }
        ActionSeq::Continuous(v) => (pred - v).square().mean_dim(-1, false, Kind::Float),
    };
    let action_loss = (per_action * &batch.action_mask).sum(Kind::Float)
        / batch.action_mask.sum(Kind::Float).clamp_min(1.0);
    let r = c.action_loss_ratio;
    let total = &obs_loss * (1.0 - r) + &action_loss * r;
    Ok([total, obs_loss, action_loss])
}
