//! Generation: from real initial observations, alternately predict the action and the next
//! observation, autoregressively, up to a horizon (KALM's `greedy_generate`).
//!
//! Step k (0-based): the sequence [G | start | o_0 | a_0 | ... | o_k] gives a_k (greedy:
//! argmax / the predicted vector; with a temperature: sampled, see [`Sampling`]); then
//! [... | o_k | a_k] gives o_{k+1} (the observation head's value; KALM regresses observations
//! and never samples them). A rollout stops at the horizon or at the first generated
//! observation its goal check accepts. Nothing keeps the generated states physical: the
//! physics validator judges them afterwards.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tch::{Device, Kind, Tensor};
use vlgor_sim::Action;

use super::model::{ActionSeq, KalmModel};
use crate::world_model::{ActionSpace, TextSource, WorldModelError};

/// How actions are chosen.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sampling {
    /// 0 = greedy. Discrete actions: softmax(logits / temperature) is sampled; continuous
    /// actions: Gaussian noise of this standard deviation is added (then clamped to [-1, 1]).
    pub temperature: f64,
    /// Seeds the draws (the same seed gives the same rollouts).
    pub seed: u64,
}

impl Default for Sampling {
    fn default() -> Self {
        Sampling {
            temperature: 0.0,
            seed: 0,
        }
    }
}

/// Generated rollouts.
#[derive(Clone, Debug, PartialEq)]
pub struct KalmRollouts {
    /// Per rollout o_0 (the real one), o_1, ..., raw units.
    pub observations: Vec<Vec<Vec<f32>>>,
    /// Per rollout a_0, a_1, ... (one fewer than observations; for Meta-World hold each for h
    /// environment steps).
    pub actions: Vec<Vec<Action>>,
    /// Per rollout the step whose observation the goal check first accepted.
    pub success_step: Vec<Option<usize>>,
}

/// Generates `instructions.len()` rollouts from `initial` observations (one per instruction)
/// for up to `horizon` transitions (at most the model's `max_steps`). `goal` (rollout index,
/// generated observation) → success stops that rollout.
pub fn generate(
    model: &KalmModel,
    text: &mut dyn TextSource,
    instructions: &[&str],
    initial: &[Vec<f32>],
    horizon: usize,
    sampling: Sampling,
    mut goal: Option<&mut dyn FnMut(usize, &[f32]) -> bool>,
) -> Result<KalmRollouts, WorldModelError> {
    let c = model.config();
    let n = instructions.len();
    let d = c.obs_dim as usize;
    if n == 0 || initial.len() != n || initial.iter().any(|o| o.len() != d) {
        return Err(WorldModelError::BadInput(format!(
            "{n} instructions need {n} initial observations of {d} values, got {}",
            initial.len()
        )));
    }
    if horizon == 0 || horizon as i64 > c.max_steps || !(sampling.temperature >= 0.0) {
        return Err(WorldModelError::BadInput(format!(
            "horizon {horizon} must be in 1..={} and the temperature {} >= 0",
            c.max_steps, sampling.temperature
        )));
    }
    let dev = model.device();
    let (tokens, mask) = text.tokens(instructions)?;
    let (tokens, mask) = (tokens.to_device(dev), mask.to_device(dev));
    let mut rng = ChaCha8Rng::seed_from_u64(sampling.seed);
    let mut out = KalmRollouts {
        observations: initial.iter().map(|o| vec![o.clone()]).collect(),
        actions: vec![Vec::new(); n],
        success_step: vec![None; n],
    };
    let flat: Vec<f32> = initial.concat();
    let mut obs = Tensor::from_slice(&flat)
        .view([n as i64, 1, d as i64])
        .to_device(dev);
    let mut actions = empty_actions(c.action_space, n as i64, dev);
    let mut done = vec![false; n];
    tch::no_grad(|| -> Result<(), WorldModelError> {
        for step in 0..horizon {
            let k = step as i64;
            let pred = model.forward(&tokens, &mask, &obs, &actions)?;
            let chosen = choose(
                c.action_space,
                &pred.actions.select(1, k),
                sampling,
                &mut rng,
            )?;
            actions = append_actions(actions, &chosen, c.action_space, dev);
            // o_{k+1} is read at a_k's position; the placeholder after it is never attended.
            let placeholder = obs.narrow(1, k, 1).zeros_like();
            let with_slot = Tensor::cat(&[&obs, &placeholder], 1);
            let pred = model.forward(&tokens, &mask, &with_slot, &actions)?;
            let next = model.denormalise(&pred.observations.select(1, k + 1));
            obs = Tensor::cat(&[obs, next.unsqueeze(1)], 1);
            let rows = Vec::<f32>::try_from(
                next.to_kind(Kind::Float)
                    .to_device(Device::Cpu)
                    .flatten(0, -1),
            )?;
            for i in 0..n {
                if done[i] {
                    continue;
                }
                let o = &rows[i * d..(i + 1) * d];
                out.actions[i].push(chosen[i]);
                out.observations[i].push(o.to_vec());
                if let Some(g) = goal.as_mut()
                    && g(i, o)
                {
                    out.success_step[i] = Some(step + 1);
                    done[i] = true;
                }
            }
            if done.iter().all(|&x| x) {
                break;
            }
        }
        Ok(())
    })?;
    Ok(out)
}

fn empty_actions(space: ActionSpace, n: i64, dev: Device) -> ActionSeq {
    match space {
        ActionSpace::Discrete { .. } => {
            ActionSeq::Discrete(Tensor::zeros([n, 0], (Kind::Int64, dev)))
        }
        ActionSpace::Continuous { dim } => {
            ActionSeq::Continuous(Tensor::zeros([n, 0, dim as i64], (Kind::Float, dev)))
        }
    }
}

fn append_actions(seq: ActionSeq, chosen: &[Action], space: ActionSpace, dev: Device) -> ActionSeq {
    let n = chosen.len() as i64;
    match (seq, space) {
        (ActionSeq::Discrete(t), _) => {
            let ids: Vec<i64> = chosen
                .iter()
                .map(|a| match a {
                    Action::Discrete(k) => *k as i64,
                    Action::Continuous(_) => 0,
                })
                .collect();
            let col = Tensor::from_slice(&ids).view([n, 1]).to_device(dev);
            ActionSeq::Discrete(Tensor::cat(&[t, col], 1))
        }
        (ActionSeq::Continuous(t), ActionSpace::Continuous { dim }) => {
            let vals: Vec<f32> = chosen
                .iter()
                .flat_map(|a| match a {
                    Action::Continuous(v) => v[..dim].to_vec(),
                    Action::Discrete(_) => vec![0.0; dim],
                })
                .collect();
            let col = Tensor::from_slice(&vals)
                .view([n, 1, dim as i64])
                .to_device(dev);
            ActionSeq::Continuous(Tensor::cat(&[t, col], 1))
        }
        (seq, _) => seq,
    }
}

/// The action of each row of `pred` (logits [N, n] or vectors [N, dim]).
fn choose(
    space: ActionSpace,
    pred: &Tensor,
    sampling: Sampling,
    rng: &mut ChaCha8Rng,
) -> Result<Vec<Action>, WorldModelError> {
    let t = sampling.temperature;
    let rows = pred.size()[0] as usize;
    match space {
        ActionSpace::Discrete { n } => {
            if t == 0.0 {
                let ids = Vec::<i64>::try_from(pred.argmax(-1, false).to_device(Device::Cpu))?;
                return Ok(ids
                    .into_iter()
                    .map(|k| Action::Discrete(k as u32))
                    .collect());
            }
            let probs = Vec::<f64>::try_from(
                (pred.to_kind(Kind::Double) / t)
                    .softmax(-1, Kind::Double)
                    .to_device(Device::Cpu)
                    .flatten(0, -1),
            )?;
            Ok(probs
                .chunks(n)
                .map(|p| {
                    let u: f64 = rng.random();
                    let mut acc = 0.0;
                    let k = p
                        .iter()
                        .position(|&q| {
                            acc += q;
                            u < acc
                        })
                        .unwrap_or(n - 1);
                    Action::Discrete(k as u32)
                })
                .collect())
        }
        ActionSpace::Continuous { dim } => {
            let v = Vec::<f32>::try_from(
                pred.to_kind(Kind::Float)
                    .to_device(Device::Cpu)
                    .flatten(0, -1),
            )?;
            Ok((0..rows)
                .map(|i| {
                    let mut a = [0f32; 4];
                    for (j, x) in a.iter_mut().enumerate().take(dim) {
                        let noise = if t > 0.0 { gaussian(rng) * t } else { 0.0 };
                        *x = (v[i * dim + j] as f64 + noise).clamp(-1.0, 1.0) as f32;
                    }
                    Action::Continuous(a)
                })
                .collect())
        }
    }
}

/// A standard normal draw (Box–Muller).
fn gaussian(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = rng.random::<f64>().max(1e-12);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}
