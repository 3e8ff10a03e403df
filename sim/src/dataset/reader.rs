//! Loading a dataset: manifest checks, checksums, memory-mapped shards, concatenated columns.

use memmap2::Mmap;
use rayon::prelude::*;
use safetensors::Dtype;
use std::path::{Path, PathBuf};

use super::manifest::{ActionSpace, MANIFEST_FILE, Manifest, ShardEntry};
use super::shard::{column, parse_shard, read_f32, read_u64};
use super::{DatasetError, atomic};
use crate::{Action, GoalSpec, Instruction};

/// Where one episode's rows live in the concatenated columns.
#[derive(Clone, Debug)]
pub struct EpisodeMeta {
    pub index: u64,
    pub seed: u64,
    pub instruction: Instruction,
    pub verdict: Option<crate::validate::Verdict>,
    /// Number of transitions T.
    pub length: usize,
    /// First state/observation/frame row (the episode owns T + 1 rows).
    pub first_row: usize,
    /// First transition (action/reward/flag) index (the episode owns T of them).
    pub first_transition: usize,
}

/// Stored actions, one per transition.
#[derive(Clone, Debug, PartialEq)]
pub enum ActionColumn {
    Discrete(Vec<i64>),
    /// Row-major `[N, dim]`.
    Continuous {
        values: Vec<f32>,
        dim: usize,
    },
}

impl ActionColumn {
    pub fn get(&self, i: usize) -> Action {
        match self {
            ActionColumn::Discrete(v) => Action::Discrete(v[i] as u32),
            ActionColumn::Continuous { values, dim } => {
                let mut a = [0.0; 4];
                a[..*dim].copy_from_slice(&values[i * dim..(i + 1) * dim]);
                Action::Continuous(a)
            }
        }
    }
}

/// A loaded dataset: all shards' columns concatenated in episode order.
#[derive(Debug)]
pub struct Dataset {
    pub dir: PathBuf,
    pub manifest: Manifest,
    pub episodes: Vec<EpisodeMeta>,
    /// `[rows, state_dim]`, empty when states are absent.
    pub states: Vec<f32>,
    /// `[rows, obs_dim]`.
    pub observations: Vec<f32>,
    pub actions: ActionColumn,
    pub rewards: Vec<f32>,
    pub success: Vec<u8>,
    pub terminals: Vec<u8>,
    pub timeouts: Vec<u8>,
    /// `[rows, H, W, 3]` when frames are stored.
    pub frames: Option<Vec<u8>>,
    /// For every transition, the episode it belongs to.
    pub transition_episode: Vec<u32>,
}

/// One shard's columns, before concatenation.
struct ShardColumns {
    episodes: Vec<EpisodeMeta>,
    states: Vec<f32>,
    observations: Vec<f32>,
    actions_i: Vec<i64>,
    actions_f: Vec<f32>,
    rewards: Vec<f32>,
    success: Vec<u8>,
    terminals: Vec<u8>,
    timeouts: Vec<u8>,
    frames: Vec<u8>,
}

impl Dataset {
    /// Opens `dir`, verifying the manifest (format version, env when `expected_env` is given),
    /// every shard's size and sha256, and every tensor's dtype and shape.
    pub fn open(dir: &Path, expected_env: Option<&str>) -> Result<Dataset, DatasetError> {
        if !dir.join(MANIFEST_FILE).exists() {
            let path = dir.join(MANIFEST_FILE);
            return Err(DatasetError::corrupt(
                &path,
                "no manifest.json here: not a vlgor dataset directory",
            ));
        }
        let manifest = Manifest::read(dir)?;
        if let Some(env) = expected_env
            && manifest.env != env
        {
            return Err(DatasetError::WrongEnv {
                path: dir.join(MANIFEST_FILE),
                found: manifest.env.clone(),
                expected: env.to_string(),
            });
        }
        let parts: Vec<ShardColumns> = manifest
            .shards
            .par_iter()
            .map(|entry| load_shard(dir, entry, &manifest))
            .collect::<Result<_, _>>()?;
        Ok(concatenate(dir, manifest, parts))
    }

    /// Total transitions.
    pub fn transitions(&self) -> usize {
        self.rewards.len()
    }

    /// State row `row` (`state_dim` values).
    pub fn state(&self, row: usize) -> &[f32] {
        let d = self.manifest.state_dim;
        &self.states[row * d..(row + 1) * d]
    }

    /// Observation row `row` (`obs_dim` values).
    pub fn observation(&self, row: usize) -> &[f32] {
        let d = self.manifest.obs_dim;
        &self.observations[row * d..(row + 1) * d]
    }

    /// The (s_t row, s_{t+1} row) of transition `i`.
    pub fn transition_rows(&self, i: usize) -> (usize, usize) {
        let e = &self.episodes[self.transition_episode[i] as usize];
        let row = e.first_row + (i - e.first_transition);
        (row, row + 1)
    }
}

fn load_shard(
    dir: &Path,
    entry: &ShardEntry,
    manifest: &Manifest,
) -> Result<ShardColumns, DatasetError> {
    let path = dir.join(&entry.file);
    let file = std::fs::File::open(&path).map_err(|e| DatasetError::io(&path, e))?;
    let len = file
        .metadata()
        .map_err(|e| DatasetError::io(&path, e))?
        .len();
    if len != entry.bytes {
        return Err(DatasetError::corrupt(
            &path,
            format!(
                "has {len} bytes, the manifest says {} (truncated or modified)",
                entry.bytes
            ),
        ));
    }
    // SAFETY: the mapping is read-only and dropped before returning; a concurrent writer would
    // be caught by the checksum below.
    let map = unsafe { Mmap::map(&file) }.map_err(|e| DatasetError::io(&path, e))?;
    let actual = atomic::sha256_hex(&map);
    if actual != entry.sha256 {
        return Err(DatasetError::Checksum {
            path,
            expected: entry.sha256.clone(),
            actual,
        });
    }
    let shard = parse_shard(&path, &map)?;
    let e = entry.episodes;
    let n = entry.transitions;
    let rows = n
        .checked_add(e)
        .ok_or_else(|| DatasetError::corrupt(&path, "episode and transition counts overflow"))?;
    if shard.headers.len() != e {
        return Err(DatasetError::corrupt(
            &path,
            format!("{} episode headers, manifest says {e}", shard.headers.len()),
        ));
    }
    for (k, header) in shard.headers.iter().enumerate() {
        check_instruction(&header.instruction, &manifest.env)
            .map_err(|p| DatasetError::corrupt(&path, format!("episode {k}: instruction {p}")))?;
    }
    let index: Vec<u64> =
        read_u64(column(&path, &shard, "episode_index", Dtype::U64, &[e])?).collect();
    let seed: Vec<u64> =
        read_u64(column(&path, &shard, "episode_seed", Dtype::U64, &[e])?).collect();
    let length: Vec<u64> =
        read_u64(column(&path, &shard, "episode_length", Dtype::U64, &[e])?).collect();
    let total = length.iter().try_fold(0u64, |a, &l| a.checked_add(l));
    if total.and_then(|t| usize::try_from(t).ok()) != Some(n) {
        return Err(DatasetError::corrupt(
            &path,
            "episode lengths do not add up to the transition count",
        ));
    }
    let states = if manifest.state_dim > 0 {
        read_f32(column(
            &path,
            &shard,
            "states",
            Dtype::F32,
            &[rows, manifest.state_dim],
        )?)
        .collect()
    } else {
        vec![]
    };
    let observations = read_f32(column(
        &path,
        &shard,
        "observations",
        Dtype::F32,
        &[rows, manifest.obs_dim],
    )?)
    .collect();
    let (mut actions_i, mut actions_f) = (vec![], vec![]);
    match manifest.action_space {
        ActionSpace::Discrete { n: na } => {
            actions_i = column(&path, &shard, "actions", Dtype::I64, &[n])?
                .chunks_exact(8)
                .map(|c| i64::from_le_bytes(c.try_into().expect("8 bytes")))
                .collect();
            if let Some(bad) = actions_i.iter().find(|&&a| a < 0 || a as usize >= na) {
                return Err(DatasetError::corrupt(
                    &path,
                    format!("action {bad} outside 0..{na}"),
                ));
            }
        }
        ActionSpace::Continuous { dim } => {
            actions_f =
                read_f32(column(&path, &shard, "actions", Dtype::F32, &[n, dim])?).collect();
        }
    }
    let rewards = read_f32(column(&path, &shard, "rewards", Dtype::F32, &[n])?).collect();
    let flags = |name| column(&path, &shard, name, Dtype::U8, &[n]).map(<[u8]>::to_vec);
    let (success, terminals, timeouts) =
        (flags("success")?, flags("terminals")?, flags("timeouts")?);
    let frames = match &manifest.frames {
        Some(f) => column(
            &path,
            &shard,
            "frames",
            Dtype::U8,
            &[rows, f.height, f.width, 3],
        )?
        .to_vec(),
        None => vec![],
    };
    let mut episodes = Vec::with_capacity(e);
    let (mut row, mut tr) = (0, 0);
    for (k, header) in shard.headers.into_iter().enumerate() {
        let t = length[k] as usize;
        episodes.push(EpisodeMeta {
            index: index[k],
            seed: seed[k],
            instruction: header.instruction,
            verdict: header.verdict,
            length: t,
            first_row: row,
            first_transition: tr,
        });
        row += t + 1;
        tr += t;
    }
    Ok(ShardColumns {
        episodes,
        states,
        observations,
        actions_i,
        actions_f,
        rewards,
        success,
        terminals,
        timeouts,
        frames,
    })
}

/// An instruction read from a file must belong to the dataset's env and pass its goal's
/// own range checks (ball indices, stages) before anything indexes states with it.
fn check_instruction(instruction: &Instruction, env: &str) -> Result<(), String> {
    let (goal_env, checked) = match &instruction.goal {
        GoalSpec::Clevr(g) => ("clevr", g.validate()),
        GoalSpec::MetaWorld(g) => ("metaworld", g.validate()),
    };
    if goal_env != env {
        return Err(format!(
            "field `goal.env` is '{goal_env}' in a '{env}' dataset"
        ));
    }
    checked.map_err(|p| format!("goal: {p}"))
}

fn concatenate(dir: &Path, manifest: Manifest, parts: Vec<ShardColumns>) -> Dataset {
    let has_frames = manifest.frames.is_some();
    let mut d = Dataset {
        dir: dir.to_path_buf(),
        actions: match manifest.action_space {
            ActionSpace::Discrete { .. } => ActionColumn::Discrete(vec![]),
            ActionSpace::Continuous { dim } => ActionColumn::Continuous {
                values: vec![],
                dim,
            },
        },
        manifest,
        episodes: vec![],
        states: vec![],
        observations: vec![],
        rewards: vec![],
        success: vec![],
        terminals: vec![],
        timeouts: vec![],
        frames: has_frames.then(Vec::new),
        transition_episode: vec![],
    };
    for mut p in parts {
        let row0 = d.episodes.last().map_or(0, |e| e.first_row + e.length + 1);
        let tr0 = d.rewards.len();
        for mut e in p.episodes {
            e.first_row += row0;
            e.first_transition += tr0;
            let ep = d.episodes.len() as u32;
            d.transition_episode
                .extend(std::iter::repeat_n(ep, e.length));
            d.episodes.push(e);
        }
        d.states.append(&mut p.states);
        d.observations.append(&mut p.observations);
        match &mut d.actions {
            ActionColumn::Discrete(v) => v.append(&mut p.actions_i),
            ActionColumn::Continuous { values, .. } => values.append(&mut p.actions_f),
        }
        d.rewards.append(&mut p.rewards);
        d.success.append(&mut p.success);
        d.terminals.append(&mut p.terminals);
        d.timeouts.append(&mut p.timeouts);
        if let Some(f) = &mut d.frames {
            f.append(&mut p.frames);
        }
    }
    d
}
