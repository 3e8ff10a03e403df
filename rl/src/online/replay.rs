//! The replay buffer of online learning: a ring of transitions (state, goal row, action,
//! reward, terminal, next state) with the advisor's suggestion where one was made, sampled
//! uniformly into tensor batches.

use rand::Rng;
use std::collections::HashMap;
use std::path::Path;
use tch::{Device, Kind, Tensor};
use vlgor_sim::Action;
use vlgor_sim::dataset::ActionSpace;

use crate::RlError;
use crate::goals::GoalTable;

/// One transition as the loop hands it over.
#[derive(Clone, Copy, Debug)]
pub struct Transition<'a> {
    /// Observation before the step (raw state values).
    pub obs: &'a [f32],
    pub next_obs: &'a [f32],
    /// Row of the instruction's embedding in the run's [`GoalTable`].
    pub goal: usize,
    pub action: Action,
    pub reward: f32,
    /// The TD target does not bootstrap past this step (success or the task's end).
    pub terminal: bool,
    /// The advisor's suggestion for this step, when it was queried.
    pub advice: Option<Action>,
}

/// A sampled batch on the learner's device.
pub struct OnlineBatch {
    /// `[B, D]` states before and after the step.
    pub obs: Tensor,
    pub next_obs: Tensor,
    /// `[B, goal_dim]` instruction embeddings.
    pub goals: Tensor,
    /// `i64 [B]` (discrete) or `f32 [B, dim]` (continuous) actions taken.
    pub actions: Tensor,
    /// `[B]` rewards and terminal flags (0/1).
    pub rewards: Tensor,
    pub terminals: Tensor,
    /// `[B]` 1 where the advisor made a suggestion, else 0.
    pub advised: Tensor,
    /// The suggestions, shaped like `actions` (zeros where none was made).
    pub advice: Tensor,
}

/// A fixed-capacity ring of transitions; the oldest is overwritten first.
#[derive(Clone, Debug)]
pub struct ReplayBuffer {
    space: ActionSpace,
    obs_dim: usize,
    capacity: usize,
    len: usize,
    /// Next row written.
    head: usize,
    obs: Vec<f32>,
    next_obs: Vec<f32>,
    goals: Vec<i64>,
    actions: Vec<f32>,
    rewards: Vec<f32>,
    terminals: Vec<f32>,
    advised: Vec<f32>,
    advice: Vec<f32>,
}

fn action_width(space: ActionSpace) -> usize {
    match space {
        ActionSpace::Discrete { .. } => 1,
        ActionSpace::Continuous { dim } => dim,
    }
}

fn write_action(space: ActionSpace, a: Option<Action>, out: &mut [f32]) -> Result<(), RlError> {
    match (space, a) {
        (_, None) => out.fill(0.0),
        (ActionSpace::Discrete { n }, Some(Action::Discrete(k))) if (k as usize) < n => {
            out[0] = k as f32
        }
        (ActionSpace::Continuous { dim }, Some(Action::Continuous(v))) => {
            out.copy_from_slice(&v[..dim])
        }
        (space, Some(a)) => {
            return Err(RlError::Input(format!(
                "action {a:?} does not fit the replay buffer's action space {space:?}"
            )));
        }
    }
    Ok(())
}

impl ReplayBuffer {
    pub fn new(space: ActionSpace, obs_dim: usize, capacity: usize) -> Self {
        ReplayBuffer {
            space,
            obs_dim,
            capacity: capacity.max(1),
            len: 0,
            head: 0,
            obs: Vec::new(),
            next_obs: Vec::new(),
            goals: Vec::new(),
            actions: Vec::new(),
            rewards: Vec::new(),
            terminals: Vec::new(),
            advised: Vec::new(),
            advice: Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Row written next (with [`ReplayBuffer::len`], what a checkpoint records).
    pub fn head(&self) -> usize {
        self.head
    }

    /// Adds `t`, overwriting the oldest transition when full.
    pub fn push(&mut self, t: &Transition) -> Result<(), RlError> {
        if t.obs.len() != self.obs_dim || t.next_obs.len() != self.obs_dim {
            return Err(RlError::Input(format!(
                "transition observations have {} and {} values, the buffer holds {}",
                t.obs.len(),
                t.next_obs.len(),
                self.obs_dim
            )));
        }
        let w = action_width(self.space);
        let mut action = vec![0f32; w];
        let mut advice = vec![0f32; w];
        write_action(self.space, Some(t.action), &mut action)?;
        write_action(self.space, t.advice, &mut advice)?;
        let row = self.head;
        if self.len < self.capacity {
            self.obs.extend_from_slice(t.obs);
            self.next_obs.extend_from_slice(t.next_obs);
            self.goals.push(t.goal as i64);
            self.actions.extend_from_slice(&action);
            self.rewards.push(t.reward);
            self.terminals.push(t.terminal as u8 as f32);
            self.advised.push(t.advice.is_some() as u8 as f32);
            self.advice.extend_from_slice(&advice);
            self.len += 1;
        } else {
            let d = self.obs_dim;
            self.obs[row * d..(row + 1) * d].copy_from_slice(t.obs);
            self.next_obs[row * d..(row + 1) * d].copy_from_slice(t.next_obs);
            self.goals[row] = t.goal as i64;
            self.actions[row * w..(row + 1) * w].copy_from_slice(&action);
            self.rewards[row] = t.reward;
            self.terminals[row] = t.terminal as u8 as f32;
            self.advised[row] = t.advice.is_some() as u8 as f32;
            self.advice[row * w..(row + 1) * w].copy_from_slice(&advice);
        }
        self.head = (row + 1) % self.capacity;
        Ok(())
    }

    /// `batch` transitions drawn uniformly (with replacement) by `rng`, goals looked up in
    /// `table`, on `device`. The buffer must not be empty.
    pub fn sample(
        &self,
        rng: &mut impl Rng,
        batch: usize,
        table: &GoalTable,
        device: Device,
    ) -> OnlineBatch {
        assert!(self.len > 0, "sampling an empty replay buffer");
        let rows: Vec<usize> = (0..batch).map(|_| rng.random_range(0..self.len)).collect();
        let (d, w, g) = (self.obs_dim, action_width(self.space), table.dim());
        let gather = |src: &[f32], width: usize| -> Vec<f32> {
            rows.iter()
                .flat_map(|&r| src[r * width..(r + 1) * width].iter().copied())
                .collect()
        };
        let goals: Vec<f32> = rows
            .iter()
            .flat_map(|&r| table.row(self.goals[r] as usize).iter().copied())
            .collect();
        let b = batch as i64;
        let to = |v: Vec<f32>, shape: &[i64]| Tensor::from_slice(&v).view(shape).to_device(device);
        let actions = |v: Vec<f32>| match self.space {
            ActionSpace::Discrete { .. } => to(v, &[b]).to_kind(Kind::Int64),
            ActionSpace::Continuous { .. } => to(v, &[b, w as i64]),
        };
        OnlineBatch {
            obs: to(gather(&self.obs, d), &[b, d as i64]),
            next_obs: to(gather(&self.next_obs, d), &[b, d as i64]),
            goals: to(goals, &[b, g as i64]),
            actions: actions(gather(&self.actions, w)),
            rewards: to(gather(&self.rewards, 1), &[b]),
            terminals: to(gather(&self.terminals, 1), &[b]),
            advised: to(gather(&self.advised, 1), &[b]),
            advice: actions(gather(&self.advice, w)),
        }
    }

    /// The stored rows as named tensors (`replay.*`) for a checkpoint.
    pub fn tensors(&self) -> Vec<(String, Tensor)> {
        let n = self.len as i64;
        let (d, w) = (self.obs_dim as i64, action_width(self.space) as i64);
        let f = |name: &str, v: &[f32], shape: &[i64]| {
            (format!("replay.{name}"), Tensor::from_slice(v).view(shape))
        };
        vec![
            f("obs", &self.obs, &[n, d]),
            f("next_obs", &self.next_obs, &[n, d]),
            ("replay.goals".into(), Tensor::from_slice(&self.goals)),
            f("actions", &self.actions, &[n, w]),
            f("rewards", &self.rewards, &[n]),
            f("terminals", &self.terminals, &[n]),
            f("advised", &self.advised, &[n]),
            f("advice", &self.advice, &[n, w]),
        ]
    }

    /// Restores `len` rows (next write at `head`) from a checkpoint's tensors.
    pub fn load(
        &mut self,
        tensors: &HashMap<String, Tensor>,
        len: usize,
        head: usize,
        file: &Path,
    ) -> Result<(), RlError> {
        if len > self.capacity || head >= self.capacity || (len < self.capacity && head != len) {
            return Err(RlError::checkpoint(
                file,
                format!(
                    "replay buffer of {len} rows with head {head} does not fit capacity {}",
                    self.capacity
                ),
            ));
        }
        let (d, w) = (self.obs_dim, action_width(self.space));
        let read = |name: &str, width: usize| -> Result<Vec<f32>, RlError> {
            let key = format!("replay.{name}");
            let t = tensors
                .get(&key)
                .ok_or_else(|| RlError::checkpoint(file, format!("missing tensor '{key}'")))?;
            let v = Vec::<f32>::try_from(t.to_kind(Kind::Float).flatten(0, -1))?;
            if v.len() != len * width {
                return Err(RlError::checkpoint(
                    file,
                    format!(
                        "tensor '{key}' has {} values, expected {}",
                        v.len(),
                        len * width
                    ),
                ));
            }
            Ok(v)
        };
        self.obs = read("obs", d)?;
        self.next_obs = read("next_obs", d)?;
        self.actions = read("actions", w)?;
        self.rewards = read("rewards", 1)?;
        self.terminals = read("terminals", 1)?;
        self.advised = read("advised", 1)?;
        self.advice = read("advice", w)?;
        let goals = tensors
            .get("replay.goals")
            .ok_or_else(|| RlError::checkpoint(file, "missing tensor 'replay.goals'"))?;
        self.goals = Vec::<i64>::try_from(goals.flatten(0, -1))?;
        if self.goals.len() != len {
            return Err(RlError::checkpoint(
                file,
                "tensor 'replay.goals' has the wrong length",
            ));
        }
        self.len = len;
        self.head = head;
        Ok(())
    }
}
