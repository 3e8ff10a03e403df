//! Shard files: many episodes in one safetensors file, columns concatenated over episodes.
//!
//! Tensors of a shard with E episodes, N transitions and R = N + E state rows (each episode
//! of length T stores T + 1 states s_0..s_T and T transitions):
//! `episode_index`, `episode_seed`, `episode_length` (U64 [E]); `states` (F32 [R, state_dim],
//! absent for imagined rollouts); `observations` (F32 [R, obs_dim]); `actions` (I64 [N] for a
//! discrete space, F32 [N, dim] for a continuous one); `rewards` (F32 [N]); `success`,
//! `terminals`, `timeouts` (U8 [N]); optional `frames` (U8 [R, H, W, 3]). The safetensors
//! metadata key `episodes` holds a JSON array with each episode's instruction and verdict.

use safetensors::{Dtype, SafeTensors, tensor::TensorView};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;

use super::manifest::{ActionSpace, FrameSpec};
use super::{DatasetError, atomic};
use crate::{Action, Env, Instruction, SimError};

/// One rollout–instruction pair, as collected or imagined.
#[derive(Clone, Debug, PartialEq)]
pub struct EpisodeRecord {
    /// Index of the episode within its collection (its seed derives from it).
    pub index: u64,
    /// Seed of the initial state.
    pub seed: u64,
    pub instruction: Instruction,
    /// (T + 1) × state_dim values; empty when states are absent.
    pub states: Vec<f32>,
    /// (T + 1) × obs_dim values.
    pub observations: Vec<f32>,
    /// T actions.
    pub actions: Vec<Action>,
    pub rewards: Vec<f32>,
    pub success: Vec<bool>,
    pub terminals: Vec<bool>,
    pub timeouts: Vec<bool>,
    /// (T + 1) × H × W × 3 RGB8 frames, when stored.
    pub frames: Option<Vec<u8>>,
    /// The physics validator's verdict (imagined rollouts); `None` until checked.
    pub verdict: Option<crate::validate::Verdict>,
}

impl EpisodeRecord {
    /// Runs one episode of `env` from `seed` pursuing `instruction`, choosing actions with
    /// `act`, until the goal holds (marked terminal), the task ends, or the horizon or
    /// `max_steps` is reached (marked timeout); records states, observations, actions, rewards
    /// and flags.
    pub fn record(
        env: &mut dyn Env,
        index: u64,
        seed: u64,
        instruction: Instruction,
        max_steps: usize,
        mut act: impl FnMut(&mut dyn Env) -> Action,
    ) -> Result<EpisodeRecord, SimError> {
        env.reset(seed, &instruction)?;
        let mut rec = EpisodeRecord {
            index,
            seed,
            instruction,
            states: env.state(),
            observations: env.observation(),
            actions: vec![],
            rewards: vec![],
            success: vec![],
            terminals: vec![],
            timeouts: vec![],
            frames: None,
            verdict: None,
        };
        loop {
            let action = act(env);
            let out = env.step(&action)?;
            rec.actions.push(action);
            rec.rewards.push(out.reward);
            rec.success.push(out.success);
            rec.states.extend(env.state());
            rec.observations.extend(env.observation());
            let ended = out.terminal || out.success;
            let timeout = out.timeout || env.steps() >= env.horizon().min(max_steps);
            rec.terminals.push(ended);
            rec.timeouts.push(timeout && !ended);
            if ended || timeout {
                return Ok(rec);
            }
        }
    }

    /// Number of transitions T.
    pub fn len(&self) -> usize {
        self.actions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }
}

/// Per-episode metadata stored as JSON in the shard header.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpisodeHeader {
    pub instruction: Instruction,
    pub verdict: Option<crate::validate::Verdict>,
}

/// The layout every shard of a dataset shares.
#[derive(Clone, Debug)]
pub struct ShardLayout {
    pub state_dim: usize,
    pub obs_dim: usize,
    pub action_space: ActionSpace,
    pub frames: Option<FrameSpec>,
}

impl ShardLayout {
    /// The layout a manifest describes.
    pub fn of(m: &super::Manifest) -> ShardLayout {
        ShardLayout {
            state_dim: m.state_dim,
            obs_dim: m.obs_dim,
            action_space: m.action_space,
            frames: m.frames.clone(),
        }
    }
}

fn f32_bytes(xs: &[f32]) -> Vec<u8> {
    xs.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn view(dtype: Dtype, shape: Vec<usize>, data: &[u8]) -> Result<TensorView<'_>, String> {
    TensorView::new(dtype, shape, data).map_err(|err| format!("shard tensor: {err}"))
}

fn u64_bytes(xs: impl Iterator<Item = u64>) -> Vec<u8> {
    xs.flat_map(|x| x.to_le_bytes()).collect()
}

/// Serialises `episodes` into shard bytes; checks every record against `layout`.
pub fn encode_shard(episodes: &[EpisodeRecord], layout: &ShardLayout) -> Result<Vec<u8>, String> {
    let n: usize = episodes.iter().map(|e| e.len()).sum();
    let rows = n + episodes.len();
    let mut states = Vec::with_capacity(rows * layout.state_dim);
    let mut obs = Vec::with_capacity(rows * layout.obs_dim);
    let (mut act_i, mut act_f) = (Vec::<u8>::new(), Vec::<f32>::new());
    let (mut rewards, mut success, mut terminals, mut timeouts) = (vec![], vec![], vec![], vec![]);
    let mut frames = Vec::new();
    let mut headers = Vec::with_capacity(episodes.len());
    for e in episodes {
        let t = e.len();
        let check = |what: &str, got: usize, want: usize| {
            if got == want {
                Ok(())
            } else {
                Err(format!(
                    "episode {}: {what} has {got} values, expected {want}",
                    e.index
                ))
            }
        };
        check("states", e.states.len(), (t + 1) * layout.state_dim)?;
        check(
            "observations",
            e.observations.len(),
            (t + 1) * layout.obs_dim,
        )?;
        check("rewards", e.rewards.len(), t)?;
        check("success", e.success.len(), t)?;
        check("terminals", e.terminals.len(), t)?;
        check("timeouts", e.timeouts.len(), t)?;
        states.extend_from_slice(&e.states);
        obs.extend_from_slice(&e.observations);
        for a in &e.actions {
            match (a, layout.action_space) {
                (Action::Discrete(i), ActionSpace::Discrete { n }) if (*i as usize) < n => {
                    act_i.extend((*i as i64).to_le_bytes())
                }
                (Action::Continuous(v), ActionSpace::Continuous { dim }) if dim == v.len() => {
                    act_f.extend_from_slice(v)
                }
                (a, space) => {
                    return Err(format!(
                        "episode {}: action {a:?} is not in {space:?}",
                        e.index
                    ));
                }
            }
        }
        rewards.extend_from_slice(&e.rewards);
        success.extend(e.success.iter().map(|&b| b as u8));
        terminals.extend(e.terminals.iter().map(|&b| b as u8));
        timeouts.extend(e.timeouts.iter().map(|&b| b as u8));
        match (&e.frames, &layout.frames) {
            (Some(f), Some(spec)) => {
                check("frames", f.len(), (t + 1) * spec.height * spec.width * 3)?;
                frames.extend_from_slice(f);
            }
            (None, None) => {}
            _ => {
                return Err(format!(
                    "episode {}: frames present/absent unlike the dataset",
                    e.index
                ));
            }
        }
        headers.push(EpisodeHeader {
            instruction: e.instruction.clone(),
            verdict: e.verdict.clone(),
        });
    }
    let e = episodes.len();
    let idx = u64_bytes(episodes.iter().map(|e| e.index));
    let seeds = u64_bytes(episodes.iter().map(|e| e.seed));
    let lens = u64_bytes(episodes.iter().map(|e| e.len() as u64));
    let (states, obs, rewards) = (f32_bytes(&states), f32_bytes(&obs), f32_bytes(&rewards));
    let act_f = f32_bytes(&act_f);
    let mut tensors: Vec<(&str, TensorView<'_>)> = vec![
        ("episode_index", view(Dtype::U64, vec![e], &idx)?),
        ("episode_seed", view(Dtype::U64, vec![e], &seeds)?),
        ("episode_length", view(Dtype::U64, vec![e], &lens)?),
        (
            "observations",
            view(Dtype::F32, vec![rows, layout.obs_dim], &obs)?,
        ),
        ("rewards", view(Dtype::F32, vec![n], &rewards)?),
        ("success", view(Dtype::U8, vec![n], &success)?),
        ("terminals", view(Dtype::U8, vec![n], &terminals)?),
        ("timeouts", view(Dtype::U8, vec![n], &timeouts)?),
    ];
    if layout.state_dim > 0 {
        tensors.push((
            "states",
            view(Dtype::F32, vec![rows, layout.state_dim], &states)?,
        ));
    }
    match layout.action_space {
        ActionSpace::Discrete { .. } => {
            tensors.push(("actions", view(Dtype::I64, vec![n], &act_i)?))
        }
        ActionSpace::Continuous { dim } => {
            tensors.push(("actions", view(Dtype::F32, vec![n, dim], &act_f)?))
        }
    }
    if let Some(spec) = &layout.frames {
        tensors.push((
            "frames",
            view(Dtype::U8, vec![rows, spec.height, spec.width, 3], &frames)?,
        ));
    }
    let meta = HashMap::from([(
        "episodes".to_string(),
        serde_json::to_string(&headers).map_err(|e| e.to_string())?,
    )]);
    safetensors::serialize(tensors, Some(meta)).map_err(|e| e.to_string())
}

/// Writes a shard atomically; returns (bytes, sha256).
pub fn write_shard(
    path: &Path,
    episodes: &[EpisodeRecord],
    layout: &ShardLayout,
) -> Result<(u64, String), DatasetError> {
    let bytes = encode_shard(episodes, layout).map_err(|p| DatasetError::corrupt(path, p))?;
    atomic::write_atomic(path, &bytes)?;
    Ok((bytes.len() as u64, atomic::sha256_hex(&bytes)))
}

/// A shard parsed from bytes (memory-mapped by the caller).
pub struct ParsedShard<'a> {
    pub tensors: SafeTensors<'a>,
    pub headers: Vec<EpisodeHeader>,
}

/// Parses shard bytes, checking that the header and tensor table are well formed.
pub fn parse_shard<'a>(path: &Path, bytes: &'a [u8]) -> Result<ParsedShard<'a>, DatasetError> {
    let (_, metadata) = SafeTensors::read_metadata(bytes).map_err(|e| {
        DatasetError::corrupt(
            path,
            format!("not a readable safetensors file (truncated or corrupt): {e}"),
        )
    })?;
    let headers_json = metadata
        .metadata()
        .as_ref()
        .and_then(|m| m.get("episodes"))
        .ok_or_else(|| DatasetError::corrupt(path, "missing the `episodes` metadata"))?;
    let headers: Vec<EpisodeHeader> = serde_json::from_str(headers_json)
        .map_err(|e| DatasetError::corrupt(path, format!("invalid `episodes` metadata: {e}")))?;
    let tensors = SafeTensors::deserialize(bytes).map_err(|e| {
        DatasetError::corrupt(
            path,
            format!("not a readable safetensors file (truncated or corrupt): {e}"),
        )
    })?;
    Ok(ParsedShard { tensors, headers })
}

/// Reads tensor `name`, checking dtype and shape, and returns its raw bytes.
pub fn column<'a>(
    path: &Path,
    shard: &ParsedShard<'a>,
    name: &str,
    dtype: Dtype,
    shape: &[usize],
) -> Result<&'a [u8], DatasetError> {
    let t = shard
        .tensors
        .tensor(name)
        .map_err(|_| DatasetError::corrupt(path, format!("missing tensor `{name}`")))?;
    if t.dtype() != dtype || t.shape() != shape {
        return Err(DatasetError::corrupt(
            path,
            format!(
                "tensor `{name}` is {:?} {:?}, expected {dtype:?} {shape:?}",
                t.dtype(),
                t.shape()
            ),
        ));
    }
    Ok(t.data())
}

pub fn read_f32(bytes: &[u8]) -> impl Iterator<Item = f32> + '_ {
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
}

pub fn read_u64(bytes: &[u8]) -> impl Iterator<Item = u64> + '_ {
    bytes
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")))
}
